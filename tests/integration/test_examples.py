"""The shipped examples: enough of them, well described, and valid for their tracer."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from ide import examples
from ide.examples import GROUPS, BadExample, Example, parse

ALL = examples.all_examples()
BPFTRACE = [e for e in ALL if e.language == "bpftrace"]
D = [e for e in ALL if e.language == "d"]


def test_at_least_25_examples_per_language_in_every_group() -> None:
    assert len(BPFTRACE) >= 25
    assert len(D) >= 25
    per_group = Counter((e.language, e.group) for e in ALL)
    for language in ("d", "bpftrace"):
        for group, _ in GROUPS:
            assert per_group[language, group] >= 3, (language, group)


def test_every_example_has_a_title_and_a_one_line_description() -> None:
    for e in ALL:
        assert e.title.strip() and len(e.title) <= 80, e.id
        assert e.description.strip() and "\n" not in e.description, e.id
        assert len(e.description) <= 120, e.id
    ids = [e.id for e in ALL]
    assert len(ids) == len(set(ids))
    titles = Counter((e.language, e.title) for e in ALL)
    assert max(titles.values()) == 1


def test_the_examples_are_package_data() -> None:
    root = Path(examples.__file__).parent
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.[bd]*") if p.is_file())
    assert len(files) == len(ALL)


def test_a_header_without_a_description_is_refused() -> None:
    with pytest.raises(BadExample, match="description"):
        parse("x", "d", "/*\n * title: T\n * group: io\n */\nBEGIN {}\n")
    with pytest.raises(BadExample, match="unknown group"):
        parse("x", "d", "/*\n * title: T\n * group: gpu\n * description: d\n */\n")
    with pytest.raises(BadExample, match="header"):
        parse("x", "d", "BEGIN {}\n")


def test_header_options_become_run_options() -> None:
    e = parse(
        "x",
        "bpftrace",
        "/*\n * title: T\n * group: cpu\n * description: d\n"
        " * duration: 10\n */\nprofile:hz:99 { @[kstack] = count(); }\n",
    )
    assert e.options == {"duration": 10.0}
    assert e.script.startswith("/*")


def test_a_platform_must_be_known() -> None:
    head = "/*\n * title: T\n * group: io\n * description: d\n"
    assert parse("x", "d", head + " * platform: illumos\n */\n").platform == "illumos"
    assert parse("x", "d", head + " */\n").platform is None
    with pytest.raises(BadExample, match="unknown platform"):
        parse("x", "d", head + " * platform: vms\n */\n")


def test_most_d_examples_are_portable_and_every_group_has_some() -> None:
    portable = [e for e in D if e.platform is None]
    assert len(portable) >= 25
    for group, _ in GROUPS:
        assert sum(e.group == group for e in portable) >= 3, group


def test_grouping_keeps_group_order_and_filters_language() -> None:
    groups = examples.grouped("bpftrace")
    assert [g["id"] for g in groups] == [g for g, _ in GROUPS]
    assert sum(len(g["examples"]) for g in groups) == len(BPFTRACE)


def test_examples_cover_every_chart_kind() -> None:
    """Pie (count by key), histograms, 3D bars (linear by key), flame graphs, console."""
    for lang, dist, linear, stack in (
        ("bpftrace", "hist(", "lhist(", "kstack"),
        ("d", "quantize(", "lquantize(", "stack()"),
    ):
        scripts = [e.script for e in ALL if e.language == lang]
        assert any("count()" in s for s in scripts)
        assert any(dist in s for s in scripts)
        assert any(linear in s for s in scripts)
        assert any(stack in s for s in scripts)
        assert any("printf(" in s for s in scripts)


def _bpftrace_ready() -> str | None:
    if shutil.which("bpftrace") is None:
        return "bpftrace is not installed"
    if os.geteuid() != 0:
        return "bpftrace needs root"
    if not os.path.ismount("/sys/kernel/tracing"):
        # Tracepoints resolve through tracefs; see TRACERS.md.
        r = subprocess.run(
            ["mount", "-t", "tracefs", "nodev", "/sys/kernel/tracing"], capture_output=True
        )
        if r.returncode != 0:
            return "tracefs is not mounted and cannot be"
    return None


@pytest.mark.tracer
@pytest.mark.parametrize("example", BPFTRACE, ids=lambda e: e.id)
def test_every_bpftrace_example_compiles_here(example: Example, tmp_path: Path) -> None:
    why = _bpftrace_ready()
    if why:
        pytest.skip(why)
    r = subprocess.run(
        ["bpftrace", "--emit-elf", str(tmp_path / "out.elf"), "-"],
        input=example.script,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr


def _dtrace_ready() -> str | None:
    if shutil.which("dtrace") is None:
        return "no dtrace command (see docs/backends.md)"
    if os.geteuid() != 0:
        return "dtrace needs root"
    r = subprocess.run(["dtrace", "-V"], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        return "dtrace -V fails: " + r.stderr.strip()
    return None


@pytest.mark.tracer
@pytest.mark.parametrize("example", D, ids=lambda e: e.id)
def test_every_portable_d_example_compiles_with_this_dtrace(
    example: Example, tmp_path: Path
) -> None:
    why = _dtrace_ready()
    if why:
        pytest.skip(why)
    here = "illumos" if sys.platform.startswith("sunos") else sys.platform
    if example.platform is not None and example.platform != here:
        pytest.skip(f"needs {example.platform} providers")
    source = tmp_path / "example.d"
    source.write_text(example.script)
    r = subprocess.run(
        ["dtrace", "-e", "-s", str(source)], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("example", D, ids=lambda e: e.id)
def test_every_d_example_lexes_without_an_error_token(example: Example) -> None:
    lexer_module = pytest.importorskip("dtrace_lexer")
    from pygments.token import Error

    lexer = lexer_module.DTraceLexer()
    tokens = list(lexer.get_tokens(example.script))
    bad = [value for kind, value in tokens if kind in Error]
    assert bad == [], f"{example.id}: error tokens {bad!r}"
    assert "".join(value for _, value in tokens) == example.script


@pytest.mark.parametrize("example", BPFTRACE, ids=lambda e: e.id)
def test_every_bpftrace_example_lexes_without_an_error_token(example: Example) -> None:
    lexer_module = pytest.importorskip("dtrace_lexer")
    if not hasattr(lexer_module, "BpftraceLexer"):
        pytest.skip("no bpftrace lexer yet")
    from pygments.token import Error

    tokens = list(lexer_module.BpftraceLexer().get_tokens(example.script))
    assert [v for k, v in tokens if k in Error] == [], example.id
