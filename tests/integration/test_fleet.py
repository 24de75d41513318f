"""A real fleet: one RabbitMQ broker, a dtrace-ide server and three `dtrace-ide agent`
processes with real bpftrace.  One count() by process on all three is merged with each
host's rows and totals that are their sum; a killed agent is marked lost while the others
finish; a broker restart in the middle of a run is survived by both sides."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import websocket

from tests.broker import Broker, rabbitmq  # noqa: F401
from tests.conftest import ROOT, LiveServer, start_server, stop_server, tracer_ready

SCRIPT = "tracepoint:raw_syscalls:sys_enter { @calls[comm] = count(); }"
HOSTS = ("web-1", "web-2", "web-3")
# Quicker than the defaults, so that a lost host is seen within a few seconds.
FLEET_ENV = {
    "DTRACE_IDE_FLEET_HEARTBEAT_S": "0.5",
    "DTRACE_IDE_FLEET_HOST_LOST_S": "3",
    "DTRACE_IDE_FLEET_KEEPALIVE_S": "1",
    "DTRACE_IDE_FLEET_RECONNECT_MAX_S": "2",
}


@dataclass
class Fleet:
    broker: Broker
    server: LiveServer
    pub: Path
    tmp: Path
    agents: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start_agent(self, name: str) -> None:
        log = (self.tmp / f"agent-{name}.log").open("ab")
        env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", **FLEET_ENV)
        env["DTRACE_IDE_DATA"] = str(self.tmp / f"data-{name}")
        self.agents[name] = subprocess.Popen(
            [sys.executable, "-m", "ide.cli", "agent", "--broker", self.broker.url(),
             "--name", name, "--fleet-key", str(self.pub)],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
        )  # fmt: skip

    def agent_log(self, name: str) -> str:
        return (self.tmp / f"agent-{name}.log").read_text(errors="replace")[-3000:]

    def online(self) -> set[str]:
        status, body = self.server.request("GET", "/api/hosts")
        assert status == 200, body
        return {h["name"] for h in body["hosts"] if h["online"]}

    def wait_online(self, names: set[str], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not names <= self.online():
            logs = {n: self.agent_log(n) for n in names}
            assert time.monotonic() < deadline, (self.online(), logs)
            time.sleep(0.2)

    def run(self, duration: float, interval: float = 0.5) -> str:
        status, body = self.server.request(
            "POST",
            "/api/runs",
            {"language": "bpftrace", "script": SCRIPT, "duration": duration,
             "interval": interval, "hosts": "*", "keep_running": True},
        )  # fmt: skip
        assert status == 201, body
        assert body["fleet"] is True and set(body["hosts"]) == set(HOSTS)
        return str(body["id"])


@pytest.fixture(scope="module")
def fleet(rabbitmq: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:  # noqa: F811
    if why := tracer_ready():
        pytest.skip(why)
    tmp = tmp_path_factory.mktemp("fleet")
    key = tmp / "fleet.key"
    subprocess.run(
        [sys.executable, "-m", "ide.cli", "fleet-key", str(key)],
        check=True, capture_output=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )  # fmt: skip
    server = start_server(tmp, "--broker", rabbitmq.url(), "--fleet-key", str(key), env=FLEET_ENV)
    f = Fleet(rabbitmq, server, Path(f"{key}.pub"), tmp)
    try:
        for name in HOSTS:
            f.start_agent(name)
        f.wait_online(set(HOSTS))
        yield f
    finally:
        for proc in f.agents.values():
            proc.send_signal(signal.SIGTERM)
        for proc in f.agents.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        stop_server(server)


def by_host_rows(run: dict[str, Any]) -> dict[tuple[str, str], int]:
    agg = next(a for a in run["snapshot"]["aggregations"] if a["name"] == "@calls")
    return {(r["key"][0], r["key"][1]): r["value"] for r in agg["rows"]}


def stream_until_end(server: LiveServer, run_id: str, view: dict[str, Any]) -> list[dict[str, Any]]:
    """Every snapshot message of the run as a viewer with ``view`` got it, to its end."""
    ws = websocket.create_connection(
        server.base.replace("http", "ws") + f"/api/runs/{run_id}/stream",
        header=[f"Authorization: Bearer {server.token}"],
        origin=server.base,
        timeout=30,
    )
    ws.send(json.dumps({"type": "view", **view}))
    snapshots = []
    try:
        while raw := ws.recv():
            msg = json.loads(raw)
            if msg["type"] == "snapshot":
                snapshots.append(msg)
            if msg["type"] == "state" and msg["state"] != "running":
                break
    finally:
        ws.close()
    return snapshots


def test_one_count_on_three_hosts_has_each_hosts_rows_and_totals_that_are_their_sum(
    fleet: Fleet,
) -> None:
    run_id = fleet.run(3.0)
    snapshots = stream_until_end(fleet.server, run_id, {"by_host": False})
    run = fleet.server.wait_run(run_id, lambda b: b["state"] != "running", timeout=30)
    assert run["state"] == "finished", run
    assert {h: s["state"] for h, s in run["hosts"].items()} == dict.fromkeys(HOSTS, "finished")
    rows = by_host_rows(run)
    assert {host for host, _ in rows} == set(HOSTS)
    # Each agent's own bpftrace is among the processes every host sees.
    assert all((host, "bpftrace") in rows for host in HOSTS)
    last = snapshots[-1]
    assert last["by_host"] is False and set(last["hosts"]) == set(HOSTS)
    assert by_host_rows(last) == rows
    table = next(p for p in last["panels"] if p["name"] == "@calls")["table"]
    count = table["columns"].index("count")
    totals = {row[0]: row[count] for row in table["rows"]}
    assert totals, table
    for comm, total in totals.items():
        assert total == sum(v for (_, c), v in rows.items() if c == comm), comm


def test_the_by_host_view_shows_the_hosts_apart(fleet: Fleet) -> None:
    run_id = fleet.run(1.5)
    snapshots = stream_until_end(fleet.server, run_id, {"by_host": True})
    last = snapshots[-1]
    assert last["by_host"] is True
    table = next(p for p in last["panels"] if p["name"] == "@calls")["table"]
    assert {row[0] for row in table["rows"]} == set(HOSTS)


def test_a_killed_agent_is_lost_with_its_data_kept_while_the_others_finish(
    fleet: Fleet,
) -> None:
    run_id = fleet.run(8.0)
    fleet.server.wait_run(
        run_id, lambda b: all(s["last_t"] for s in b["hosts"].values()), timeout=20
    )
    fleet.agents["web-3"].kill()
    fleet.agents["web-3"].wait(10)
    try:
        run = fleet.server.wait_run(run_id, lambda b: b["state"] != "running", timeout=30)
        assert run["state"] == "finished", run
        states = {h: s["state"] for h, s in run["hosts"].items()}
        assert states == {"web-1": "finished", "web-2": "finished", "web-3": "lost"}
        assert "web-3" in {host for host, _ in by_host_rows(run)}  # its last data stays
        assert any("web-3 is lost" in p["message"] for p in run["problems"])
    finally:
        fleet.start_agent("web-3")
        fleet.wait_online(set(HOSTS))


def test_a_broker_restart_in_the_middle_of_a_run_is_survived(fleet: Fleet) -> None:
    run_id = fleet.run(25.0, interval=0.5)
    fleet.server.wait_run(
        run_id, lambda b: all(s["last_t"] for s in b["hosts"].values()), timeout=20
    )
    fleet.broker.restart()
    before = fleet.server.wait_run(run_id, lambda b: True)
    last_t = {h: s["last_t"] for h, s in before["hosts"].items()}
    # Snapshots come again from every host, newer than any sent before the restart.
    fleet.server.wait_run(
        run_id,
        lambda b: all(s["last_t"] > last_t[h] + 1 for h, s in b["hosts"].items()),
        timeout=30,
    )
    run = fleet.server.wait_run(run_id, lambda b: b["state"] != "running", timeout=40)
    assert run["state"] == "finished", run
    assert {h: s["state"] for h, s in run["hosts"].items()} == dict.fromkeys(HOSTS, "finished")
    fleet.wait_online(set(HOSTS))
