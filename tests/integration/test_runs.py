"""Runs through the API with the real bpftrace: snapshots, stopping, failures, the stream."""

from __future__ import annotations

import json
import os
import signal
import time
from typing import Any

import pytest
import websocket

from tests.conftest import LiveServer, tracer_ready

pytestmark = pytest.mark.skipif(tracer_ready() is not None, reason=str(tracer_ready()))

SYSCALLS = "tracepoint:raw_syscalls:sys_enter { @num[comm] = count(); }"


def start(server: LiveServer, script: str, **fields: Any) -> str:
    status, body = server.request(
        "POST", "/api/runs", {"language": "bpftrace", "script": script, **fields}
    )
    assert status == 201, body
    run_id: str = body["id"]
    return run_id


def wait_for(server: LiveServer, run_id: str, pred: Any, timeout: float = 15) -> dict[str, Any]:
    return server.wait_run(run_id, pred, timeout)


def aggregation(body: dict[str, Any], name: str) -> dict[str, Any]:
    found = [a for a in body["snapshot"]["aggregations"] if a["name"] == name]
    assert found, body["snapshot"]
    return dict(found[0])


def test_a_timed_count_run_returns_real_process_names(live_server: LiveServer) -> None:
    run_id = start(live_server, SYSCALLS, duration=2)
    body = wait_for(live_server, run_id, lambda b: b["state"] != "running")
    assert body["state"] == "finished"
    assert 2.0 <= body["elapsed"] < 4.0
    num = aggregation(body, "@num")
    assert num["function"] == "count"
    names = {row["key"][0] for row in num["rows"]}
    assert "bpftrace" in names  # bpftrace's own syscalls are counted too
    assert all(isinstance(r["value"], int) and r["value"] > 0 for r in num["rows"])


def test_lhist_rows_carry_buckets_and_params(live_server: LiveServer) -> None:
    script = "tracepoint:raw_syscalls:sys_enter { @dist[comm] = lhist(args->id, 0, 300, 20); }"
    run_id = start(live_server, script, duration=1.5, interval=0.5)
    body = wait_for(live_server, run_id, lambda b: b["state"] != "running")
    dist = aggregation(body, "@dist")
    assert dist["function"] == "lhist"
    assert dist["params"] == {"lo": 0, "hi": 300, "step": 20}
    row = dist["rows"][0]
    assert isinstance(row["key"][0], str)
    assert row["buckets"] and all({"lo", "hi", "count"} <= set(b) for b in row["buckets"])
    assert sum(b["count"] for b in row["buckets"]) > 0


def test_multi_key_map_comes_back_as_a_tuple(live_server: LiveServer) -> None:
    script = "tracepoint:raw_syscalls:sys_enter { @w[pid, comm] = count(); }"
    run_id = start(live_server, script, duration=1)
    body = wait_for(live_server, run_id, lambda b: b["state"] != "running")
    rows = aggregation(body, "@w")["rows"]
    assert rows
    for row in rows:
        pid, comm = row["key"]
        assert isinstance(pid, int) and pid > 0
        assert isinstance(comm, str)


def test_continuous_run_streams_snapshots_and_stops_on_delete(live_server: LiveServer) -> None:
    run_id = start(live_server, SYSCALLS, duration=0, interval=0.3)
    body = wait_for(live_server, run_id, lambda b: b["snapshot"] is not None)
    first_t = body["snapshot"]["t"]
    body = wait_for(live_server, run_id, lambda b: b["snapshot"]["t"] > first_t + 0.5)
    assert body["state"] == "running"
    t0 = time.monotonic()
    status, body = live_server.request("DELETE", f"/api/runs/{run_id}")
    took = time.monotonic() - t0
    assert status == 200
    assert body["state"] == "stopped"
    assert took < 2.0
    assert aggregation(body, "@num")["rows"]


def test_a_script_that_exits_by_itself_finishes_with_its_output(live_server: LiveServer) -> None:
    script = 'BEGIN { printf("hello <b>world</b>\\n"); @c = count(); exit(); }'
    run_id = start(live_server, script)
    body = wait_for(live_server, run_id, lambda b: b["state"] != "running")
    assert body["state"] == "finished"
    assert "hello <b>world</b>" in body["output"]
    assert aggregation(body, "@c")["rows"] == [{"key": [], "value": 1}]


def test_a_tracer_killed_from_outside_fails_and_keeps_its_snapshot(
    live_server: LiveServer,
) -> None:
    run_id = start(live_server, SYSCALLS, interval=0.2)
    body = wait_for(live_server, run_id, lambda b: b["snapshot"] is not None)
    assert "bpftrace" in _cmdline(body["pid"])
    os.kill(body["pid"], signal.SIGKILL)
    body = wait_for(live_server, run_id, lambda b: b["state"] != "running")
    assert body["state"] == "failed"
    assert "SIGKILL" in body["error"]
    assert aggregation(body, "@num")["rows"]


def test_a_probe_that_cannot_attach_fails_with_the_tracer_message(
    live_server: LiveServer,
) -> None:
    run_id = start(live_server, "kprobe:vfs_read { @ = count(); }")
    body = wait_for(live_server, run_id, lambda b: b["state"] != "running")
    assert body["state"] == "failed"
    assert "vfs_read" in body["error"] or "attach" in body["error"].lower()


def test_a_script_that_does_not_compile_is_refused_with_diagnostics(
    live_server: LiveServer,
) -> None:
    status, body = live_server.request(
        "POST", "/api/runs", {"language": "bpftrace", "script": "BEGIN { @x = cont(); }"}
    )
    assert status == 400
    assert body["error"]["code"] == "compile_error"
    assert body["error"]["diagnostics"][0]["column"] == 14


def test_websocket_stream_sends_state_snapshots_output_and_the_end(
    live_server: LiveServer,
) -> None:
    script = (
        "tracepoint:raw_syscalls:sys_enter { @num[comm] = count(); }\n"
        'interval:ms:300 { printf("tick <img src=x>\\n"); }'
    )
    run_id = start(live_server, script, duration=1.5, interval=0.3)
    ws = websocket.create_connection(
        live_server.base.replace("http", "ws") + f"/api/runs/{run_id}/stream",
        header=[f"Authorization: Bearer {live_server.token}"],
        origin=live_server.base,
        timeout=10,
    )
    seen: dict[str, list[dict[str, Any]]] = {}
    try:
        while True:
            raw = ws.recv()
            if not raw:
                break
            msg = json.loads(raw)
            seen.setdefault(msg["type"], []).append(msg)
            if msg["type"] == "state" and msg["state"] != "running":
                break
    finally:
        ws.close()
    assert seen["state"][0]["state"] == "running"
    assert seen["state"][-1]["state"] == "finished"
    assert len(seen["snapshot"]) >= 2
    assert seen["snapshot"][-1]["snapshot"]["aggregations"][0]["name"] == "@num"
    lines = [ln for m in seen["output"] for ln in m["lines"]]
    assert "tick <img src=x>" in lines


def test_websocket_from_a_foreign_origin_is_refused(live_server: LiveServer) -> None:
    run_id = start(live_server, SYSCALLS, duration=1)
    with pytest.raises(websocket.WebSocketBadStatusException) as err:
        websocket.create_connection(
            live_server.base.replace("http", "ws") + f"/api/runs/{run_id}/stream",
            header=[f"Authorization: Bearer {live_server.token}"],
            origin="http://evil.example",
            timeout=10,
        )
    assert err.value.status_code == 403


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return ""
