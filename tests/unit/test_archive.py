"""Every run is recorded: its snapshots and messages come back after a restart, in order;
export and import give the same run; retention drops the oldest unpinned records by size and
age; pin, title and delete work through the API. Over a scripted tracer (the real-tracer test
is tests/integration/test_archive_tracer.py)."""

from __future__ import annotations

import gzip
import os
import queue
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from ide import create_app
from ide.archive.recorder import THREAD_NAME, Recorder, title_of
from ide.archive.store import Record, RunArchive, insert_run, insert_snapshot, pack
from ide.config import Settings
from ide.tracing.model import Aggregation, AggregationData, Output, Row, Tick, TracerEvent
from ide.tracing.registry import Backends
from ide.tracing.session import Run
from ide.web.state import state_of
from ide.web.worker import body_cap
from tests.unit.scripted import ScriptedBackend
from tests.unit.test_reaper import attach

HEADERS = {"Authorization": "Bearer t"}
SCRIPT = (
    "// title: Syscalls by process\ntracepoint:raw_syscalls:sys_enter { @num[comm] = count(); }\n"
)


class Scripted(ScriptedBackend):
    name = "bpftrace"


def app_in(tmp_path: Path, **config: Any) -> tuple[Flask, Scripted]:
    app = create_app({"token": "t", "data_dir": str(tmp_path), **config})
    backend = Scripted()
    scripted: Any = backend
    state_of(app).backends.by_language = Backends({"bpftrace": scripted}).by_language
    return app, backend


def call(app: Flask, method: str, url: str, body: Any = None) -> tuple[int, Any]:
    resp = app.test_client().open(url, method=method, json=body, headers=HEADERS)
    return resp.status_code, resp.get_json(silent=True)


def scripted_run(app: Flask, backend: Scripted) -> tuple[Run, queue.Queue[TracerEvent]]:
    """A run of SCRIPT started through the API on the scripted tracer: the run, and the
    queue its tracer's events are put in."""
    status, body = call(app, "POST", "/api/runs", {"language": "bpftrace", "script": SCRIPT})
    assert status == 201, body
    run = state_of(app).runs.get(body["id"])
    assert run is not None
    attach(run, backend)
    return run, backend.tracers[-1].events_q


def recorded_run(app: Flask, backend: Scripted, values: list[int]) -> str:
    """A run whose tracer reports @num[bash] = each of ``values``, one per interval, then
    prints a line and ends."""
    run, events = scripted_run(app, backend)
    for v in values:
        events.put(AggregationData(Aggregation("@num", "count", (Row(("bash",), value=v),))))
        events.put(Tick())
    events.put(Output("done\n"))
    state_of(app).runs.stop(run, "user")
    recorder = state_of(app).runs.recorder
    assert isinstance(recorder, Recorder) and recorder.flush()
    return run.id


def restart(app: Flask, tmp_path: Path) -> tuple[Flask, Scripted]:
    state_of(app).runs.shutdown()
    return app_in(tmp_path)


def test_a_run_its_snapshots_and_output_come_back_after_a_restart(tmp_path: Path) -> None:
    app, backend = app_in(tmp_path)
    run_id = recorded_run(app, backend, [1, 5, 9])
    app, _ = restart(app, tmp_path)
    status, listed = call(app, "GET", "/api/runs")
    assert status == 200
    [entry] = [r for r in listed["runs"] if r["id"] == run_id]
    assert entry["recorded"] and entry["title"] == "Syscalls by process"
    assert entry["state"] == "stopped" and entry["bytes"] > 0 and not entry["pinned"]
    status, snaps = call(app, "GET", f"/api/runs/{run_id}/snapshots")
    values = [s["aggregations"][0]["rows"][0]["value"] for s in snaps["snapshots"]]
    assert values[:3] == [1, 5, 9]
    ts = [s["t"] for s in snaps["snapshots"]]
    assert ts == sorted(ts)
    status, at = call(app, "GET", f"/api/runs/{run_id}/snapshots/at?t={ts[1]}")
    assert status == 200 and at["aggregations"][0]["rows"][0]["value"] == 5
    status, body = call(app, "GET", f"/api/runs/{run_id}")
    assert status == 200 and body["script"] == SCRIPT and "done" in body["output"]
    assert body["snapshot"]["aggregations"][0]["rows"][0]["value"] == 9
    state_of(app).runs.shutdown()


def test_an_export_imports_as_the_same_run_gzipped_or_not(tmp_path: Path) -> None:
    app, backend = app_in(tmp_path)
    run_id = recorded_run(app, backend, [2, 3])
    client = app.test_client()
    plain = client.get(f"/api/runs/{run_id}/export", headers=HEADERS)
    packed = client.get(f"/api/runs/{run_id}/export?gzip=1", headers=HEADERS)
    assert plain.status_code == 200 and gzip.decompress(packed.data) == plain.data
    for data in (plain.data, packed.data):
        resp = client.post("/api/runs/import", data=data, headers=HEADERS)
        assert resp.status_code == 201, resp.get_json()
        new_id = resp.get_json()["id"]
        assert new_id != run_id
        again = client.get(f"/api/runs/{new_id}/export", headers=HEADERS).data
        # The same run but for its new id and viewer key.
        assert again.split(b"\n")[1:] == plain.data.split(b"\n")[1:]
    resp = client.post("/api/runs/import", data=b'{"type": "nope"}\n', headers=HEADERS)
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "bad_export"
    state_of(app).runs.shutdown()


def test_pin_title_and_delete_a_record(tmp_path: Path) -> None:
    app, backend = app_in(tmp_path)
    run_id = recorded_run(app, backend, [1])
    status, body = call(app, "PATCH", f"/api/runs/{run_id}", {"pinned": True, "title": "before"})
    assert status == 200 and body["pinned"] and body["title"] == "before"
    status, listed = call(app, "GET", "/api/runs?q=before")
    assert [r["id"] for r in listed["runs"]] == [run_id]
    assert call(app, "DELETE", f"/api/runs/{run_id}/record")[0] == 204
    assert call(app, "GET", f"/api/runs/{run_id}/snapshots")[0] == 404
    state_of(app).runs.shutdown()


def test_the_list_filters_by_language_and_a_deleted_record_leaves_it(tmp_path: Path) -> None:
    app, backend = app_in(tmp_path)
    kept, deleted = recorded_run(app, backend, [1]), recorded_run(app, backend, [2])
    status, listed = call(app, "GET", "/api/runs?language=bpftrace")
    assert status == 200 and {r["id"] for r in listed["runs"]} == {kept, deleted}
    assert call(app, "GET", "/api/runs?language=d")[1]["runs"] == []
    # Both ended runs are still in the server's memory: the list follows the records.
    assert call(app, "DELETE", f"/api/runs/{deleted}/record")[0] == 204
    assert [r["id"] for r in call(app, "GET", "/api/runs")[1]["runs"]] == [kept]
    state_of(app).runs.shutdown()


def test_the_limits_say_whether_runs_are_recorded_and_for_how_long(tmp_path: Path) -> None:
    app, _ = app_in(tmp_path, archive_max_age_s=7 * 86400)
    limits = call(app, "GET", "/api/limits")[1]  # what the Runs page tells its reader
    assert limits["record_runs"] is True and limits["archive_max_age_s"] == 7 * 86400
    state_of(app).runs.shutdown()
    app, _ = app_in(tmp_path / "off", record_runs=False)
    assert call(app, "GET", "/api/limits")[1]["record_runs"] is False
    state_of(app).runs.shutdown()


def test_retention_drops_the_oldest_unpinned_by_size_and_age(tmp_path: Path) -> None:
    now = [1_000_000.0]
    archive = RunArchive(tmp_path / "runs.sqlite", clock=lambda: now[0])
    recorder = Recorder(archive, (10**9, 10**9))

    def add(run_id: str, started: float, size: int) -> None:
        with archive.writing() as db:
            insert_run(db, Record(
                id=run_id, title="", language="bpftrace", via=None, script="x", options={},
                host="h", state="finished", error=None, started_at=started, ended_at=started,
                duration=0, interval=1, elapsed=1, parent=None, drill=None, viewer_key="k",
                pinned=False, bytes=size, snapshots=0,
            ))  # fmt: skip

    for n in range(6):
        add(f"r{n}", now[0] - 100 + n, 100)
    archive.update("r0", pinned=True)
    assert archive.expire(max_bytes=350, max_age_s=10**6) == ["r1", "r2", "r3"]
    assert {r.id for r in archive.find()} == {"r0", "r4", "r5"}  # the pinned one stays
    now[0] += 10**6
    assert archive.expire(max_bytes=10**9, max_age_s=60) == ["r4", "r5"]
    assert [r.id for r in archive.find()] == ["r0"]
    recorder.close()


def test_a_run_that_was_going_when_the_server_died_is_marked_so(tmp_path: Path) -> None:
    app, _ = app_in(tmp_path)
    status, body = call(app, "POST", "/api/runs", {"language": "bpftrace", "script": SCRIPT})
    assert status == 201
    recorder = state_of(app).runs.recorder
    assert isinstance(recorder, Recorder) and recorder.flush()
    # No shutdown: as if the server was killed; the next one finds the record running.
    archive = RunArchive(tmp_path / "runs.sqlite")
    found = archive.get(body["id"])
    assert found.state == "failed" and "server stopped" in (found.error or "")
    state_of(app).runs.shutdown()


def test_a_title_is_the_header_title_or_the_first_line_of_code() -> None:
    assert title_of(SCRIPT) == "Syscalls by process"
    assert title_of("/*\n * title: Read sizes\n */\nBEGIN {}\n") == "Read sizes"
    assert title_of("#!/usr/sbin/dtrace -s\n\nsyscall:::entry { }\n") == "syscall:::entry { }"


def test_recording_can_be_turned_off(tmp_path: Path) -> None:
    app, _ = app_in(tmp_path, record_runs=False)
    status, body = call(app, "POST", "/api/runs", {"language": "bpftrace", "script": SCRIPT})
    assert status == 201 and call(app, "GET", "/api/runs")[1]["runs"][0]["recorded"] is False
    status, err = call(app, "GET", f"/api/runs/{body['id']}/snapshots")
    assert status == 404 and err["error"]["code"] == "not_recorded"
    assert not (tmp_path / "runs.sqlite").exists()
    state_of(app).runs.shutdown()


def test_a_viewer_link_opens_the_recorded_run_after_a_restart(tmp_path: Path) -> None:
    app, backend = app_in(tmp_path)
    run_id = recorded_run(app, backend, [4])
    live = state_of(app).runs.get(run_id)
    assert live is not None
    key = live.viewer_key
    app, _ = restart(app, tmp_path)
    client = app.test_client()
    assert client.get(f"/view/{run_id}?key=wrong").status_code == 404
    assert client.get(f"/view/{run_id}?key={key}").status_code == 200
    run = state_of(app).runs.get(run_id)  # opened again from its record
    assert run is not None and not run.active and run.state == "stopped"
    assert run.snapshot is not None and run.snapshot.aggregations[0].rows[0].value == 4
    assert "done" in run.output and run.panels(False)[0]["name"] == "@num"
    state_of(app).runs.shutdown()


def test_reading_while_recording_holds_no_more_descriptors_than_the_archive_opened_with(
    tmp_path: Path,
) -> None:
    archive = RunArchive(tmp_path / "runs.sqlite")
    opened_with = len(os.listdir("/proc/self/fd"))
    with archive.writing() as db:
        insert_run(db, Record(
            id="r", title="", language="bpftrace", via=None, script="x", options={},
            host="h", state="running", error=None, started_at=1.0, ended_at=None,
            duration=0, interval=1, elapsed=0, parent=None, drill=None, viewer_key="k",
            pinned=False, bytes=0, snapshots=0,
        ))  # fmt: skip
    done = threading.Event()

    def record() -> None:
        seq = 0
        while not done.is_set():
            with archive.writing() as db:
                insert_snapshot(db, "r", seq, seq / 10, pack(b'{"aggregations": []}'))
            seq += 1

    writer = threading.Thread(target=record)
    writer.start()
    try:
        for _ in range(200):
            assert archive.get("r").id == "r"
            archive.last_snapshots("r", 1)
    finally:
        done.set()
        writer.join(10)
    # A run's reads must not leave the server a descriptor more each (or one more at all).
    assert len(os.listdir("/proc/self/fd")) <= opened_with
    archive.close()


def test_an_export_larger_than_other_requests_imports_and_a_bomb_or_a_bad_line_leaves_nothing(
    tmp_path: Path,
) -> None:
    app, backend = app_in(
        tmp_path, max_request_bytes=2048, max_import_bytes=1 << 20, archive_max_bytes=1 << 20
    )
    run_id = recorded_run(app, backend, list(range(1, 40)))
    client = app.test_client()
    data = client.get(f"/api/runs/{run_id}/export", headers=HEADERS).data
    assert len(data) > 2048
    resp = client.post("/api/runs/import", data=data, headers=HEADERS)
    assert resp.status_code == 201, resp.get_json()
    # Other requests keep their own cap.
    snippet = {"title": "big", "language": "bpftrace", "code": "// " + "x" * 4096}
    resp = client.post("/api/snippets", json=snippet, headers=HEADERS)
    assert resp.status_code == 413, resp.get_json()
    listed = {r["id"] for r in call(app, "GET", "/api/runs")[1]["runs"]}
    # Expanding past archive_max_bytes: refused before it is all inflated.
    bomb = gzip.compress(data.split(b"\n")[0] + b"\n" + b" " * (2 << 20))
    resp = client.post("/api/runs/import", data=bomb, headers=HEADERS)
    assert resp.status_code == 413 and resp.get_json()["error"]["code"] == "export_too_large"
    # A damaged line after good ones: nothing of that run is kept.
    broken = data.rstrip(b"\n") + b'\n{"type": "snapshot", "snapshot": {"t": "x"}}\n'
    resp = client.post("/api/runs/import", data=broken, headers=HEADERS)
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "bad_export"
    cut = gzip.compress(data)[:-20]
    resp = client.post("/api/runs/import", data=cut, headers=HEADERS)
    assert resp.status_code == 400, resp.get_json()
    assert {r["id"] for r in call(app, "GET", "/api/runs")[1]["runs"]} == listed
    state_of(app).runs.shutdown()


def test_only_the_import_route_takes_an_export_sized_body() -> None:
    settings = Settings()
    assert body_cap(settings, "/api/runs/import") == (settings.max_import_bytes, "max_import_bytes")
    assert body_cap(settings, "/api/runs/import?x=1")[1] == "max_import_bytes"
    assert body_cap(settings, "/api/runs/importx") == (
        settings.max_request_bytes,
        "max_request_bytes",
    )
    assert settings.max_import_bytes < settings.max_buffered_request_bytes


def test_snapshots_kept_with_zlib_by_earlier_releases_still_read(tmp_path: Path) -> None:
    import zlib

    archive = RunArchive(tmp_path / "runs.sqlite")
    with archive.writing() as db:
        insert_run(db, Record(
            id="old", title="", language="bpftrace", via=None, script="x", options={},
            host="h", state="finished", error=None, started_at=1.0, ended_at=2.0,
            duration=0, interval=1, elapsed=2, parent=None, drill=None, viewer_key="k",
            pinned=False, bytes=0, snapshots=0,
        ))  # fmt: skip
        first = b'{"t": 1.0, "aggregations": []}'
        second = b'{"t": 2.0, "aggregations": []}'
        insert_snapshot(db, "old", 1, 1.0, zlib.compress(first, 1))
        insert_snapshot(db, "old", 2, 2.0, pack(second))
    assert pack(second)[:4] == b"\x28\xb5\x2f\xfd"  # what is written now: zstd
    assert [s["t"] for s in archive.snapshots("old")] == [1.0, 2.0]
    assert archive.snapshots_until("old", 9.0, limit=5) == [(1, first), (2, second)]
    assert archive.snapshot_at("old", 1.5) == {"t": 1.0, "aggregations": []}
    archive.close()


def test_the_record_keeps_the_cost_figures_the_run_ended_with(tmp_path: Path) -> None:
    app, backend = app_in(tmp_path)
    run_id = recorded_run(app, backend, list(range(1, 13)))  # more than TALLY_EVERY snapshots
    found = RunArchive(tmp_path / "runs.sqlite").get(run_id)
    assert found.cost is not None and set(found.cost) >= {"events_lost", "snapshot_bytes"}
    assert found.cost["snapshot_bytes"] > 0
    state_of(app).runs.shutdown()


def test_a_crashed_run_s_size_and_count_are_tallied_from_its_snapshots(tmp_path: Path) -> None:
    app, backend = app_in(tmp_path)
    run, events = scripted_run(app, backend)
    for v in range(1, 5):  # fewer than the recorder tallies at a time
        events.put(AggregationData(Aggregation("@num", "count", (Row(("bash",), value=v),))))
        events.put(Tick())
    recorder = state_of(app).runs.recorder
    deadline = time.monotonic() + 10
    while run.seq < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert isinstance(recorder, Recorder) and recorder.flush()
    # As if the server was killed here: the next one finds 4 snapshots untallied.
    found = RunArchive(tmp_path / "runs.sqlite").get(run.id)
    assert found.state == "failed" and found.snapshots == 4 and found.bytes > 0
    assert found.elapsed >= 0
    state_of(app).runs.shutdown()


def test_the_recorder_s_thread_goes_by_a_name_top_shows(tmp_path: Path) -> None:
    recorder = Recorder(RunArchive(tmp_path / "runs.sqlite"), (10**9, 10**9))
    try:
        assert recorder.flush()
        tid = recorder._thread.native_id
        comm = Path(f"/proc/self/task/{tid}/comm")
        if not comm.exists():
            pytest.skip("no /proc task names here")
        assert comm.read_text().strip() == THREAD_NAME
    finally:
        recorder.close()
