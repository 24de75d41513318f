"""A fleet run: a ``Run`` whose snapshots are the hosts' merged, keyed by host first, with
a second chart history for the total across hosts.

The snapshot a fleet run keeps, records and sends is the by-host one (``key: [HOST, ...]``,
as GET /api/runs/ID gives it); the panels are the total's unless the viewer asked for the
hosts apart (``{"type": "view", "by_host": true}``).  Both histories are fed with every
snapshot, so the over-time charts of either view go back to the run's start.
"""

from __future__ import annotations

from typing import Any

from ide.tracing.model import Snapshot
from ide.tracing.render import RunHistory
from ide.tracing.scriptinfo import maps_reset_by_script
from ide.tracing.session import Run

from .combine import SHOWN_BY_HOST
from .merge import HostStatus
from .tracer import FleetTracer

HOST_LABEL_MAX = 200


def host_label(hosts: list[str]) -> str:
    """How the Runs list names where a fleet run ran: its hosts, shortened past a few."""
    label = ", ".join(hosts)
    if len(label) <= HOST_LABEL_MAX:
        return label
    return f"{len(hosts)} hosts: " + label[: HOST_LABEL_MAX - 20].rsplit(", ", 1)[0] + ", ..."


def host_dict(status: HostStatus) -> dict[str, Any]:
    return {
        "state": status.state,
        "error": status.error,
        "last_t": None if status.last_t is None else round(status.last_t, 3),
        "last_seen": None if status.last_seen is None else round(status.last_seen, 3),
    }


def shown_by_host(notes: dict[str, str]) -> frozenset[str]:
    """The aggregations the total view leaves by host (no exact total): their keys too
    start with the host."""
    return frozenset(
        n for n, note in notes.items() if note.split("; ", 1)[0].endswith(SHOWN_BY_HOST)
    )


def _host_first(panel: dict[str, Any]) -> dict[str, Any]:
    """A panel whose keys start with the host: marked so, its table's first column "host"."""
    table = panel.get("table")
    if isinstance(table, dict) and table.get("columns"):
        table = table | {"columns": ["host", *table["columns"][1:]]}
    return panel | {"host_first": True, "table": table}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


class FleetRun(Run):
    _total_history: RunHistory | None = None
    _total: Snapshot | None = None
    _apart: frozenset[str] = frozenset()

    @property
    def fleet(self) -> FleetTracer | None:
        tracer = self.tracer
        return tracer if isinstance(tracer, FleetTracer) else None

    def hosts(self) -> dict[str, dict[str, Any]]:
        fleet = self.fleet
        if fleet is None:
            return {}
        return {name: host_dict(s) for name, s in fleet.merge.hosts().items()}

    def _chart(self, history: RunHistory, snap: Snapshot) -> None:
        super()._chart(history, snap)
        fleet = self.fleet
        if fleet is None or self._renderer is None:
            return
        merged = fleet.merge.total()
        self._total = Snapshot(snap.t, merged.snapshot.aggregations)
        self._apart = shown_by_host(merged.notes)
        if self._total_history is None:
            self._total_history = self._renderer.history(
                max_points=self.settings.max_history_snapshots,
                reset_by_script=maps_reset_by_script(self.script, self.language),
            )
        self._total_history.add(self._total)

    def fleet_panels(self, per_interval: bool, by_host: bool) -> list[dict[str, Any]]:
        if by_host:
            return self.panels(per_interval)
        with self._charts_lock:
            snap, history = self._total, self._total_history
            if snap is None or history is None or self._renderer is None:
                return []
            key = (-self.seq - 1, per_interval)  # beside the by-host panels' (seq, mode)
            cached = self._panels.get(key)
            if cached is None:
                cached = self._renderer.panels(snap, history, per_interval=per_interval)
                self._panels[key] = cached
            return cached

    def snapshot_message(
        self, per_interval: bool, with_charts: bool, by_host: bool = False
    ) -> dict[str, Any] | None:
        msg = super().snapshot_message(per_interval, False)
        if msg is None:
            return None
        msg["hosts"] = self.hosts()
        msg["by_host"] = by_host
        if with_charts and self._renderer is not None:
            # Which panels' keys are [HOST, ...]: a click drills into that host's key alone.
            apart = None if by_host else self._apart
            msg["panels"] = [
                _host_first(p)
                if apart is None or p.get("name") in apart
                else p | {"host_first": False}
                for p in self.fleet_panels(per_interval, by_host)
            ]  # new dicts: the panels themselves are cached for every viewer
        return msg

    def cost(self) -> dict[str, Any]:
        """The server's own figures, with the hosts' tracers added up: their CPU (in % of
        one core, so 3 hosts at 2 % are 6 %) and the events they lost."""
        figures = super().cost()
        fleet = self.fleet
        if fleet is None or not fleet.costs:
            return figures
        costs = list(fleet.costs.values())
        cpu = [c["tracer_cpu_pct"] for c in costs if _number(c.get("tracer_cpu_pct"))]
        lost = [c["events_lost"] for c in costs if _number(c.get("events_lost"))]
        figures["tracer_cpu_pct"] = round(sum(cpu), 1) if cpu else None
        figures["events_lost"] = int(sum(lost)) + figures["events_lost"]
        return figures

    def to_dict(self) -> dict[str, Any]:
        body = super().to_dict()
        body["fleet"] = True
        body["hosts"] = self.hosts()
        return body
