"""No tracer left behind: viewers leaving, the server dying or stopping, tracers that hang."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import websocket

from tests.conftest import LiveServer, start_server, stop_server, tracer_ready

pytestmark = pytest.mark.skipif(tracer_ready() is not None, reason=str(tracer_ready()))

SYSCALLS = "tracepoint:raw_syscalls:sys_enter { @n[comm] = count(); }"
IDLE = "interval:s:100 { exit(); }"


def alive(pid: int) -> bool:
    """Running, and not a zombie waiting for its parent."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def within(seconds: float, pred: Callable[[], bool], step: float = 0.02) -> float | None:
    """How long ``pred`` took to become true, or None if it did not within ``seconds``."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        if pred():
            return time.monotonic() - t0
        time.sleep(step)
    return None


def start(server: LiveServer, script: str = SYSCALLS, **fields: Any) -> tuple[str, int]:
    status, body = server.request(
        "POST", "/api/runs", {"language": "bpftrace", "script": script, **fields}
    )
    assert status == 201, body
    run_id: str = body["id"]
    deadline = time.monotonic() + 15
    while True:
        status, body = server.request("GET", f"/api/runs/{run_id}")
        if body["attached"]:
            return run_id, int(body["pid"])
        assert body["state"] == "running" and time.monotonic() < deadline, body
        time.sleep(0.05)


def state(server: LiveServer, run_id: str) -> str:
    status, body = server.request("GET", f"/api/runs/{run_id}")
    assert status == 200
    s: str = body["state"]
    return s


def watch(server: LiveServer, run_id: str) -> websocket.WebSocket:
    ws = websocket.create_connection(
        server.base.replace("http", "ws", 1) + f"/api/runs/{run_id}/stream",
        header=[f"Authorization: Bearer {server.token}"],
        origin=server.base,
        timeout=10,
    )
    assert json.loads(ws.recv())["type"] == "state"
    return ws


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A server this test may kill."""
    s = start_server(tmp_path)
    yield s
    if s.proc.poll() is None:
        stop_server(s)


def test_the_last_viewer_leaving_stops_the_run_within_2s(live_server: LiveServer) -> None:
    run_id, pid = start(live_server)
    first, second = watch(live_server, run_id), watch(live_server, run_id)
    first.close()
    time.sleep(2.0)
    assert state(live_server, run_id) == "running"  # one viewer is still there
    second.close()
    took = within(5, lambda: not alive(pid))
    assert took is not None and took <= 2.0, took
    assert state(live_server, run_id) == "stopped"


def test_a_keep_running_run_outlives_its_viewers(live_server: LiveServer) -> None:
    run_id, pid = start(live_server, keep_running=True)
    watch(live_server, run_id).close()
    time.sleep(3.0)
    assert alive(pid) and state(live_server, run_id) == "running"
    status, body = live_server.request("DELETE", f"/api/runs/{run_id}")
    assert status == 200 and body["state"] == "stopped"
    assert within(2, lambda: not alive(pid)) is not None


def test_a_tracer_that_ignores_sigint_is_killed_after_the_grace_period(
    live_server: LiveServer,
) -> None:
    run_id, pid = start(live_server)
    os.kill(pid, signal.SIGSTOP)  # a stopped process cannot act on SIGINT
    t0 = time.monotonic()
    status, body = live_server.request("DELETE", f"/api/runs/{run_id}")
    took = time.monotonic() - t0
    assert status == 200
    assert within(1, lambda: not alive(pid)) is not None
    assert took < 3.0, took
    assert body["state"] in {"stopped", "failed"}


def test_a_hung_tracer_whose_viewer_left_is_killed_too(live_server: LiveServer) -> None:
    run_id, pid = start(live_server)
    ws = watch(live_server, run_id)
    os.kill(pid, signal.SIGSTOP)
    ws.close()
    # stop_on_disconnect_s (1 s) + stop_grace_s (1.5 s) + the reaper's beat.
    took = within(6, lambda: not alive(pid))
    assert took is not None and took < 4.0, took


def test_sigkill_of_the_worker_takes_its_tracers_with_it(own_server: LiveServer) -> None:
    pids = [start(own_server)[1], start(own_server, IDLE)[1]]
    worker = parent_of(pids[0])
    assert worker != own_server.proc.pid  # gunicorn's worker, a child of the arbiter
    assert parent_of(pids[1]) == worker
    os.kill(worker, signal.SIGKILL)
    took = within(2, lambda: not any(alive(p) for p in pids))
    assert took is not None, [p for p in pids if alive(p)]


def test_sigkill_of_the_server_takes_its_tracers_with_it(own_server: LiveServer) -> None:
    pids = [start(own_server)[1], start(own_server, IDLE, keep_running=True)[1]]
    worker = parent_of(pids[0])
    os.kill(own_server.proc.pid, signal.SIGKILL)
    own_server.proc.wait(5)
    took = within(8, lambda: not any(alive(p) for p in pids) and not alive(worker))
    assert took is not None, [p for p in [*pids, worker] if alive(p)]


def test_sigterm_stops_every_run_and_exits_within_10s(own_server: LiveServer) -> None:
    pids = [start(own_server)[1] for _ in range(3)]
    t0 = time.monotonic()
    own_server.proc.send_signal(signal.SIGTERM)
    own_server.proc.wait(10)
    assert time.monotonic() - t0 < 10
    assert within(1, lambda: not any(alive(p) for p in pids)) is not None
    log = own_server.log.read_text()
    assert "Traceback" not in log, log
