"""Runs and viewers over a scripted tracer (the real-tracer behaviour is in tests/integration)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from ide.charts import PlotlyRenderer
from ide.config import Settings
from ide.tracing import session
from ide.tracing.model import (
    Aggregation,
    AggregationData,
    Attached,
    Exited,
    Output,
    Problem,
    Row,
    Snapshot,
    Tick,
)
from ide.tracing.render import RunHistory
from ide.tracing.session import LimitExceeded, RunManager
from ide.tracing.viewer import OUTPUT_PACE_S
from tests.unit.scripted import ScriptedBackend


def counts(n: int, value: int = 1) -> AggregationData:
    rows = tuple(Row((f"k{i}",), value=value + i) for i in range(n))
    return AggregationData(Aggregation("@c", "count", rows))


def make(settings: Settings | None = None) -> tuple[RunManager, ScriptedBackend]:
    return RunManager(settings or Settings(token="t")), ScriptedBackend()


def wait(pred: object, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():  # type: ignore[operator]
        assert time.monotonic() < deadline
        time.sleep(0.01)


def start(manager: RunManager, backend: ScriptedBackend, **kw: object) -> object:
    fields: dict[str, object] = {
        "language": "bpftrace",
        "script": "x",
        "duration": 0,
        "interval": 1.0,
        "options": {},
    }
    fields.update(kw)
    return manager.create(backend, **fields)  # type: ignore[arg-type]


def test_a_slow_viewer_gets_only_the_newest_snapshot() -> None:
    manager, backend = make()
    run = start(manager, backend)
    viewer = run.add_viewer()  # type: ignore[attr-defined]
    viewer.charts = False
    tracer = backend.tracers[0]
    tracer.events_q.put(Attached(1))
    for value in (1, 2, 3):
        tracer.events_q.put(counts(1, value))
        tracer.events_q.put(Tick())
    wait(lambda: run.seq == 3)  # type: ignore[attr-defined]
    messages = []
    while (msg := viewer.next_message(timeout=0.05)) is not None:
        messages.append(msg)
    snapshots = [m for m in messages if m["type"] == "snapshot"]
    assert len(snapshots) == 1
    assert snapshots[0]["snapshot"]["aggregations"][0]["rows"][0]["value"] == 3
    manager.shutdown()


def test_rows_past_the_cap_are_cut_to_the_heaviest() -> None:
    manager, backend = make(Settings(token="t", max_rows_per_aggregation=10))
    run = start(manager, backend)
    tracer = backend.tracers[0]
    tracer.events_q.put(counts(50))
    tracer.events_q.put(Tick())
    wait(lambda: run.snapshot is not None)  # type: ignore[attr-defined]
    agg = run.snapshot.aggregations[0]  # type: ignore[attr-defined]
    assert len(agg.rows) == 10 and agg.total_rows == 50
    assert min(r.value for r in agg.rows) == 41
    manager.shutdown()


def test_output_past_the_message_rate_is_dropped_and_counted() -> None:
    manager, backend = make(Settings(token="t", max_output_messages_per_s=100))
    run = start(manager, backend)
    tracer = backend.tracers[0]
    tracer.events_q.put(Output("".join(f"line {i}\n" for i in range(500))))
    tracer.events_q.put(Output("partial"))
    tracer.events_q.put(Exited(0))
    wait(lambda: not run.active)  # type: ignore[attr-defined]
    body = run.to_dict()  # type: ignore[attr-defined]
    assert 0 < len(body["output"]) <= 100
    assert body["dropped_output"] == 501 - len(body["output"])
    manager.shutdown()


def test_output_reaches_a_viewer_a_few_times_a_second_in_merged_messages() -> None:
    manager, backend = make()
    run = start(manager, backend)
    viewer = run.add_viewer()  # type: ignore[attr-defined]
    tracer = backend.tracers[0]
    sent: list[tuple[float, int]] = []
    began = time.monotonic()

    def trickle() -> None:
        for i in range(40):
            tracer.events_q.put(Output(f"line {i}\n"))
            time.sleep(0.01)

    writer = threading.Thread(target=trickle)
    writer.start()
    while (msg := viewer.next_message(timeout=0.3)) is not None or writer.is_alive():
        if msg is not None and msg["type"] == "output":
            sent.append((time.monotonic() - began, len(msg["lines"])))
    writer.join()
    assert sum(n for _, n in sent) == 40
    # One message per OUTPUT_PACE_S at most, the lines of the wait merged into it.
    assert len(sent) <= 2 + sent[-1][0] / OUTPUT_PACE_S < 20
    assert all(b - a >= OUTPUT_PACE_S * 0.9 for (a, _), (b, _) in pairwise(sent))
    manager.shutdown()


def test_a_snapshot_is_not_held_behind_paced_output() -> None:
    manager, backend = make()
    run = start(manager, backend)
    viewer = run.add_viewer()  # type: ignore[attr-defined]
    viewer.charts = False
    tracer = backend.tracers[0]
    tracer.events_q.put(Attached(1))
    tracer.events_q.put(Output("first\n"))
    wait(lambda: run.output)  # type: ignore[attr-defined]
    kinds = [viewer.next_message(timeout=1)["type"] for _ in range(3)]
    assert kinds == ["state", "state", "output"]
    tracer.events_q.put(Output("second\n"))
    tracer.events_q.put(counts(1))
    tracer.events_q.put(Tick())
    wait(lambda: run.seq == 1)  # type: ignore[attr-defined]
    began = time.monotonic()
    assert viewer.next_message(timeout=1)["type"] == "snapshot"
    assert time.monotonic() - began < OUTPUT_PACE_S / 2
    manager.shutdown()


def test_a_flood_that_starves_the_snapshots_is_said_once(monkeypatch: Any) -> None:
    monkeypatch.setattr(session, "STARVED_GRACE_S", 0.2)
    manager, backend = make()
    run = start(manager, backend, interval=0.05)
    tracer = backend.tracers[0]
    tracer.events_q.put(Attached(1))
    tracer.events_q.put(Tick())
    tracer.events_q.put(Output("early\n"))
    time.sleep(0.1)
    assert run.problems == []  # type: ignore[attr-defined]
    for _ in range(6):
        time.sleep(0.1)
        tracer.events_q.put(Output("flood\n"))
    wait(lambda: run.problems)  # type: ignore[attr-defined]
    [problem] = run.problems  # type: ignore[attr-defined]
    assert "no snapshot for" in problem["message"] and problem["count"] == 1
    assert "comm" in problem["fix"]
    manager.shutdown()


def test_the_last_viewer_leaving_stops_the_run_unless_kept() -> None:
    manager, backend = make(Settings(token="t", stop_on_disconnect_s=0.1))
    watched = start(manager, backend)
    kept = start(manager, backend, keep_running=True)
    for run in (watched, kept):
        run.remove_viewer(run.add_viewer())  # type: ignore[attr-defined]
    wait(lambda: not watched.active)  # type: ignore[attr-defined]
    assert watched.state == "stopped" and watched.stop_reason == "disconnect"  # type: ignore[attr-defined]
    assert kept.active  # type: ignore[attr-defined]
    manager.shutdown()
    assert not kept.active  # type: ignore[attr-defined]


def test_runs_past_their_duration_finish() -> None:
    manager, backend = make()
    run = start(manager, backend, duration=0.2)
    backend.tracers[0].events_q.put(Attached(1))
    wait(lambda: not run.active)  # type: ignore[attr-defined]
    assert run.state == "finished"  # type: ignore[attr-defined]


def test_a_tracer_error_fails_the_run_and_keeps_the_snapshot() -> None:
    manager, backend = make()
    run = start(manager, backend)
    tracer = backend.tracers[0]
    tracer.events_q.put(counts(3))
    tracer.events_q.put(Tick())
    tracer.events_q.put(Exited(-9, "bpftrace was killed by SIGKILL"))
    wait(lambda: not run.active)  # type: ignore[attr-defined]
    body = run.to_dict()  # type: ignore[attr-defined]
    assert body["state"] == "failed" and "SIGKILL" in body["error"]
    assert len(body["snapshot"]["aggregations"][0]["rows"]) == 3


def test_a_note_is_streamed_as_a_note_and_listed_with_its_severity() -> None:
    manager, backend = make()
    run = start(manager, backend)
    early = run.add_viewer()  # type: ignore[attr-defined]
    tracer = backend.tracers[0]
    tracer.events_q.put(Problem("@start is scratch state", "shown at the end", "note"))
    tracer.events_q.put(Problem("12 events were lost", "raise bufsize"))
    wait(lambda: len(run.problems) == 2)  # type: ignore[attr-defined]
    late = run.add_viewer()  # type: ignore[attr-defined]
    for viewer in (early, late):
        messages = []
        while (msg := viewer.next_message(timeout=0.05)) is not None:
            messages.append(msg)
        kinds = [(m["type"], m["message"]) for m in messages if m["type"] in {"note", "error"}]
        assert kinds == [("note", "@start is scratch state"), ("error", "12 events were lost")]
    listed = run.to_dict()["problems"]  # type: ignore[attr-defined]
    assert [p["severity"] for p in listed] == ["note", "error"]
    manager.shutdown()


def test_caps_on_concurrent_runs() -> None:
    manager, backend = make(Settings(token="t", max_runs_per_client=2, max_runs_total=3))
    start(manager, backend, client="a")
    start(manager, backend, client="a")
    try:
        start(manager, backend, client="a")
    except LimitExceeded as exc:
        assert "max_runs_per_client" in str(exc)
    else:
        raise AssertionError("a third run for one client was allowed")
    start(manager, backend, client="b")
    try:
        start(manager, backend, client="c")
    except LimitExceeded as exc:
        assert "max_runs_total" in str(exc)
    else:
        raise AssertionError("a fourth run was allowed")
    manager.shutdown()


def test_per_interval_panels_of_a_map_the_script_clears_are_not_subtracted() -> None:
    manager, backend = RunManager(Settings(token="t"), renderer=PlotlyRenderer()), ScriptedBackend()
    run = start(manager, backend, script="interval:s:1 { print(@c); clear(@c); }")
    tracer = backend.tracers[0]
    tracer.events_q.put(Attached(1))
    for value in (5, 7):
        tracer.events_q.put(counts(2, value))
        tracer.events_q.put(Tick())
    wait(lambda: run.seq == 2)  # type: ignore[attr-defined]
    [panel] = run.panels(per_interval=True)  # type: ignore[attr-defined]
    assert panel["note"] == "since the script last cleared it"
    assert [row[:2] for row in panel["table"]["rows"]] == [["k1", 8], ["k0", 7]]


@dataclass
class RecordedHistory:
    max_points: int
    reset_by_script: frozenset[str]
    added: list[Snapshot] = field(default_factory=list)

    def add(self, snapshot: Snapshot) -> None:
        self.added.append(snapshot)

    def copy(self) -> RecordedHistory:
        return RecordedHistory(self.max_points, self.reset_by_script, list(self.added))


class RecordingRenderer:
    """Records what a run hands its renderer; a panel says which snapshot and mode it is of."""

    def __init__(self) -> None:
        self.histories: list[RecordedHistory] = []
        self.built: list[tuple[float, bool]] = []

    def history(self, *, max_points: int, reset_by_script: frozenset[str]) -> RecordedHistory:
        self.histories.append(RecordedHistory(max_points, reset_by_script))
        return self.histories[-1]

    def panels(
        self, snapshot: Snapshot, history: RunHistory, *, per_interval: bool
    ) -> list[dict[str, Any]]:
        assert isinstance(history, RecordedHistory) and history is self.histories[-1]
        assert history.added[-1] is snapshot
        self.built.append((snapshot.t, per_interval))
        return [{"t": snapshot.t, "per_interval": per_interval}]


def feed(backend: ScriptedBackend, *values: int) -> None:
    tracer = backend.tracers[-1]
    tracer.events_q.put(Attached(1))
    for value in values:
        tracer.events_q.put(counts(1, value))
        tracer.events_q.put(Tick())


def test_a_run_hands_every_snapshot_to_the_renderer_it_is_given() -> None:
    renderer = RecordingRenderer()
    settings = Settings(token="t", max_history_snapshots=42)
    manager, backend = RunManager(settings, renderer=renderer), ScriptedBackend()
    run = start(manager, backend, script="interval:s:1 { print(@c); clear(@c); }")
    feed(backend, 1, 2, 3)
    wait(lambda: run.seq == 3)  # type: ignore[attr-defined]
    [history] = renderer.histories
    assert (history.max_points, history.reset_by_script) == (42, frozenset({"@c"}))
    assert [s.aggregations[0].rows[0].value for s in history.added] == [1, 2, 3]
    assert history.added[-1] is run.snapshot  # type: ignore[attr-defined]

    t = run.snapshot.t  # type: ignore[attr-defined]
    message = run.snapshot_message(per_interval=True, with_charts=True)  # type: ignore[attr-defined]
    assert message["panels"] == [{"t": t, "per_interval": True}]
    # Built once per snapshot and view mode, however many viewers ask.
    for per_interval in (True, False, True, False):
        run.panels(per_interval)  # type: ignore[attr-defined]
    assert renderer.built == [(t, True), (t, False)]
    no_charts = run.snapshot_message(per_interval=False, with_charts=False)  # type: ignore[attr-defined]
    assert "panels" not in no_charts
    manager.shutdown()


def test_a_run_without_a_renderer_builds_no_panels() -> None:
    manager, backend = make()
    run = start(manager, backend)
    viewer = run.add_viewer()  # type: ignore[attr-defined]
    assert viewer.charts  # the viewer asks for charts; there is nothing to draw them
    feed(backend, 1, 2)
    wait(lambda: run.seq == 2)  # type: ignore[attr-defined]
    assert run.panels(per_interval=False) == []  # type: ignore[attr-defined]
    messages = []
    while (msg := viewer.next_message(timeout=0.05)) is not None:
        messages.append(msg)
    snapshots = [m for m in messages if m["type"] == "snapshot"]
    assert snapshots and all("panels" not in m for m in snapshots)
    assert snapshots[-1]["snapshot"]["aggregations"][0]["rows"][0]["value"] == 2
    manager.shutdown()
