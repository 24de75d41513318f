"""Aggregations as chart panels: plotly figure dicts, time series and tables.

``build_panels`` turns one ``Snapshot`` into one panel per aggregation; the browser draws
each ``figure``/``series`` with ``Plotly.react`` and shows ``table`` when asked for numbers.
Figures are built as plain dicts (the JSON plotly.js reads), not through
``plotly.graph_objects``: validating every property costs more than the rest of the
pipeline together, so the tests validate the dicts through ``graph_objects`` instead.

Every string from traced data (keys, frames, bucket bounds) goes into a figure through
``plotly_text``, which makes plotly draw it as the text it is; tables are drawn by the page
as text and hold the strings as they are.

Snapshots hold values accumulated since the probes attached.  ``History`` keeps what the
time series need from each snapshot (per-interval values of the busiest keys and
per-interval bucket totals of distributions) and only the last two whole snapshots (to
subtract one from the other), so a long run at a fast interval stays within a fixed
amount of memory.
"""

from __future__ import annotations

import base64
import heapq
import math
import zlib
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import compress
from operator import add, attrgetter, sub
from typing import Any, cast

from ide.plotly_text import plotly_text
from ide.tracing.model import Aggregation, Bucket, Key, KeyPart, Row, Snapshot

Figure = dict[str, Any]
Panel = dict[str, Any]
Span = tuple[int | None, int | None]  # a bucket's lo, hi

PIE_SLICES = 15  # the rest of the keys become one "other" slice
BAR_KEYS = 25
HISTOGRAM_KEYS = 8  # stacked traces; the rest become "other keys"
TABLE_ROWS = 500  # rows sent to the browser; ``total_rows`` tells how many there were
MESH_BARS = 6000  # 3D bars drawn; buckets are merged when more would be needed
FLAME_NODES = 3000  # frames drawn; the lightest are dropped first
AXIS_LABELS_3D = 20  # tick labels per 3D axis; every row is still drawn and hoverable

CUMULATIVE_ONLY = frozenset({"min", "max", "stddev", "value"})
SERIES_FUNCTIONS = frozenset({"count", "sum"})
POWER_OF_TWO = frozenset({"quantize", "hist"})
LINEAR = frozenset({"lquantize", "lhist"})
DISTRIBUTIONS = frozenset({"quantize", "hist", "llquantize", "lquantize", "lhist"})
TABLE_ONLY = frozenset({"stddev", "stats"})
ADDITIVE = frozenset({"count", "sum"})

FONT = {
    "family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    "size": 12,
    "color": "#1f2933",
}
GRID = "rgba(31, 41, 51, 0.12)"
COLORWAY = [
    "#3b6fd4",
    "#e07b39",
    "#3a9d6b",
    "#c94f5d",
    "#8a63c9",
    "#2aa5b8",
    "#c7a23a",
    "#d46fae",
    "#6b7a8f",
    "#7cae3a",
    "#a35c3a",
    "#4f8fc9",
    "#b84f9b",
    "#5aa58f",
    "#9a9a3a",
]
OTHER_COLOR = "#c3cad3"
SEQUENTIAL = [
    [0.0, "#eef3fb"],
    [0.25, "#9ec1ea"],
    [0.5, "#4f8fd9"],
    [0.75, "#e0823d"],
    [1.0, "#b8302c"],
]
HEAT = [
    [0.0, "rgba(255,255,255,0)"],
    [0.0001, "#e8f0fb"],
    [0.3, "#7fb0e6"],
    [0.6, "#3b6fd4"],
    [0.85, "#e07b39"],
    [1.0, "#b8302c"],
]


# --- labels ---------------------------------------------------------------------------------


def is_stack(part: KeyPart) -> bool:
    """A stack key part (bpftrace kstack/ustack, D stack()/ustack()) has one frame a line."""
    return isinstance(part, str) and "\n" in part


def stack_frames(part: str) -> list[str]:
    """Frames as printed: the innermost (leaf) first."""
    return [line.strip() for line in part.splitlines() if line.strip()]


def key_label(key: Key, *, full: bool = False) -> str:
    """``("bash", 1234)`` -> ``"bash, 1234"``; a stack shows its leaf frames unless ``full``."""
    if not key:
        return "(no key)"
    parts = []
    for part in key:
        if is_stack(part):
            frames = stack_frames(str(part))
            if full:
                parts.append("\n".join(frames))
            elif len(frames) > 2:
                parts.append(" ← ".join(frames[:2]) + " ← …")
            else:
                parts.append(" ← ".join(frames) or "(empty stack)")
        else:
            parts.append(str(part))
    return ", ".join(parts)


_BINARY = (
    (1 << 60, "E"),
    (1 << 50, "P"),
    (1 << 40, "T"),
    (1 << 30, "G"),
    (1 << 20, "M"),
    (1 << 10, "K"),
)
_DECIMAL = ((10**18, "E"), (10**15, "P"), (10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "k"))


def _short(n: int, units: tuple[tuple[int, str], ...]) -> str:
    for size, suffix in units:
        if n and abs(n) >= size and n % size == 0:
            return f"{n // size}{suffix}"
    return str(n)


def bucket_label(bucket: Bucket, function: str) -> str:
    """A bucket's range as bpftrace prints it: ``[0]``, ``[2, 4)``, ``[1K, 2K)``, ``[100, …)``.

    Power-of-two histograms (quantize, hist) use 1024-based suffixes; llquantize 1000-based
    ones; linear histograms print plain numbers.
    """
    units: tuple[tuple[int, str], ...] = ()
    if function in POWER_OF_TWO:
        units = _BINARY
    elif function == "llquantize":
        units = _DECIMAL
    lo, hi = bucket.lo, bucket.hi
    if lo is None and hi is None:
        return "(…, …)"
    if lo is None:
        assert hi is not None
        return f"(…, {_short(hi + 1, units)})"
    if hi is None:
        return f"[{_short(lo, units)}, …)"
    if lo == hi:
        return f"[{_short(lo, units)}]"
    return f"[{_short(lo, units)}, {_short(hi + 1, units)})"


def _bucket_order(span: Span) -> tuple[float, float]:
    lo, hi = span
    return (-math.inf if lo is None else lo, math.inf if hi is None else hi)


# --- numbers --------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A JSON-safe table cell: NaN and infinities (which JSON cannot carry) become None."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return round(value, 3)
    return value


def _numeric(value: object) -> float:
    """A number a chart can draw: anything else (None, text, NaN, infinity) counts as 0."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    value = float(value)
    return value if math.isfinite(value) else 0.0


def _typed(values: Sequence[int]) -> dict[str, str]:
    """A plotly.js typed array (``{"dtype", "bdata"}``): a quarter of the size of a JSON list."""
    code, dtype = "d", "f8"
    lo = min(values, default=0)
    hi = max(values, default=0)
    if lo >= 0 and hi < 1 << 16:
        code, dtype = "H", "u2"
    elif lo >= 0 and hi < 1 << 32:
        code, dtype = "I", "u4"
    elif lo >= -(1 << 31) and hi < 1 << 31:
        code, dtype = "i", "i4"
    data = array(code, values)
    return {"dtype": dtype, "bdata": base64.b64encode(data.tobytes()).decode("ascii")}


# --- ranking and per-interval values -------------------------------------------------------


_VALUE = attrgetter("value")
_KEY = attrgetter("key")
_LO = attrgetter("lo")
_HI = attrgetter("hi")
_COUNT = attrgetter("count")


def _weight_fn(function: str) -> Callable[[Row], float]:
    if function in DISTRIBUTIONS:
        return lambda r: float(sum(map(_COUNT, r.buckets or ())))
    if function == "stats":
        return lambda r: _numeric((r.stats or {}).get("count", 0))
    return lambda r: abs(_numeric(r.value))


def _largest(rows: Sequence[Row], n: int, weight: Callable[[Row], Any]) -> list[Row]:
    """The ``n`` heaviest rows, heaviest first (ties keep snapshot order)."""
    if len(rows) <= n:
        return sorted(rows, key=weight, reverse=True)
    return heapq.nlargest(n, rows, key=weight)


def _top(rows: Sequence[Row], n: int, function: str) -> list[Row]:
    if function not in DISTRIBUTIONS and function != "stats":
        fast = _VALUE if function == "count" else lambda r: abs(cast(float, r.value))
        try:  # numbers only, the usual case: for counts no Python call per row
            return _largest(rows, n, fast)
        except TypeError:  # None or text among the values
            pass
    return _largest(rows, n, _weight_fn(function))


def _values(rows: Sequence[Row]) -> tuple[list[Key], list[float]]:
    """Keys and numeric values of a count or sum (other values are left out)."""
    keys: list[Key] = list(map(_KEY, rows))
    values: list[Any] = list(map(_VALUE, rows))
    try:
        if math.isfinite(math.fsum(values)):  # raises on None or text: then the slow way
            return keys, values
    except (TypeError, OverflowError):
        pass
    pairs = [
        (k, v)
        for k, v in zip(keys, values, strict=True)
        if isinstance(v, int | float) and math.isfinite(v)
    ]
    return [k for k, _ in pairs], [v for _, v in pairs]


def _deltas(
    function: str,
    keys: list[Key],
    values: list[float],
    before: dict[Key, float],
    *,
    capped: bool = False,
) -> list[float]:
    """Each key's change since ``before``; a count that went down was cleared since.

    In a map the server ``capped`` to its heaviest rows, a key missing from ``before`` may
    only have been below the cap: its change is unknown and counts as none, rather than
    as its whole value since the start.
    """
    get = before.get
    if capped and before:
        olds = [v if (o := get(k)) is None else o for k, v in zip(keys, values, strict=True)]
    else:
        olds = [get(k, 0) for k in keys]
    if function == "count":
        return [v - o if o <= v else v for v, o in zip(values, olds, strict=True)]
    return [v - o for v, o in zip(values, olds, strict=True)]


def _additive_deltas(agg: Aggregation, base: Aggregation) -> tuple[list[Key], list[float]]:
    keys, values = _values(agg.rows)
    old_keys, old_values = _values(base.rows)
    before = dict(zip(old_keys, old_values, strict=True))
    return keys, _deltas(agg.function, keys, values, before, capped=agg.total_rows is not None)


def _heaviest(deltas: list[float], n: int) -> list[int]:
    """Indices of the ``n`` largest non-zero changes, largest first."""
    weights = list(map(abs, deltas))
    picked = heapq.nlargest(n, range(len(deltas)), key=weights.__getitem__)
    return [i for i in picked if deltas[i]]


@dataclass(slots=True)
class _View:
    """An aggregation as the figures see it: its heaviest rows first, cut to a limit."""

    name: str
    function: str
    rows: list[Row]  # heaviest first
    total_keys: int  # keys before the cut (and before the server's cap)
    grand: float  # sum of all values (count and sum)
    every_row: Sequence[Row]  # distributions: all rows, for "other keys" and table totals
    server_cap: int | None = None  # total_rows when the server cut the rows it sent


def _find(snapshot: Snapshot | None, name: str) -> Aggregation | None:
    if snapshot is None:
        return None
    for agg in snapshot.aggregations:
        if agg.name == name:
            return agg
    return None


def interval_aggregation(agg: Aggregation, base: Aggregation | None) -> Aggregation:
    """What happened since ``base`` (the same aggregation one snapshot earlier).

    count, sum and distributions subtract; avg and stats subtract their count and total.
    min, max, stddev and plain values cannot be split into intervals and stay cumulative.
    A count or bucket that went down means the map was cleared: its current value is the
    interval's.  Keys with nothing new in the interval are left out.
    """
    if base is None or agg.function in CUMULATIVE_ONLY:
        return agg
    if agg.function in ADDITIVE:
        keys, deltas = _additive_deltas(agg, base)
        rows = [Row(k, value=d) for k, d in zip(keys, deltas, strict=True) if d]
        return Aggregation(agg.name, agg.function, tuple(rows), agg.params, None)
    before = {r.key: r for r in base.rows}
    unknown_is_new = agg.total_rows is None or not before  # see ``_deltas`` on capped maps
    rows = []
    for row in agg.rows:
        old = before.get(row.key)
        if old is None:
            if unknown_is_new:
                rows.append(row)
            continue
        if row.buckets is not None:
            diff = _bucket_delta(row.buckets, old.buckets or ())
            if diff:
                rows.append(Row(row.key, buckets=diff))
        elif row.stats is not None and old.stats is not None:
            count = _numeric(row.stats.get("count")) - _numeric(old.stats.get("count"))
            total = _numeric(row.stats.get("total")) - _numeric(old.stats.get("total"))
            if count < 0:
                rows.append(row)
            elif count > 0:
                average = total / count
                stats: dict[str, int | float] = {"count": count, "average": average, "total": total}
                rows.append(Row(row.key, value=average, stats=stats))
        else:
            rows.append(row)
    return Aggregation(agg.name, agg.function, tuple(rows), agg.params, None)


def _bucket_delta(now: tuple[Bucket, ...], then: tuple[Bucket, ...]) -> tuple[Bucket, ...]:
    counts = list(map(_COUNT, now))
    if tuple(map(_LO, now)) == tuple(map(_LO, then)):  # the usual case: same buckets
        diff = list(map(sub, counts, map(_COUNT, then)))
    else:
        old = {(b.lo, b.hi): b.count for b in then}
        diff = [b.count - old.get((b.lo, b.hi), 0) for b in now]
    if min(diff, default=0) < 0:  # cleared since
        return now
    if not any(diff):
        return ()
    # Zero buckets stay: rows keep the runs of adjacent buckets that ``_Columns`` adds fast.
    return tuple(
        b if d == c else Bucket(b.lo, b.hi, d) for b, d, c in zip(now, diff, counts, strict=True)
    )


def _view(
    agg: Aggregation,
    base: Aggregation | None,
    interval: tuple[list[Key], list[float]] | None,
    per_interval: bool,
    limit: int,
) -> _View:
    """Rank ``agg`` (or its values since ``base``) once for every figure and table.

    ``interval`` holds the keys and per-interval changes of a count or sum that ``History``
    has already worked out; with it no second pass over a huge map is needed, and Row
    objects are made for the shown rows only.
    """
    fn = agg.function
    if per_interval and fn in ADDITIVE and (interval is not None or base is not None):
        if interval is None:
            assert base is not None
            keys, deltas = _additive_deltas(agg, base)
        else:
            keys, deltas = interval
        rows = [Row(keys[i], value=deltas[i]) for i in _heaviest(deltas, limit)]
        return _View(agg.name, fn, rows, len(deltas) - deltas.count(0), math.fsum(deltas), rows)
    shown = interval_aggregation(agg, base) if per_interval else agg
    grand = 0.0
    if fn in ADDITIVE:
        try:
            grand = math.fsum(map(_VALUE, shown.rows))
        except (TypeError, OverflowError):
            grand = math.nan
        if not math.isfinite(grand):
            grand = math.fsum(_numeric(r.value) for r in shown.rows)
    total = shown.total_rows if shown.total_rows is not None else len(shown.rows)
    return _View(
        agg.name, fn, _top(shown.rows, limit, fn), total, grand, shown.rows, shown.total_rows
    )


def _showing(shown: int, total: int, what: str = "keys") -> str | None:
    return f"showing top {shown:,} of {total:,} {what}" if total > shown else None


# --- history --------------------------------------------------------------------------------


class _KeyedSeries:
    """Per-interval values of a count/sum aggregation: all keys' total, the busiest keys.

    Besides the bounded points it holds the latest snapshot's values (to subtract the next
    one from) and changes (for the per-interval panel): one snapshot's worth, whatever the
    length of the run.
    """

    def __init__(self, max_points: int) -> None:
        self.last: dict[Key, float] = {}
        self.keys: list[Key] = []
        self.deltas: list[float] = []
        self.points: deque[tuple[float, float, dict[Key, float]]] = deque(maxlen=max_points)

    def add(self, t: float, agg: Aggregation, keep: int) -> None:
        # Keys that disappeared (a cleared map) add nothing to the interval.
        keys, values = _values(agg.rows)
        deltas = _deltas(agg.function, keys, values, self.last, capped=agg.total_rows is not None)
        top = {keys[i]: deltas[i] for i in _heaviest(deltas, keep)}
        self.points.append((t, math.fsum(deltas), top))
        self.last = dict(zip(keys, values, strict=True))
        self.keys, self.deltas = keys, deltas


class _BucketSeries:
    """Per-interval counts per bucket, summed over all keys of a distribution."""

    def __init__(self, max_points: int) -> None:
        self.spans: dict[Span, int] = {}  # bucket -> its index in every point
        self.last: list[int] = []
        self.points: deque[tuple[float, list[int]]] = deque(maxlen=max_points)

    def add(self, t: float, agg: Aggregation) -> None:
        current = bucket_totals(agg.rows)
        for span in current:
            self.spans.setdefault(span, len(self.spans))
        totals = [0] * len(self.spans)
        for span, total in current.items():
            totals[self.spans[span]] = total
        last = self.last + [0] * (len(totals) - len(self.last))
        delta = list(map(sub, totals, last))
        if min(delta, default=0) < 0:
            delta = totals  # cleared since
        self.points.append((t, delta))
        self.last = totals


class History:
    """Bounded per-run history for time series/heatmaps; fed every snapshot in order."""

    def __init__(
        self,
        max_points: int = 600,
        max_series_keys: int = 10,
        reset_by_script: frozenset[str] = frozenset(),
    ) -> None:
        self.max_points = max_points
        self.max_series_keys = max_series_keys
        # Maps the script clears itself (``clear(@x)``): each snapshot already holds only
        # what came since the script's last clear, so nothing is subtracted from it.
        self.reset_by_script = reset_by_script
        self._keyed: dict[str, _KeyedSeries] = {}
        self._buckets: dict[str, _BucketSeries] = {}
        self._latest: Snapshot | None = None
        self._previous: Snapshot | None = None

    def add(self, snapshot: Snapshot) -> None:
        for agg in snapshot.aggregations:
            if agg.function in SERIES_FUNCTIONS:
                keyed = self._keyed.get(agg.name)
                if keyed is None:
                    keyed = self._keyed[agg.name] = _KeyedSeries(self.max_points)
                if agg.name in self.reset_by_script:
                    keyed.last = {}
                # Twice the keys drawn: one busy in a few intervals only still has its
                # values there when it ranks among the busiest of the whole window.
                keyed.add(snapshot.t, agg, self.max_series_keys * 2)
            elif agg.function in DISTRIBUTIONS:
                dist = self._buckets.get(agg.name)
                if dist is None:
                    dist = self._buckets[agg.name] = _BucketSeries(self.max_points)
                if agg.name in self.reset_by_script:
                    dist.last = []
                dist.add(snapshot.t, agg)
        self._previous = self._latest
        self._latest = snapshot

    def latest(self) -> Snapshot | None:
        return self._latest

    def previous(self) -> Snapshot | None:
        return self._previous

    def points(self, name: str) -> int:
        """How many snapshots of aggregation ``name`` the time series hold."""
        series = self._keyed.get(name) or self._buckets.get(name)
        return len(series.points) if series is not None else 0

    def keyed_series(self, name: str) -> _KeyedSeries | None:
        return self._keyed.get(name)

    def bucket_series(self, name: str) -> _BucketSeries | None:
        return self._buckets.get(name)


# --- layout ---------------------------------------------------------------------------------


def _layout(uirevision: str, **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "autosize": True,
        "uirevision": uirevision,
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": dict(FONT),
        "colorway": COLORWAY,
        "margin": {"l": 8, "r": 8, "t": 8, "b": 8, "pad": 2},
        "hoverlabel": {"font": {"family": FONT["family"], "size": 12}},
        "showlegend": False,
    }
    layout.update(extra)
    return layout


def _axis(title: str = "", **extra: Any) -> dict[str, Any]:
    axis: dict[str, Any] = {
        "automargin": True,
        "gridcolor": GRID,
        "zerolinecolor": GRID,
        "linecolor": GRID,
    }
    if title:
        axis["title"] = {"text": title, "standoff": 6}
    axis.update(extra)
    return axis


# --- figures --------------------------------------------------------------------------------


def _name_of(row: Row, view: _View) -> str:
    """A row's label as traced (not yet plotly text)."""
    return key_label(row.key) if row.key else view.name


def pie_figure(view: _View, uirevision: str) -> tuple[Figure, str | None]:
    top = view.rows[:PIE_SLICES]
    labels = [plotly_text(_name_of(r, view)) for r in top]
    values: list[float] = [_numeric(r.value) for r in top]
    colors = [COLORWAY[i % len(COLORWAY)] for i in range(len(top))]
    if view.total_keys > len(top):
        labels.append(f"other ({view.total_keys - len(top):,} keys)")
        values.append(view.grand - math.fsum(values))
        colors.append(OTHER_COLOR)
    trace = {
        "type": "pie",
        "labels": labels,
        "values": values,
        "sort": False,
        "direction": "clockwise",
        "hole": 0.35,
        "textinfo": "percent",
        "textposition": "inside",
        "insidetextorientation": "horizontal",
        "marker": {"colors": colors, "line": {"color": "rgba(255,255,255,0.8)", "width": 1}},
        "hovertemplate": "%{label}<br>%{value:,} (%{percent})<extra></extra>",
    }
    layout = _layout(
        uirevision,
        showlegend=True,
        legend={"orientation": "v", "x": 1.0, "xanchor": "left", "y": 0.5, "font": {"size": 11}},
    )
    note = _showing(len(top), view.total_keys)
    if view.server_cap is not None:
        note = f"{note}; 'other' adds up the {len(view.every_row):,} keys received"
    return {"data": [trace], "layout": layout}, note


def bar_figure(view: _View, uirevision: str) -> tuple[Figure, str | None]:
    top = sorted(view.rows[:BAR_KEYS], key=lambda r: _numeric(r.value), reverse=True)
    trace = {
        "type": "bar",
        "orientation": "h",
        "x": [_numeric(r.value) for r in top],
        "y": [plotly_text(_name_of(r, view)) for r in top],
        "marker": {"color": COLORWAY[0]},
        "hovertemplate": "%{y}<br>%{x:,}<extra></extra>",
        "cliponaxis": False,
    }
    layout = _layout(
        uirevision,
        xaxis=_axis(view.function),
        yaxis=_axis(autorange="reversed", type="category"),
        bargap=0.25,
    )
    return {"data": [trace], "layout": layout}, _showing(len(top), view.total_keys)


class _Columns:
    """Distribution rows as bucket indices and counts: the per-bucket work runs in C loops.

    A bucket is known by its lower bound (the underflow bucket by None), which is unique
    within one aggregation.  A row holding a run of adjacent buckets in order, as tracers
    print them, is added to the totals as one slice.
    """

    def __init__(self, rows: Iterable[Row]) -> None:
        bounds: dict[int | None, int | None] = {}
        lows: list[tuple[int | None, ...]] = []
        self.counts: list[list[int]] = []
        for row in rows:
            buckets = row.buckets or ()
            los = tuple(map(_LO, buckets))
            bounds.update(zip(los, map(_HI, buckets), strict=True))
            lows.append(los)
            self.counts.append(list(map(_COUNT, buckets)))
        self.spans: list[Span] = sorted(bounds.items(), key=_bucket_order)
        index = {lo: i for i, (lo, _) in enumerate(self.spans)}
        self.indices = [list(map(index.__getitem__, los)) for los in lows]

    def totals(self, rows: Iterable[int] | None = None) -> list[int]:
        """Counts per span, summed over all rows (or the rows at the given positions)."""
        totals = [0] * len(self.spans)
        for n in range(len(self.counts)) if rows is None else rows:
            where, counts = self.indices[n], self.counts[n]
            if not where:
                continue
            first, last = where[0], where[0] + len(where)
            if where == list(range(first, last)):
                totals[first:last] = map(add, totals[first:last], counts)
            else:
                for i, count in zip(where, counts, strict=True):
                    totals[i] += count
        return totals


def bucket_totals(rows: Iterable[Row]) -> dict[Span, int]:
    """Counts per bucket, summed over rows."""
    columns = _Columns(rows)
    return dict(zip(columns.spans, columns.totals(), strict=True))


def _span_label(span: Span, function: str) -> str:
    return bucket_label(Bucket(span[0], span[1], 0), function)


def histogram_figure(view: _View, uirevision: str) -> tuple[Figure, str | None]:
    """Bars over bucket ranges, one stacked trace per busy key, the rest as "other keys"."""
    top = view.rows[:HISTOGRAM_KEYS]
    columns = _Columns(view.every_row)
    labels = [plotly_text(_span_label(s, view.function)) for s in columns.spans]
    hover = "%{fullData.name}<br>%{x}: %{y:,}<extra></extra>"
    traces = []
    place = {id(row): n for n, row in enumerate(view.every_row)}
    for n, row in enumerate(top):
        traces.append(
            {
                "type": "bar",
                "name": plotly_text(_name_of(row, view)),
                "x": labels,
                "y": columns.totals([place[id(row)]]),
                "marker": {"color": COLORWAY[n % len(COLORWAY)]},
                "hovertemplate": hover,
            }
        )
    if len(view.every_row) > len(top):
        shown = {place[id(row)] for row in top}
        rest = columns.totals(n for n in range(len(view.every_row)) if n not in shown)
        traces.append(
            {
                "type": "bar",
                "name": f"other {len(view.every_row) - len(top):,} keys",
                "x": labels,
                "y": rest,
                "marker": {"color": OTHER_COLOR},
                "hovertemplate": hover,
            }
        )
    layout = _layout(
        uirevision,
        barmode="stack",
        bargap=0.08,
        showlegend=len(traces) > 1,
        legend={"orientation": "h", "y": -0.25, "font": {"size": 11}},
        # Up to a dozen labels plotly tilts only when they would overlap.
        xaxis=_axis(
            "",
            type="category",
            categoryorder="array",
            categoryarray=labels,
            **({"tickangle": -45} if len(labels) > 12 else {}),
        ),
        yaxis=_axis("count", rangemode="tozero"),
    )
    return {"data": traces, "layout": layout}, _showing(len(top), view.total_keys)


# 12 triangles of a box whose 8 corners are: bottom 0-3, top 4-7, counter-clockwise.
_BOX_I = (0, 0, 4, 4, 0, 0, 1, 1, 2, 2, 3, 3)
_BOX_J = (1, 2, 5, 6, 1, 5, 2, 6, 3, 7, 0, 4)
_BOX_K = (2, 3, 6, 7, 5, 4, 6, 5, 7, 6, 4, 7)
_CELL = 10  # a bucket/key cell is 10 units wide; a bar fills 8 of them
MIN_BUCKETS_3D = 6  # merging stops here; then the lightest keys go


def _merge_linear(spans: list[Span], factor: int) -> tuple[list[Span], list[int]]:
    """Merge runs of ``factor`` adjacent buckets (the overflow buckets stay apart).

    Returns the merged spans and, for each old span, the index of the merged one.
    """
    merged: list[Span] = []
    where: list[int] = []
    group: list[Span] = []

    def flush() -> None:
        if group:
            merged.append((group[0][0], group[-1][1]))
            where.extend([len(merged) - 1] * len(group))
            group.clear()

    for span in spans:
        if span[0] is None or span[1] is None:
            flush()
            group.append(span)
            flush()
            continue
        group.append(span)
        if len(group) == factor:
            flush()
    flush()
    return merged, where


def bars3d_figure(view: _View, uirevision: str, max_keys: int) -> tuple[Figure, str | None]:
    """Buckets along X, keys along Y, counts as the height of boxes (one mesh3d trace).

    Every key up to ``max_keys`` gets a row.  A mesh of more than ``MESH_BARS`` boxes is
    too heavy to send every interval, so adjacent buckets are merged first (the bars get
    wider, no key is lost) and only then are the lightest keys left out.
    """
    rows = view.rows[:max_keys]
    columns = _Columns(rows)
    spans = columns.spans
    # Bucket indices and counts of each row's non-zero buckets, in row order.
    fine: list[tuple[list[int], list[int]]] = []
    for where, counts in zip(columns.indices, columns.counts, strict=True):
        if 0 in counts:
            nonzero = list(compress(range(len(counts)), counts))
            where = list(map(where.__getitem__, nonzero))
            counts = list(map(counts.__getitem__, nonzero))
        fine.append((where, counts))
    factor = 1
    bars = sum(len(counts) for _, counts in fine)
    if bars > MESH_BARS and len(spans) > MIN_BUCKETS_3D:
        # Find the smallest merge that fits, counting bars without building them.
        merged, group = spans, list(range(len(spans)))
        for factor in range(min(max(2, bars // MESH_BARS), len(spans)), len(spans) + 1):
            merged, group = _merge_linear(spans, factor)
            bars = sum(len(set(map(group.__getitem__, where))) for where, _ in fine)
            if bars <= MESH_BARS or len(merged) <= MIN_BUCKETS_3D:
                break
        spans = merged
        for n, (where, counts) in enumerate(fine):
            summed: dict[int, int] = {}
            for bx, count in zip(map(group.__getitem__, where), counts, strict=True):
                summed[bx] = summed.get(bx, 0) + count
            fine[n] = (list(summed), list(summed.values()))
    cells = [
        (bx, y, count)
        for y, (where, counts) in enumerate(fine)
        for bx, count in zip(where, counts, strict=True)
    ]
    if len(cells) > MESH_BARS:  # still too many: keep the heaviest keys' rows
        keep = cells[MESH_BARS][1]  # cells are in row order: cut before this row
        rows = rows[: max(1, keep)]
        cells = [c for c in cells if c[1] < len(rows)]
    notes = [_showing(len(rows), view.total_keys)]
    if factor > 1:
        notes.append(f"{factor} adjacent buckets per bar")

    bucket_labels = [_span_label(s, view.function) for s in spans]
    key_labels = [_name_of(r, view) for r in rows]
    # Hover labels are SVG; the scene's tick labels are drawn in WebGL.
    hover_keys = [plotly_text(label) for label in key_labels]
    hover_buckets = [plotly_text(label) for label in bucket_labels]
    xs: list[int] = []
    ys: list[int] = []
    zs: list[int] = []
    heights: list[int] = []
    text: list[str] = []
    for bx, ky, count in cells:
        x0, x1 = bx * _CELL + 1, bx * _CELL + _CELL - 1
        y0, y1 = ky * _CELL + 1, ky * _CELL + _CELL - 1
        xs += (x0, x1, x1, x0, x0, x1, x1, x0)
        ys += (y0, y0, y1, y1, y0, y0, y1, y1)
        zs += (0, 0, 0, 0, count, count, count, count)
        heights += (count,) * 8
        # Hover shows the text of the vertex nearest the pointer: label the top corners
        # only, which halves the heaviest part of the figure.
        label = f"{hover_keys[ky]}<br>{hover_buckets[bx]}: {count:,}"
        text += ("", "", "", "", label, label, label, label)
    n = len(cells)
    trace = {
        "type": "mesh3d",
        "x": _typed(xs),
        "y": _typed(ys),
        "z": _typed(zs),
        "i": _typed([8 * b + v for b in range(n) for v in _BOX_I]),
        "j": _typed([8 * b + v for b in range(n) for v in _BOX_J]),
        "k": _typed([8 * b + v for b in range(n) for v in _BOX_K]),
        "intensity": _typed(heights),
        "colorscale": SEQUENTIAL,
        "cmin": 0,
        "flatshading": True,
        "lighting": {"ambient": 0.7, "diffuse": 0.6, "specular": 0.05, "roughness": 0.9},
        "text": text,
        "hovertemplate": "%{text}<extra></extra>",
        "colorbar": {"thickness": 10, "len": 0.6, "outlinewidth": 0},
    }

    def ticks(labels: list[str]) -> dict[str, Any]:
        step = max(1, math.ceil(len(labels) / AXIS_LABELS_3D))
        picked = range(0, len(labels), step)
        return {
            "tickmode": "array",
            "tickvals": [i * _CELL + _CELL // 2 for i in picked],
            "ticktext": [plotly_text(labels[i], webgl=True) for i in picked],
        }

    scene_axis = {
        "backgroundcolor": "rgba(0,0,0,0)",
        "gridcolor": GRID,
        "showspikes": False,
        "zerolinecolor": GRID,
        "tickfont": {"size": 10},
    }
    layout = _layout(
        uirevision,
        scene={
            "xaxis": {
                **scene_axis,
                **ticks(bucket_labels),
                "title": {"text": "bucket"},
                "range": [0, max(1, len(spans)) * _CELL],
            },
            "yaxis": {
                **scene_axis,
                **ticks(key_labels),
                "title": {"text": "key"},
                "range": [0, max(1, len(rows)) * _CELL],
            },
            "zaxis": {**scene_axis, "title": {"text": "count"}, "rangemode": "tozero"},
            "aspectmode": "manual",
            "aspectratio": {"x": 1.5, "y": 1.5, "z": 0.7},
            # Looking a little below the box's middle keeps its front labels inside the panel.
            "camera": {
                "eye": {"x": 1.6, "y": -1.6, "z": 1.1},
                "center": {"x": 0, "y": 0, "z": -0.35},
            },
        },
    )
    return {"data": [trace], "layout": layout}, "; ".join(filter(None, notes)) or None


def flame_colour(frame: str) -> str:
    """The classic warm flame-graph colours, chosen by the frame's name so a frame keeps its
    colour from one snapshot to the next."""
    if frame == "all":
        return "hsl(0, 0%, 78%)"
    h = zlib.crc32(frame.encode("utf-8", "surrogatepass"))
    return f"hsl({h % 50}, {70 + (h >> 8) % 25}%, {52 + (h >> 16) % 14}%)"


def flame_figure(view: _View, uirevision: str, max_keys: int) -> tuple[Figure, str | None]:
    """An icicle of stacks with the root at the bottom; other key parts sit below the stack.

    Paths that share a prefix share nodes, so identical frame paths merge; the lightest
    nodes are dropped when there are more than ``FLAME_NODES``.
    """
    labels = ["all"]
    parents = [-1]
    values = [0.0]
    children: dict[tuple[int, str], int] = {}
    for row in view.rows[:max_keys]:
        value = _numeric(row.value)
        if value <= 0:
            continue
        values[0] += value
        node = 0
        for part in row.key:
            if is_stack(part) or part == "":
                # A sample with no frames (user time under kstack) still needs a label.
                path = list(reversed(stack_frames(str(part)))) or ["(empty stack)"]
            else:
                path = [str(part)]
            for frame in path:
                child = children.get((node, frame))
                if child is None:
                    child = children[(node, frame)] = len(labels)
                    labels.append(frame)
                    parents.append(node)
                    values.append(0.0)
                values[child] += value
                node = child
    keep = list(range(len(labels)))
    notes = [_showing(min(max_keys, len(view.rows)), view.total_keys, "stacks")]
    if len(labels) > FLAME_NODES:
        # A parent weighs at least as much as its children and comes before them, so a
        # weight floor (ties taken in order while there is room) keeps a tree.
        floor = sorted(values, reverse=True)[FLAME_NODES - 1]
        room = FLAME_NODES - sum(1 for v in values if v > floor)
        keep = []
        for i, v in enumerate(values):
            if v > floor or (v == floor and room > 0):
                keep.append(i)
                room -= v == floor
        notes.append(f"{len(keep):,} heaviest of {len(labels):,} frames")
    trace = {
        "type": "icicle",
        "ids": [str(i) for i in keep],
        "labels": [plotly_text(labels[i]) for i in keep],
        "parents": ["" if parents[i] < 0 else str(parents[i]) for i in keep],
        "values": [values[i] for i in keep],
        "branchvalues": "total",
        "sort": False,
        "tiling": {"orientation": "v", "flip": "y", "pad": 0},
        "marker": {
            "colors": [flame_colour(labels[i]) for i in keep],
            "line": {"width": 0.5, "color": "rgba(255,255,255,0.7)"},
        },
        "textinfo": "label",
        "insidetextfont": {"size": 11},
        "hovertemplate": "%{label}<br>%{value:,} (%{percentRoot:.1%})<extra></extra>",
        "maxdepth": -1,
    }
    return {"data": [trace], "layout": _layout(uirevision)}, "; ".join(filter(None, notes)) or None


def keyed_series_figure(
    series: _KeyedSeries, function: str, uirevision: str, keys: int
) -> Figure | None:
    """A stacked area of per-interval values of the busiest keys, plus everything else."""
    points = list(series.points)
    if len(points) < 2:
        return None
    weight: dict[Key, float] = {}
    for _, _, values in points:
        for key, v in values.items():
            weight[key] = weight.get(key, 0.0) + abs(v)
    top = heapq.nlargest(keys, weight, key=weight.__getitem__)
    t = [p[0] for p in points]
    traces = []
    shown = [0.0] * len(points)
    for n, key in enumerate(top):
        ys = [p[2].get(key, 0.0) for p in points]
        shown = [a + b for a, b in zip(shown, ys, strict=True)]
        traces.append(_area(plotly_text(key_label(key)), t, ys, COLORWAY[n % len(COLORWAY)]))
    rest = [p[1] - s for p, s in zip(points, shown, strict=True)]
    if any(abs(r) > 1e-9 for r in rest):
        traces.append(_area("other", t, rest, OTHER_COLOR))
    layout = _layout(
        uirevision,
        showlegend=True,
        legend={"orientation": "h", "y": -0.2, "font": {"size": 11}},
        xaxis=_axis("seconds"),
        yaxis=_axis(f"{function} per interval", rangemode="tozero"),
        hovermode="x unified",
    )
    return {"data": traces, "layout": layout}


def _area(name: str, t: list[float], ys: list[float], color: str) -> dict[str, Any]:
    return {
        "type": "scatter",
        "mode": "lines",
        "name": name,
        "x": t,
        "y": ys,
        "stackgroup": "one",
        "line": {"width": 0.5, "color": color},
        "fillcolor": color,
        "hovertemplate": "%{fullData.name}: %{y:,}<extra></extra>",
    }


def heatmap_figure(series: _BucketSeries, function: str, uirevision: str) -> Figure | None:
    """Time along X, buckets along Y, per-interval counts (all keys together) as colour."""
    points = list(series.points)
    if len(points) < 2:
        return None
    order = sorted(series.spans, key=_bucket_order)
    z = []
    for span in order:
        i = series.spans[span]
        z.append([p[1][i] if i < len(p[1]) else 0 for p in points])
    labels = [plotly_text(_span_label(s, function)) for s in order]
    trace = {
        "type": "heatmap",
        "x": [p[0] for p in points],
        "y": labels,
        "z": z,
        "colorscale": HEAT,
        "zmin": 0,
        "ygap": 1,
        "colorbar": {"thickness": 10, "len": 0.8, "outlinewidth": 0},
        "hovertemplate": "%{x:.1f} s<br>%{y}: %{z:,}<extra></extra>",
    }
    layout = _layout(
        uirevision,
        xaxis=_axis("seconds"),
        yaxis=_axis("", type="category", categoryorder="array", categoryarray=labels),
    )
    return {"data": [trace], "layout": layout}


# --- tables ---------------------------------------------------------------------------------


def table(view: _View, limit: int = TABLE_ROWS) -> dict[str, Any]:
    """Plain rows (strings and numbers), heaviest keys first, at most ``limit`` of them."""
    fn = view.function
    if fn in DISTRIBUTIONS:
        rows: list[list[Any]] = []
        for row in view.rows:
            if len(rows) >= limit:
                break
            label = key_label(row.key, full=True)
            for b in sorted(row.buckets or (), key=lambda b: _bucket_order((b.lo, b.hi))):
                if b.count and len(rows) < limit:
                    rows.append([label, bucket_label(b, fn), b.count])
        total = 0
        for row in view.every_row:
            counts = list(map(_COUNT, row.buckets or ()))
            total += len(counts) - counts.count(0)
        return {"columns": ["key", "range", "count"], "rows": rows, "total_rows": total}
    top = view.rows[:limit]
    if fn == "stats" or any(r.stats is not None for r in top):
        columns = ["key", "count", "average", "total"]
        rows = [
            [
                key_label(r.key, full=True),
                _plain((r.stats or {}).get("count")),
                _plain((r.stats or {}).get("average", r.value)),
                _plain((r.stats or {}).get("total")),
            ]
            for r in top
        ]
    elif fn in ADDITIVE:
        grand = view.grand
        columns = ["key", fn, "%"]
        rows = [
            [
                key_label(r.key, full=True),
                _plain(r.value),
                _plain(100.0 * _numeric(r.value) / grand) if grand else None,
            ]
            for r in top
        ]
    else:
        columns = ["key", fn]
        rows = [[key_label(r.key, full=True), _plain(r.value)] for r in top]
    return {"columns": columns, "rows": rows, "total_rows": view.total_keys}


# --- panels ---------------------------------------------------------------------------------


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
    view = _view(agg, base, interval, per_interval, max(max_keys, TABLE_ROWS))
    kind = panel_kind(agg)
    uirevision = f"{agg.name}:{kind}"
    figure: Figure | None = None
    note: str | None = None
    if not view.rows:
        note = "nothing in this interval" if per_interval else "no data yet"
    elif kind == "pie":
        figure, note = pie_figure(view, uirevision)
    elif kind == "bar":
        figure, note = bar_figure(view, uirevision)
    elif kind == "histogram":
        figure, note = histogram_figure(view, uirevision)
    elif kind == "bars3d":
        figure, note = bars3d_figure(view, uirevision, max_keys)
    elif kind == "flame":
        figure, note = flame_figure(view, uirevision, max_keys)
    elif kind == "table":
        note = _showing(min(TABLE_ROWS, len(view.rows)), view.total_keys)
    whole = agg.function in CUMULATIVE_ONLY or (  # bpftrace's avg() comes without a count
        agg.function == "avg" and bool(agg.rows) and agg.rows[0].stats is None
    )
    if per_interval and history is not None and agg.name in history.reset_by_script:
        note = "; ".join(filter(None, [note, "since the script last cleared it"]))
    elif per_interval and whole:
        note = "; ".join(filter(None, [note, f"{agg.function}() is shown since the start"]))
    series: Figure | None = None
    if history is not None:
        keyed = history.keyed_series(agg.name)
        buckets = history.bucket_series(agg.name)
        if keyed is not None and agg.function in SERIES_FUNCTIONS:
            series = keyed_series_figure(
                keyed, agg.function, f"{uirevision}:series", history.max_series_keys
            )
        elif buckets is not None and agg.function in DISTRIBUTIONS:
            series = heatmap_figure(buckets, agg.function, f"{uirevision}:series")
    return {
        "name": agg.name,
        "function": agg.function,
        "kind": kind,
        "figure": figure,
        "series": series,
        "table": table(view),
        "note": note,
    }


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
