"""The libdtrace backend without libdtrace: compiler messages recorded from the real library
placed at a line and column, the worker protocol replayed through the server's side, the
struct layouts of both families, and what the backend says when libdtrace is missing."""

from __future__ import annotations

import ctypes
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from ide.config import Settings
from ide.tracing import dtrace_abi as abi
from ide.tracing import dtrace_program as program
from ide.tracing import dtrace_worker as worker
from ide.tracing.backend import BackendUnavailable, RefusedTracer, RunSpec
from ide.tracing.dtrace_messages import diagnostic_from_message
from ide.tracing.dtrace_records import decode_record
from ide.tracing.libdtrace import (
    ENV_LIBRARY,
    LibdtraceBackend,
    install_hint,
    worker_env,
    worker_options,
)
from ide.tracing.libdtrace_tracer import (
    START_ATTEMPTS,
    LibdtraceTracer,
    exiting_status,
    translate,
)
from ide.tracing.model import (
    AggregationData,
    Attached,
    Exited,
    Output,
    Problem,
    Tick,
    TracerEvent,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "libdtrace"
COMPILE = json.loads((FIXTURES / "compile.json").read_text())


def recorded(script_start: str) -> tuple[str, str]:
    entry = next(e for e in COMPILE if e["script"].startswith(script_start))
    return entry["script"], entry["error"]


def span(script_start: str) -> tuple[int, int, int, int, str]:
    script, error = recorded(script_start)
    d = diagnostic_from_message(error, script)
    return d.line, d.column, d.end_line, d.end_column, d.message


# --- compiler messages at a line and column -------------------------------------------------


def test_a_misspelt_aggregating_function_is_underlined_on_its_line() -> None:
    assert span("syscall:::entry\n{ @num[probefunc] = cont(); }") == (
        2, 21, 2, 25, "undefined function name: cont",
    )  # fmt: skip


def test_a_syntax_error_is_placed_at_the_token_libdtrace_names() -> None:
    line, col, end_line, end_col, msg = span("syscall:::entry\n{\n\tx = 1\n")
    assert (line, col, end_line, end_col) == (4, 2, 4, 8)
    assert msg == 'syntax error near "y = 2;"'


def test_an_unknown_variable_and_a_probe_that_matches_nothing() -> None:
    assert span("syscall:::entry\n{ trace(nosuchvar)")[:4] == (2, 9, 2, 18)
    assert span("nosuchprov:::entry") == (
        1, 1, 1, 19, "probe description nosuchprov:::entry does not match any probes",
    )  # fmt: skip
    assert span("BEGIN { @x = count(); }\nEND { printa(@y)")[:4] == (2, 14, 2, 16)


def test_a_missing_brace_is_on_the_line_libdtrace_names() -> None:
    # libdtrace says "line 3": the empty line after the last newline, where "}" is missing.
    assert span("syscall:::entry\n{ @num[probefunc] = count(); \n") == (
        3, 1, 3, 1, "syntax error near end of input",
    )  # fmt: skip


def test_end_of_input_without_a_line_points_at_the_end_of_the_last_line() -> None:
    d = diagnostic_from_message("syntax error near end of input", "BEGIN\n{ trace(1); \n\n")
    assert (d.line, d.column) == (2, 12)


def test_function_argument_errors_underline_the_function() -> None:
    assert span("syscall:::entry\n{ @num[probefunc] = lquantize(")[:4] == (2, 21, 2, 30)
    assert span('BEGIN { @x = sum("s")')[:4] == (1, 14, 1, 17)
    line, col, _, end_col, msg = span('BEGIN\n{\n  printf("%d')
    assert (line, col, end_col) == (3, 3, 9)
    assert "\n" not in msg and msg.startswith("printf( ) argument #2 is incompatible")


def test_option_and_comment_errors() -> None:
    assert span("#pragma D option nosuchopt")[:4] == (1, 18, 1, 27)
    assert span("syscall::read:entry { @[execname] = count(); }\n/*")[:4] == (2, 1, 2, 16)


def test_every_recorded_message_lands_inside_the_script() -> None:
    for entry in COMPILE:
        d = diagnostic_from_message(entry["error"], entry["script"])
        lines = entry["script"].split("\n")
        assert 1 <= d.line <= len(lines)
        assert 1 <= d.column <= d.end_column <= len(lines[d.line - 1]) + 1
        assert not d.message.startswith("[")  # the D_ tag is not for the user


def test_a_message_without_a_line_is_searched_for_in_the_whole_script() -> None:
    d = diagnostic_from_message("undefined function name: cont", "BEGIN\n{\n  x = cont();\n}")
    assert (d.line, d.column, d.end_column) == (3, 7, 11)
    d = diagnostic_from_message("something went wrong", "  BEGIN { }")
    assert (d.line, d.column, d.end_column) == (1, 3, 12)


def test_an_undefined_macro_argument_is_underlined() -> None:
    d = diagnostic_from_message(
        "line 1: macro argument $1 is not defined", "syscall::read:entry /$1 == pid/ { }"
    )
    assert (d.line, d.column, d.end_column) == (1, 22, 24)


def test_message_prefixes_of_libdtrace_are_read_and_dropped() -> None:
    script = "BEGIN\n{\n  trace(nosuchvar);\n}"
    d = diagnostic_from_message(
        "in action list: failed to resolve nosuchvar: Unknown variable name", script
    )
    assert (d.line, d.column, d.end_column) == (3, 9, 18)
    assert d.message == "failed to resolve nosuchvar: Unknown variable name"
    d = diagnostic_from_message('[D_SYNTAX] "script.d", line 4: syntax error near "}"', script)
    assert (d.line, d.column, d.end_column, d.message) == (4, 1, 2, 'syntax error near "}"')


def test_a_token_that_is_not_on_the_named_line_underlines_the_whole_line() -> None:
    d = diagnostic_from_message('line 1: syntax error near "zzz"', "  BEGIN { x }  \n")
    assert (d.line, d.column, d.end_column) == (1, 3, 14)


# --- without libdtrace ----------------------------------------------------------------------


@pytest.fixture
def missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> LibdtraceBackend:
    monkeypatch.setenv(ENV_LIBRARY, str(tmp_path / "no-libdtrace.so"))
    return LibdtraceBackend(Settings())


def test_without_libdtrace_the_status_says_where_it_looked_and_how_to_install(
    missing: LibdtraceBackend, tmp_path: Path
) -> None:
    status = missing.status()
    assert status.available is False and status.version is None
    assert status.reason is not None
    assert str(tmp_path / "no-libdtrace.so") in status.reason
    assert install_hint() in status.reason


def test_without_libdtrace_compile_start_and_probes_raise_unavailable(
    missing: LibdtraceBackend,
) -> None:
    with pytest.raises(BackendUnavailable, match="not found"):
        missing.compile("BEGIN { exit(0); }")
    with pytest.raises(BackendUnavailable):
        missing.start("BEGIN { exit(0); }", RunSpec())
    with pytest.raises(BackendUnavailable):
        missing.list_probes()


def test_install_hints_name_each_platform() -> None:
    assert "illumos" in install_hint("sunos5")
    assert "kldload" in install_hint("freebsd14")
    assert "macOS" in install_hint("darwin")
    assert "dtrace-utils" in install_hint("linux")


def test_compile_time_options_are_refused_before_any_library(
    missing: LibdtraceBackend,
) -> None:
    # ctypes= creates its file as root the moment libdtrace reads the pragma, and
    # dtrace_getopt cannot read compile-time options back: refused before libdtrace runs,
    # also with a vertical tab between the words, and even inside a comment.
    for script in (
        "#pragma D option ctypes=/tmp/x\nBEGIN { trace(1); }",
        "#pragma\vD\foption ctypes=/tmp/x\nBEGIN { trace(1); }",
        "/*\n#pragma D option ctypes=/tmp/x\n*/ BEGIN { trace(1); }",
    ):
        res = missing.compile(script)
        assert res.ok is False
        [d] = res.diagnostics
        assert "option ctypes is not one a script may set" in d.message
        assert d.column == 18 and d.end_column == 31
    tracer = missing.start("#pragma D option cpppath=/tmp/cpp\nBEGIN { }", RunSpec())
    assert isinstance(tracer, RefusedTracer) and tracer.pid is None
    [event] = list(tracer.events())
    assert isinstance(event, Exited) and event.error and "option cpppath" in event.error


def test_an_empty_script_is_a_diagnostic(missing: LibdtraceBackend) -> None:
    res = missing.compile("  \n")
    assert res.ok is False and res.diagnostics[0].message == "the script is empty"


def test_run_options_become_libdtrace_option_strings() -> None:
    opts = {"bufsize": 8 << 20, "aggrate": 5, "switchrate": 20, "max_strlen": 64}
    assert worker_options(opts) == {"bufsize": "8388608", "aggrate": "5hz", "switchrate": "20hz"}


def test_the_worker_finds_this_package() -> None:
    root = str(Path(__file__).resolve().parents[2])
    assert worker_env()["PYTHONPATH"].split(":")[0] == root


def test_a_worker_pointed_at_a_missing_library_says_so() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ide.tracing.dtrace_worker", "compile"],
        input=json.dumps({"library": "/nonexistent/libdtrace.so", "script": "BEGIN {}"}) + "\n",
        capture_output=True,
        text=True,
        env=worker_env(),
        timeout=60,
    )
    [msg] = [json.loads(line) for line in proc.stdout.splitlines()]
    assert msg["type"] == "exited" and "cannot load libdtrace" in msg["error"]


# --- the worker protocol, replayed through the server's side --------------------------------


def stand_in_worker(code: str, *args: str) -> subprocess.Popen[bytes]:
    """A process run like the libdtrace worker (piped stdin, stdout and stderr) that runs
    ``code`` instead of libdtrace."""
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def replaying(path: Path) -> subprocess.Popen[bytes]:
    """A stand-in worker that prints a recording and then waits for its stdin to close."""
    code = "import sys; sys.stdout.write(open(sys.argv[1]).read()); sys.stdout.flush(); " \
        "sys.stdin.read()"  # fmt: skip
    return stand_in_worker(code, str(path))


def run_fixture(name: str) -> list[TracerEvent]:
    tracer = LibdtraceTracer(replaying(FIXTURES / f"{name}.ndjson"), 5.0)
    events = list(tracer.events())
    tracer.proc.wait(timeout=10)  # the worker was let go (stdin closed) after "exited"
    return events


def test_a_recorded_run_becomes_tracer_events_ending_in_one_exited() -> None:
    events = run_fixture("count_by_syscall")
    assert isinstance(events[0], Attached) and events[0].probes > 300
    assert isinstance(events[-1], Exited)
    assert events[-1] == Exited(0, None)
    assert sum(isinstance(e, Exited) for e in events) == 1
    ticks = [i for i, e in enumerate(events) if isinstance(e, Tick)]
    assert len(ticks) >= 2
    first = [e for e in events[: ticks[0]] if isinstance(e, AggregationData)]
    assert [e.aggregation.name for e in first] == ["@num"]
    assert all(isinstance(r.key[0], str) for r in first[0].aggregation.rows)


def test_recorded_printf_output_is_passed_on_as_text() -> None:
    events = run_fixture("every_function")
    text = "".join(e.text for e in events if isinstance(e, Output))
    assert text == "hello <b>42</b>\n          7\n"


def test_an_aggregation_cut_by_the_worker_keeps_its_true_row_count() -> None:
    agg = {"name": "@n", "function": "count", "params": {}, "total_rows": 9000,
           "rows": [{"key": ["read"], "value": 5}]}  # fmt: skip
    event = translate({"type": "aggregation", "aggregation": agg})
    assert isinstance(event, AggregationData)
    assert event.aggregation.total_rows == 9000
    assert event.aggregation.rows[0].key == ("read",)


def test_worker_messages_translate_to_events() -> None:
    assert translate({"type": "problem", "message": "2 drops", "fix": "increase aggsize"}) == (
        Problem("2 drops", "increase aggsize")
    )
    assert translate({"type": "exited", "code": 1, "error": "bad"}) == Exited(1, "bad")
    assert translate({"type": "record", "record": {}}) is None
    assert translate(["not", "a", "message"]) is None


def test_a_worker_killed_from_outside_ends_the_run_with_an_error() -> None:
    code = textwrap.dedent(
        """
        import os, signal, sys
        print('{"type":"attached","probes":3}', flush=True)
        print('{"type":"tick"}', flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = stand_in_worker(code)
    events = list(LibdtraceTracer(proc, 5.0).events())
    assert events[:2] == [Attached(3), Tick()]
    last = events[-1]
    assert isinstance(last, Exited) and last.code == -9
    assert last.error is not None and "SIGKILL" in last.error


STOPPABLE = textwrap.dedent(
    """
    import sys
    print('{"type":"attached","probes":1}', flush=True)
    line = sys.stdin.readline()
    print(f'{{"type":"output","text":"got {line.strip()}"}}', flush=True)
    print('{"type":"tick"}', flush=True)
    print('{"type":"exited","code":0,"error":null}', flush=True)
    sys.stdout.close()
    import time; time.sleep(float(sys.argv[1]))  # like a handle that is slow to close
    """
)


def test_stop_asks_the_worker_and_exited_comes_before_the_worker_is_gone() -> None:
    proc = stand_in_worker(STOPPABLE, "3")
    tracer = LibdtraceTracer(proc, 5.0)
    events = tracer.events()
    assert next(events) == Attached(1)
    tracer.stop()
    started = time.monotonic()
    rest = list(events)
    assert rest == [Output("got stop"), Tick(), Exited(0, None)]
    assert time.monotonic() - started < 2.5
    assert proc.poll() is None  # still "detaching": not waited for
    tracer.kill()
    assert proc.wait(timeout=10) == -9


def test_kill_ends_the_run_at_once_without_an_error() -> None:
    proc = stand_in_worker(STOPPABLE, "0")
    tracer = LibdtraceTracer(proc, 5.0)
    events = tracer.events()
    assert next(events) == Attached(1)
    tracer.kill()
    assert list(events) == [Exited(-9, None)]


# --- struct layouts and family detection ----------------------------------------------------


def offsets(struct: Any) -> dict[str, int]:
    return {name: getattr(struct, name).offset for name, *_ in struct._fields_}


def test_oracle_layouts_match_dtrace_utils_headers() -> None:
    assert ctypes.sizeof(abi.OracleRecDesc) == 40
    assert offsets(abi.OracleRecDesc)["arg"] == 24
    agg = offsets(abi.OracleAggDesc)
    assert (agg["sig"], agg["nkrecs"], agg["krecs"], agg["drecs"]) == (16, 40, 48, 56)
    data = offsets(abi.OracleAggData)
    assert (data["key"], data["data"]) == (16, 24)


def test_illumos_layouts_match_its_sys_dtrace_h() -> None:
    assert ctypes.sizeof(abi.IllumosRecDesc) == 32
    assert offsets(abi.IllumosRecDesc)["arg"] == 16
    agg = offsets(abi.IllumosAggDesc)
    assert (agg["varid"], agg["nrecs"], agg["rec"]) == (8, 32, 40)
    assert offsets(abi.IllumosAggData)["data"] == 32
    assert ctypes.sizeof(abi.IllumosProbeDesc) == 4 + 64 + 64 + 192 + 64


def test_callback_structs_have_the_shared_layout() -> None:
    assert offsets(abi.ErrData)["msg"] == 48
    assert offsets(abi.DropData)["msg"] == 32
    assert offsets(abi.BufData)["flags"] == 40


class _Symbols:
    def __init__(self, *names: str) -> None:
        self.names = names

    def __getattr__(self, name: str) -> object:
        if name in self.names:
            return object()
        raise AttributeError(name)


def test_the_family_is_told_by_the_symbols_libdtrace_exports() -> None:
    assert abi.detect_family(_Symbols("dtrace_open", "dtrace_init")) == "oracle"  # type: ignore[arg-type]
    assert abi.detect_family(_Symbols("dtrace_open", "dtrace_sleep")) == "illumos"  # type: ignore[arg-type]


def test_every_drop_kind_names_its_fix() -> None:
    assert "bufsize" in (abi.DROP_FIXES[0] or "")
    assert "aggsize" in (abi.DROP_FIXES[1] or "")
    assert "dynvarsize" in (abi.DROP_FIXES[2] or "")


def test_drops_and_probe_errors_are_reported_once_per_snapshot() -> None:
    problems = worker.Problems()
    sent: list[dict[str, Any]] = []

    def emit(kind: str, **fields: Any) -> None:
        sent.append({"type": kind, **fields})

    for _ in range(50):  # Oracle repeats one aggregation-drop report for every key it reads
        problems.drop(1, 0, 9)
    problems.drop(1, 1, 3)
    problems.drop(0, 0, 100)
    for _ in range(3):
        problems.error("invalid address (0x0) in action #1")
    problems.report(emit)
    assert sent == [
        {"type": "problem", "message": "100 principal buffer drops",
         "fix": "increase bufsize (or switchrate)", "lost": 100},
        {"type": "problem", "message": "12 aggregation drops",
         "fix": "increase aggsize (or aggrate)", "lost": 12},
        {"type": "problem", "message": "invalid address (0x0) in action #1 (3 times)", "fix": None},
    ]  # fmt: skip
    sent.clear()
    problems.report(emit)
    assert sent == []


def test_probe_error_messages_are_bounded_per_snapshot() -> None:
    problems = worker.Problems()
    sent: list[str] = []
    for i in range(worker.MAX_ERROR_KINDS + 5):
        problems.error(f"invalid address ({i:#x})")
    problems.report(lambda kind, **f: sent.append(f["message"]))
    assert len(sent) == worker.MAX_ERROR_KINDS + 1
    assert sent[-1] == "5 more probe errors"


def test_a_crash_in_libdtrace_is_named_and_contained() -> None:
    code = "import os, signal; print('{\"type\":\"attached\",\"probes\":1}', flush=True); " \
        "os.kill(os.getpid(), signal.SIGSEGV)"  # fmt: skip
    proc = stand_in_worker(code)
    *_, last = LibdtraceTracer(proc, 5.0).events()
    assert isinstance(last, Exited) and last.code == -11
    assert last.error is not None and "libdtrace crashed (SIGSEGV)" in last.error


def test_a_worker_that_does_not_stop_in_time_is_killed_with_an_error() -> None:
    code = "import sys, time; print('{\"type\":\"attached\",\"probes\":1}', flush=True); " \
        "time.sleep(60)"  # fmt: skip
    proc = stand_in_worker(code)
    tracer = LibdtraceTracer(proc, 0.5)
    events = tracer.events()
    assert next(events) == Attached(1)
    tracer.stop()
    [last] = list(events)
    assert isinstance(last, Exited) and last.code == -9
    assert last.error is not None and "did not finish within 0.5 s" in last.error


def test_a_library_that_does_not_load_is_reported_with_the_loaders_reason(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = tmp_path / "libdtrace.so.2"
    fake.write_text("not a shared object")
    monkeypatch.setenv(ENV_LIBRARY, str(fake))
    monkeypatch.setattr("ide.tracing.libdtrace.os.geteuid", lambda: 0)
    status = LibdtraceBackend(Settings()).status()
    assert status.available is False and status.reason is not None
    assert status.reason.startswith(f"libdtrace at {fake} cannot be used: cannot load libdtrace")


def test_without_root_on_linux_the_reason_says_so(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = tmp_path / "libdtrace.so.2"
    fake.write_text("")
    monkeypatch.setenv(ENV_LIBRARY, str(fake))
    monkeypatch.setattr("ide.tracing.libdtrace.sys.platform", "linux")
    monkeypatch.setattr("ide.tracing.libdtrace.os.geteuid", lambda: 1000)
    status = LibdtraceBackend(Settings()).status()
    assert status.available is False and status.reason is not None
    assert "needs root" in status.reason


# --- reading libdtrace's structs, on memory laid out as each family lays it out -------------


def test_an_illumos_walk_element_is_read_from_one_buffer_of_records() -> None:
    # @x[execname, pid] = lquantize(v, 0, 10, 5): records are the variable id, two keys, the
    # aggregating action; all in one data buffer.
    n = 4
    buf = ctypes.create_string_buffer(ctypes.sizeof(abi.IllumosAggDesc) + 3 * 32)
    desc = abi.IllumosAggDesc.from_buffer(buf)
    name = ctypes.create_string_buffer(b"x")
    desc.name = ctypes.cast(name, ctypes.c_char_p)
    desc.nrecs = n
    recs = (abi.IllumosRecDesc * n).from_buffer(buf, abi.IllumosAggDesc.rec.offset)
    arg = (5 << 48) | (2 << 32)
    layout = [(0x1, 4, 0), (0x1, 16, 8), (0x1, 4, 24), (0x708, 40, 32)]
    for rec, (action, size, offset) in zip(recs, layout, strict=True):
        rec.action, rec.size, rec.offset = action, size, offset
    recs[3].arg = arg
    data = bytearray(72)
    data[8:12] = b"bash"
    data[24:28] = (4321).to_bytes(4, "little")
    data[32:72] = struct_words(arg, 1, 2, 0, 3)
    raw_data = ctypes.create_string_buffer(bytes(data), len(data))
    agd = abi.IllumosAggData()
    agd.desc = ctypes.pointer(desc)
    agd.data = ctypes.cast(raw_data, ctypes.c_void_p)
    raw = abi.illumos_raw_record(ctypes.addressof(agd))
    assert raw is not None
    decoded = decode_record(raw)
    assert (decoded.name, decoded.function, decoded.row.key) == ("@x", "lquantize", ("bash", 4321))
    assert decoded.params == {"lo": 0, "hi": 10, "step": 5}
    assert decoded.row.buckets is not None
    assert [b.count for b in decoded.row.buckets] == [1, 2, 0, 3]


def test_an_oracle_walk_element_is_read_from_its_key_and_data_buffers() -> None:
    krecs = (abi.OracleRecDesc * 2)()
    krecs[0].action, krecs[0].size, krecs[0].offset = 0x1, 4, 0  # the aggregation id
    krecs[1].action, krecs[1].size, krecs[1].offset = 0x1, 8, 8
    drecs = (abi.OracleRecDesc * 2)()
    drecs[0].action, drecs[0].size, drecs[0].offset = 0x1, 8, 0  # the data generation
    drecs[1].action, drecs[1].size, drecs[1].offset = 0x708, 8, 8  # sum
    desc = abi.OracleAggDesc()
    name = ctypes.create_string_buffer(b"total")
    desc.name = ctypes.cast(name, ctypes.c_char_p)
    desc.nkrecs = 2
    desc.krecs = ctypes.cast(krecs, ctypes.POINTER(abi.OracleRecDesc))
    desc.drecs = ctypes.cast(drecs, ctypes.POINTER(abi.OracleRecDesc))
    key = ctypes.create_string_buffer(struct_words(7, -2), 16)
    data = ctypes.create_string_buffer(struct_words(1, 2**40), 16)
    agd = abi.OracleAggData()
    agd.desc = ctypes.pointer(desc)
    agd.key = ctypes.cast(key, ctypes.c_void_p)
    agd.data = ctypes.cast(data, ctypes.c_void_p)
    raw = abi.oracle_raw_record(ctypes.addressof(agd))
    assert raw is not None
    decoded = decode_record(raw)
    assert (decoded.name, decoded.function, decoded.row.key) == ("@total", "sum", (-2,))
    assert decoded.row.value == 2**40


def struct_words(*values: int) -> bytes:
    return b"".join(v.to_bytes(8, "little", signed=True) for v in values)


def fake_stat(tmp_path: Path, pid: int, flags: int, exit_code: int) -> str:
    fields = ["S", "1", *["0"] * 4, str(flags), *["0"] * 42, str(exit_code)]
    (tmp_path / str(pid)).mkdir()
    (tmp_path / str(pid) / "stat").write_text(f"{pid} (python3 (x)) " + " ".join(fields) + "\n")
    return str(tmp_path)


def test_the_status_of_a_worker_still_detaching_is_read_from_proc(tmp_path: Path) -> None:
    root = fake_stat(tmp_path, 41, flags=0x404, exit_code=9)  # PF_EXITING, killed by SIGKILL
    assert exiting_status(41, root) == -9
    root = fake_stat(tmp_path, 42, flags=0x4, exit_code=3 << 8)  # exit(3)
    assert exiting_status(42, root) == 3
    root = fake_stat(tmp_path, 43, flags=0x0, exit_code=0)  # running
    assert exiting_status(43, root) is None
    assert exiting_status(44, root) is None  # gone


def test_user_symbol_functions_are_refused_only_on_oracles_library(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    script = 'syscall::read:entry\n{ @u[usym(arg1)] = count(); printf("umod(x)"); }'
    backend = LibdtraceBackend(Settings(token="t"))
    monkeypatch.setattr(backend, "family", lambda: "oracle")
    [d] = backend.refusals(script)
    assert (d.line, d.column, d.end_column) == (2, 6, 10)
    assert d.message.startswith("usym() makes Oracle's libdtrace attach")
    result = backend.compile(script)
    assert not result.ok and result.diagnostics == (d,)
    monkeypatch.setattr(backend, "family", lambda: "illumos")
    assert backend.refusals(script) == ()


# --- a start that fails because another consumer was closing -------------------------------

RACED = (
    '{"type":"exited","code":1,"error":"cannot start tracing: Failed to enable probe",'
    '"retry":true}\n'
)
STARTED = '{"type":"attached","probes":2}\n{"type":"tick"}\n{"type":"exited","code":0}\n'


def printing(text: str) -> subprocess.Popen[bytes]:
    """A stand-in worker that prints ``text`` and exits."""
    return stand_in_worker("import sys; sys.stdout.write(sys.argv[1])", text)


def test_a_start_that_failed_for_a_passing_reason_is_tried_again_in_a_fresh_worker() -> None:
    workers = [printing(STARTED)]
    tracer = LibdtraceTracer(printing(RACED), 5.0, respawn=workers.pop)
    first = tracer.pid
    assert list(tracer.events()) == [Attached(2), Tick(), Exited(0, None)]
    assert tracer.pid != first and not workers


def test_a_start_that_keeps_failing_reports_its_error_after_the_last_attempt() -> None:
    spawned: list[subprocess.Popen[bytes]] = []

    def respawn() -> subprocess.Popen[bytes]:
        spawned.append(printing(RACED))
        return spawned[-1]

    events = list(LibdtraceTracer(printing(RACED), 5.0, respawn=respawn).events())
    assert events == [Exited(1, "cannot start tracing: Failed to enable probe")]
    assert len(spawned) == START_ATTEMPTS - 1


def test_a_failed_start_is_not_tried_again_once_the_run_was_stopped() -> None:
    tracer = LibdtraceTracer(printing(RACED), 5.0, respawn=lambda: printing(STARTED))
    tracer.stop()
    assert list(tracer.events()) == [Exited(1, "cannot start tracing: Failed to enable probe")]


def test_other_start_failures_are_reported_at_once() -> None:
    failed = '{"type":"exited","code":1,"error":"cannot start tracing: Permission denied"}\n'
    tracer = LibdtraceTracer(printing(failed), 5.0, respawn=lambda: printing(STARTED))
    assert list(tracer.events()) == [Exited(1, "cannot start tracing: Permission denied")]


def test_a_failed_start_is_not_tried_again_once_the_run_was_killed() -> None:
    spawned: list[subprocess.Popen[bytes]] = []

    def respawn() -> subprocess.Popen[bytes]:
        spawned.append(printing(STARTED))
        return spawned[-1]

    worker = printing(RACED)
    worker.wait(timeout=10)  # its "retry" is written before the kill comes
    tracer = LibdtraceTracer(worker, 5.0, respawn=respawn)
    tracer.kill()
    [last] = tracer.events()
    assert isinstance(last, Exited) and not spawned


# --- the policy on what libdtrace compiled, from answers recorded from the real library ----

COMPILED = json.loads((FIXTURES / "compiled.json").read_text())


def compiled(script_start: str) -> tuple[str, dict[str, Any]]:
    entry = next(e for e in COMPILED if e["script"].startswith(script_start))
    return entry["script"], entry["compiled"]


def answering(
    monkeypatch: pytest.MonkeyPatch, answer: dict[str, Any], **settings: Any
) -> tuple[LibdtraceBackend, list[dict[str, Any]]]:
    """A backend whose compile worker is a stand-in printing ``answer``; the requests it got."""
    backend = LibdtraceBackend(Settings(token="t", **settings))
    requests: list[dict[str, Any]] = []

    def spawn(mode: str, request: dict[str, Any]) -> subprocess.Popen[bytes]:
        requests.append({"mode": mode, **request})
        return printing(json.dumps(answer) + "\n")

    monkeypatch.setattr(backend, "_require", lambda: "libdtrace.so")
    monkeypatch.setattr(backend, "family", lambda: "oracle")
    monkeypatch.setattr(backend, "_spawn", spawn)
    return backend, requests


def test_destructive_set_past_a_character_constant_is_refused_at_its_pragma(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    script, answer = compiled("BEGIN { x = '/*'; }")
    backend, _ = answering(monkeypatch, answer)
    res = backend.compile(script)
    assert res.ok is False
    pragma, action = res.diagnostics
    assert (pragma.line, pragma.column, pragma.end_column) == (2, 18, 29)
    assert pragma.message.startswith("#pragma D option destructive enables actions")
    assert (action.line, action.column, action.end_column) == (3, 9, 15)
    assert "destructive action" in action.message and "--allow-destructive" in action.message


def test_a_destructive_call_after_a_quote_in_a_character_constant_is_placed_on_the_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    script, answer = compiled("BEGIN { c = '\"'; system(")
    backend, _ = answering(monkeypatch, answer)
    [d] = backend.compile(script).diagnostics
    assert (d.line, d.column, d.end_column) == (1, 18, 24)


def test_with_allow_destructive_the_same_program_compiles(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    script, answer = compiled("BEGIN { x = '/*'; }")
    backend, _ = answering(monkeypatch, answer, allow_destructive=True)
    assert backend.compile(script).ok


def test_options_past_the_caps_are_refused_from_libdtraces_numbers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    script, answer = compiled("#pragma\vD\foption bufsize=2g")
    backend, _ = answering(monkeypatch, answer)
    [d] = backend.compile(script).diagnostics
    assert (d.line, d.column, d.end_column) == (1, 18, 28)
    assert (
        d.message
        == "bufsize=2g (2147483648 bytes) is past this server's cap of 64m (67108864 bytes)"
    )
    script, answer = compiled("#pragma D option aggrate=1000hz")
    backend, _ = answering(monkeypatch, answer)
    found = {(d.line, d.message) for d in backend.compile(script).diagnostics}
    assert found == {
        (1, "aggrate=1000hz is past this server's cap of 100 per second (100hz)"),
        (2, "switchrate=1000hz is past this server's cap of 100 per second (100hz)"),
        (3, "strsize=8192 is past this server's cap of 4096"),
    }


def test_options_within_the_caps_in_any_c_notation_compile(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    script, answer = compiled("#pragma D option bufsize=0x1000000")
    backend, _ = answering(monkeypatch, answer)
    assert backend.compile(script).ok


def test_options_the_server_owns_are_refused_and_turning_destructive_off_is_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    script, answer = compiled("#pragma D option nspec=100")
    backend, _ = answering(monkeypatch, answer)
    [d] = backend.compile(script).diagnostics
    assert (d.line, d.column) == (1, 18)
    assert d.message.startswith("option nspec is not one a script may set on this server")


@pytest.mark.parametrize("start", ["BEGIN { copyout(", "BEGIN { raise(", "BEGIN { freopen("])
def test_every_destructive_action_libdtrace_compiled_is_refused(
    monkeypatch: pytest.MonkeyPatch, start: str
) -> None:
    script, answer = compiled(start)
    backend, _ = answering(monkeypatch, answer)
    [d] = backend.compile(script).diagnostics
    assert (d.line, d.column) == (1, 9) and "refuses destructive actions" in d.message


def test_destructive_words_in_a_string_are_not_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    script, answer = compiled('BEGIN { printf("system(1)")')
    backend, _ = answering(monkeypatch, answer)
    assert backend.compile(script).ok


def test_a_refusal_libdtrace_gives_no_place_for_is_at_1_1_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answer = {"type": "compiled", "ok": True, "options": {"cleanrate": 1000}, "actions": []}
    backend, _ = answering(monkeypatch, answer)
    [d] = backend.compile("BEGIN { exit(0); }").diagnostics
    assert (d.line, d.column) == (1, 1)
    assert d.message.startswith("option cleanrate") and "libdtrace does not say where" in d.message


def test_a_run_request_carries_the_policy_its_worker_applies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backend, requests = answering(monkeypatch, {"type": "exited", "code": 0}, max_d_strsize=512)
    list(backend.start("BEGIN { exit(0); }", RunSpec()).events())
    [request] = requests
    assert request["mode"] == "run"
    assert request["policy"] == {"allow_destructive": False, "max_d_strsize": 512}
    policy = program.request_policy(request)
    assert (policy.allow_destructive, policy.max_d_strsize) == (False, 512)


def test_a_request_without_a_policy_gets_the_strictest() -> None:
    assert program.request_policy({"destructive": True}).allow_destructive is False


def test_oracles_statement_layout_matches_dtrace_utils() -> None:
    assert offsets(abi.OracleStmtDesc)["clauseflags"] == 32
    assert ctypes.sizeof(abi.OracleStmtDesc) == 40
    sd = abi.OracleStmtDesc(clauseflags=abi.CLAUSE_DESTRUCTIVE | 1)
    assert abi.oracle_destructive(ctypes.addressof(sd)) == ["destructive"]
    sd.clauseflags = 1 | 64  # data-recording and aggregation only
    assert abi.oracle_destructive(ctypes.addressof(sd)) == []


def test_illumos_actions_are_read_by_kind_and_copyout_by_its_dif_object() -> None:
    assert offsets(abi.IllumosActDesc)["kind"] == 16
    assert offsets(abi.IllumosActDesc)["arg"] == 24
    assert offsets(abi.IllumosDifo)["destructive"] == 60
    assert offsets(abi.IllumosStmtDesc)["action_last"] == 16
    difo = abi.IllumosDifo(destructive=1)
    acts = (abi.IllumosActDesc * 4)()
    acts[0].kind = 0x1  # trace()
    acts[1].kind = 0x203  # system()
    acts[2].kind = 0x1
    acts[2].difo = ctypes.pointer(difo)  # an expression calling copyout()
    acts[3].kind = 0x502  # panic(), a later statement's action: not this one's
    for i in range(3):
        acts[i].next = ctypes.pointer(acts[i + 1])
    sd = abi.IllumosStmtDesc()
    sd.action = ctypes.pointer(acts[0])
    sd.action_last = ctypes.pointer(acts[2])
    assert abi.illumos_destructive(ctypes.addressof(sd)) == ["system", "copyout"]


def test_user_symbol_calls_after_a_quote_in_a_character_constant_are_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backend = LibdtraceBackend(Settings(token="t"))
    monkeypatch.setattr(backend, "family", lambda: "oracle")
    script = "syscall::read:entry\n{ c = '\"'; @u[ufunc(arg1)] = count(); /* umod( */ }"
    [d] = backend.refusals(script)
    assert (d.line, d.column, d.end_column) == (2, 15, 20)
    assert d.message.startswith("ufunc() makes Oracle's libdtrace attach")
