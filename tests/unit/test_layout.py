"""The tree's shape: small modules and functions, and a core that imports no presentation."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 60
SIZED = [ROOT / "ide"]
CORE = ROOT / "ide" / "tracing"
# The core hands snapshots to a renderer it is given and knows nothing of the web app.
NOT_IN_CORE = ("flask", "flask_sock", "werkzeug", "ide.web", "ide.charts", "plotly")


def long_functions(source: str, limit: int = MAX_FUNCTION_LINES) -> list[tuple[str, int, int]]:
    """(name, first line, lines) of every function or method over ``limit`` lines, nested
    ones included; a function's lines run from its ``def`` to its last statement."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            assert node.end_lineno is not None
            lines = node.end_lineno - node.lineno + 1
            if lines > limit:
                found.append((node.name, node.lineno, lines))
    return found


def imported_modules(source: str, module: str, *, is_package: bool = False) -> set[str]:
    """Every module that ``source`` (the module named ``module``) imports, anywhere in its
    body, relative imports resolved; ``from a import b`` counts as ``a`` and ``a.b``."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = parts[: len(parts) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def is_within(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def sized_modules() -> list[Path]:
    return sorted(p for package in SIZED for p in package.rglob("*.py"))


def test_the_measure_finds_long_functions_nested_ones_too() -> None:
    body = "\n".join(f"        x{i} = {i}" for i in range(60))
    source = f"def outer():\n    def inner():\n{body}\n    return inner\n\ndef short():\n    pass\n"
    assert long_functions(source) == [("outer", 1, 63), ("inner", 2, 61)]
    assert long_functions(source, limit=63) == []


def test_the_import_walk_resolves_relative_and_function_level_imports() -> None:
    source = (
        "from .model import Snapshot\n"
        "import json\n"
        "def panels():\n"
        "    from .. import charts\n"
        "    from ..web.api import runs\n"
    )
    found = imported_modules(source, "ide.tracing.session")
    assert {"ide.tracing.model", "json", "ide.charts", "ide.web.api"} <= found
    assert is_within("ide.charts", NOT_IN_CORE) and is_within("ide.web.api", NOT_IN_CORE)
    assert not is_within("ide.chartsmith", NOT_IN_CORE)
    assert imported_modules("from . import backend\n", "ide.tracing", is_package=True) >= {
        "ide.tracing.backend"
    }


@pytest.mark.parametrize("path", sized_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_and_their_functions_stay_small(path: Path) -> None:
    source = path.read_text()
    assert len(source.splitlines()) <= MAX_MODULE_LINES
    assert long_functions(source) == []


def test_the_tracing_core_imports_neither_the_web_app_nor_the_charts() -> None:
    modules = sorted(CORE.rglob("*.py"))
    assert len(modules) > 10  # the walk sees the core
    offending = {}
    for path in modules:
        found = imported_modules(
            path.read_text(), module_name(path), is_package=path.name == "__init__.py"
        )
        bad = sorted(name for name in found if is_within(name, NOT_IN_CORE))
        if bad:
            offending[module_name(path)] = bad
    assert offending == {}


# --- no import cycle in ide/ -------------------------------------------------------------------


def import_graph() -> dict[str, set[str]]:
    """Each ide module -> the ide modules it imports.  ``from pkg import mod`` is an edge to
    ``mod`` alone: importing a submodule always loads its package first, so an edge to the
    package as well would make every package that imports its own children a cycle."""
    paths = sorted((ROOT / "ide").rglob("*.py"))
    modules = {module_name(p) for p in paths}
    edges: dict[str, set[str]] = {}
    for path in paths:
        name = module_name(path)
        found = imported_modules(path.read_text(), name, is_package=path.name == "__init__.py")
        targets = {m for m in found if m in modules}
        # drop a package when one of its submodules is the thing imported
        targets -= {t for t in targets if any(u.startswith(t + ".") for u in targets)}
        edges[name] = targets - {name}
    return edges


def cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the list of modules around it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_the_cycle_finder_sees_a_cycle_and_a_chain() -> None:
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_ide_has_no_import_cycle() -> None:
    edges = import_graph()
    assert "ide.tracing.session" in edges["ide.tracing.pipeline"]  # the walk sees imports
    assert cycle(edges) is None


def test_the_libdtrace_worker_starts_without_the_web_app() -> None:
    """Every D compile is a worker process: it imports the core only."""
    heavy = ("flask", "werkzeug", "plotly", "pygments", "ide.web", "ide.charts")
    code = f"import sys, ide.tracing.dtrace_worker; print([m for m in {heavy} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_every_test_module_has_a_name_of_its_own() -> None:
    # pytest imports test modules by their base name (the test folders are not packages):
    # two of one name stop the whole run at collection.
    names: dict[str, list[str]] = {}
    for path in (ROOT / "tests").rglob("test_*.py"):
        names.setdefault(path.name, []).append(str(path.relative_to(ROOT)))
    assert {n: p for n, p in names.items() if len(p) > 1} == {}
