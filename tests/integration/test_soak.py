"""A scaled-down soak: a watched run at a 100 ms interval leaks neither memory nor fds.

The full-length soak (10 minutes) is ``bench/bench_soak.py``; this one runs for about 20 s
against its own server, so other tests' runs do not disturb the counts.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import websocket

from tests.conftest import LiveServer, start_server, stop_server, tracer_ready

pytestmark = [
    pytest.mark.tracer,
    pytest.mark.skipif(tracer_ready() is not None, reason=str(tracer_ready())),
]

SCRIPT = (
    "tracepoint:raw_syscalls:sys_enter\n"
    "{ @num[comm] = count(); @ids = lhist(args->id, 0, 400, 20); }"
)
WARMUP_S = 5.0
SOAK_S = 15.0
MAX_GROWTH_KB = 10 * 1024


def server_pids(root: int) -> list[int]:
    """The server and its descendants, tracers excluded: the processes a leak would be in."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                text = f.read()
        except FileNotFoundError:
            continue
        ppid = int(text[text.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() != "bpftrace":
                    out.append(pid)
        except FileNotFoundError:
            continue
        todo.extend(children.get(pid, []))
    return out


def rss_kb(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            total += next(int(ln.split()[1]) for ln in f if ln.startswith("VmRSS:"))
    return total


def fds(pids: list[int]) -> int:
    return sum(len(os.listdir(f"/proc/{pid}/fd")) for pid in pids)


class Reader:
    """Counts the snapshots a websocket receives, on its own thread, like a page would."""

    def __init__(self, server: LiveServer, run_id: str) -> None:
        self.ws = websocket.create_connection(
            server.base.replace("http", "ws") + f"/api/runs/{run_id}/stream",
            header=[f"Authorization: Bearer {server.token}"],
            origin=server.base,
            timeout=30,
        )
        self.snapshots = 0
        self.panels_seen = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            while raw := self.ws.recv():
                msg: dict[str, Any] = json.loads(raw)
                if msg["type"] == "snapshot":
                    self.snapshots += 1
                    self.panels_seen = self.panels_seen or bool(msg.get("panels"))
        except (websocket.WebSocketException, OSError):
            return

    def close(self) -> None:
        self.ws.close()
        self._thread.join(5)


def test_a_watched_100ms_run_keeps_memory_and_file_descriptors_flat(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    try:
        time.sleep(0.5)
        pids = server_pids(server.proc.pid)
        idle_fds = fds(pids)
        status, body = server.request(
            "POST",
            "/api/runs",
            {"language": "bpftrace", "script": SCRIPT, "duration": 0, "interval": 0.1},
        )
        assert status == 201, body
        run_id = body["id"]
        reader = Reader(server, run_id)
        time.sleep(WARMUP_S)
        pids = server_pids(server.proc.pid)
        base_rss, base_fds, base_snaps = rss_kb(pids), fds(pids), reader.snapshots

        time.sleep(SOAK_S / 2)
        reader.ws.send(json.dumps({"type": "view", "per_interval": True}))
        time.sleep(SOAK_S / 2)

        pids = server_pids(server.proc.pid)
        end_rss, end_fds, end_snaps = rss_kb(pids), fds(pids), reader.snapshots
        status, body = server.request("GET", f"/api/runs/{run_id}")
        assert body["state"] == "running", body
        # 10 snapshots a second are sent; a loaded machine may merge some, never most.
        assert end_snaps - base_snaps >= SOAK_S * 10 * 0.5, (base_snaps, end_snaps)
        assert reader.panels_seen
        assert end_rss - base_rss <= MAX_GROWTH_KB, (base_rss, end_rss)
        assert end_fds <= base_fds, (base_fds, end_fds)

        server.request("DELETE", f"/api/runs/{run_id}")
        reader.close()
        deadline = time.monotonic() + 10
        while fds(pids) > idle_fds and time.monotonic() < deadline:
            time.sleep(0.1)
        # The tracer's pipes and the websocket are given back once the run has ended.
        assert fds(pids) <= idle_fds, (idle_fds, fds(pids))
    finally:
        stop_server(server)
