"""A fleet run as the server's run machinery sees it: one ``Tracer`` whose events are the
merged hosts.

``FleetTracer`` sends the signed run command to each picked host (through the hub), takes
what the agents send back (from the hub's thread, into a queue), and reports on its own
schedule, once per interval, the merged by-host snapshot (``FleetMerge.by_host``) as
``AggregationData`` and a ``Tick``: the run's snapshots, its record, its charts and its
viewers work as for a local run.  A host's output lines come prefixed with its name; its
problems, and the fleet's own (a host lost, back, failed), as ``Problem``.  The run ends
when no host is still sending, or when stopped: the hosts are sent a signed stop and given
``stop_grace_s`` to send their last snapshot.  The merge never waits on a slow host.
"""

from __future__ import annotations

import queue
import secrets
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from ide.config import Settings
from ide.tracing.backend import BackendStatus, RunSpec
from ide.tracing.model import (
    AggregationData,
    Attached,
    CompileResult,
    Exited,
    Language,
    Output,
    Problem,
    Snapshot,
    Tick,
    TracerEvent,
)

from .merge import LISTENING, FleetMerge, HostStatus, MergedSnapshot

if TYPE_CHECKING:
    from ide.tracing.backend import Backend


class CommandSender(Protocol):
    """What a fleet run needs of the hub: to send its signed commands to its hosts."""

    def send(self, kind: str, run_id: str, host: str, body: Mapping[str, Any]) -> None: ...

    def connected_for(self) -> float:
        """Seconds the server has been connected to the broker (0 while it is not)."""

    def attach(self, run_id: str, tracer: FleetTracer) -> None: ...

    def detach(self, run_id: str) -> None: ...


@dataclass(frozen=True)
class FleetRequest:
    """What every host is asked to run (the agent applies its own limits and policy)."""

    language: Language
    script: str
    duration: float
    interval: float
    options: Mapping[str, int]
    via: str = "auto"

    def body(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "script": self.script,
            "duration": self.duration,
            "interval": self.interval,
            "options": dict(self.options),
            "via": self.via,
        }


class FleetBackend:
    """The ``Backend`` a fleet run is started on: its hosts, picked before the run starts.
    ``local`` is this server's own backend for the language, if it has one: scripts are
    compiled with it first, so that errors point at their line before any host sees them."""

    name = "fleet"

    def __init__(
        self,
        hub: CommandSender,
        hosts: list[str],
        request: FleetRequest,
        settings: Settings,
        local: Backend | None = None,
    ) -> None:
        self.hub = hub
        self.hosts = hosts
        self.request = request
        self.settings = settings
        self.language = request.language
        self.local = local
        self.tracer: FleetTracer | None = None

    def status(self) -> BackendStatus:
        return BackendStatus(self.name, self.language, True)

    def compile(self, script: str) -> CompileResult:
        if self.local is None:
            return CompileResult(True, ())  # each agent compiles it, and says so if it fails
        return self.local.compile(script)

    def start(self, script: str, spec: RunSpec) -> FleetTracer:
        self.tracer = FleetTracer(self.hub, self.hosts, self.request, self.settings)
        self.tracer.begin()
        return self.tracer

    def list_probes(self) -> list[str]:
        return self.local.list_probes() if self.local is not None else []


# What the hub hands a run, from its thread: (host, kind, payload).
Arrival = tuple[str, str, Any]


class FleetTracer:
    def __init__(
        self, hub: CommandSender, hosts: list[str], request: FleetRequest, settings: Settings
    ) -> None:
        self.hub = hub
        self.hosts = list(hosts)
        self.host_set = frozenset(hosts)
        self.request = request
        self.settings = settings
        self.run_id = "f-" + secrets.token_urlsafe(9)
        self.merge = FleetMerge(
            hosts, lost_after=settings.fleet_host_lost_s, max_rows=settings.max_rows_per_aggregation
        )
        self._arrivals: queue.Queue[Arrival] = queue.Queue(maxsize=10_000)
        self._stop = threading.Event()
        self._killed = threading.Event()
        self._attached = False
        self._said: dict[str, str] = {}  # host -> the state last reported as a problem
        self.overflow = 0
        self.costs: dict[str, dict[str, Any]] = {}  # host -> its latest snapshot's cost

    @property
    def pid(self) -> int | None:
        return None

    # --- from the hub's thread ----------------------------------------------------------

    def begin(self) -> None:
        self.hub.attach(self.run_id, self)
        for host in self.hosts:
            self.hub.send("run", self.run_id, host, self.request.body())

    def arrive(self, host: str, kind: str, payload: Any) -> None:
        """A message for this run: kind ``message`` (a RunMessage's (seq, msg)), ``refused``
        ((reason, message)), ``heard`` (a heartbeat) or ``bye``.  Never blocks."""
        if kind == "heard":
            self.merge.heard(host)
            return
        try:
            self._arrivals.put_nowait((host, kind, payload))
        except queue.Full:
            self.overflow += 1

    # --- the Tracer protocol ----------------------------------------------------------------

    def stop(self) -> None:
        self._stop.set()
        self._arrivals.put(("", "wake", None))

    def kill(self) -> None:
        self._killed.set()
        self.stop()

    def events(self) -> Iterator[TracerEvent]:
        try:
            yield from self._events()
        finally:
            for host in self._listening():
                self.hub.send("stop", self.run_id, host, {})
            self.hub.detach(self.run_id)

    def _events(self) -> Iterator[TracerEvent]:
        interval = self.request.interval
        next_tick = time.monotonic() + interval
        stop_deadline: float | None = None
        version = -1
        while True:
            now = time.monotonic()
            if self._stop.is_set() and stop_deadline is None:
                stop_deadline = now + self.settings.stop_grace_s
                for host in self._listening():
                    self.hub.send("stop", self.run_id, host, {})
            try:
                host, kind, payload = self._arrivals.get(timeout=max(0.0, next_tick - now))
                yield from self._arrival(host, kind, payload)
            except queue.Empty:
                pass
            if time.monotonic() >= next_tick:
                next_tick += interval * max(1, int((time.monotonic() - next_tick) / interval) + 1)
                yield from self._expire()
                merged = self.merge.by_host()
                if self.merge.version != version:
                    version = self.merge.version
                    yield from self._snapshot(merged)
            ended = not self.merge.running()
            late = stop_deadline is not None and time.monotonic() >= stop_deadline
            if ended or late or self._killed.is_set():
                yield from self._snapshot(self.merge.by_host())
                yield self._exited()
                return

    def _listening(self) -> list[str]:
        return [h for h, s in self.merge.hosts().items() if s.state in LISTENING]

    def _snapshot(self, merged: MergedSnapshot) -> Iterator[TracerEvent]:
        for agg in merged.snapshot.aggregations:
            yield AggregationData(agg)
        if merged.snapshot.aggregations:
            yield Tick()

    def _arrival(self, host: str, kind: str, payload: Any) -> Iterator[TracerEvent]:
        if kind == "message":
            seq, msg = payload
            yield from self._message(host, seq, msg)
        elif kind == "refused":
            reason, message = payload
            self.merge.finish(host, f"refused the run ({reason}): {message}")
            yield from self._host_states()
        elif kind == "bye":
            self.merge.mark_lost(host)
            yield from self._host_states()

    def _message(self, host: str, seq: int, msg: dict[str, Any]) -> Iterator[TracerEvent]:
        kind = msg.get("type")
        if kind == "snapshot":
            try:
                snap = msgspec.convert(msg.get("snapshot"), Snapshot)
            except msgspec.ValidationError:
                return
            if self.merge.offer(host, snap, seq) and isinstance(msg.get("cost"), dict):
                self.costs[host] = msg["cost"]
        elif kind == "output":
            lines = msg.get("lines")
            if isinstance(lines, list) and lines:
                yield Output(
                    "".join(f"{host}: {line}\n" for line in lines if isinstance(line, str))
                )
        elif kind in {"error", "note"}:
            yield Problem(
                f"{host}: {msg.get('message')}",
                msg.get("fix") if isinstance(msg.get("fix"), str) else None,
                "note" if kind == "note" else "error",
            )
        elif kind == "state":
            yield from self._state(host, msg)
            yield from self._host_states()
        # A snapshot's host coming back is said at the next interval (_expire): looking at
        # every host for every message would cost hosts x messages a second.

    def _state(self, host: str, msg: dict[str, Any]) -> Iterator[TracerEvent]:
        self.merge.heard(host)
        if msg.get("attached") and not self._attached:
            self._attached = True
            probes = msg.get("probes")
            yield Attached(probes if isinstance(probes, int) else 0)
        state = msg.get("state")
        if state == "failed":
            self.merge.finish(host, str(msg.get("error") or "the tracer failed"))
        elif state in {"finished", "stopped"}:
            self.merge.finish(host)

    def _expire(self) -> Iterator[TracerEvent]:
        # The server's own time off the broker is not the hosts' fault.
        if self.hub.connected_for() >= self.settings.fleet_host_lost_s:
            self.merge.expire()
        yield from self._host_states()

    def _host_states(self) -> Iterator[TracerEvent]:
        for host, status in self.merge.hosts().items():
            if self._said.get(host, "waiting") == status.state or status.state == "online":
                if status.state == "online":
                    self._said.setdefault(host, "online")
                continue
            self._said[host] = status.state
            problem = _host_problem(host, status, self.settings.fleet_host_lost_s)
            if problem is not None:
                yield problem

    def _exited(self) -> Exited:
        hosts = self.merge.hosts()
        failed = {h: s.error for h, s in hosts.items() if s.state == "failed"}
        if self._killed.is_set() or not hosts or len(failed) < len(hosts):
            return Exited(0)
        detail = "; ".join(f"{h}: {e}" for h, e in failed.items())
        return Exited(1, f"every host failed: {detail}")


def _host_problem(host: str, status: HostStatus, lost_after: float) -> Problem | None:
    if status.state == "lost":
        return Problem(
            f"{host} is lost: nothing heard from it for {lost_after:.0f} s; its last data "
            "stays in the charts, marked, and the run goes on with the other hosts",
            "see whether its agent runs (systemctl status dtrace-ide-agent) and reaches the broker",
        )
    if status.state == "returned":
        return Problem(
            f"{host} is back: its data is charted again (its tracer was never restarted)",
            severity="note",
        )
    if status.state == "failed":
        return Problem(f"{host} failed: {status.error}")
    return None  # finished: the host strip says so; fifty notes would say nothing
