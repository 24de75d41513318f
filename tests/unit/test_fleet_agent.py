"""The fleet agent over a scripted tracer and a link that keeps what is published: signed
run, stop and alive commands, every forgery refused, the watchdog, the agent's own policy.
A real broker, agent process and bpftrace: tests/integration/test_fleet_agent_process.py."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pika.exceptions
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ide.cli import main
from ide.config import Settings
from ide.fleet.agent import REFUSALS_TOLD_PER_S, Agent, NameTaken
from ide.fleet.agent_runs import BadRunBody, run_request
from ide.fleet.protocol import (
    Bye,
    CommandRefused,
    Heartbeat,
    HostMessage,
    RunMessage,
    agent_queue,
    decode,
)
from ide.fleet.signing import Signer, Verifier, canonical_bytes
from ide.tracing.model import (
    Aggregation,
    AggregationData,
    Attached,
    CompileResult,
    Diagnostic,
    Row,
    Tick,
)
from ide.tracing.pipeline import ScriptPipeline
from ide.tracing.registry import Backends
from ide.tracing.session import RunManager
from tests.unit.scripted import ScriptedBackend, ScriptedTracer

ROOT = Path(__file__).resolve().parents[2]
NAME = "web-1"
SCRIPT = "tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }"
BODY: dict[str, Any] = {"language": "bpftrace", "script": SCRIPT, "duration": 0, "interval": 1}
SETTINGS = Settings(token="t", fleet_heartbeat_s=0.2)


class PolicyBackend(ScriptedBackend):
    """The scripted tracer, refusing system() as the real backends' policy does unless the
    settings it was made with allow destructive actions."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings

    def compile(self, script: str) -> CompileResult:
        if "system(" in script and not self.settings.allow_destructive:
            refusal = Diagnostic(1, 9, 1, 15, "system() is a destructive action")
            return CompileResult(False, (refusal,), refused=True)
        return CompileResult(True)


class KeptLink:
    """A broker link that keeps what is published, in order."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, object | None]] = []
        self.closed = False
        self._lock = threading.Lock()

    def publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        *,
        latest: object | None = None,
        expiration_ms: int | None = None,
    ) -> None:
        with self._lock:
            self.sent.append((routing_key, body, latest))

    def close(self, timeout: float = 5.0) -> None:
        self.closed = True

    def messages(self) -> list[HostMessage]:
        with self._lock:
            return [decode(body, key, 1 << 24) for key, body, _ in self.sent]

    def run_messages(self, run_id: str) -> list[RunMessage]:
        return [m for m in self.messages() if isinstance(m, RunMessage) and m.run_id == run_id]

    def refusals(self) -> list[CommandRefused]:
        return [m for m in self.messages() if isinstance(m, CommandRefused)]


class Clock:
    """The agent's monotonic clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Fleet:
    """One agent, the key its server signs with, its scripted backend, link and clock."""

    def __init__(self, settings: Settings = SETTINGS) -> None:
        self.clock = Clock()
        self.key = Ed25519PrivateKey.generate()
        self.signer = Signer(self.key, settings)
        self.backend = PolicyBackend(settings)
        scripted: Any = self.backend
        self.runs = RunManager(settings)
        pipeline = ScriptPipeline(settings, Backends({"bpftrace": scripted}), self.runs)
        self.link = KeptLink()
        verifier = Verifier(self.key.public_key(), settings)
        self.agent = Agent(
            settings, NAME, verifier, pipeline=pipeline, link=self.link, clock=self.clock
        )

    def send(self, kind: Any, run_id: str, body: dict[str, Any] | None = None) -> bytes:
        signed = self.signer.sign(kind, run_id, BODY if body is None else body)
        self.agent.receive(f"agent.{NAME}", signed)
        return signed

    def tracer(self, n: int = 1) -> ScriptedTracer:
        wait(lambda: len(self.backend.tracers) >= n)
        return self.backend.tracers[n - 1]

    def messages_until(self, run_id: str, pred: Any) -> list[RunMessage]:
        wait(lambda: any(pred(m.msg) for m in self.link.run_messages(run_id)))
        return self.link.run_messages(run_id)

    def snapshot_values(self, run_id: str) -> list[int]:
        return [
            m.msg["snapshot"]["aggregations"][0]["rows"][0]["value"]
            for m in self.link.run_messages(run_id)
            if m.msg["type"] == "snapshot"
        ]

    def forwarding(self, run_id: str) -> None:
        """Wait until the run is started here and its messages go to the server."""
        self.messages_until(run_id, lambda m: m["type"] == "state")


def wait(pred: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def ended(msg: dict[str, Any]) -> bool:
    return msg["type"] == "state" and msg["state"] in {"finished", "stopped", "failed"}


@pytest.fixture
def fleet() -> Iterator[Fleet]:
    f = Fleet()
    f.agent.start()
    yield f
    f.agent.close()


def counts(value: int) -> AggregationData:
    return AggregationData(Aggregation("@", "count", (Row(("bash",), value=value),)))


# --- runs -----------------------------------------------------------------------------------


def test_a_signed_run_is_traced_and_its_messages_are_published_numbered(fleet: Fleet) -> None:
    fleet.send("run", "r-1")
    tracer = fleet.tracer()
    wait(lambda: fleet.agent.traced == ["r-1"])
    tracer.events_q.put(Attached(3))
    for value in (5, 9):
        tracer.events_q.put(counts(value))
        tracer.events_q.put(Tick())
        wait(lambda v=value: v in fleet.snapshot_values("r-1"))
    fleet.send("stop", "r-1")
    sent = fleet.messages_until("r-1", ended)
    assert [m.seq for m in sent] == list(range(1, len(sent) + 1))
    assert {m.host for m in sent} == {NAME}
    assert sent[-1].msg["state"] == "stopped" and tracer.stopped
    assert [m.msg["type"] for m in sent].count("snapshot") >= 2
    assert "panels" not in next(m.msg for m in sent if m.msg["type"] == "snapshot")
    wait(lambda: fleet.agent.traced == [])
    assert fleet.link.refusals() == []


def test_snapshots_are_published_so_that_an_unsent_one_is_replaced_by_the_next(
    fleet: Fleet,
) -> None:
    fleet.send("run", "r-1")
    tracer = fleet.tracer()
    tracer.events_q.put(counts(1))
    tracer.events_q.put(Tick())
    fleet.messages_until("r-1", lambda m: m["type"] == "snapshot")
    latest = {lat for key, _, lat in fleet.link.sent if key == f"run.{NAME}"}
    assert ("r-1", "snapshot") in latest and None in latest  # states are never replaced


def test_a_second_run_command_for_a_run_traced_here_starts_nothing(fleet: Fleet) -> None:
    fleet.send("run", "r-1")
    fleet.tracer()
    fleet.send("run", "r-1")
    time.sleep(0.2)
    assert len(fleet.backend.tracers) == 1 and fleet.agent.traced == ["r-1"]


def test_the_heartbeat_says_what_the_host_is_and_traces(fleet: Fleet) -> None:
    fleet.send("run", "r-1")
    fleet.tracer()
    beat = fleet.agent.heartbeat()
    assert beat.name == NAME and beat.runs == ["r-1"] and beat.allow_destructive is False
    assert [(b.name, b.language, b.available) for b in beat.backends] == [
        ("scripted", "bpftrace", True)
    ]
    assert beat.limits["max_duration_s"] == SETTINGS.max_duration_s
    assert re.fullmatch(r"\S+ \S+", beat.os) and beat.version
    wait(lambda: sum(isinstance(m, Heartbeat) for m in fleet.link.messages()) >= 2)
    kinds = {lat for key, _, lat in fleet.link.sent if key == f"host.{NAME}"}
    assert kinds == {"heartbeat"}


def test_close_stops_the_runs_says_bye_and_closes_the_link() -> None:
    f = Fleet()
    f.agent.start()
    f.send("run", "r-1")
    tracer = f.tracer()
    f.agent.close()
    assert tracer.stopped and f.link.closed
    assert f.link.run_messages("r-1")[-1].msg["state"] == "stopped"
    assert isinstance(f.link.messages()[-1], Bye)


# --- the agent's own policy and limits ------------------------------------------------------


def test_allow_destructive_in_a_run_command_enables_nothing(fleet: Fleet) -> None:
    body = dict(BODY, script='BEGIN { system("id"); }', allow_destructive=True)
    body["settings"] = {"allow_destructive": True, "max_duration_s": 1e9}
    fleet.send("run", "r-1", body)
    sent = fleet.messages_until("r-1", ended)
    state = sent[-1].msg
    assert (state["state"], state["code"]) == ("failed", "script_refused")
    assert state["diagnostics"][0]["message"] == "system() is a destructive action"
    assert fleet.backend.tracers == [] and fleet.agent.traced == []
    assert fleet.agent.heartbeat().allow_destructive is False


def test_an_agent_started_with_allow_destructive_runs_what_its_policy_allows() -> None:
    f = Fleet(Settings(token="t", allow_destructive=True))
    f.agent.start()
    try:
        f.send("run", "r-1", dict(BODY, script='BEGIN { system("id"); }'))
        f.tracer()
        assert f.agent.heartbeat().allow_destructive is True
    finally:
        f.agent.close()


def test_the_body_is_read_within_the_agents_limits() -> None:
    s = Settings(token="t", max_duration_s=60, max_script_bytes=100)
    req = run_request(dict(BODY, duration=5, interval=0.5, max_duration_s=1e9), s)
    assert (req.duration, req.interval, req.keep_running, req.client) == (5, 0.5, True, "fleet")
    for body, code in [
        (dict(BODY, duration=61), "bad_duration"),
        (dict(BODY, interval=0), "bad_interval"),
        (dict(BODY, script="x" * 101), "script_too_large"),
        (dict(BODY, script=" "), "bad_script"),
        (dict(BODY, options={"nosuch": 1}), "bad_options"),
        (dict(BODY, language="perl"), "bad_request"),
        ({"script": SCRIPT}, "bad_request"),
    ]:
        with pytest.raises(BadRunBody) as info:
            run_request(body, s)
        assert info.value.code == code, body
    assert run_request(dict(BODY, options={"bufsize": 1 << 40}), s).options == {"bufsize": 64 << 20}


def test_a_run_past_the_agents_run_cap_fails_with_the_reason() -> None:
    f = Fleet(Settings(token="t", max_runs_per_client=1))
    f.agent.start()
    try:
        f.send("run", "r-1")
        f.tracer()
        f.send("run", "r-2")
        state = f.messages_until("r-2", ended)[-1].msg
        assert (state["state"], state["code"]) == ("failed", "too_many_runs")
        assert "max_runs_per_client" in state["error"]
    finally:
        f.agent.close()


# --- forgeries --------------------------------------------------------------------------------


def forged(f: Fleet, reason: str) -> bytes:
    """A run command as a forger could make it, that the agent refuses for ``reason``."""
    signed = f.signer.sign("run", "r-9", BODY)
    wire = json.loads(signed)
    if reason == "unsigned":  # the bare command, as an account that may publish could send
        return base64.b64decode(wire["payload"])
    if reason == "other_key":
        return Signer(Ed25519PrivateKey.generate()).sign("run", "r-9", BODY)
    if reason == "expired":  # a copy seen on the wire two minutes ago
        return f.signer.sign("run", "r-9", BODY, now=time.time() - 120)
    command = json.loads(base64.b64decode(wire["payload"]))  # bad_signature: changed
    command["body"]["script"] = 'BEGIN { system("id"); }'
    wire["payload"] = base64.b64encode(canonical_bytes(command)).decode()
    return canonical_bytes(wire)


@pytest.mark.parametrize("reason", ["unsigned", "other_key", "expired", "bad_signature"])
def test_a_forged_run_command_is_refused_and_starts_nothing(fleet: Fleet, reason: str) -> None:
    fleet.agent.receive(f"agent.{NAME}", forged(fleet, reason))
    refusal = fleet.link.refusals()
    assert [r.reason for r in refusal] == [reason]
    assert refusal[0].name == NAME and refusal[0].message
    time.sleep(0.1)
    assert fleet.backend.tracers == [] and fleet.agent.traced == []
    assert fleet.link.run_messages("r-9") == []


def test_a_replayed_run_command_is_refused_and_starts_nothing_again(fleet: Fleet) -> None:
    signed = fleet.send("run", "r-1")
    fleet.tracer()
    fleet.send("stop", "r-1")
    wait(lambda: fleet.agent.traced == [])
    fleet.agent.receive(f"agent.{NAME}", signed)
    (refusal,) = fleet.link.refusals()
    assert (refusal.reason, refusal.run_id) == ("replayed", "r-1")
    time.sleep(0.1)
    assert len(fleet.backend.tracers) == 1 and fleet.agent.traced == []


def test_a_flood_of_forgeries_is_answered_a_few_a_second(fleet: Fleet) -> None:
    bare = forged(fleet, "unsigned")
    for _ in range(200):
        fleet.agent.receive(f"agent.{NAME}", bare)
    assert 1 <= len(fleet.link.refusals()) <= 2 * REFUSALS_TOLD_PER_S  # a second may turn
    assert fleet.backend.tracers == []


def test_a_forged_stop_stops_nothing(fleet: Fleet) -> None:
    fleet.send("run", "r-1")
    tracer = fleet.tracer()
    other = Signer(Ed25519PrivateKey.generate())
    fleet.agent.receive(f"agent.{NAME}", other.sign("stop", "r-1", {}))
    assert [r.reason for r in fleet.link.refusals()] == ["other_key"]
    assert not tracer.stopped and fleet.agent.traced == ["r-1"]


# --- the watchdog -----------------------------------------------------------------------------


def test_the_watchdog_stops_a_run_the_server_has_not_spoken_of(fleet: Fleet) -> None:
    timeout = SETTINGS.fleet_run_timeout_s
    fleet.send("run", "r-1")
    tracer = fleet.tracer()
    fleet.forwarding("r-1")
    fleet.clock.now += timeout - 1
    fleet.agent.watch()
    assert not tracer.stopped
    fleet.clock.now += 2
    fleet.agent.watch()
    sent = fleet.messages_until("r-1", ended)
    assert sent[-1].msg["state"] == "stopped" and tracer.stopped
    (error,) = [m.msg for m in sent if m.msg["type"] == "error"]
    assert error["message"] == "no word from the server for 31 s: the agent stopped the tracer"
    assert [m.seq for m in sent] == list(range(1, len(sent) + 1))


def test_an_alive_keeps_the_run_going(fleet: Fleet) -> None:
    timeout = SETTINGS.fleet_run_timeout_s
    fleet.send("run", "r-1")
    tracer = fleet.tracer()
    fleet.forwarding("r-1")
    for _ in range(3):  # three times the timeout in all, with an alive within each
        fleet.clock.now += timeout - 1
        fleet.send("alive", "r-1", {})
        fleet.agent.watch()
    fleet.clock.now += timeout - 1
    fleet.agent.watch()
    assert not tracer.stopped and fleet.agent.traced == ["r-1"]
    fleet.send("alive", "r-2", {})  # for a run not traced here: nothing to keep going
    assert fleet.link.refusals() == [] and fleet.agent.traced == ["r-1"]


# --- the broker ---------------------------------------------------------------------------------


class TakenChannel:
    def queue_declare(self, queue: str, **kw: Any) -> None:
        raise pika.exceptions.ChannelClosedByBroker(
            405, f"RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '{queue}'"
        )


def test_a_second_agent_of_the_same_name_says_so() -> None:
    with pytest.raises(NameTaken) as info:
        Fleet().agent.setup(TakenChannel())
    assert f"another agent named {NAME} is connected to the broker" in str(info.value)
    assert agent_queue(NAME) in str(info.value) and "--name" in str(info.value)


def test_the_service_files_run_the_agent_and_stop_it_with_sigterm() -> None:
    unit = (ROOT / "contrib" / "dtrace-ide-agent.service").read_text()
    assert re.search(r"^ExecStart=\S+/dtrace-ide agent\b", unit, re.M)
    assert "KillSignal=SIGTERM" in unit and "EnvironmentFile=-/etc/default/dtrace-ide-agent" in unit
    assert "--allow-destructive" not in unit.split("ExecStart=")[1].split("\n")[0]
    manifest = ElementTree.parse(ROOT / "contrib" / "dtrace-ide-agent.xml").getroot()
    methods = {m.get("name"): m for m in manifest.iter("exec_method")}
    assert "dtrace-ide agent" in (methods["start"].get("exec") or "")
    assert methods["stop"].get("exec") == ":kill -TERM"
    props = {p.get("name"): p.get("value") for p in manifest.iter("propval")}
    assert props["duration"] == "child"


# --- the command line -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--fleet-key", "{pub}"], "say --broker amqps://USER:PASS@HOST/VHOST"),
        (["--broker", "amqp://u:p@h/"], "say --fleet-key FILE.pub"),
        (["--broker", "http://h/", "--fleet-key", "{pub}"], "say --broker amqps://"),
        (["--broker", "amqp://u:p@h/", "--fleet-key", "{key}"], "is a private key; an agent"),
        (["--broker", "amqp://u:p@h/", "--fleet-key", "{key}.nope"], "cannot read"),
        (["--broker", "amqp://u:p@h/", "--fleet-key", "{pub}", "--name", "a b"], "host name"),
        (["--broker", "amqp://u:p@h/", "--fleet-key", "{pub}", "--tag", "a b"], "not a tag"),
    ],
    ids=["no-broker", "no-key", "not-amqp", "private-key", "no-file", "bad-name", "bad-tag"],
)
def test_the_agent_command_says_what_to_fix_and_exits_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    says: str,
) -> None:
    for var in ("BROKER", "FLEET_KEY", "FLEET_NAME"):
        monkeypatch.delenv(f"DTRACE_IDE_{var}", raising=False)
    key = tmp_path / "fleet.key"
    assert main(["fleet-key", str(key)]) == 0
    capsys.readouterr()
    filled = [a.format(key=key, pub=f"{key}.pub") for a in args]
    assert main(["agent", *filled]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dtrace-ide agent: ") and says in err
