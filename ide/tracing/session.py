"""Runs: one tracer each, its data, its viewers, and the owner that stops it.

A ``Run`` consumes its tracer's events on its own thread and keeps the latest snapshot and
a bounded tail of output; it hands each snapshot to the renderer it was given (see
``render``), which keeps a bounded history and builds the panels.  Viewers (websockets)
each get a bounded queue in which the newest snapshot replaces an unsent one, so a slow
viewer never slows the tracer or the other viewers.  ``RunManager`` enforces the limits and
runs one reaper thread that ends runs past their duration, runs nobody watches, and tracers
that ignore a stop.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from typing import Any, Literal

from ..config import Settings
from .backend import Backend, RunSpec, Tracer
from .cost import CostMeter
from .model import (
    Aggregation,
    AggregationData,
    Attached,
    Exited,
    Language,
    Output,
    Problem,
    Snapshot,
    Tick,
    TracerEvent,
)
from .problems import ProblemLog
from .reaper import REAPER_POLL_S, reap
from .recording import RunRecorder
from .render import Renderer, RunHistory
from .scriptinfo import maps_reset_by_script
from .viewer import Viewer

log = logging.getLogger(__name__)

State = Literal["running", "finished", "stopped", "failed"]
StopReason = Literal["user", "duration", "disconnect", "unwatched", "shutdown"]
FINISHED_RUNS_KEPT = 32
# The reaper sleeps until the next deadline it knows of; waking often costs CPU for nothing
# (about 1 ms a second at 10 Hz), so it wakes at least this often, and more often only
# while a run has yet to attach (its duration starts then).
# A tracer whose own output floods can lose the prints that make its snapshots (bpftrace's
# interval probe shares the ring buffer with printf): past this many intervals (and the
# grace) without one while output still comes, the run says so instead of going quiet.
STARVED_INTERVALS = 4
STARVED_GRACE_S = 2.0
STARVED_MESSAGE = (
    "no snapshot for {s:.0f} s while the script's output floods: the tracer is losing the "
    "prints that make the snapshots, so the charts are behind"
)
STARVED_FIX = (
    "print less (aggregate instead of printf on every event), or keep the tracer's own "
    'activity out of the probe (in bpftrace: /comm != "bpftrace"/)'
)


class LimitExceeded(Exception):
    """A run would pass one of the server's caps; the message names it."""


class Run:
    # The viewer link's expiry and revocation, beside its viewer_key (viewer_link.py).
    viewer_expires_at: float | None = None
    viewer_revoked_at: float | None = None
    host_label: str | None = None  # where it ran, when not this server (a fleet run's hosts)

    def __init__(
        self,
        settings: Settings,
        language: Language,
        script: str,
        duration: float,
        interval: float,
        options: dict[str, int],
        keep_running: bool,
        client: str,
        on_end: Callable[[Run], None] | None = None,
        renderer: Renderer | None = None,
    ) -> None:
        self.settings = settings
        self.id = secrets.token_urlsafe(9)
        self.viewer_key = secrets.token_urlsafe(18)
        self.language = language
        self.script = script
        self.duration = duration
        self.interval = interval
        self.options = options
        self.keep_running = keep_running
        self.client = client
        self.via: str | None = None  # D: "libdtrace", or "bpftrace" (translated)
        self.parent: str | None = None  # the run this one drills down from
        self.drill: dict[str, Any] | None = None
        self.created = time.monotonic()
        self.attached_at: float | None = None
        self.ended_at: float | None = None
        self.state: State = "running"
        self.error: str | None = None
        self.stop_reason: StopReason | None = None
        self.stop_requested_at: float | None = None
        self.probes = 0
        self.snapshot: Snapshot | None = None
        self.seq = 0
        self.output: deque[str] = deque(maxlen=settings.max_output_lines)
        self.dropped_output = 0
        self._last_tick_at: float | None = None
        self._starved_said = False
        self.problem_log = ProblemLog()
        self.viewers: list[Viewer] = []
        self.ever_watched = False
        self.unwatched_since = self.created
        self.tracer: Tracer | None = None
        self._aggs: dict[str, Aggregation] = {}
        self._partial = ""
        self._rate_window = 0
        self._rate_bytes = 0
        self._rate_msgs = 0
        self._lock = threading.RLock()
        self._charts_lock = threading.Lock()
        self._panels: dict[tuple[int, bool], list[dict[str, Any]]] = {}
        self._renderer = renderer
        self._history: RunHistory | None = None
        self._on_end = on_end
        self.recorder: RunRecorder | None = None
        self.events_lost = 0
        self.meter = CostMeter()
        self.done = threading.Event()

    # --- lifecycle ----------------------------------------------------------------------

    def start(self, backend: Backend) -> None:
        spec = RunSpec(interval=self.interval, options=dict(self.options))
        self.tracer = backend.start(self.script, spec)
        reader = threading.Thread(target=self._consume, name=f"run-{self.id}", daemon=True)
        self.meter.reader = reader
        reader.start()

    @property
    def active(self) -> bool:
        return not self.done.is_set()

    def elapsed(self) -> float:
        start = self.attached_at or self.created
        end = self.ended_at or time.monotonic()
        return max(0.0, end - start)

    def request_stop(self, reason: StopReason) -> None:
        with self._lock:
            if not self.active or self.stop_requested_at is not None:
                return
            self.stop_reason = reason
            self.stop_requested_at = time.monotonic()
        if self.tracer is not None:
            self.tracer.stop()

    def kill(self) -> None:
        if self.tracer is not None and self.active:
            self.tracer.kill()

    def wait(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)

    def _consume(self) -> None:
        assert self.tracer is not None
        try:
            for event in self.tracer.events():
                self._handle(event)
        except Exception as exc:  # a backend bug must still end the run visibly
            log.exception("run %s: tracer events failed", self.id)
            self._finish(Exited(None, f"internal error reading the tracer: {exc}"))

    def _handle(self, event: TracerEvent) -> None:
        if isinstance(event, AggregationData):
            agg = event.aggregation
            with self._lock:
                self._aggs[agg.name] = agg
        elif isinstance(event, Tick):
            self._last_tick_at = time.monotonic()
            self._publish_snapshot()
            self._held_problems()
        elif isinstance(event, Output):
            self._output(event.text)
            self._check_starved()
        elif isinstance(event, Attached):
            with self._lock:
                self.attached_at = time.monotonic()
                self.probes = event.probes
            self._broadcast(self.state_message())
        elif isinstance(event, Problem):
            self.events_lost += event.lost
            self._problem(event.message, event.fix, event.severity)
        elif isinstance(event, Exited):
            self._finish(event)

    def _finish(self, event: Exited) -> None:
        with self._lock:
            if self.done.is_set():
                return
            self._output("", flush=True)
            self.ended_at = time.monotonic()
            if event.error:
                self.state = "failed"
                self.error = event.error
            elif self.stop_reason in {"user", "disconnect", "unwatched", "shutdown"}:
                self.state = "stopped"
            else:
                self.state = "finished"
            self.done.set()
        self._broadcast(self.state_message())
        for v in list(self.viewers):
            v.end()
        if self._on_end is not None:
            self._on_end(self)

    def restore(
        self, snapshots: Sequence[Snapshot], output: Sequence[str],
        problems: Sequence[dict[str, Any]], state: State, error: str | None, elapsed: float,
    ) -> None:  # fmt: skip
        """Make this the ended run a record describes (a recorded run opened again)."""
        now = time.monotonic()
        history = self._chart_history()
        with self._lock:
            self.attached_at, self.ended_at = now - elapsed, now
            self.state, self.error = state, error
            self.output.extend(output)
            for p in problems:
                self.problem_log.record(p["message"], p.get("fix"), p.get("severity", "error"))
            for snap in snapshots:
                self.snapshot, self.seq = snap, self.seq + 1
                if history is not None:
                    history.add(snap)
        self.done.set()

    # --- data ---------------------------------------------------------------------------

    def _publish_snapshot(self) -> None:
        with self._lock:
            if not self._aggs and self.snapshot is None:
                return
            cap = self.settings.max_rows_per_aggregation
            aggs = tuple(a.capped(cap) for a in self._aggs.values())
            t = time.monotonic() - (self.attached_at or self.created)
            snap = Snapshot(t, aggs)
            self.snapshot = snap
            self.seq += 1
            if self.recorder is not None:
                self.recorder.snapshot(self, snap, self.seq)
        history = self._chart_history()
        if history is not None:
            with self._charts_lock:
                self._chart(history, snap)
                self._panels.clear()
        for v in list(self.viewers):
            v.snapshot_ready()

    def _chart(self, history: RunHistory, snap: Snapshot) -> None:
        history.add(snap)

    def _chart_history(self) -> RunHistory | None:
        if self._history is None and self._renderer is not None:
            self._history = self._renderer.history(
                max_points=self.settings.max_history_snapshots,
                reset_by_script=maps_reset_by_script(self.script, self.language),
            )
        return self._history

    def panels(self, per_interval: bool) -> list[dict[str, Any]]:
        """The latest snapshot's panels from the run's renderer (none without one), built
        once per snapshot and view mode."""
        with self._charts_lock:
            snap = self.snapshot
            if snap is None or self._renderer is None or self._history is None:
                return []
            cache_key = (self.seq, per_interval)
            cached = self._panels.get(cache_key)
            if cached is None:
                cached = self._renderer.panels(snap, self._history, per_interval=per_interval)
                self._panels[cache_key] = cached
            return cached

    def snapshot_message(
        self, per_interval: bool, with_charts: bool, by_host: bool = False
    ) -> dict[str, Any] | None:
        snap = self.snapshot
        if snap is None:
            return None
        msg: dict[str, Any] = {"type": "snapshot", "snapshot": snap.to_dict(), "cost": self.cost()}
        if with_charts and self._renderer is not None:
            msg["panels"] = self.panels(per_interval)
        return msg

    def _output(self, text: str, flush: bool = False) -> None:
        with self._lock:
            data = self._partial + text
            lines = data.split("\n")
            self._partial = lines.pop()
            if flush and self._partial:
                lines.append(self._partial)
                self._partial = ""
            elif len(self._partial) > self.settings.max_line_bytes:
                lines.append(self._partial[: self.settings.max_line_bytes])
                self._partial = ""
            kept = self._within_rate(lines)
            self.output.extend(kept)
            dropped = self.dropped_output
        if kept or dropped:
            self._broadcast({"type": "output", "lines": kept, "dropped": dropped})

    def _within_rate(self, lines: list[str]) -> list[str]:
        """The lines that fit this second's output budget; the rest are counted dropped."""
        second = int(time.monotonic())
        if second != self._rate_window:
            self._rate_window, self._rate_bytes, self._rate_msgs = second, 0, 0
        max_bytes = self.settings.max_output_bytes_per_s
        max_msgs = self.settings.max_output_messages_per_s
        kept: list[str] = []
        for line in lines:
            self._rate_bytes += len(line) + 1
            self._rate_msgs += 1
            if self._rate_bytes > max_bytes or self._rate_msgs > max_msgs:
                self.dropped_output += 1
            else:
                kept.append(line)
        return kept

    @property
    def problems(self) -> list[dict[str, Any]]:
        """Every kind of problem so far: message (with its running total), fix, count."""
        with self._lock:
            return [dict(e) for e in self.problem_log.entries.values()]

    def _problem(self, message: str, fix: str | None, severity: str = "error") -> None:
        with self._lock:
            entry = self.problem_log.record(message, fix, severity)
            entry = dict(entry) if entry else None
        if entry is not None:
            self._broadcast(_problem_message(entry))

    def _check_starved(self) -> None:
        since = self._last_tick_at or self.attached_at
        if since is None or self._starved_said:
            return
        quiet = time.monotonic() - since
        if quiet > STARVED_INTERVALS * self.interval + STARVED_GRACE_S:
            self._starved_said = True
            self._problem(STARVED_MESSAGE.format(s=quiet), STARVED_FIX)

    def _held_problems(self) -> None:
        """Problems held back by their rate go out with each snapshot."""
        with self._lock:
            held = [dict(e) for e in self.problem_log.held()]
        for entry in held:
            self._broadcast(_problem_message(entry))

    # --- viewers ------------------------------------------------------------------------

    def add_viewer(self, *, keep_open: bool = False) -> Viewer:
        viewer = Viewer(self, self.settings.viewer_queue_size, keep_open=keep_open)
        with self._lock:
            self.viewers.append(viewer)
            self.ever_watched = True
        viewer.push(self.state_message())
        if self.output:
            viewer.push({"type": "output", "lines": list(self.output), "dropped": 0})
        for p in self.problems:
            viewer.push(_problem_message(p))
        if self.snapshot is not None:
            viewer.snapshot_ready()
        if not self.active:
            viewer.end()  # it gets the final state and snapshot, then the stream ends
        return viewer

    def remove_viewer(self, viewer: Viewer) -> None:
        viewer.close()
        with self._lock:
            if viewer in self.viewers:
                self.viewers.remove(viewer)
            if not self.viewers:
                self.unwatched_since = time.monotonic()

    def _broadcast(self, msg: dict[str, Any]) -> None:
        if self.recorder is not None:
            self.recorder.message(self, msg)
        for v in list(self.viewers):
            v.push(dict(msg, lines=list(msg["lines"])) if "lines" in msg else msg)

    def snapshot_json(self, snapshot: Snapshot, seq: int) -> bytes:
        return self.meter.snapshot_json(snapshot, seq)

    def cost(self) -> dict[str, Any]:
        """What tracing costs (ide/tracing/cost.py)."""
        tracer = self.tracer.pid if self.active and self.tracer else None
        return self.meter.measure(tracer, self.elapsed(), self.snapshot, self.seq, self.events_lost)

    # --- JSON ---------------------------------------------------------------------------

    def state_message(self) -> dict[str, Any]:
        return {
            "type": "state",
            "state": self.state,
            "attached": self.attached_at is not None,
            "probes": self.probes,
            "elapsed": round(self.elapsed(), 3),
            "duration": self.duration,
            "error": self.error,
        }

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "id": self.id,
                "state": self.state,
                "language": self.language,
                "attached": self.attached_at is not None,
                "probes": self.probes,
                "pid": self.tracer.pid if self.tracer is not None else None,
                "elapsed": round(self.elapsed(), 3),
                "duration": self.duration,
                "interval": self.interval,
                "keep_running": self.keep_running,
                "via": self.via,
                "parent": self.parent,
                "drill": self.drill,
                "snapshot": self.snapshot.to_dict() if self.snapshot else None,
                "output": list(self.output),
                "dropped_output": self.dropped_output,
                "problems": self.problems,
                "viewers": len(self.viewers),
                "error": self.error,
            }


class RunManager:
    """Every run of the server: starts them within the limits, reaps them, shuts them down.

    ``renderer`` turns each run's snapshots into panels; without one runs build none.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        renderer: Renderer | None = None,
        recorder: RunRecorder | None = None,
    ) -> None:
        self.settings = settings
        self.renderer = renderer
        self.recorder = recorder  # every run's record (ide/archive)
        self._runs: OrderedDict[str, Run] = OrderedDict()
        self._lock = threading.Lock()
        self._reaper: threading.Thread | None = None
        self._stopped = threading.Event()
        self._wake = threading.Event()

    def create(
        self,
        backend: Backend,
        *,
        language: Language,
        script: str,
        duration: float,
        interval: float,
        options: dict[str, int],
        keep_running: bool = False,
        client: str = "",
        via: str | None = None,
        parent: str | None = None,
        drill: dict[str, Any] | None = None,
        run_type: Callable[..., Run] = Run,
    ) -> Run:
        with self._lock:
            active = [r for r in self._runs.values() if r.active]
            if len(active) >= self.settings.max_runs_total:
                raise LimitExceeded(
                    f"{len(active)} runs are active, the server's cap (max_runs_total); "
                    "stop one first"
                )
            mine = [r for r in active if r.client == client]
            if len(mine) >= self.settings.max_runs_per_client:
                raise LimitExceeded(
                    f"you have {len(mine)} active runs, the cap per client "
                    "(max_runs_per_client); stop one first"
                )
            run = run_type(
                self.settings,
                language,
                script,
                duration,
                interval,
                options,
                keep_running,
                client,
                renderer=self.renderer,
            )
            run.via = via
            run.parent, run.drill = parent, drill
            run.recorder = self.recorder
            self._runs[run.id] = run
            self._trim()
        if self.recorder is not None:
            self.recorder.started(run)
        try:
            run.start(backend)
        except Exception:
            with self._lock:
                self._runs.pop(run.id, None)
            if self.recorder is not None:
                self.recorder.forget(run.id)
            raise
        self._ensure_reaper()
        self._wake.set()
        return run

    def _trim(self) -> None:
        finished = [r for r in self._runs.values() if not r.active]
        for r in finished[: max(0, len(finished) - FINISHED_RUNS_KEPT)]:
            self._runs.pop(r.id, None)

    def adopt(self, run: Run) -> Run:
        """An ended run made elsewhere (a recorded one opened again), kept like the others."""
        with self._lock:
            kept = self._runs.setdefault(run.id, run)
            self._trim()
        return kept

    def get(self, run_id: str) -> Run | None:
        with self._lock:
            return self._runs.get(run_id)

    def all(self) -> list[Run]:
        with self._lock:
            return list(self._runs.values())

    def stop(self, run: Run, reason: StopReason = "user", wait: bool = True) -> None:
        run.request_stop(reason)
        if wait and not run.wait(self.settings.stop_grace_s):
            run.kill()
            run.wait(1.0)

    def _ensure_reaper(self) -> None:
        with self._lock:
            if self._reaper is None or not self._reaper.is_alive():
                self._reaper = threading.Thread(
                    target=self._reap_forever, name="dtrace-ide-reaper", daemon=True
                )
                self._reaper.start()

    def _reap_forever(self) -> None:
        while not self._stopped.is_set():
            try:
                delay = self.reap(time.monotonic())
            except Exception:
                log.exception("reaper failed")
                delay = REAPER_POLL_S
            self._wake.wait(delay)
            self._wake.clear()

    def reap(self, now: float) -> float:
        """End what is due at ``now``; return the seconds until something may next be due
        (ide/tracing/reaper.py)."""
        return reap(self.all(), self.settings, now)

    def shutdown(self) -> None:
        """Stop every run; kill what does not stop within the grace period."""
        runs = [r for r in self.all() if r.active]
        for r in runs:
            r.request_stop("shutdown")
        deadline = time.monotonic() + self.settings.stop_grace_s
        for r in runs:
            if not r.wait(max(0.0, deadline - time.monotonic())):
                r.kill()
        for r in runs:
            r.wait(1.0)
        self._stopped.set()
        self._wake.set()
        if self.recorder is not None:
            self.recorder.close()  # what the runs' ends queued is written first


def _problem_message(entry: dict[str, Any]) -> dict[str, Any]:
    """A problem as the stream sends it: ``error``, or ``note`` for what is only to know."""
    kind = "note" if entry.get("severity") == "note" else "error"
    return {"type": kind, "message": entry["message"], "fix": entry["fix"], "count": entry["count"]}
