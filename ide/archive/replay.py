"""A run as it was at any moment, from its record: what a viewer scrubbing back is sent.

One ``Replay`` per viewer.  Its chart history (the time series and heatmaps) is the one a
live run would have had at that moment, bounded the same way; going forward only adds the
snapshots in between, going back builds it again from the record.
"""

from __future__ import annotations

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


class Replay:
    """One viewer's replay of ``run`` from ``archive``."""

    def __init__(
        self, archive: RunArchive, run: Run, renderer: Renderer | None, settings: Settings
    ) -> None:
        self.archive = archive
        self.run = run
        self.renderer = renderer
        self.settings = settings
        self._history: RunHistory | None = None
        self._latest: Snapshot | None = None
        self._seq = 0
        self._output: list[tuple[float, list[str]]] | None = None

    def message(self, t: float, *, per_interval: bool, charts: bool) -> dict[str, Any]:
        """The ``replay`` message for moment ``t`` (seconds since the run attached)."""
        snapshot = self._advance(t)
        msg: dict[str, Any] = {
            "type": "replay",
            "t": t,
            "end": self.run.snapshot.t if self.run.snapshot is not None else 0.0,
            "snapshot": snapshot.to_dict() if snapshot is not None else None,
            "output": self._output_until(t),
        }
        if charts and self.renderer is not None:
            msg["panels"] = (
                self.renderer.panels(snapshot, self._history, per_interval=per_interval)
                if snapshot is not None and self._history is not None
                else []
            )
        return msg

    def _advance(self, t: float) -> Snapshot | None:
        """The last snapshot at or before ``t``, with the history up to it."""
        # One more than a history holds: its first point's interval is the difference
        # from the snapshot before it.
        limit = self.settings.max_history_snapshots + 1
        after = self._seq
        if self._latest is None or t < self._latest.t:
            self._history, self._latest, after = None, None, 0
        rows = self.archive.snapshots_until(self.run.id, t, after_seq=after, limit=limit)
        if len(rows) == limit:  # a whole history's worth passed: start it afresh
            self._history = None
        if self._history is None and self.renderer is not None:
            self._history = self.renderer.history(
                max_points=self.settings.max_history_snapshots,
                reset_by_script=maps_reset_by_script(self.run.script, self.run.language),
            )
        for seq, data in rows:
            snapshot = snapshot_from_json(data)
            if self._history is not None:
                self._history.add(snapshot)
            self._latest, self._seq = snapshot, seq
        return self._latest

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
