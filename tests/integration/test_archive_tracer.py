"""Runs are kept, with real bpftrace and the real server: a 3 s run at 0.5 s comes back after
a restart with its snapshots in order and the same values, and its export imports the same;
a server killed with SIGKILL mid-run loses at most about one interval of the record."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import websocket

from tests.conftest import LiveServer, start_server, stop_server, tracer_ready

pytestmark = [
    pytest.mark.tracer,
    pytest.mark.skipif(tracer_ready() is not None, reason=str(tracer_ready())),
]

SCRIPT = "tracepoint:raw_syscalls:sys_enter { @num[comm] = count(); }\n"


def start_run(server: LiveServer, duration: float) -> str:
    status, body = server.request(
        "POST",
        "/api/runs",
        {"language": "bpftrace", "script": SCRIPT, "duration": duration, "interval": 0.5},
    )
    assert status == 201, body
    return str(body["id"])


def raw(server: LiveServer, path: str, data: bytes | None = None) -> bytes:
    req = urllib.request.Request(server.base + path, data=data, headers=server.headers)
    with urllib.request.urlopen(req, timeout=60) as resp:
        body: bytes = resp.read()
        return body


def replay(server: LiveServer, viewer_url: str) -> list[dict[str, Any]]:
    """The viewer link's page, then every message its stream sends until it closes."""
    page = raw_public(server, viewer_url)
    assert b"viewer" in page
    run_id, key = viewer_url.split("/view/")[1].split("?key=")
    ws = websocket.create_connection(
        server.base.replace("http", "ws", 1) + f"/api/runs/{run_id}/stream?key={key}",
        origin=server.base,
        timeout=10,
    )
    out = []
    try:
        while True:
            text = ws.recv()
            if not text:
                break
            out.append(json.loads(text))
    except websocket.WebSocketConnectionClosedException:
        pass
    finally:
        ws.close()
    return out


def raw_public(server: LiveServer, path: str) -> bytes:
    with urllib.request.urlopen(server.base + path, timeout=60) as resp:
        body: bytes = resp.read()
        return body


def descendants(pid: int) -> list[int]:
    """Every process under ``pid``, from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                text = (entry / "stat").read_text()
                parents[int(entry.name)] = int(text[text.rfind(")") + 2 :].split()[1])
    found, todo = [], [pid]
    while todo:
        up = todo.pop()
        kids = [c for c, parent in parents.items() if parent == up]
        found += kids
        todo += kids
    return found


def totals(snapshots: list[dict[str, Any]]) -> list[int]:
    return [sum(r["value"] for r in s["aggregations"][0]["rows"]) for s in snapshots]


def test_a_run_is_kept_across_a_restart_and_exports_the_same(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    try:
        run_id = start_run(server, 3)
        final = server.wait_run(run_id, lambda b: b["state"] != "running", timeout=60)
        assert final["state"] == "finished", final
        _, before = server.request("GET", f"/api/runs/{run_id}/snapshots")
    finally:
        stop_server(server)
    server = start_server(tmp_path)
    try:
        status, listed = server.request("GET", "/api/runs")
        [entry] = [r for r in listed["runs"] if r["id"] == run_id]
        assert entry["recorded"] and entry["state"] == "finished"
        status, after = server.request("GET", f"/api/runs/{run_id}/snapshots")
        assert status == 200 and after == before
        snaps = after["snapshots"]
        assert len(snaps) >= 5, len(snaps)
        assert [s["t"] for s in snaps] == sorted(s["t"] for s in snaps)
        assert totals(snaps) == sorted(totals(snaps))  # cumulative counts only grow
        status, body = server.request("GET", f"/api/runs/{run_id}")
        assert status == 200 and body["snapshot"] == snaps[-1] and body["script"] == SCRIPT
        export = raw(server, f"/api/runs/{run_id}/export?gzip=1")
        imported = raw(server, "/api/runs/import", export)
        new_id = json.loads(imported)["id"]
        _, again = server.request("GET", f"/api/runs/{new_id}/snapshots")
        assert again == after
        # The viewer link still opens, and its stream replays the run as it ended.
        messages = replay(server, final["viewer_url"])
        assert messages[0]["type"] == "state" and messages[0]["state"] == "finished"
        [shown] = [m for m in messages if m["type"] == "snapshot"]
        assert shown["snapshot"] == snaps[-1]
        assert [p["name"] for p in shown["panels"]] == ["@num"]
    finally:
        stop_server(server)


def test_a_killed_server_loses_at_most_about_one_interval_of_the_record(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    try:
        run_id = start_run(server, 0)
        server.wait_run(run_id, lambda b: (b["snapshot"] or {}).get("t", 0) > 2.0, timeout=60)
        _, seen = server.request("GET", f"/api/runs/{run_id}")
        # A read moves the journal into the database: what the run takes from here on is
        # only in the journal when the kill comes.
        time.sleep(2.0)
        # The server and its worker process die at once, as in a crash.
        for pid in [server.proc.pid, *descendants(server.proc.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        server.proc.wait(10)
    finally:
        stop_server(server)
    # bpftrace was the killed server's child: it goes with its pipe; make sure of it.
    time.sleep(0.5)
    server = start_server(tmp_path)
    try:
        status, body = server.request("GET", f"/api/runs/{run_id}")
        assert status == 200, body
        assert body["state"] == "failed" and "server stopped" in body["error"]
        _, kept = server.request("GET", f"/api/runs/{run_id}/snapshots")
        last = kept["snapshots"][-1]["t"]
        # The snapshots of the 2 s after the last read were kept (from the journal), all but
        # about the last interval (0.5 s).
        assert last >= seen["snapshot"]["t"] + 2.0 - 0.5 - 0.5, (last, seen["snapshot"]["t"])
        ts = [s["t"] for s in kept["snapshots"]]
        assert ts == sorted(ts) and len(ts) == len(set(ts))
    finally:
        stop_server(server)


def test_the_run_bar_cost_figures_agree_with_ps(tmp_path: Path) -> None:
    load = subprocess.Popen(
        ["dd", "if=/dev/zero", "of=/dev/null", "bs=1"], stderr=subprocess.DEVNULL
    )
    server = start_server(tmp_path)
    try:
        run_id = start_run(server, 0)
        body = server.wait_run(run_id, lambda b: (b["snapshot"] or {}).get("t", 0) > 3.0, 60)
        ps = subprocess.run(["ps", "-o", "%cpu=", "-p", str(body["pid"])],
                            capture_output=True, text=True, check=True)  # fmt: skip
        _, body = server.request("GET", f"/api/runs/{run_id}")
        cost = body["cost"]
        theirs = float(ps.stdout)
        assert abs(cost["tracer_cpu_pct"] - theirs) <= max(0.2 * theirs, 1.0), (cost, theirs)
        assert cost["server_cpu_pct"] is not None and 0 <= cost["server_cpu_pct"] < 100
        sent = len(json.dumps(body["snapshot"], separators=(",", ":")).encode())
        assert abs(cost["snapshot_bytes"] - sent) <= 0.05 * sent, (cost, sent)
        server.request("DELETE", f"/api/runs/{run_id}")
        _, ended = server.request("GET", f"/api/runs/{run_id}")
        assert ended["cost"]["tracer_cpu_pct"] is not None  # the last figures stay
    finally:
        stop_server(server)
        load.kill()
        load.wait(10)
