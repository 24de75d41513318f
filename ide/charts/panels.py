"""One panel per aggregation: the figure its kind calls for, its series, its table, a note."""

from __future__ import annotations

from typing import Any

from ide.tracing.model import Aggregation, Key, Snapshot

from .figures.bars3d import bars3d_figure
from .figures.flame import flame_figure
from .figures.histogram import histogram_figure
from .figures.keyed_heatmap import keyed_heatmap_figure
from .figures.pie_bar import bar_figure, pie_figure
from .figures.series import heatmap_figure, keyed_series_figure
from .intervals import History
from .kinds import ADDITIVE, CUMULATIVE_ONLY, DISTRIBUTIONS, LINEAR, SERIES_FUNCTIONS, TABLE_ONLY
from .labels import is_stack, numeric
from .tables import TABLE_ROWS, drill_keys, table
from .theme import Figure
from .view import ranked_view, showing

Panel = dict[str, Any]


def _find(snapshot: Snapshot | None, name: str) -> Aggregation | None:
    if snapshot is None:
        return None
    for agg in snapshot.aggregations:
        if agg.name == name:
            return agg
    return None


def panel_kind(agg: Aggregation) -> str:
    fn = agg.function
    if fn in TABLE_ONLY or any(isinstance(r.value, str) for r in agg.rows[:50]):
        return "table"  # stats, or a map of strings
    if fn in LINEAR:
        return "bars3d"
    if fn in DISTRIBUTIONS:
        return "histogram"
    if fn in ADDITIVE and agg.rows and any(is_stack(p) for p in agg.rows[0].key):
        return "flame"
    if fn == "count":
        return "pie"
    return "bar"


def build_panel(
    agg: Aggregation,
    history: History | None = None,
    *,
    base: Aggregation | None = None,
    interval: tuple[list[Key], list[float]] | None = None,
    per_interval: bool = False,
    max_keys: int = 1000,
) -> Panel:
    """One panel; ``base`` is the same aggregation a snapshot earlier (for ``per_interval``)."""
    view = ranked_view(agg, base, interval, per_interval, max(max_keys, TABLE_ROWS))
    kind = panel_kind(agg)
    uirevision = f"{agg.name}:{kind}"
    figure: Figure | None = None
    heatmap: Figure | None = None
    heatmap_note: str | None = None
    note: str | None = None
    if not view.rows:
        note = "nothing in this interval" if per_interval else "no data yet"
    elif kind == "pie":
        figure, note = pie_figure(view, uirevision)
    elif kind == "bar":
        figure, note = bar_figure(view, uirevision)
    elif kind == "histogram":
        figure, note = histogram_figure(view, uirevision)
        if len(view.rows) > 1 and view.rows[0].key:
            # A latency distribution per key, as a key x bucket heatmap beside the chart.
            heatmap, heatmap_note = keyed_heatmap_figure(view, f"{uirevision}:heatmap", max_keys)
    elif kind == "bars3d":
        # Shown first: the key x bucket heatmap; the 3D bars are one click away.
        heatmap, heatmap_note = keyed_heatmap_figure(view, f"{uirevision}:heatmap", max_keys)
        figure, note = bars3d_figure(view, uirevision, max_keys)
    elif kind == "flame":
        figure, note = flame_figure(view, uirevision, max_keys)
    elif kind == "table":
        note = showing(min(TABLE_ROWS, len(view.rows)), view.total_keys)
    whole = agg.function in CUMULATIVE_ONLY or (  # bpftrace's avg() comes without a count
        agg.function == "avg" and bool(agg.rows) and agg.rows[0].stats is None
    )
    if per_interval and history is not None and agg.name in history.reset_by_script:
        note = "; ".join(filter(None, [note, "since the script last cleared it"]))
    elif per_interval and whole:
        note = "; ".join(filter(None, [note, f"{agg.function}() is shown since the start"]))
    series = _series(agg, history, per_interval, uirevision)
    return {
        "name": agg.name,
        "function": agg.function,
        "kind": kind,
        "figure": figure,
        "heatmap": heatmap,
        "heatmap_note": heatmap_note,
        "series": series,
        "table": table(view),
        "keys": drill_keys(view, max(TABLE_ROWS, max_keys)),
        "note": note,
    }


def _series(
    agg: Aggregation, history: History | None, per_interval: bool, uirevision: str
) -> Figure | None:
    """The panel's view over time: keys' values (running totals unless ``per_interval``)
    or a heatmap of buckets."""
    if history is None:
        return None
    keyed = history.keyed_series(agg.name)
    buckets = history.bucket_series(agg.name)
    if keyed is not None and agg.function in SERIES_FUNCTIONS:
        running = not per_interval and agg.function in ADDITIVE
        running = running and agg.name not in history.reset_by_script
        totals = {r.key: numeric(r.value) for r in agg.rows} if running else None
        return keyed_series_figure(
            keyed, agg.function, f"{uirevision}:series", history.max_series_keys, totals
        )
    if buckets is not None and agg.function in DISTRIBUTIONS:
        return heatmap_figure(buckets, agg.function, f"{uirevision}:series")
    return None


def build_panels(
    snapshot: Snapshot,
    history: History | None = None,
    *,
    per_interval: bool = False,
    max_keys: int = 1000,
) -> list[dict[str, Any]]:
    """One panel per aggregation, in snapshot order::

        {"name": "@num", "function": "count",
         "kind": "pie" | "bars3d" | "histogram" | "bar" | "table" | "flame",
         "figure": {"data": [...], "layout": {...}} | None,   # None for tables, no data
         "heatmap": {...} | None,   # bars3d: the key x bucket heatmap, shown first;
                                    # histogram with several keys: the same, one click away
         "heatmap_note": str | None,                          # its note ("showing top 200")
         "series": {"data": [...], "layout": {...}} | None,   # once history has 2 points
         "table": {"columns": [str, ...], "rows": [[...], ...], "total_rows": int},
         "note": str | None}                                  # "showing top 15 of 1,234 keys"

    ``series`` is a stacked area of per-interval values (count, sum) or a heatmap of
    buckets over time (distributions).  With ``per_interval`` the values are those since
    the snapshot before ``snapshot`` in ``history`` (so feed ``history`` first); without a
    previous snapshot, since the start.  ``max_keys`` bounds the keys a 3D chart or flame
    graph draws; tables send at most ``TABLE_ROWS`` rows.
    """
    latest = history is not None and history.latest() is snapshot
    base_snapshot: Snapshot | None = None
    if per_interval and history is not None:
        base_snapshot = history.previous() if latest else history.latest()
    reset = history.reset_by_script if history is not None else frozenset()
    panels = []
    for agg in snapshot.aggregations:
        interval = None
        if per_interval and latest and history is not None and history.previous() is not None:
            keyed = history.keyed_series(agg.name)
            if keyed is not None and agg.function in SERIES_FUNCTIONS:
                interval = (keyed.keys, keyed.deltas)
        # A map the script resets is already the interval's: nothing to subtract.
        base = None if agg.name in reset else _find(base_snapshot, agg.name)
        panels.append(
            build_panel(
                agg,
                history,
                base=base,
                interval=interval,
                per_interval=per_interval,
                max_keys=max_keys,
            )
        )
    return panels
