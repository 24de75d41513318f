"""The wheel carries the page, its assets, the examples and the Pygments plugin."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import ROOT


def test_the_wheel_ships_templates_static_files_and_entry_points(tmp_path: Path) -> None:
    # Built from a copy without build/: setuptools reuses a stale build/lib, which would
    # hide a package missing from pyproject.toml.
    source = tmp_path / "src"
    skip = shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "node_modules", "test-artifacts", "*.egg-info",
        "__pycache__", ".mypy_cache", ".ruff_cache", ".hypothesis", ".pytest_cache",
    )  # fmt: skip
    shutil.copytree(ROOT, source, ignore=skip)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [wheel] = tmp_path.glob("dtrace_ide-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        entry_points = next(
            zf.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt")
        )
    for required in (
        "ide/templates/index.html",
        "ide/static/js/app.js",
        "ide/static/vendor/editor.js",
        "ide/static/js/vocabulary.js",
        "ide/tracing/bpftrace.py",
        "dtrace_lexer/vocabulary.py",
        "ide/web/server.py",
    ):
        assert required in names, f"{required} is missing from the wheel"
    assert any(n.startswith("ide/examples/") and n.endswith(".bt") for n in names)
    # Every module of the source tree is in the wheel (a package left off the list in
    # pyproject.toml installs a server that cannot start).
    sources = {
        p.relative_to(ROOT).as_posix()
        for top in ("ide", "dtrace_lexer")
        for p in (ROOT / top).rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert sources - names == set()
    assert "dtrace-ide = ide.cli:main" in entry_points
    assert "dtrace = dtrace_lexer.lexers:DTraceLexer" in entry_points
    assert "bpftrace = dtrace_lexer.lexers:BpftraceLexer" in entry_points
