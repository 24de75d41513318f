"""A real fleet agent: a RabbitMQ node of the tests' own, a `dtrace-ide agent` process with a
key made by `dtrace-ide fleet-key`, the real bpftrace, and this test as the server (a
BrokerLink of its own on the data exchange).  The tests run in order, on one agent."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ide.fleet.broker import BrokerLink
from ide.fleet.keys import load_signing_key
from ide.fleet.protocol import (
    CONTROL_EXCHANGE,
    DATA_EXCHANGE,
    SERVER_BINDINGS,
    Bye,
    CommandRefused,
    Heartbeat,
    HostMessage,
    RunMessage,
    agent_key,
    decode,
)
from ide.fleet.signing import CommandKind, Signer
from tests.broker import (
    Broker,
    rabbitmq,  # noqa: F401
)
from tests.conftest import ROOT, tracer_ready

pytestmark = [
    pytest.mark.tracer,
    pytest.mark.skipif(tracer_ready() is not None, reason=str(tracer_ready())),
]

NAME = "web-1"
SCRIPT = "tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }"
RUN_BODY: dict[str, Any] = {
    "language": "bpftrace",
    "script": SCRIPT,
    "duration": 2,
    "interval": 0.5,
    "options": {},
}
RUN_TIMEOUT_S = 4  # the agent's fleet_run_timeout_s, short for the watchdog's test
Pred = Callable[[HostMessage], bool]


class Server:
    """The server's side: every message the agents publish, in the order they came, and
    commands published to the agent."""

    def __init__(self, url: str, signer: Signer) -> None:
        self.signer = signer
        self.messages: list[HostMessage] = []
        self._cond = threading.Condition()
        self.link = BrokerLink(
            url, setup=self._setup, on_message=self._got, reconnect_max_s=1.0, name="server"
        ).start()
        assert self.link.connected.wait(10), self.link.last_error

    def _setup(self, channel: Any) -> str:
        queue: str = channel.queue_declare("", exclusive=True, auto_delete=True).method.queue
        for key in SERVER_BINDINGS:
            channel.queue_bind(queue, DATA_EXCHANGE, routing_key=key)
        return queue

    def _got(self, routing_key: str, body: bytes) -> None:
        message = decode(body, routing_key, 1 << 24)
        with self._cond:
            self.messages.append(message)
            self._cond.notify_all()

    def publish(self, signed: bytes) -> None:
        self.link.publish(CONTROL_EXCHANGE, agent_key(NAME), signed)

    def command(self, kind: CommandKind, run_id: str, body: dict[str, Any]) -> bytes:
        signed = self.signer.sign(kind, run_id, body)
        self.publish(signed)
        return signed

    def mark(self) -> int:
        with self._cond:
            return len(self.messages)

    def since(self, mark: int) -> list[HostMessage]:
        with self._cond:
            return self.messages[mark:]

    def wait_for(
        self, pred: Pred, since: int = 0, timeout: float = 15, alive: str | None = None
    ) -> HostMessage:
        """The first message since ``since`` that ``pred`` holds for; meanwhile an alive
        for the run ``alive`` every second, as the server sends them."""
        deadline = time.monotonic() + timeout
        next_alive = 0.0
        while True:
            found = next((m for m in self.since(since) if pred(m)), None)
            if found is not None:
                return found
            now = time.monotonic()
            assert now < deadline, f"nothing came: {self.since(since)[-5:]}"
            if alive is not None and now >= next_alive:
                self.command("alive", alive, {})
                next_alive = now + 1.0
            with self._cond:
                self._cond.wait(0.2)

    def heartbeat(self, since: int = 0, timeout: float = 15) -> Heartbeat:
        beat = self.wait_for(lambda m: isinstance(m, Heartbeat), since, timeout)
        assert isinstance(beat, Heartbeat)
        return beat

    def run_messages(self, run_id: str, since: int = 0) -> list[RunMessage]:
        return [m for m in self.since(since) if isinstance(m, RunMessage) and m.run_id == run_id]


@dataclass
class AgentProcess:
    proc: subprocess.Popen[bytes]
    out: Path
    err: Path
    key: Path
    server: Server
    sent: dict[str, bytes]  # commands the tests sent, for the replay test


def ended(run_id: str) -> Pred:
    return lambda m: (
        isinstance(m, RunMessage)
        and m.run_id == run_id
        and m.msg["type"] == "state"
        and m.msg["state"] in {"finished", "stopped", "failed"}
    )


def start_agent(tmp: Path, url: str, key: Path, name: str = NAME) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
        "DTRACE_IDE_FLEET_HEARTBEAT_S": "1",
        "DTRACE_IDE_FLEET_RECONNECT_MAX_S": "1",
        "DTRACE_IDE_FLEET_RUN_TIMEOUT_S": str(RUN_TIMEOUT_S),
    }
    args = ["agent", "--broker", url, "--name", name, "--fleet-key", f"{key}.pub", "--tag", "t"]
    return subprocess.Popen(
        [sys.executable, "-m", "ide.cli", *args],
        stdout=(tmp / f"{name}.out").open("ab"),
        stderr=(tmp / f"{name}.err").open("ab"),
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )


@pytest.fixture(scope="module")
def agent(rabbitmq: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:  # noqa: F811
    tmp = tmp_path_factory.mktemp("agent")
    key = tmp / "fleet.key"
    made = subprocess.run(
        [sys.executable, "-m", "ide.cli", "fleet-key", str(key)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert made.returncode == 0, made.stderr
    server = Server(rabbitmq.url(), Signer(load_signing_key(key)))
    proc = start_agent(tmp, rabbitmq.url(), key)
    try:
        yield AgentProcess(proc, tmp / f"{NAME}.out", tmp / f"{NAME}.err", key, server, {})
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        server.link.close()


def tracers_of(pid: int) -> list[int]:
    """The bpftrace processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm, _, rest = stat.partition("(")[2].rpartition(")")
        if comm == "bpftrace" and int(rest.split()[1]) == pid:
            found.append(int(entry.name))
    return found


# --- the tests, in order -----------------------------------------------------------------------


def test_the_agent_connects_and_says_what_it_is(agent: AgentProcess) -> None:
    beat = agent.server.heartbeat()
    assert beat.name == NAME and beat.runs == [] and beat.tags == ["t"]
    assert beat.os.startswith("Linux ") and beat.allow_destructive is False
    bpftrace = next(b for b in beat.backends if b.name == "bpftrace")
    assert bpftrace.available and bpftrace.version
    assert beat.limits["max_duration_s"] > 0
    out = agent.out.read_text()
    assert f"dtrace-ide agent {NAME}: connected to amqp://guest:***@127.0.0.1:" in out
    assert "guest:guest" not in out


def test_a_signed_run_is_traced_and_its_snapshots_and_end_are_published(
    agent: AgentProcess,
) -> None:
    server = agent.server
    mark = server.mark()
    agent.sent["run"] = server.command("run", "r-1", RUN_BODY)
    server.wait_for(ended("r-1"), mark, timeout=30, alive="r-1")
    sent = server.run_messages("r-1", mark)
    assert [m.seq for m in sent] == sorted({m.seq for m in sent})  # increasing, none twice
    assert {m.host for m in sent} == {NAME}
    snapshots = [m.msg for m in sent if m.msg["type"] == "snapshot"]
    assert len(snapshots) >= 2
    assert any(row["value"] > 0 for row in snapshots[-1]["snapshot"]["aggregations"][0]["rows"])
    assert sent[-1].msg["state"] == "finished" and sent[-1].msg["error"] is None
    assert server.heartbeat(server.mark()).runs == []


def forgeries(agent: AgentProcess) -> dict[str, bytes]:
    signed = agent.server.signer.sign("run", "r-forged", RUN_BODY)
    other = another_key(agent.key.parent / "other.key")
    return {
        "unsigned": base64.b64decode(json.loads(signed)["payload"]),
        "other_key": Signer(other).sign("run", "r-forged", RUN_BODY),
        "expired": agent.server.signer.sign("run", "r-forged", RUN_BODY, now=time.time() - 120),
        "replayed": agent.sent["run"],  # the exact bytes of the run command above
    }


def another_key(path: Path) -> Any:
    """A key made as the server's is, that this fleet's agents do not know."""
    made = subprocess.run(
        [sys.executable, "-m", "ide.cli", "fleet-key", str(path)],
        capture_output=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert made.returncode == 0
    return load_signing_key(path)


def test_forged_run_commands_are_each_refused_and_start_nothing(agent: AgentProcess) -> None:
    server = agent.server
    for reason, forged in forgeries(agent).items():
        mark = server.mark()
        server.publish(forged)
        refusal = server.wait_for(lambda m: isinstance(m, CommandRefused), mark)
        assert isinstance(refusal, CommandRefused)
        assert (refusal.name, refusal.reason) == (NAME, reason), refusal.message
        assert server.heartbeat(server.mark()).runs == []
        assert server.run_messages("r-forged", mark) == []
        assert server.run_messages("r-1", mark) == []
    assert tracers_of(agent.proc.pid) == []
    assert "refused a command (replayed)" in agent.err.read_text()


def test_the_watchdog_stops_a_run_the_server_no_longer_speaks_of(agent: AgentProcess) -> None:
    server = agent.server
    mark = server.mark()
    server.command("run", "r-silent", dict(RUN_BODY, duration=0))  # until stopped
    server.wait_for(lambda m: isinstance(m, RunMessage) and m.msg["type"] == "snapshot", mark)
    assert tracers_of(agent.proc.pid) != []
    server.wait_for(ended("r-silent"), mark, timeout=RUN_TIMEOUT_S + 10)
    sent = server.run_messages("r-silent", mark)
    errors = [m.msg["message"] for m in sent if m.msg["type"] == "error"]
    assert any("no word from the server for" in e for e in errors), errors
    assert sent[-1].msg["state"] == "stopped"
    deadline = time.monotonic() + 5
    while tracers_of(agent.proc.pid):
        assert time.monotonic() < deadline, "the tracer outlived its run"
        time.sleep(0.1)


def test_a_broker_restart_is_survived(agent: AgentProcess, rabbitmq: Broker) -> None:  # noqa: F811
    server = agent.server
    rabbitmq.restart()
    restarted = time.time()
    assert server.link.connected.wait(20), server.link.last_error
    mark = server.mark()
    # A heartbeat made while the broker was down may come first (the agent keeps its newest
    # unsent one); one made since the broker is back must follow.
    beat = server.wait_for(
        lambda m: isinstance(m, Heartbeat) and m.sent_at >= restarted, mark, timeout=30
    )
    assert isinstance(beat, Heartbeat)
    server.command("run", "r-after", dict(RUN_BODY, duration=1))  # commands arrive again
    server.wait_for(ended("r-after"), mark, timeout=30, alive="r-after")
    assert server.run_messages("r-after", mark)[-1].msg["state"] == "finished"


def test_a_second_agent_of_the_same_name_is_refused_by_the_broker(
    agent: AgentProcess,
    rabbitmq: Broker,  # noqa: F811
) -> None:
    tmp = agent.key.parent / "second"
    tmp.mkdir()
    second = start_agent(tmp, rabbitmq.url(), agent.key)
    err = tmp / f"{NAME}.err"
    try:
        deadline = time.monotonic() + 20
        while f"another agent named {NAME} is connected to the broker" not in err.read_text():
            assert second.poll() is None and time.monotonic() < deadline, err.read_text()
            time.sleep(0.2)
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(15) == 0
    assert agent.server.heartbeat(agent.server.mark()).name == NAME  # the first goes on


def test_sigterm_says_bye_and_exits_0(agent: AgentProcess) -> None:
    mark = agent.server.mark()
    agent.proc.send_signal(signal.SIGTERM)
    assert agent.proc.wait(15) == 0
    agent.server.wait_for(lambda m: isinstance(m, Bye) and m.name == NAME, mark)
