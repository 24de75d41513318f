"""The script policy: destructive actions, file reads and self-raised limits are refused."""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree import ElementTree

import pytest

from ide.config import Settings
from ide.tracing.bpftrace_ast import ProgramFacts
from ide.tracing.policy import (
    DESTRUCTIVE,
    bpftrace_refusals,
    check_script,
    preprocessor_refusals,
)

STRICT = Settings(token="t")
PERMISSIVE = Settings(token="t", allow_destructive=True)


@pytest.mark.parametrize("word", list(DESTRUCTIVE["bpftrace"]))
def test_each_destructive_bpftrace_call_bpftrace_parsed_is_refused_at_its_place(word: str) -> None:
    script = f"BEGIN\n{{\n    x = 1; {word}(1);\n}}\n"
    found = bpftrace_refusals(script, ProgramFacts(calls=frozenset({word, "printf"})), STRICT)
    assert len(found) == 1
    d = found[0]
    assert (d.line, d.column, d.end_line, d.end_column) == (3, 12, 3, 12 + len(word))
    assert "--allow-destructive" in d.message and word in d.message


def test_a_call_bpftrace_parsed_but_the_text_hides_is_still_refused() -> None:
    # A macro: the call is in bpftrace's parse but nowhere in the text as word( .
    facts = ProgramFacts(calls=frozenset({"cat"}))
    found = bpftrace_refusals('#define F cat("/etc/x")\nBEGIN { F; }', facts, STRICT)
    assert [(d.line, d.column) for d in found] == [(1, 1)]
    assert "cat()" in found[0].message and "macro" in found[0].message


def test_calls_bpftrace_did_not_parse_are_not_refused() -> None:
    facts = ProgramFacts(calls=frozenset({"printf"}))
    assert bpftrace_refusals('BEGIN { printf("cat(1)"); }', facts, STRICT) == []


def test_destructive_bpftrace_calls_pass_when_the_server_allows_them() -> None:
    facts = ProgramFacts(calls=frozenset(DESTRUCTIVE["bpftrace"]))
    assert bpftrace_refusals("BEGIN { system(1); cat(1); }", facts, PERMISSIVE) == []


@pytest.mark.parametrize(
    ("script", "where"),
    [
        ('#include "/etc/shadow"\nBEGIN { exit(); }', (1, 1)),
        ("#include </etc/shadow>\nBEGIN { exit(); }", (1, 1)),
        ("#include <../../etc/shadow>\n", (1, 1)),
        ("#include <linux/../../../etc/shadow>\n", (1, 1)),
        ('BEGIN { }\nstruct foo {\n#include "/etc/shadow"\n};', (2, 1)),
        ('# /* c */ include "/x"', (1, 1)),
        ('#\vinclude "/x"', (1, 1)),
        ('#inc\\\nlude "/etc/shadow"', (1, 1)),
        ('#define X #include "/etc/shadow"', (1, 1)),
        ('#if __has_include("/etc/shadow")\n#define X 1\n#endif', (1, 1)),
        ('#define P _Pragma("GCC dependency \\"/etc/shadow\\"")', (1, 1)),
        ('#include_next "/etc/shadow"', (1, 1)),
        ("#embed </etc/shadow>", (1, 1)),
        ('%:include "/etc/shadow"', None),  # not a preprocessor token for bpftrace: no clang
        ("BEGIN { exit(); } #include </etc/shadow>", (1, 19)),
    ],
)
def test_what_clang_would_read_is_refused_before_bpftrace(
    script: str, where: tuple[int, int] | None
) -> None:
    found = preprocessor_refusals(script)
    assert [(d.line, d.column) for d in found] == ([] if where is None else [where])
    for d in found:
        assert "shadow" not in d.message  # says nothing about the file


@pytest.mark.parametrize(
    "script",
    [
        "#include <linux/sched.h>\n#include <net/sock.h>\nBEGIN { exit(); }",
        "#define Q '/*'\nBEGIN { exit(); }\n// '*/'",
        "#!/usr/bin/bpftrace\n#define N 10 /* ten */\nBEGIN { exit(); }",
        "#ifndef BPFTRACE_HAVE_BTF\n#include <linux/socket.h>\n#else\n#include <sys/socket.h>\n"
        "#endif\nBEGIN { exit(); }",
        "struct sk { int a; };\nkprobe:f { $s = (struct sk *)arg0; }",
        'uprobe:/bin/bash#x:readline { printf("#include <x>\\n"); } // #include "/etc/x"',
    ],
)
def test_ordinary_preprocessor_use_passes(script: str) -> None:
    assert preprocessor_refusals(script) == []


def test_a_clean_script_has_no_refusals() -> None:
    script = "tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }\n"
    assert check_script(script, "bpftrace", STRICT) == []
    assert bpftrace_refusals(script, ProgramFacts(calls=frozenset({"count"})), STRICT) == []
    assert check_script("syscall:::entry { @[execname] = count(); }", "d", STRICT) == []


def test_d_is_judged_before_libdtrace_only_on_options_that_act_as_they_are_read() -> None:
    """``ctypes=FILE`` writes FILE while the pragma is read; everything else of D is judged on
    what libdtrace compiled (tests/unit/test_d_policy.py, test_libdtrace_real.py)."""
    assert check_script("#pragma D option ctypes=/tmp/x\nBEGIN {}", "d", STRICT)
    assert check_script('#pragma D option destructive\nBEGIN { system("id"); }', "d", STRICT) == []


ROOT = Path(__file__).resolve().parent.parent.parent


def test_security_md_lists_every_refused_action() -> None:
    text = (ROOT / "SECURITY.md").read_text()
    for words in DESTRUCTIVE.values():
        for word in words:
            assert f"`{word}()`" in text, word
    assert "#pragma D option destructive" in text and "--allow-destructive" in text


def test_the_service_files_run_serve_and_stop_with_sigterm() -> None:
    unit = (ROOT / "contrib" / "dtrace-ide.service").read_text()
    assert re.search(r"^ExecStart=\S+/dtrace-ide serve\b", unit, re.M)
    assert (
        "KillSignal=SIGTERM" in unit and "--host" not in unit.split("ExecStart=")[1].split("\n")[0]
    )
    manifest = ElementTree.parse(ROOT / "contrib" / "dtrace-ide.xml").getroot()
    methods = {m.get("name"): m for m in manifest.iter("exec_method")}
    assert "dtrace-ide serve" in (methods["start"].get("exec") or "")
    assert methods["stop"].get("exec") == ":kill -TERM"
    assert "dtrace_kernel" in (next(manifest.iter("method_credential")).get("privileges") or "")
