"""The script policy: destructive actions, file reads and self-raised limits are refused."""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree import ElementTree

import pytest

from ide.config import TRACER_OPTIONS, Settings
from ide.tracing.model import Language
from ide.tracing.policy import DESTRUCTIVE, check_script

STRICT = Settings(token="t")
PERMISSIVE = Settings(token="t", allow_destructive=True)


def refusals(script: str, language: Language, settings: Settings = STRICT) -> list[str]:
    return [d.message for d in check_script(script, language, settings)]


@pytest.mark.parametrize(
    ("language", "word"),
    [(lang, word) for lang, words in DESTRUCTIVE.items() for word in words],
)
def test_each_destructive_call_is_refused_at_its_place(language: Language, word: str) -> None:
    script = f"BEGIN\n{{\n    x = 1; {word}(1);\n}}\n"
    found = check_script(script, language, STRICT)
    assert len(found) == 1
    d = found[0]
    assert (d.line, d.column, d.end_line, d.end_column) == (3, 12, 3, 12 + len(word))
    assert d.severity == "error"
    assert "--allow-destructive" in d.message
    assert word in d.message


@pytest.mark.parametrize(
    ("language", "word"),
    [(lang, word) for lang, words in DESTRUCTIVE.items() for word in words],
)
def test_destructive_calls_pass_when_the_server_allows_them(language: Language, word: str) -> None:
    assert refusals(f"BEGIN {{ {word}(1); }}", language, PERMISSIVE) == []


@pytest.mark.parametrize(
    "script",
    [
        'BEGIN { printf("system(1) and cat(\\"/etc/shadow\\")\\n"); }',
        "BEGIN { // system(1)\n }",
        "BEGIN { /* signal(9);\n cat(x) */ }",
        "BEGIN { @system = count(); @cat[1] = count(); }",
        "BEGIN { $signal = 1; }",
        "tracepoint:signal:signal_generate { @[args->sig] = count(); }",
        "kprobe:x { @[args->override] = 1; }",
        "uprobe:/bin/bash:system { @c = count(); }",
        "BEGIN { @catalog = count(); systems(1); }",
    ],
)
def test_the_same_words_in_strings_comments_names_and_probes_pass(script: str) -> None:
    assert refusals(script, "bpftrace") == []


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


@pytest.mark.parametrize(
    ("entry", "ok"),
    [
        ("max_map_keys = 4096", True),
        ("max_map_keys = 65536", True),
        ("max_map_keys = 65537", False),
        ("BPFTRACE_MAP_KEYS_MAX = 1000000", False),
        ("max_strlen = 200", True),
        ("max_strlen = 201", False),
        ("perf_rb_pages = 16384", True),
        ("perf_rb_pages = 16385", False),
        ("stack_mode = perf", True),
        ("max_probes = 100000", False),
        ("log_size = 99999999", False),
        ("max_map_keys = many", False),
    ],
)
def test_bpftrace_config_blocks_stay_within_the_caps(entry: str, ok: bool) -> None:
    script = f"config = {{\n    {entry}\n}}\nBEGIN {{ exit(); }}\n"
    found = check_script(script, "bpftrace", PERMISSIVE)
    assert (found == []) is ok, found
    if not ok:
        assert (found[0].line, found[0].column) == (2, 5)


def test_a_clean_script_has_no_refusals() -> None:
    script = "tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }\n"
    assert check_script(script, "bpftrace", STRICT) == []
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
