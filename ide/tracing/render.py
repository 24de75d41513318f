"""What a run hands its snapshots to: a renderer it is given, which the core never imports.

A ``Run`` makes one ``RunHistory`` through its renderer when its first snapshot arrives,
adds every snapshot to it in order, and asks the renderer for the panels of the latest
snapshot when a viewer wants them (once per snapshot and view mode).  The web app gives
``RunManager`` the plotly renderer of ``ide.charts``; without one (the CLI, tests of the
core) a run builds no panels.
"""

from __future__ import annotations

from typing import Any, Protocol

from .model import Snapshot


class RunHistory(Protocol):
    """What a renderer keeps of a run's snapshots (bounded, whatever the run's length)."""

    def add(self, snapshot: Snapshot) -> None: ...

    def copy(self) -> RunHistory:
        """An independent copy (cheap: what is kept is shared until either changes)."""
        ...


class Renderer(Protocol):
    def history(self, *, max_points: int, reset_by_script: frozenset[str]) -> RunHistory:
        """A new history for one run: at most ``max_points`` snapshots in its time series;
        ``reset_by_script`` names the maps the script clears itself."""
        ...

    def panels(
        self, snapshot: Snapshot, history: RunHistory, *, per_interval: bool
    ) -> list[dict[str, Any]]:
        """The panels of ``snapshot``, the latest one added to ``history``, as JSON dicts."""
        ...
