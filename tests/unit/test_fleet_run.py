"""A fleet run on the server, its hosts played by hand through a stand-in hub: the signed
commands it sends, the merged snapshot keyed by host, the total and by-host panels, lost
and failed hosts, stopping, and picking hosts by name, pattern and tag."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import pytest

from ide.charts import PlotlyRenderer
from ide.config import Settings
from ide.fleet.hosts import BadHosts, HostDirectory, NoHosts
from ide.fleet.protocol import Heartbeat
from ide.fleet.run import FleetRun, host_label
from ide.fleet.tracer import FleetBackend, FleetRequest, FleetTracer
from ide.tracing.model import Aggregation, Row, Snapshot
from ide.tracing.session import Run, RunManager

SCRIPT = "tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }"


class Hub:
    """Records what a run sends; says the broker has been up for a while."""

    def __init__(self, up_for: float = 60.0) -> None:
        self.sent: list[tuple[str, str, str, dict[str, Any]]] = []
        self.runs: dict[str, FleetTracer] = {}
        self.up_for = up_for

    def send(self, kind: str, run_id: str, host: str, body: Mapping[str, Any]) -> None:
        self.sent.append((kind, run_id, host, dict(body)))

    def connected_for(self) -> float:
        return self.up_for

    def attach(self, run_id: str, tracer: FleetTracer) -> None:
        self.runs[run_id] = tracer

    def detach(self, run_id: str) -> None:
        self.runs.pop(run_id, None)


def settings(**kw: Any) -> Settings:
    base: dict[str, Any] = {"token": "t", "fleet_host_lost_s": 0.6, "stop_grace_s": 1.0}
    return Settings(**(base | kw))


def start(hub: Hub, hosts: list[str], s: Settings | None = None, duration: float = 0.0) -> FleetRun:
    s = s or settings()
    request = FleetRequest("bpftrace", SCRIPT, duration, 0.1, {})
    manager = RunManager(s, renderer=PlotlyRenderer())
    run = manager.create(
        FleetBackend(hub, hosts, request, s),
        language="bpftrace",
        script=SCRIPT,
        duration=duration,
        interval=0.1,
        options={},
        keep_running=True,
        run_type=FleetRun,
    )
    assert isinstance(run, FleetRun)
    return run


def counts(values: dict[str, int], t: float = 1.0) -> dict[str, Any]:
    agg = Aggregation("@", "count", tuple(Row((k,), value=v) for k, v in values.items()))
    return {"type": "snapshot", "snapshot": Snapshot(t, (agg,)).to_dict()}


def tell(run: Run, host: str, seq: int, msg: dict[str, Any]) -> None:
    tracer = run.tracer
    assert isinstance(tracer, FleetTracer)
    tracer.arrive(host, "message", (seq, msg))


def until(pred: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def rows(run: Run) -> dict[tuple[Any, ...], Any]:
    assert run.snapshot is not None
    return {tuple(r.key): r.value for r in run.snapshot.aggregations[0].rows}


def test_each_picked_host_is_sent_the_run_command_for_it_alone() -> None:
    hub = Hub()
    run = start(hub, ["web-1", "web-2"])
    assert [(k, h) for k, _, h, _ in hub.sent] == [("run", "web-1"), ("run", "web-2")]
    body = hub.sent[0][3]
    assert body["script"] == SCRIPT and body["language"] == "bpftrace"
    assert "allow_destructive" not in body
    run.request_stop("user")
    run.wait(5)


def test_the_snapshot_has_the_host_first_in_every_key_and_the_panels_total_them() -> None:
    hub = Hub()
    run = start(hub, ["web-1", "web-2"])
    tell(run, "web-1", 1, counts({"nginx": 5, "sshd": 1}))
    tell(run, "web-2", 1, counts({"nginx": 7}))
    until(lambda: run.snapshot is not None and len(run.snapshot.aggregations[0].rows) == 3)
    assert rows(run) == {("web-1", "nginx"): 5, ("web-1", "sshd"): 1, ("web-2", "nginx"): 7}
    total = run.snapshot_message(False, True)
    by_host = run.snapshot_message(False, True, by_host=True)
    assert total is not None and by_host is not None
    assert total["by_host"] is False and by_host["by_host"] is True
    assert set(total["hosts"]) == {"web-1", "web-2"}
    assert total["hosts"]["web-1"]["state"] == "online"
    total_text = str(total["panels"])
    assert "nginx" in total_text and "web-1" not in total_text
    assert "web-1" in str(by_host["panels"])
    run.request_stop("user")
    run.wait(5)


def test_each_panel_says_whether_its_keys_start_with_the_host() -> None:
    hub = Hub()
    run = start(hub, ["web-1", "web-2"])
    aggs = (
        Aggregation("@", "count", (Row(("nginx",), value=5),)),
        Aggregation("@spread", "stddev", (Row(("nginx",), value=3),)),
    )
    for host in ("web-1", "web-2"):
        tell(run, host, 1, {"type": "snapshot", "snapshot": Snapshot(1.0, aggs).to_dict()})
    until(lambda: run.snapshot is not None and len(run.snapshot.aggregations) == 2)
    total = run.snapshot_message(False, True)
    by_host = run.snapshot_message(False, True, by_host=True)
    assert total is not None and by_host is not None
    # stddev() has no exact total: its panel stays by host in the total view too.
    assert {p["name"]: p["host_first"] for p in total["panels"]} == {"@": False, "@spread": True}
    assert {p["name"]: p["host_first"] for p in by_host["panels"]} == {"@": True, "@spread": True}
    assert all(p["table"]["columns"][0] == "host" for p in by_host["panels"])
    assert total["panels"][0]["table"]["columns"][0] != "host"
    run.request_stop("user")
    run.wait(5)


def test_a_host_that_falls_silent_is_lost_and_its_data_stays() -> None:
    hub = Hub()
    run = start(hub, ["web-1", "web-2"])
    tell(run, "web-1", 1, counts({"nginx": 5}))
    tell(run, "web-2", 1, counts({"nginx": 7}))
    until(lambda: run.to_dict()["hosts"]["web-2"]["state"] == "lost")
    tell(run, "web-1", 2, {"type": "state", "state": "finished", "attached": True})
    assert run.wait(5)
    assert run.state == "finished"
    assert rows(run)[("web-2", "nginx")] == 7
    assert any("web-2 is lost" in p["message"] for p in run.problems)


def test_the_server_off_the_broker_does_not_lose_its_hosts() -> None:
    hub = Hub(up_for=0.0)
    run = start(hub, ["web-1"])
    tell(run, "web-1", 1, counts({"nginx": 5}))
    time.sleep(1.0)  # past fleet_host_lost_s with nothing heard
    assert run.to_dict()["hosts"]["web-1"]["state"] == "online"
    run.request_stop("user")
    run.wait(5)


def test_a_run_where_every_host_failed_fails_with_their_errors() -> None:
    hub = Hub()
    run = start(hub, ["web-1", "web-2"])
    tell(run, "web-1", 1, {"type": "state", "state": "failed", "error": "no bpftrace"})
    run.tracer.arrive("web-2", "refused", ("other_key", "signed with another key"))  # type: ignore[union-attr]
    assert run.wait(5)
    assert run.state == "failed"
    assert run.error is not None and "web-1: no bpftrace" in run.error and "other_key" in run.error


def test_stopping_sends_each_listening_host_a_stop_and_ends_without_them() -> None:
    hub = Hub()
    run = start(hub, ["web-1", "web-2"], settings(fleet_host_lost_s=30.0))
    tell(run, "web-1", 1, counts({"nginx": 5}))
    run.request_stop("user")
    assert run.wait(5)
    stops = {h for k, _, h, _ in hub.sent if k == "stop"}
    assert stops == {"web-1", "web-2"}
    assert run.state == "stopped"
    assert not hub.runs  # detached: later messages of the run go nowhere


def test_a_host_output_is_prefixed_with_its_name() -> None:
    hub = Hub()
    run = start(hub, ["web-1"], settings(fleet_host_lost_s=30.0))
    tell(run, "web-1", 1, {"type": "output", "lines": ["hello <b>x</b>"], "dropped": 0})
    until(lambda: list(run.output) == ["web-1: hello <b>x</b>"])
    run.request_stop("user")
    run.wait(5)


def beat(name: str, *tags: str) -> Heartbeat:
    return Heartbeat(name=name, sent_at=0.0, tags=list(tags))


def test_hosts_are_picked_by_name_pattern_tag_or_all_and_only_online() -> None:
    now = [100.0]
    d = HostDirectory(lost_after=10, max_hosts=10, clock=lambda: now[0])
    for b in (beat("web-1", "nginx"), beat("web-2", "nginx"), beat("db-1", "db")):
        d.heard(b)
    assert d.pick("*") == ["db-1", "web-1", "web-2"]
    assert d.pick(["web-*"]) == ["web-1", "web-2"]
    assert d.pick(["tag:db", "web-2"]) == ["db-1", "web-2"]
    d.bye("web-2")
    assert d.pick(["web-*"]) == ["web-1"]
    now[0] += 11
    with pytest.raises(NoHosts, match="no online host matches"):
        d.pick("*")
    with pytest.raises(BadHosts):
        d.pick([])
    assert [h["online"] for h in d.to_list()] == [False, False, False]


def test_the_directory_keeps_at_most_max_hosts_forgetting_offline_ones_first() -> None:
    now = [100.0]
    d = HostDirectory(lost_after=10, max_hosts=2, clock=lambda: now[0])
    d.heard(beat("a"))
    d.heard(beat("b"))
    d.heard(beat("c"))
    assert [h["name"] for h in d.to_list()] == ["a", "b"] and d.refused == 1
    now[0] += 11
    d.heard(beat("c"))
    assert [h["name"] for h in d.to_list()] == ["c"]


def test_a_long_host_list_is_shortened_for_the_runs_list() -> None:
    assert host_label(["web-1", "web-2"]) == "web-1, web-2"
    label = host_label([f"web-{i:03d}" for i in range(100)])
    assert label.startswith("100 hosts: web-000, ") and len(label) <= 200


def test_the_tracer_cost_of_a_fleet_run_adds_up_its_hosts_tracers() -> None:
    hub = Hub()
    run = start(hub, ["web-1", "web-2"], settings(fleet_host_lost_s=30.0))
    for seq, (host, cpu, lost) in enumerate((("web-1", 2.5, 3), ("web-2", 1.0, 4)), 1):
        cost = {"tracer_cpu_pct": cpu, "server_cpu_pct": 9.0, "events_lost": lost}
        tell(run, host, seq, counts({"nginx": 5}) | {"cost": cost})
    until(lambda: run.cost()["tracer_cpu_pct"] == 3.5)
    assert run.cost()["events_lost"] == 7
    run.request_stop("user")
    run.wait(5)


def test_the_hub_keeps_every_command_of_a_thousand_host_run_and_one_keepalive_each() -> None:
    from ide.fleet.hub import FleetHub
    from ide.fleet.keys import SharedSecret
    from ide.fleet.signing import Signer

    s = settings(broker="amqp://127.0.0.1:1/", fleet_max_hosts=1000)
    hub = FleetHub(s, Signer(SharedSecret.generate(), s), start=False)
    hosts = [f"web-{i}" for i in range(1000)]
    for host in hosts:
        hub.send("run", "f-1", host, {"script": SCRIPT})
    for _ in range(3):
        for host in hosts:
            hub.send("alive", "f-1", host, {})
    assert hub.link.dropped == 0
    assert len(hub.link._pending) == 2000  # a run each, and the newest keepalive each
