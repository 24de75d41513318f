from __future__ import annotations

from ide.tracing.bpftrace import (
    BpftraceTracer,
    aggregation_from_event,
    parse_diagnostics,
    snapshot_plan,
    split_key,
)
from ide.tracing.bpftrace_ast import MapFacts, ProgramFacts
from ide.tracing.json_lines import line_batches
from ide.tracing.model import (
    AggregationData,
    AggregationDecl,
    Attached,
    Bucket,
    Exited,
    Output,
    Problem,
    Tick,
)


def test_diagnostics_skip_the_memlock_noise_and_the_echoed_source() -> None:
    stderr = (
        "ERROR: Unknown error -1: couldn't set RLIMIT_MEMLOCK for bpftrace. If your program "
        'is not loading, you can try "ulimit -l 8192" to fix the problem\n'
        "stdin:2:16-20: ERROR: Unknown function: cont\n"
        "  @num[comm] = cont();\n"
        "               ~~~~\n"
    )
    [d] = parse_diagnostics(stderr, "BEGIN {\n  @num[comm] = cont();\n}")
    assert (d.line, d.column, d.end_line, d.end_column) == (2, 16, 2, 20)
    assert d.message == "Unknown function: cont (did you mean count()?)"
    assert d.severity == "error"


def test_a_message_without_a_position_covers_the_first_line() -> None:
    [d] = parse_diagnostics("ERROR: Could not resolve symbol\n", "BEGIN {}\nx")
    assert (d.line, d.column, d.end_column) == (1, 1, 9)


def test_multi_key_strings_become_tuples() -> None:
    assert split_key("1072,memfd:sealed", 2) == (1072, "memfd:sealed")
    assert split_key("a,b,c,d", 3) == ("a", "b", "c,d")
    assert split_key("bash", 1) == ("bash",)
    assert split_key("42", 1) == (42,)


def test_maps_hists_and_stats_become_aggregations() -> None:
    count = AggregationDecl("@c", "count", {}, 1)
    agg = aggregation_from_event("map", "@c", {"bash": 3, "sshd": 5}, count)
    assert agg.function == "count"
    assert [(r.key, r.value) for r in agg.rows] == [(("bash",), 3), (("sshd",), 5)]

    lhist = AggregationDecl("@l", "lhist", {"lo": 0, "hi": 100, "step": 10}, 1)
    agg = aggregation_from_event(
        "hist", "@l", {"bash": [{"min": 0, "max": 9, "count": 5}, {"min": 100, "count": 2}]}, lhist
    )
    assert agg.params == {"lo": 0, "hi": 100, "step": 10}
    assert agg.rows[0].buckets == (Bucket(0, 9, 5), Bucket(100, None, 2))

    stats = AggregationDecl("@s", "stats", {}, 0)
    agg = aggregation_from_event("stats", "@s", {"count": 2, "average": 3, "total": 6}, stats)
    assert agg.rows[0].key == ()
    assert agg.rows[0].stats == {"count": 2, "average": 3, "total": 6}

    avg = AggregationDecl("@a", "avg", {}, 1)
    agg = aggregation_from_event("stats", "@a", {"count": 7}, avg)
    assert [(r.key, r.value) for r in agg.rows] == [(("count",), 7)]


class _FakeProc:
    def __init__(self, stdout: bytes, stderr: bytes = b"", code: int = 0) -> None:
        import io

        self.stdout = io.BytesIO(stdout)
        self.stderr = io.BytesIO(stderr)
        self.pid = 1
        self.code = code

    def wait(self) -> int:
        return self.code

    def poll(self) -> int:
        return self.code


def test_the_nonce_line_ticks_and_user_printf_is_output() -> None:
    lines = b"\n".join(
        [
            b'{"type": "attached_probes", "data": {"probes": 3}}',
            b'{"type": "printf", "data": "hi <b>\\n"}',
            b'{"type": "map", "data": {"@c": {"bash": 1}}}',
            b'{"type": "printf", "data": "NONCE\\n"}',
            b"",
            b'{"type": "lost_events", "data": {"events": 12}}',
        ]
    )
    tracer = BpftraceTracer(
        _FakeProc(lines),  # type: ignore[arg-type]
        (AggregationDecl("@c", "count", {}, 1),),
        "NONCE",
        65536,
    )
    events = list(tracer.events())
    kinds = [type(e) for e in events]
    assert kinds[:4] == [Attached, Output, AggregationData, Tick]
    assert events[1] == Output("hi <b>\n")
    assert isinstance(events[4], Problem) and "12 events" in events[4].message
    assert events[-1].code == 0 and events[-1].error is None  # type: ignore[union-attr]


def test_a_tracer_line_past_the_cap_is_dropped_without_buffering_it() -> None:
    big = b'{"type": "printf", "data": "' + b"x" * 5000 + b'"}'
    lines = big + b'\n{"type": "printf", "data": "after\\n"}\n'
    tracer = BpftraceTracer(_FakeProc(lines), (), "NONCE", 1024)  # type: ignore[arg-type]
    events = list(tracer.events())
    assert isinstance(events[0], Problem) and "too long" in events[0].message
    assert events[1] == Output("after\n")


class _Trickle:
    """A pipe that gives a few bytes per read, so lines straddle reads."""

    def __init__(self, data: bytes, size: int) -> None:
        self.data, self.size = data, size

    def read1(self, n: int) -> bytes:
        out, self.data = self.data[: min(n, self.size)], self.data[min(n, self.size) :]
        return out


def test_lines_split_across_reads_join_and_over_long_ones_are_skipped() -> None:
    data = b"one\ntwo\n" + b"x" * 50 + b"\nthree\nfour"
    for size in (1, 3, 7, 64, 4096):
        got = [ln for batch in line_batches(_Trickle(data, size), 20) for ln in batch]  # type: ignore[arg-type]
        assert got == [b"one", b"two", None, b"three", b"four"], size


def test_a_run_of_printf_lines_is_one_output_event_in_order() -> None:
    lines = b"\n".join(
        [
            *(b'{"type": "printf", "data": "line %d\\n"}' % i for i in range(500)),
            b'{"type": "printf", "data": "NONCE\\n"}',
            b'{"type": "printf", "data": "after\\n"}',
            b"not json",
            b"42",
            b"",
        ]
    )
    tracer = BpftraceTracer(_FakeProc(lines), (), "NONCE", 1024)  # type: ignore[arg-type]
    events = [e for e in tracer.events() if not isinstance(e, Exited)]
    assert [type(e) for e in events] == [Output, Tick, Output, Tick]
    assert events[0] == Output("".join(f"line {i}\n" for i in range(500)))
    assert events[2] == Output("after\nnot json\n42\n")


def test_printed_text_that_is_not_utf8_is_kept_with_replacement_characters() -> None:
    line = b'{"type": "printf", "data": "caf\xe9\\n"}\n'
    tracer = BpftraceTracer(_FakeProc(line), (), "NONCE", 1024)  # type: ignore[arg-type]
    assert next(e for e in tracer.events() if isinstance(e, Output)) == Output("caf\ufffd\n")


def _facts(*maps: MapFacts) -> ProgramFacts:
    return ProgramFacts(maps={m.name: m for m in maps})


def test_aggregations_are_printed_live_and_scratch_maps_are_not() -> None:
    plan = snapshot_plan(
        _facts(
            MapFacts("@start", "value", 1, deleted=True, cleared=True),
            MapFacts("@latency_ns", "hist"),
            MapFacts("@oncpu", "value", 1, keyed_by=frozenset({"tid"})),
            MapFacts("@rate", "count", cleared=True, printed=True),
            MapFacts("@calls", "value", 1, keyed_by=frozenset({"comm"})),  # @calls[comm]++
        )
    )
    assert plan.live == ("@latency_ns", "@rate", "@calls")
    assert plan.at_exit == {"@start", "@oncpu"}
    messages = [n.message for n in plan.notes]
    assert messages == [
        "@start is scratch state (deleted per event), not shown live",
        "@oncpu is scratch state (one value per thread or process), not shown live",
    ]
    assert {n.severity for n in plan.notes} == {"note"}  # not trouble: no red banner


def test_a_deleted_aggregation_is_left_to_the_exit_with_the_reason() -> None:
    plan = snapshot_plan(
        _facts(MapFacts("@c", "count", 1, deleted=True), MapFacts("@h", "hist", 2, deleted=True))
    )
    assert plan.live == ()
    assert plan.at_exit == {"@c", "@h"}
    [c, h] = plan.notes
    assert c.message.startswith("@c is not shown live: the script delete()s its keys")
    assert "0.19" in c.message and c.fix is not None and "clear(@c)" in c.fix
    assert h.message.startswith("@h is not shown live")


def test_a_keyless_count_stays_live_when_deleted_because_delete_only_zeroes_it() -> None:
    # bpftrace 0.17 keeps a key-less count() in a per-CPU array; delete() stores zero.
    plan = snapshot_plan(_facts(MapFacts("@n", "count", 0, deleted=True)))
    assert plan.live == ("@n",) and plan.notes == ()
    keyed = snapshot_plan(_facts(MapFacts("@n", "count", 1, deleted=True)))
    assert keyed.live == ()


def test_the_run_says_first_which_maps_are_not_live_and_hides_them_when_empty() -> None:
    plan = snapshot_plan(
        _facts(MapFacts("@start", "value", 1, deleted=True), MapFacts("@lat", "hist"))
    )
    lines = b"\n".join(
        [
            b'{"type": "attached_probes", "data": {"probes": 3}}',
            b'{"type": "hist", "data": {"@lat": [{"min": 0, "max": 1, "count": 2}]}}',
            b'{"type": "printf", "data": "NONCE\\n"}',
            b'{"type": "map", "data": {"@start": {}}}',
            b'{"type": "map", "data": {"@start": {"42": 7}}}',
        ]
    )
    decls = (AggregationDecl("@start", "value", {}, 1), AggregationDecl("@lat", "hist"))
    tracer = BpftraceTracer(_FakeProc(lines), decls, "NONCE", 65536, plan)  # type: ignore[arg-type]
    events = list(tracer.events())
    assert events[0] == plan.notes[0]
    names = [e.aggregation.name for e in events if isinstance(e, AggregationData)]
    assert names == ["@lat", "@start"]  # the empty @start is dropped, the full one kept


ABORT_STDERR = (
    b"ERROR: Unknown error -1: couldn't set RLIMIT_MEMLOCK for bpftrace.\n"
    b"ERROR: failed to look up elem: -2\n"
    b"terminate called after throwing an instance of 'std::runtime_error'\n"
    b'  what():  Could not print map with ident "@start", err=-1\n'
)


def _exit_of(stderr: bytes, code: int) -> Exited:
    tracer = BpftraceTracer(_FakeProc(b"", stderr, code), (), "NONCE", 1024)  # type: ignore[arg-type]
    last = list(tracer.events())[-1]
    assert isinstance(last, Exited)
    return last


def test_an_abort_on_a_deleted_key_names_the_map_and_the_fix() -> None:
    error = _exit_of(ABORT_STDERR, -6).error
    assert error is not None
    assert error.startswith(
        "bpftrace was killed by SIGABRT: ERROR: failed to look up elem: -2 while it printed "
        "@start: the script delete()d a key of @start during the walk"
    )
    assert "do not print(), clear() or zero() @start" in error and "0.19" in error
    cleared = ABORT_STDERR.replace(b"print map", b"clear map")
    assert "while it cleared @start" in (_exit_of(cleared, -6).error or "")


def test_an_abort_without_the_map_name_still_says_what_happened() -> None:
    error = _exit_of(b"ERROR: failed to look up elem: -2\n", -6).error
    assert error is not None and error.startswith(
        "bpftrace was killed by SIGABRT: ERROR: failed to look up elem: -2: a map print met"
    )


def test_another_crash_keeps_the_tracers_own_message() -> None:
    stderr = (
        b"terminate called after throwing an instance of 'std::runtime_error'\n"
        b"  what():  Could not resolve the thing\n"
    )
    assert _exit_of(stderr, -6).error == (
        "bpftrace was killed by SIGABRT: what():  Could not resolve the thing"
    )


def test_a_timed_out_check_of_the_added_probe_says_so_not_macro() -> None:
    from ide.tracing.bpftrace import COMPILE_TIMED_OUT, _added_probe_problem
    from ide.tracing.model import CompileResult, Diagnostic

    timed_out = CompileResult(False, (Diagnostic(1, 1, 1, 1, COMPILE_TIMED_OUT),))
    assert "macro" not in _added_probe_problem(timed_out)
    assert COMPILE_TIMED_OUT in _added_probe_problem(timed_out)
    refused = CompileResult(False, (Diagnostic(1, 1, 1, 1, "cat() reads files"),))
    assert "macro" in _added_probe_problem(refused)


def test_a_line_range_without_columns_at_the_end_of_file_sits_at_the_end_of_the_text() -> None:
    stderr = "stdin:1-2: ERROR: unexpected end of file, expected {\n"
    [d] = parse_diagnostics(stderr, "BEGIN\n")
    assert (d.line, d.column, d.end_line, d.end_column) == (2, 1, 2, 1)
    assert d.message == "unexpected end of file, expected {"  # no "stdin:" prefix


def test_a_line_range_without_columns_marks_its_first_line() -> None:
    [d] = parse_diagnostics("stdin:2-3: ERROR: something odd\n", "BEGIN {\n  x;\n}\n")
    assert (d.line, d.column, d.end_line, d.end_column) == (2, 1, 2, 5)


def test_an_unknown_function_names_the_closest_known_one() -> None:
    [d] = parse_diagnostics(
        "stdin:1:14-18: ERROR: Unknown function: cont\n", "BEGIN { @x = cont(); }"
    )
    assert d.message == "Unknown function: cont (did you mean count()?)"
    [far] = parse_diagnostics("stdin:1:1-4: ERROR: Unknown function: zzzq\n", "zzzq();")
    assert far.message == "Unknown function: zzzq"
