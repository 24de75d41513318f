"""A run as it was at any moment, from its record: what a viewer scrubbing back is sent.

One ``Replay`` per viewer.  Its chart history (the time series and heatmaps) is the one a
live run would have had at that moment, bounded the same way.  Going forward only adds the
snapshots in between; going back starts from the nearest copy of the history kept on the
way (one every ``CHECKPOINT_EVERY`` snapshots, a bounded number of them).  A jump to where
the replay has not been near is answered at once from the last ``QUICK_SNAPSHOTS`` snapshots
(the moment's own charts exact, its time series shorter) and then in full, unless the
viewer has asked for another moment meanwhile.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ..config import Settings
from ..tracing.model import Snapshot, snapshot_from_json
from ..tracing.render import Renderer, RunHistory
from ..tracing.scriptinfo import maps_reset_by_script
from ..tracing.session import Run
from .store import RunArchive

NOT_RECORDED = {
    "type": "error",
    "code": "not_recorded",
    "message": "This server does not record runs, so there is no earlier moment to show.",
    "fix": "Start dtrace-ide with recording on (DTRACE_IDE_RECORD_RUNS=1, the default).",
    "severity": "note",
}
CHECKPOINT_EVERY = 8
MAX_CHECKPOINTS = 128
QUICK_SNAPSHOTS = 12  # more to add than this, and a moment is answered quickly first
CHUNK = 50  # snapshots added between two looks at whether the viewer moved on


@dataclass
class _Point:
    """Where a replay stands: its history up to ``latest``, the snapshot ``seq``; it holds
    the ``held`` snapshots before (all of the run's when ``from_start``)."""

    history: RunHistory | None
    latest: Snapshot | None = None
    seq: int = 0
    held: int = 0
    from_start: bool = False

    def covers(self, more: int, window: int) -> bool:
        """Whether, with ``more`` snapshots added, its history is the one a live viewer
        had: the run's from its start or its last ``window`` snapshots."""
        return self.from_start or self.held + more >= window


class Replay:
    """One viewer's replay of ``run`` from ``archive``."""

    def __init__(
        self, archive: RunArchive, run: Run, renderer: Renderer | None, settings: Settings
    ) -> None:
        self.archive = archive
        self.run = run
        self.renderer = renderer
        self.settings = settings
        self._at = _Point(None)
        self._checkpoints: OrderedDict[int, _Point] = OrderedDict()
        self._pending: float | None = None  # the moment answered quickly, not yet in full
        self._output: list[tuple[float, list[str]]] | None = None

    def message(self, t: float, *, per_interval: bool, charts: bool) -> dict[str, Any]:
        """The ``replay`` message for moment ``t`` (seconds since the run attached); with
        ``"partial": true`` when its time series are short until ``complete`` is called."""
        self._pending = None
        base, rows = self._plan(t)
        if len(rows) <= QUICK_SNAPSHOTS:
            at = base if base is self._at else self._restore(base)
            self._add(at, rows)
            self._at = at
            return self._message(t, at, per_interval=per_interval, charts=charts)
        quick = self._start()
        self._add(quick, rows[-QUICK_SNAPSHOTS:], checkpoints=False)
        self._pending = t
        msg = self._message(t, quick, per_interval=per_interval, charts=charts)
        msg["partial"] = True
        return msg

    def complete(
        self, *, per_interval: bool, charts: bool, moved_on: Callable[[], bool]
    ) -> dict[str, Any] | None:
        """The full answer to the moment last answered quickly, or None when there is none
        or ``moved_on()`` said the viewer asked for another moment before it was ready."""
        t, self._pending = self._pending, None
        if t is None:
            return None
        # Half a history more: scrubbing back from here finds whole checkpoints.
        base, rows = self._plan(t, extra=self.settings.max_history_snapshots // 2)
        at = self._restore(base)
        for start in range(0, len(rows), CHUNK):
            if moved_on():
                return None
            self._add(at, rows[start : start + CHUNK])
        self._at = at
        return self._message(t, at, per_interval=per_interval, charts=charts)

    # --- where the replay stands ----------------------------------------------------------

    def _plan(self, t: float, *, extra: int = 0) -> tuple[_Point, list[tuple[int, bytes]]]:
        """Where to go on from for moment ``t`` (the replay's point, a checkpoint before
        ``t`` or a fresh start) and the snapshots to add to it; a fresh start takes
        ``extra`` more, so that the checkpoints it leaves on the way are whole."""
        limit = self.settings.max_history_snapshots + 1
        # The nearest before ``t``: where the replay is, or a checkpoint.
        here = self._at if self._at.latest is not None and self._at.latest.t <= t else None
        there = self._checkpoint_before(t)
        base = max((p for p in (here, there) if p is not None), key=lambda p: p.seq, default=None)
        if base is not None and base.latest is not None:
            rows = self.archive.snapshots_until(self.run.id, t, after_seq=base.seq, limit=limit)
            if len(rows) < limit and base.covers(len(rows), limit):
                return base, rows
        rows = self.archive.snapshots_until(self.run.id, t, limit=limit + extra)
        start = self._start()
        start.from_start = len(rows) < limit + extra
        return start, rows

    def _start(self) -> _Point:
        history = None
        if self.renderer is not None:
            history = self.renderer.history(
                max_points=self.settings.max_history_snapshots,
                reset_by_script=self._reset_by_script,
            )
        return _Point(history)

    @cached_property
    def _reset_by_script(self) -> frozenset[str]:
        """Read once from the script (lexed), not with every fresh history."""
        return maps_reset_by_script(self.run.script, self.run.language)

    def _add(self, at: _Point, rows: list[tuple[int, bytes]], *, checkpoints: bool = True) -> None:
        for seq, data in rows:
            snapshot = snapshot_from_json(data)
            if at.history is not None:
                at.history.add(snapshot)
            at.latest, at.seq, at.held = snapshot, seq, at.held + 1
            if checkpoints and seq % CHECKPOINT_EVERY == 0:
                self._checkpoints[seq] = self._restore(at)
                self._checkpoints.move_to_end(seq)
                while len(self._checkpoints) > MAX_CHECKPOINTS:
                    self._checkpoints.popitem(last=False)

    @staticmethod
    def _restore(at: _Point) -> _Point:
        """A copy to go on from, leaving ``at`` as it is."""
        history = at.history.copy() if at.history is not None else None
        return _Point(history, at.latest, at.seq, at.held, at.from_start)

    def _checkpoint_before(self, t: float) -> _Point | None:
        before = [p for p in self._checkpoints.values() if p.latest and p.latest.t <= t]
        best = max(before, key=lambda p: p.seq, default=None)
        if best is not None:
            self._checkpoints.move_to_end(best.seq)
        return best

    # --- the message ----------------------------------------------------------------------

    def _message(self, t: float, at: _Point, *, per_interval: bool, charts: bool) -> dict[str, Any]:
        snapshot = at.latest
        msg: dict[str, Any] = {
            "type": "replay",
            "t": t,
            "end": self.run.snapshot.t if self.run.snapshot is not None else 0.0,
            "snapshot": snapshot.to_dict() if snapshot is not None else None,
            "output": self._output_until(t),
        }
        if charts and self.renderer is not None:
            msg["panels"] = (
                self.renderer.panels(snapshot, at.history, per_interval=per_interval)
                if snapshot is not None and at.history is not None
                else []
            )
        return msg

    def _output_until(self, t: float) -> list[str]:
        """The lines printed by moment ``t``, the newest ``max_output_lines`` of them."""
        if self._output is None or self.run.active:
            self._output = [
                (at, [str(line) for line in m.get("lines", [])])
                for at, m in self.archive.messages(self.run.id)
                if m.get("type") == "output"
            ]
        lines: list[str] = []
        for at, batch in self._output:
            if at > t:
                break
            lines.extend(batch)
        return lines[-self.settings.max_output_lines :]
