"""The renderer the web app gives its runs: snapshots to plotly panels."""

from __future__ import annotations

from typing import Any

from ide.tracing.model import Snapshot
from ide.tracing.render import RunHistory

from .intervals import History
from .panels import build_panels


class PlotlyRenderer:
    """``ide.tracing.render.Renderer`` over ``History`` and ``build_panels``."""

    def history(self, *, max_points: int, reset_by_script: frozenset[str]) -> History:
        return History(max_points=max_points, reset_by_script=reset_by_script)

    def panels(
        self, snapshot: Snapshot, history: RunHistory, *, per_interval: bool
    ) -> list[dict[str, Any]]:
        if not isinstance(history, History):
            raise TypeError(f"not a history this renderer made: {type(history).__name__}")
        return build_panels(snapshot, history, per_interval=per_interval)
