"""Compile diagnostics from the real bpftrace land on the right line and column."""

from __future__ import annotations

import pytest

from ide.config import Settings
from ide.tracing.bpftrace import BpftraceBackend
from tests.conftest import LiveServer, tracer_ready

pytestmark = pytest.mark.skipif(tracer_ready() is not None, reason=str(tracer_ready()))

# (script, line, column, end_column, words the message must contain)
MISTAKES = [
    ("BEGIN { @x = cont(); }", 1, 14, 18, "Unknown function: cont (did you mean count()?)"),
    ("BEGIN {\n  @num[comm] = count();\n", 3, 1, 1, "syntax error"),
    ("tracepoint:nosuch:thing { @x = count(); }", 1, 1, 24, "tracepoint not found"),
    ("BEGIN {\n  @x = lhist(1, 0);\n}", 2, 8, 19, "lhist() requires 4 arguments"),
    ('BEGIN { printf("%d\\n", $y); }', 1, 24, 26, "Undefined or undeclared variable: $y"),
    ('BEGIN { @x[1] = count(); @x["a"] = count(); }', 1, 26, 33, "Argument mismatch for @x"),
    ("BEGIN { @a = hist(); }", 1, 14, 20, "hist() requires one argument"),
    ("BEGIN { x = 1; }", 1, 11, 12, "syntax error, unexpected ="),
    ('BEGIN { @x = sum("a"); }', 1, 14, 22, "sum() only supports integer arguments"),
    ("BEGIN\n{\n  if (1 { }\n}", 3, 9, 10, "unexpected {"),
    ("BEGIN { @x = count(); }\nEND { print(@y); }", 2, 7, 15, "Undefined map: @y"),
    ("uprobe:/nonexist:foo { }", 1, 1, 21, "does not exist"),
    ('BEGIN { $x = 1; $x = "a"; }', 1, 20, 21, "Type mismatch for $x"),
    ('BEGIN { printf("%s\\n", 1); }', 1, 9, 26, "%s specifier expects a value of type string"),
]


@pytest.fixture(scope="module")
def backend() -> BpftraceBackend:
    return BpftraceBackend(Settings(token="t"))


@pytest.mark.parametrize(("script", "line", "column", "end_column", "words"), MISTAKES)
def test_compile_error_points_at_the_mistake(
    backend: BpftraceBackend, script: str, line: int, column: int, end_column: int, words: str
) -> None:
    result = backend.compile(script)
    assert not result.ok
    errors = [d for d in result.diagnostics if d.severity == "error"]
    assert len(errors) == 1, result.diagnostics
    d = errors[0]
    assert (d.line, d.column, d.end_column) == (line, column, end_column)
    assert words in d.message
    # The position is inside the user's text (or at its very end for a missing brace).
    lines = script.split("\n")
    assert 1 <= d.line <= len(lines) + 1


def test_a_good_script_compiles_without_the_memlock_warning(backend: BpftraceBackend) -> None:
    result = backend.compile("tracepoint:raw_syscalls:sys_enter { @num[comm] = count(); }")
    assert result.ok
    assert result.diagnostics == ()
    assert [a.to_dict() for a in result.aggregations] == [{"name": "@num", "function": "count"}]


def test_kprobe_that_cannot_attach_here_compiles_with_a_warning(backend: BpftraceBackend) -> None:
    result = backend.compile("kprobe:vfs_read { @ = count(); }")
    assert result.ok
    assert [d.severity for d in result.diagnostics] == ["warning"]
    assert result.diagnostics[0].line == 1


def test_compile_api_answers_diagnostics_and_aggregations(live_server: LiveServer) -> None:
    status, body = live_server.request(
        "POST",
        "/api/compile",
        {"language": "bpftrace", "script": "BEGIN {\n  @num[comm] = cont();\n}"},
    )
    assert status == 200
    assert body["ok"] is False
    assert body["diagnostics"] == [
        {
            "line": 2,
            "column": 16,
            "end_line": 2,
            "end_column": 20,
            "severity": "error",
            "message": "Unknown function: cont (did you mean count()?)",
        }
    ]
    assert body["aggregations"] == [{"name": "@num", "function": "value"}]


def test_a_map_the_script_prints_and_clears_itself_is_warned_about_at_the_calls(
    backend: BpftraceBackend,
) -> None:
    script = (
        "tracepoint:raw_syscalls:sys_enter { @num[comm] = count(); @other = count(); }\n"
        "interval:s:1 { print(@num); clear(@num); print(@other); }\n"
    )
    result = backend.compile(script)
    assert result.ok
    warnings = [d for d in result.diagnostics if d.severity == "warning"]
    assert [(d.line, d.column, d.end_column) for d in warnings] == [(2, 16, 26), (2, 29, 39)]
    assert all('"Per interval"' in d.message and "@num" in d.message for d in warnings)


def test_a_map_the_script_only_prints_gets_no_warning(backend: BpftraceBackend) -> None:
    script = "BEGIN { @n = count(); } interval:s:1 { print(@n); }\n"
    result = backend.compile(script)
    assert result.ok
    assert not [d for d in result.diagnostics if d.severity == "warning"]
