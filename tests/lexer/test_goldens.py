"""Token streams of the sample scripts, pinned as golden files.

Regenerate after an intended change with ``pytest tests/lexer --update-goldens`` and review
the diff of ``tests/lexer/goldens/``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pygments.lexer import Lexer
from pygments.token import Error

from dtrace_lexer import BpftraceLexer, DTraceLexer

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "tests" / "fixtures" / "scripts"
GOLDENS = Path(__file__).resolve().parent / "goldens"

SAMPLES = sorted(p for p in SCRIPTS.iterdir() if p.suffix in {".d", ".bt"})


def lexer_for(path: Path) -> Lexer:
    return DTraceLexer() if path.suffix == ".d" else BpftraceLexer()


def render_tokens(path: Path) -> str:
    """One line per token: its class, then the repr of its text."""
    lines = []
    for token, value in lexer_for(path).get_tokens(path.read_text(encoding="utf-8")):
        lines.append(f"{str(token).removeprefix('Token.'):<28} {value!r}")
    return "\n".join(lines) + "\n"


def test_required_samples_exist() -> None:
    names = {p.name for p in SAMPLES}
    assert {"count_syscalls.d", "read_sizes.d"} <= names
    assert sum(p.suffix == ".d" for p in SAMPLES) >= 3
    assert sum(p.suffix == ".bt" for p in SAMPLES) >= 3
    assert "@num[probefunc] = count();" in (SCRIPTS / "count_syscalls.d").read_text()
    assert "lquantize(arg0, 0, 12, 2)" in (SCRIPTS / "read_sizes.d").read_text()


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_tokens_match_golden_file(path: Path, update_goldens: bool) -> None:
    golden = GOLDENS / f"{path.name}.tokens"
    actual = render_tokens(path)
    if update_goldens:
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(actual, encoding="utf-8")
        return
    assert golden.exists(), f"{golden} is missing; run pytest tests/lexer --update-goldens"
    assert actual == golden.read_text(encoding="utf-8"), (
        f"tokens of {path.name} changed; review, then run pytest tests/lexer --update-goldens"
    )


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_sample_has_no_error_tokens(path: Path) -> None:
    errors = [
        value
        for token, value in lexer_for(path).get_tokens(path.read_text(encoding="utf-8"))
        if token is Error
    ]
    assert errors == []


def test_every_golden_file_belongs_to_a_sample() -> None:
    expected = {f"{p.name}.tokens" for p in SAMPLES}
    actual = {p.name for p in GOLDENS.glob("*.tokens")}
    assert actual <= expected, f"stale golden files: {sorted(actual - expected)}"
