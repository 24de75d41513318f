from __future__ import annotations

from ide.tracing.bpftrace import (
    BpftraceTracer,
    aggregation_from_event,
    parse_diagnostics,
    split_key,
)
from ide.tracing.model import (
    AggregationData,
    AggregationDecl,
    Attached,
    Bucket,
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
    assert d.message == "Unknown function: cont"
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
    def __init__(self, stdout: bytes) -> None:
        import io

        self.stdout = io.BytesIO(stdout)
        self.stderr = io.BytesIO(b"")
        self.pid = 1

    def wait(self) -> int:
        return 0

    def poll(self) -> int:
        return 0


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
