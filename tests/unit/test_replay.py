"""Scrubbing a run: a viewer that seeks is sent the run as it was at that moment (its
snapshot, the charts' history up to it, the output printed by then) and no live data until
it goes live again; then it gets the whole output and the latest snapshot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from ide.archive.reopen import reopen
from ide.archive.replay import Replay
from ide.archive.store import Record, RunArchive
from ide.tracing.model import Aggregation, Bucket, Row, Snapshot
from ide.tracing.session import Run
from ide.tracing.viewer import Viewer
from ide.web.state import state_of
from ide.web.stream import _answerer, _client_message
from tests.unit.test_archive import SCRIPT, app_in

SERIES_SCRIPT = "tracepoint:raw_syscalls:sys_enter { @num[comm] = count(); }"


def snapshot(t: float, value: int) -> Snapshot:
    """@num[bash] = value, and @us: a distribution whose buckets come one by one (for its
    heatmap over time)."""
    aggs = [Aggregation("@num", "count", (Row(("bash",), value=value),))]
    buckets = tuple(Bucket(lo, lo + 9, value // (lo + 10)) for lo in range(0, value // 20, 10))
    if buckets:
        aggs.append(Aggregation("@us", "lhist", (Row((), buckets=buckets),)))
    return Snapshot(t, tuple(aggs))


def recorded(app: Flask, n: int, *, interval: float = 0.5) -> Run:
    """A recorded, ended run of ``n`` snapshots, @num[bash] = 10, 20, ... one per interval,
    printing "line K" just after snapshot K."""
    archive = state_of(app).archive
    assert archive is not None
    archive.load(
        Record(
            id="r1",
            title="",
            language="bpftrace",
            via=None,
            script=SCRIPT,
            options={},
            host="h",
            state="finished",
            error=None,
            started_at=1.0,
            ended_at=2.0,
            duration=0,
            interval=interval,
            elapsed=n * interval,
            parent=None,
            drill=None,
            viewer_key="k",
            pinned=False,
            bytes=0,
            snapshots=0,
        ),
        [(k * interval, snapshot(k * interval, 10 * k).to_json()) for k in range(1, n + 1)],
        [
            (k * interval + 0.01, {"type": "output", "lines": [f"line {k}"]})
            for k in range(1, n + 1)
        ],
    )
    run = reopen(state_of(app).runs, archive, "r1")
    assert run is not None
    return run


def replay_of(app: Flask, run: Run) -> Replay:
    archive = state_of(app).archive
    assert isinstance(archive, RunArchive)
    return Replay(archive, run, state_of(app).runs.renderer, run.settings)


def value(msg: dict[str, Any]) -> int:
    return int(msg["snapshot"]["aggregations"][0]["rows"][0]["value"])


def test_a_replay_shows_the_snapshot_and_output_of_the_moment_asked(tmp_path: Path) -> None:
    app, _ = app_in(tmp_path)
    run = recorded(app, 10)
    replay = replay_of(app, run)
    msg = replay.message(2.2, per_interval=False, charts=True)
    assert msg["type"] == "replay" and msg["t"] == 2.2 and msg["end"] == 5.0
    assert value(msg) == 40 and msg["snapshot"]["t"] == 2.0
    assert msg["output"] == [f"line {k}" for k in range(1, 5)]  # line 4 came at 2.01
    assert msg["panels"] and msg["panels"][0]["name"] == "@num"
    # Back, forward, to the end and before the first snapshot.
    assert value(replay.message(0.6, per_interval=False, charts=True)) == 10
    assert value(replay.message(4.0, per_interval=False, charts=False)) == 80
    end = replay.message(99, per_interval=True, charts=False)
    assert value(end) == 100 and len(end["output"]) == 10 and "panels" not in end
    before = replay.message(0.1, per_interval=False, charts=True)
    assert before["snapshot"] is None and before["panels"] == [] and before["output"] == []
    state_of(app).runs.shutdown()


def test_going_back_gives_the_history_a_live_view_had_then(tmp_path: Path) -> None:
    app, _ = app_in(tmp_path, max_history_snapshots=4)
    run = recorded(app, 12)
    replay = replay_of(app, run)
    forward = [replay.message(k * 0.5, per_interval=True, charts=True) for k in range(1, 13)]
    back = replay_of(app, run).message(6.0, per_interval=True, charts=True)
    # Step by step forward or straight to the end: the same charts.
    assert forward[-1]["panels"] == back["panels"]
    again = replay.message(3.0, per_interval=True, charts=True)
    assert (
        again["panels"]
        == replay_of(app, run).message(3.0, per_interval=True, charts=True)["panels"]
    )
    state_of(app).runs.shutdown()


def test_a_far_jump_is_answered_quickly_then_in_full_unless_the_viewer_moved_on(
    tmp_path: Path,
) -> None:
    app, _ = app_in(tmp_path, max_history_snapshots=100)
    run = recorded(app, 150, interval=1.0)
    replay = replay_of(app, run)
    quick = replay.message(120.0, per_interval=False, charts=True)
    assert quick["partial"] and value(quick) == 1200  # the moment's own values are exact
    full = replay.complete(per_interval=False, charts=True, moved_on=lambda: False)
    assert full is not None and "partial" not in full and value(full) == 1200
    # The same as a replay that went there step by step.
    stepwise = replay_of(app, run)
    for t in range(1, 121):
        last = stepwise.message(float(t), per_interval=False, charts=True)
    assert "partial" not in last and last["panels"] == full["panels"]
    assert quick["panels"] != full["panels"]  # the quick one's time series are shorter
    assert {p["name"] for p in full["panels"]} >= {"@num", "@us"}
    # Moved on before it was ready: no full answer.
    other = replay_of(app, run)
    assert other.message(140.0, per_interval=False, charts=True)["partial"]
    assert other.complete(per_interval=False, charts=True, moved_on=lambda: True) is None
    assert other.complete(per_interval=False, charts=True, moved_on=lambda: False) is None
    # Near where it has been, back and forth, it answers in full at once, as it was.
    for moment in (115.0, 118.0, 30.0, 96.0, 119.5, 121.0, 70.5):
        near = replay.message(moment, per_interval=True, charts=True)
        fresh = replay_of(app, run)
        fresh.message(moment, per_interval=True, charts=True)
        ref = fresh.complete(per_interval=True, charts=True, moved_on=lambda: False)
        assert ref is not None and near["panels"] == ref["panels"], moment
        assert "partial" not in near, moment
    state_of(app).runs.shutdown()


def test_a_seeking_viewer_gets_no_live_data_until_it_goes_live(tmp_path: Path) -> None:
    app, _ = app_in(tmp_path)
    run = recorded(app, 3)
    viewer = run.add_viewer(keep_open=True)
    assert viewer.next_message(0)["type"] == "state"  # type: ignore[index]
    while (m := viewer.next_message(0)) is not None and m["type"] != "snapshot":
        pass
    assert not viewer.closed  # it can scrub the ended run
    _client_message(viewer, '{"type": "seek", "t": 0.7}')
    viewer.snapshot_ready()
    viewer.push({"type": "output", "lines": ["late"], "dropped": 0})
    assert viewer.next_message(0) == {"type": "seek", "t": 0.7}
    assert viewer.next_message(0) is None  # neither the live snapshot nor the output
    answer = _answerer_for(app, run, viewer)
    _client_message(viewer, '{"type": "view", "per_interval": true}')
    [replayed] = answer(viewer.next_message(0))
    assert replayed["type"] == "replay" and value(replayed) == 10
    _client_message(viewer, '{"type": "live"}')
    [reset] = answer(viewer.next_message(0))
    assert reset["type"] == "output" and reset["reset"] and reset["lines"][-1] == "line 3"
    latest = viewer.next_message(0)
    assert latest is not None and latest["type"] == "snapshot" and value(latest) == 30
    for bad in ('{"type": "seek", "t": "1"}', '{"type": "seek", "t": NaN}', '{"type": "seek"}'):
        _client_message(viewer, bad)
        assert viewer.seek_t is None
    run.remove_viewer(viewer)
    state_of(app).runs.shutdown()


def test_a_viewer_that_does_not_scrub_ends_with_the_run(tmp_path: Path) -> None:
    app, _ = app_in(tmp_path)
    run = recorded(app, 2)
    viewer: Viewer = run.add_viewer()
    assert viewer.closed
    state_of(app).runs.shutdown()


def test_without_a_record_a_seek_says_recording_is_off(tmp_path: Path) -> None:
    app, _ = app_in(tmp_path)
    run = recorded(app, 2)
    viewer = run.add_viewer(keep_open=True)
    state_of(app).archive = None
    answer = _answerer_for(app, run, viewer)
    [msg] = answer({"type": "seek", "t": 1.0})
    assert msg["type"] == "error" and msg["code"] == "not_recorded" and msg["fix"]
    state_of(app).runs.shutdown()


def _answerer_for(app: Flask, run: Run, viewer: Viewer) -> Any:
    with app.test_request_context():
        return _answerer(run, viewer)
