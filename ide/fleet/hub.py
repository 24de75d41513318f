"""The server's side of the fleet: its broker link, the hosts it has heard of, its runs.

The hub consumes one queue of its own (``dtrace-ide.server.ID``, exclusive: it goes with
the connection) bound to every host's heartbeats and run messages; it keeps the host
directory from the heartbeats and hands each run message to its fleet run's tracer.  It
signs every command it sends (``signing.Signer``), and tells the hosts of each fleet run
every ``fleet_keepalive_s`` that the run goes on, so that an agent whose server is gone
stops its tracer by itself.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from pika.adapters.blocking_connection import BlockingChannel

from ide.config import Settings
from ide.tracing.pipeline import RunRequest, ScriptPipeline, ScriptRejected, way_of
from ide.tracing.policy import check_script
from ide.tracing.session import Run

from . import protocol as p
from .broker import BrokerLink, redact
from .hosts import HostDirectory
from .keys import load_signing_key
from .merge import LISTENING
from .run import FleetRun, host_label
from .signing import CommandKind, Signer
from .tracer import FleetBackend, FleetRequest, FleetTracer

log = logging.getLogger(__name__)


class NoBroker(Exception):
    """A fleet run asked of a server without a broker."""


class FleetHub:
    def __init__(self, settings: Settings, signer: Signer, *, start: bool = True) -> None:
        self.settings = settings
        self.signer = signer
        self.directory = HostDirectory(
            lost_after=settings.fleet_host_lost_s, max_hosts=settings.fleet_max_hosts
        )
        self.queue = p.SERVER_QUEUE_PREFIX + secrets.token_hex(6)
        self._runs: dict[str, FleetTracer] = {}
        self._lock = threading.Lock()
        self._up_since: float | None = None
        self._closed = threading.Event()
        self.bad_messages = 0
        self.link = BrokerLink(
            settings.broker,
            setup=self._setup,
            on_message=self._message,
            on_state=self._link_state,
            reconnect_max_s=settings.fleet_reconnect_max_s,
            # Every host of a run is sent its command at once: room for a run, a stop and a
            # keepalive to each host there can be, so that none is dropped while connected.
            max_pending=max(settings.fleet_max_pending, 4 * settings.fleet_max_hosts),
            name="server",
        )
        self._keepalive = threading.Thread(
            target=self._keep_alive, name="fleet-keepalive", daemon=True
        )
        if start:
            self.link.start()
            self._keepalive.start()

    @classmethod
    def for_settings(cls, settings: Settings, *, start: bool = True) -> FleetHub:
        """The hub of a server started with ``--broker``: it needs ``--fleet-key``."""
        if not settings.fleet_key:
            raise ValueError(
                "--broker needs --fleet-key FILE, the key the server signs its commands "
                "with (make one with: dtrace-ide fleet-key FILE)"
            )
        from pathlib import Path

        signer = Signer(load_signing_key(Path(settings.fleet_key)), settings)
        return cls(settings, signer, start=start)

    # --- the link -------------------------------------------------------------------------

    def _setup(self, channel: BlockingChannel) -> str:
        channel.queue_declare(self.queue, exclusive=True, auto_delete=True)
        for key in p.SERVER_BINDINGS:
            channel.queue_bind(self.queue, p.DATA_EXCHANGE, key)
        return self.queue

    def _link_state(self, up: bool) -> None:
        self._up_since = time.monotonic() if up else None

    def connected_for(self) -> float:
        since = self._up_since
        return 0.0 if since is None else time.monotonic() - since

    def broker_status(self) -> dict[str, Any]:
        return {
            "connected": self.link.connected.is_set(),
            "url": redact(self.settings.broker),
            "error": self.link.last_error,
        }

    def _message(self, routing_key: str, body: bytes) -> None:
        try:
            message = p.decode(body, routing_key, self.settings.fleet_max_message_bytes)
        except p.BadMessage as exc:
            self.bad_messages += 1
            log.warning("fleet: dropped a message under %s: %s", routing_key[:80], exc)
            return
        if isinstance(message, p.RunMessage):
            tracer = self._runs.get(message.run_id)
            if tracer is not None:
                tracer.arrive(message.host, "message", (message.seq, message.msg))
        elif isinstance(message, p.Heartbeat):
            self.directory.heard(message)
            for tracer in self._tracers_of(message.name, message.runs):
                tracer.arrive(message.name, "heard", None)
        elif isinstance(message, p.Bye):
            self.directory.bye(message.name)
            for tracer in self._tracers_of(message.name):
                tracer.arrive(message.name, "bye", None)
        else:  # refused: a run it names, else the runs still waiting for that host
            # Only while waiting: a host already tracing the run that refuses a copy of its
            # command (a replay someone else sent) is not failed by it.
            for tracer in self._tracers_of(message.name, waiting=True):
                if message.run_id in (None, tracer.run_id):
                    tracer.arrive(message.name, "refused", (message.reason, message.message))

    def _tracers_of(
        self, host: str, runs: Sequence[str] | None = None, waiting: bool = False
    ) -> list[FleetTracer]:
        with self._lock:
            tracers = [t for t in self._runs.values() if host in t.host_set]
        if runs is not None:
            tracers = [t for t in tracers if t.run_id in runs]
        if waiting:
            tracers = [t for t in tracers if t.merge.state(host) == "waiting"]
        return tracers

    # --- what fleet runs ask (the CommandSender protocol) ----------------------------------

    def attach(self, run_id: str, tracer: FleetTracer) -> None:
        with self._lock:
            self._runs[run_id] = tracer

    def detach(self, run_id: str) -> None:
        with self._lock:
            self._runs.pop(run_id, None)

    def send(self, kind: str, run_id: str, host: str, body: Mapping[str, Any]) -> None:
        command_kind: CommandKind = (
            "run" if kind == "run" else "stop" if kind == "stop" else "alive"
        )
        signed = self.signer.sign(command_kind, run_id, body, agent=host)
        # A command that waited in a queue past its validity would be refused anyway.
        ttl_ms = int(self.settings.fleet_command_ttl_s * 1000)
        # An unsent keepalive is replaced by the next; runs and stops are each sent.
        latest = (run_id, host, "alive") if command_kind == "alive" else None
        self.link.publish(
            p.CONTROL_EXCHANGE, p.agent_key(host), signed, latest=latest, expiration_ms=ttl_ms
        )

    def _keep_alive(self) -> None:
        while not self._closed.wait(self.settings.fleet_keepalive_s):
            with self._lock:
                tracers = list(self._runs.values())
            for tracer in tracers:
                # Lost hosts too: one that is only cut off keeps its tracer for its return.
                for host, status in tracer.merge.hosts().items():
                    if status.state in LISTENING or status.state == "lost":
                        self.send("alive", tracer.run_id, host, {})

    # --- starting a run -------------------------------------------------------------------

    def start_run(
        self, pipeline: ScriptPipeline, req: RunRequest, selectors: str | Sequence[str]
    ) -> Run:
        """A fleet run of ``req`` on the online hosts ``selectors`` pick.  Raises
        ``hosts.BadHosts``, ``hosts.NoHosts``, and ``pipeline.start``'s errors."""
        hosts = self.directory.pick(selectors)
        local = pipeline.backends.get(req.language, req.via)
        if local is not None:  # errors at their line before any host sees the script
            result = pipeline.compile(req.language, req.script, req.via)
        else:
            result = _policy_only(req, self.settings)
        if not result.ok:
            raise ScriptRejected(result)
        request = FleetRequest(
            req.language, req.script, req.duration, req.interval, dict(req.options or {}), req.via
        )
        backend = FleetBackend(self, hosts, request, self.settings, local)
        return pipeline.launch(
            req,
            backend,
            way_of(local) if local is not None else None,
            run_type=lambda *a, **kw: _labelled(FleetRun(*a, **kw), host_label(hosts)),
        )

    def close(self) -> None:
        self._closed.set()
        self.link.close()


def _labelled(run: FleetRun, label: str) -> FleetRun:
    run.host_label = label  # before the run is recorded: the Runs list names its hosts
    return run


def _policy_only(req: RunRequest, settings: Settings) -> Any:
    from ide.tracing.model import CompileResult

    refused = check_script(req.script, req.language, settings)
    return CompileResult(not refused, tuple(refused), refused=bool(refused))
