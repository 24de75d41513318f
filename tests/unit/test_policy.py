"""The script policy: destructive actions, file reads and self-raised limits are refused."""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree import ElementTree

import pytest

from ide.config import TRACER_OPTIONS, Settings
from ide.tracing.bpftrace_ast import ProgramFacts
from ide.tracing.model import Language
from ide.tracing.policy import (
    DESTRUCTIVE,
    bpftrace_refusals,
    check_script,
    preprocessor_refusals,
)

STRICT = Settings(token="t")
PERMISSIVE = Settings(token="t", allow_destructive=True)


def refusals(script: str, language: Language, settings: Settings = STRICT) -> list[str]:
    return [d.message for d in check_script(script, language, settings)]


@pytest.mark.parametrize("word", list(DESTRUCTIVE["d"]))
def test_each_destructive_d_call_is_refused_at_its_place(word: str) -> None:
    script = f"BEGIN\n{{\n    x = 1; {word}(1);\n}}\n"
    found = check_script(script, "d", STRICT)
    assert len(found) == 1
    d = found[0]
    assert (d.line, d.column, d.end_line, d.end_column) == (3, 12, 3, 12 + len(word))
    assert d.severity == "error"
    assert "--allow-destructive" in d.message
    assert word in d.message


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


@pytest.mark.parametrize("word", list(DESTRUCTIVE["d"]))
def test_destructive_d_calls_pass_when_the_server_allows_them(word: str) -> None:
    assert refusals(f"BEGIN {{ {word}(1); }}", "d", PERMISSIVE) == []


def test_destructive_bpftrace_calls_pass_when_the_server_allows_them() -> None:
    facts = ProgramFacts(calls=frozenset(DESTRUCTIVE["bpftrace"]))
    assert bpftrace_refusals("BEGIN { system(1); cat(1); }", facts, PERMISSIVE) == []


@pytest.mark.parametrize(
    "script",
    [
        "BEGIN { x = '/*'; system(\"touch /tmp/c\"); y = '*/'; }",
        'BEGIN { c = \'"\'; system("touch /tmp/c"); }',
    ],
)
def test_a_d_character_constant_hides_no_call(script: str) -> None:
    found = check_script(script, "d", STRICT)
    assert [d.message.split("(")[0] for d in found] == ["system"]


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


def test_d_pragma_destructive_is_refused_at_the_option() -> None:
    script = "#pragma D option quiet\n#pragma D option destructive\nBEGIN { exit(0); }\n"
    found = check_script(script, "d", STRICT)
    assert len(found) == 1
    assert (found[0].line, found[0].column, found[0].end_column) == (2, 18, 29)
    assert "--allow-destructive" in found[0].message
    assert check_script(script, "d", PERMISSIVE) == []


def test_a_d_script_may_call_several_actions_and_each_is_reported() -> None:
    script = 'syscall::open:entry { stop(); raise(9); }\nBEGIN { system("id"); }'
    found = check_script(script, "d", STRICT)
    assert [(d.line, d.column) for d in found] == [(1, 23), (1, 31), (2, 9)]


@pytest.mark.parametrize(
    ("pragma", "ok"),
    [
        ("bufsize=4m", True),
        ("bufsize=64m", True),
        ("bufsize=65m", False),
        ("bufsize=1g", False),
        ("bufsize=67108864", True),
        ("bufsize=67108865", False),
        ("aggsize=128m", False),
        ("dynvarsize=32m", True),
        ("dynvarsize=33m", False),
        ("aggrate=100hz", True),
        ("aggrate=101hz", False),
        ("aggrate=10ms", True),
        ("aggrate=1ms", False),
        ("switchrate=1000", False),  # a bare rate is a period in nanoseconds
        ("switchrate=1s", True),
        ("bufsize=lots", False),
        ("bufsize", False),
        ("strsize=1024", True),
        ("strsize=1m", False),
        ("nspec=100000", False),
        ("cpu=0", False),
        ("quiet", True),
        ("flowindent", True),
    ],
)
def test_d_options_stay_within_the_caps(pragma: str, ok: bool) -> None:
    found = refusals(f"#pragma D option {pragma}\nBEGIN {{ exit(0); }}\n", "d", PERMISSIVE)
    assert (found == []) is ok, found


def test_a_refused_size_names_the_cap_from_config() -> None:
    cap = next(o for o in TRACER_OPTIONS if o.name == "bufsize")
    (message,) = refusals("#pragma D option bufsize=1g\n", "d")
    assert str(cap.maximum) in message


def test_pragmas_inside_comments_do_not_count() -> None:
    assert refusals("/*\n#pragma D option destructive\n*/\nBEGIN {}\n", "d") == []


def test_a_clean_script_has_no_refusals() -> None:
    script = "tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }\n"
    assert check_script(script, "bpftrace", STRICT) == []
    assert bpftrace_refusals(script, ProgramFacts(calls=frozenset({"count"})), STRICT) == []
    assert check_script("syscall:::entry { @[execname] = count(); }", "d", STRICT) == []


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
