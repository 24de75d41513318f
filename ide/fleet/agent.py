"""``dtrace-ide agent``: one traced host of a fleet (docs/fleet.md).

The agent keeps one link to the broker with a queue of its own for the server's commands.
Each command is verified on the link's thread (cheap, and a forgery costs no more); a
refused one is answered with ``CommandRefused``.  A run is started on the agent's starter
thread, since compiling takes a while, through the agent's own pipeline: its backends,
policy, ``allow_destructive`` and limits.  A forwarder thread per run sends the run's
viewer messages to the server.  One ticker thread sends the heartbeat and stops every run
the server has not spoken of for ``fleet_run_timeout_s``, so that no tracer outlives the
server's run, whether the server or the broker went away.

``close()`` stops all of it: the starter and the ticker, the runs (each forwarder sends
its run's final state), then says ``Bye`` and closes the link.
"""

from __future__ import annotations

import logging
import platform
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from ..config import Settings
from ..tracing.backend import BackendUnavailable
from ..tracing.pipeline import CompileBusy, NoBackend, ScriptPipeline, ScriptRejected
from ..tracing.registry import Backends
from ..tracing.session import LimitExceeded, RunManager
from ..tracing.viewer import Viewer
from ..version import __version__
from .agent_runs import AgentRun, BadRunBody, failed_state, run_request
from .protocol import (
    CONTROL_EXCHANGE,
    DATA_EXCHANGE,
    BackendInfo,
    Bye,
    CommandRefused,
    Heartbeat,
    HostMessage,
    agent_key,
    agent_queue,
    check_name,
    encode,
    host_key,
    run_key,
)
from .signing import Command, Refused, Verifier

log = logging.getLogger(__name__)

# The ticker looks for silent runs this often (and sends a heartbeat when one is due).
WATCH_EVERY_S = 1.0
# Refusals told a second (sent and logged); past this a flood of forgeries is only counted,
# so that it costs the agent a few messages and log lines, and never its runs' messages
# (which the link's pending cap would otherwise drop first when the broker is slow).
REFUSALS_TOLD_PER_S = 10
# AMQP's "resource locked": another connection holds this exclusive queue.
RESOURCE_LOCKED = 405
# Why a run did not start here, each answered with a failed state (``_failure``).
NOT_STARTED = (
    BadRunBody,
    ScriptRejected,
    NoBackend,
    BackendUnavailable,
    CompileBusy,
    LimitExceeded,
)
TIMEOUT_FIX = (
    "check that the server is running and reaches the broker; start the run again from the server"
)


class Link(Protocol):
    """What the agent needs of its broker link (``broker.BrokerLink``)."""

    def publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        *,
        latest: object | None = None,
        expiration_ms: int | None = None,
    ) -> None: ...

    def close(self, timeout: float = 5.0) -> None: ...


class NameTaken(Exception):
    """Another agent of the same name holds this agent's queue on the broker."""


def limits(settings: Settings) -> dict[str, Any]:
    """The limits an agent runs scripts within, as its heartbeat tells the server."""
    s = settings
    return {
        "max_script_bytes": s.max_script_bytes,
        "max_duration_s": s.max_duration_s,
        "min_interval_s": s.min_interval_s,
        "max_interval_s": s.max_interval_s,
        "max_rows_per_aggregation": s.max_rows_per_aggregation,
        # Every fleet run is one client's here, the server's.
        "max_runs": min(s.max_runs_total, s.max_runs_per_client),
        "max_output_lines": s.max_output_lines,
        "fleet_run_timeout_s": s.fleet_run_timeout_s,
    }


def os_name() -> str:
    """The system and its release, as ``uname -sr`` says it: ``Linux 6.1.0-18-amd64``."""
    return f"{platform.system()} {platform.release()}".strip()


class Agent:
    """One host's agent.  ``link`` is made from ``settings.broker`` on ``start()`` unless
    one is given (the tests give their own, and call ``receive`` as the link would)."""

    def __init__(
        self,
        settings: Settings,
        name: str,
        verifier: Verifier,
        *,
        pipeline: ScriptPipeline | None = None,
        link: Link | None = None,
        tags: Sequence[str] | None = None,
        on_connected: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.name = check_name(name)
        self.verifier = verifier
        self.pipeline = pipeline or ScriptPipeline(
            settings, Backends.for_settings(settings), RunManager(settings)
        )
        self.tags = list(settings.fleet_tags if tags is None else tags)
        self._link = link
        self._on_connected = on_connected
        self._clock = clock  # the watchdog's: when the server last spoke of each run
        self._runs: dict[str, AgentRun] = {}  # by the server's run id
        self._lock = threading.Lock()
        self._starts: queue.Queue[tuple[AgentRun, Mapping[str, Any]] | None] = queue.Queue()
        self._closed = threading.Event()
        self._wake = threading.Event()
        self._beat_asked = True
        self._threads: list[threading.Thread] = []
        self._refusals = (0, 0, 0)  # (the second, told in it, not told in it)

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> Agent:
        for status in self.pipeline.backends.statuses():
            if not status.available:
                log.warning("%s cannot trace here: %s", status.name, status.reason)
        if self._link is None:
            from .broker import BrokerLink

            self._link = BrokerLink(
                self.settings.broker,
                setup=self.setup,
                on_message=self.receive,
                on_state=self._link_state,
                reconnect_max_s=self.settings.fleet_reconnect_max_s,
                max_pending=self.settings.fleet_max_pending,
                name=f"agent-{self.name}",
                declares_exchanges=False,  # the server does: docs/fleet.md, the broker
            ).start()
        for target, label in ((self._start_forever, "starter"), (self._tick_forever, "ticker")):
            thread = threading.Thread(target=target, name=f"fleet-{label}", daemon=True)
            self._threads.append(thread)
            thread.start()
        return self

    @property
    def link(self) -> Link:
        assert self._link is not None, "Agent.start() makes the link"
        return self._link

    def close(self) -> None:
        """Stop the runs (their final states are sent), say bye, close the link."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._wake.set()
        self._starts.put(None)
        for thread in self._threads:
            thread.join(self.settings.compile_timeout_s + 5)
        with self._lock:
            forwarders = [e.thread for e in self._runs.values() if e.thread is not None]
        self.pipeline.runs.shutdown()
        for thread in forwarders:
            thread.join(self.settings.stop_grace_s + 5)
        if self._link is not None:
            self._send(Bye(self.name))
            self._link.close()

    @property
    def traced(self) -> list[str]:
        """The server runs this agent traces now (or is starting)."""
        with self._lock:
            return sorted(self._runs)

    # --- the broker -----------------------------------------------------------------------

    def setup(self, channel: Any) -> str:
        """Declare this agent's queue: exclusive, so that a second agent of the same name
        is refused by the broker rather than sharing (and splitting) its commands."""
        import pika.exceptions

        queue_name = agent_queue(self.name)
        try:
            channel.queue_declare(queue_name, exclusive=True, auto_delete=True)
        except pika.exceptions.ChannelClosedByBroker as exc:
            if exc.reply_code != RESOURCE_LOCKED:
                raise
            # The link logs it, and tries again: the other may be this host's agent that
            # has just gone, whose queue the broker has yet to drop.
            raise NameTaken(
                f"another agent named {self.name} is connected to the broker (it holds the "
                f"queue {queue_name}); give each host its own --name"
            ) from None
        channel.queue_bind(queue_name, CONTROL_EXCHANGE, routing_key=agent_key(self.name))
        return queue_name

    def _link_state(self, up: bool) -> None:
        if up:
            log.debug("connected to the broker")
            self._beat_asked = True  # say it is here at once
            self._wake.set()
            if self._on_connected is not None:
                self._on_connected()
        elif not self._closed.is_set():
            log.warning("lost the broker; connecting again")

    def _send(self, message: HostMessage, **kw: Any) -> None:
        self.link.publish(DATA_EXCHANGE, host_key(self.name), encode(message), **kw)

    def _publish_run(self, body: bytes, latest: object | None) -> None:
        self.link.publish(DATA_EXCHANGE, run_key(self.name), body, latest=latest)

    # --- commands (on the link's thread: quick) -------------------------------------------

    def receive(self, routing_key: str, body: bytes) -> None:
        """One message from the agent's queue: verified, then carried out or refused."""
        del routing_key  # the queue is bound to this agent's key alone
        try:
            command = self.verifier.verify(body, time.time(), self.name)
        except Refused as exc:
            self._refuse(exc)
            return
        if command.kind == "run":
            self._accept(command)
        elif command.kind == "stop":
            self._stop(command.run_id)
        else:
            self._alive(command.run_id)

    def _refuse(self, exc: Refused) -> None:
        second, told, untold = self._refusals
        now = int(time.monotonic())
        if now != second:
            if untold:
                log.warning("%d more commands were refused in one second, unlogged", untold)
            second, told, untold = now, 0, 0
        if told >= REFUSALS_TOLD_PER_S:
            self._refusals = (second, told, untold + 1)
            return
        self._refusals = (second, told + 1, untold)
        log.warning("refused a command (%s): %s", exc.reason, exc.message)
        self._send(CommandRefused(self.name, exc.reason, exc.message, exc.run_id))

    def _accept(self, command: Command) -> None:
        with self._lock:
            if self._closed.is_set():
                return
            if command.run_id in self._runs:
                log.info("run %s: traced here already; the run command is ignored", command.run_id)
                return
            entry = AgentRun(command.run_id, self.name, self._publish_run, self._clock())
            self._runs[command.run_id] = entry
        log.info("run %s: starting", command.run_id)
        self._starts.put((entry, command.body))

    def _entry(self, run_id: str) -> AgentRun | None:
        with self._lock:
            return self._runs.get(run_id)

    def _stop(self, run_id: str) -> None:
        entry = self._entry(run_id)
        if entry is None:
            log.info("run %s: a stop for a run not traced here; nothing to stop", run_id)
            return
        with entry.lock:
            entry.stop_asked = True
            run = entry.run
        if run is not None:
            log.info("run %s: stopped by the server", run_id)
            self.pipeline.runs.stop(run, "user", wait=False)

    def _alive(self, run_id: str) -> None:
        entry = self._entry(run_id)
        if entry is not None:
            entry.heard(self._clock())

    # --- runs (on the starter's thread) ---------------------------------------------------

    def _start_forever(self) -> None:
        while (item := self._starts.get()) is not None:
            entry, body = item
            try:
                self._start(entry, body)
            except Exception:
                log.exception("run %s: starting it failed", entry.run_id)
                self._failed(entry, "internal_error", "the agent failed to start the run")

    def _start(self, entry: AgentRun, body: Mapping[str, Any]) -> None:
        if self._closed.is_set():
            self._failed(entry, "agent_stopping", f"the agent on {self.name} is stopping")
            return
        try:
            run = self.pipeline.start(run_request(body, self.settings))
        except NOT_STARTED as exc:
            code, diagnostics = _failure(exc)
            self._failed(entry, code, str(exc), diagnostics)
            return
        viewer = run.add_viewer()
        viewer.charts = False  # the server draws the merged charts
        with entry.lock:
            entry.run = run
            stop = entry.stop_asked
        entry.thread = threading.Thread(
            target=self._forward, args=(entry, viewer), name=f"fleet-run-{run.id}", daemon=True
        )
        entry.thread.start()
        if stop or self._closed.is_set():
            self.pipeline.runs.stop(run, "user", wait=False)

    def _failed(
        self, entry: AgentRun, code: str, error: str, diagnostics: Sequence[Any] = ()
    ) -> None:
        log.warning("run %s: not started: %s", entry.run_id, error)
        entry.send(failed_state(code, error, diagnostics))
        with self._lock:
            if self._runs.get(entry.run_id) is entry:
                del self._runs[entry.run_id]

    def _forward(self, entry: AgentRun, viewer: Viewer) -> None:
        run = entry.run
        assert run is not None
        try:
            entry.forward(viewer, self.settings.stop_grace_s)
        except Exception:
            log.exception("run %s: forwarding its messages failed", entry.run_id)
        finally:
            run.remove_viewer(viewer)
            with self._lock:
                if self._runs.get(entry.run_id) is entry:
                    del self._runs[entry.run_id]
        log.info("run %s: %s", entry.run_id, run.state)

    # --- heartbeat and watchdog (on the ticker's thread) ----------------------------------

    def _tick_forever(self) -> None:
        beat_every = self.settings.fleet_heartbeat_s
        next_beat = 0.0
        while not self._closed.is_set():
            now = time.monotonic()
            try:
                if self._beat_asked or now >= next_beat:
                    self._beat_asked = False
                    next_beat = now + beat_every
                    self.send_heartbeat()
                self.watch()
            except Exception:
                log.exception("the agent's heartbeat or watchdog failed")
            self._wake.wait(max(0.0, min(WATCH_EVERY_S, next_beat - now)))
            self._wake.clear()

    def heartbeat(self) -> Heartbeat:
        statuses = self.pipeline.backends.statuses()
        return Heartbeat(
            name=self.name,
            sent_at=time.time(),
            os=os_name(),
            version=__version__,
            backends=[BackendInfo(b.name, b.language, b.available, b.version) for b in statuses],
            tags=list(self.tags),
            limits=limits(self.settings),
            runs=self.traced,
            allow_destructive=self.settings.allow_destructive,
        )

    def send_heartbeat(self) -> None:
        # An unsent heartbeat is replaced by the next; one older than the server's "lost"
        # horizon says nothing, so the broker drops it.
        expiry = int(self.settings.fleet_host_lost_s * 1000)
        self._send(self.heartbeat(), latest="heartbeat", expiration_ms=expiry)

    def watch(self, now: float | None = None) -> None:
        """Stop each run the server has not spoken of (its run command, or an alive) for
        ``fleet_run_timeout_s``, telling it why first."""
        timeout = self.settings.fleet_run_timeout_s
        now = self._clock() if now is None else now
        with self._lock:
            entries = list(self._runs.values())
        for entry in entries:
            run = entry.run
            silent = now - entry.last_word
            if run is None or not run.active or entry.timed_out or silent <= timeout:
                continue
            entry.timed_out = True
            message = f"no word from the server for {int(silent)} s: the agent stopped the tracer"
            log.warning("run %s: %s", entry.run_id, message)
            entry.send({"type": "error", "message": message, "fix": TIMEOUT_FIX, "count": 1})
            self.pipeline.runs.stop(run, "disconnect", wait=False)


def _failure(exc: Exception) -> tuple[str, list[dict[str, Any]]]:
    """A run that did not start: the API's error code for why, and the diagnostics."""
    if isinstance(exc, BadRunBody):
        return exc.code, []
    if isinstance(exc, ScriptRejected):
        code = "script_refused" if exc.result.refused else "compile_error"
        return code, [d.to_dict() for d in exc.result.diagnostics]
    if isinstance(exc, CompileBusy):
        return "too_many_compiles", []
    if isinstance(exc, LimitExceeded):
        return "too_many_runs", []
    return "backend_unavailable", []
