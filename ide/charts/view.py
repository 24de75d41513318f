"""An aggregation ranked once, heaviest keys first, for every figure and table of a panel."""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, cast

from ide.tracing.model import Aggregation, Key, Row

from .buckets import COUNT
from .intervals import additive_deltas, heaviest, interval_aggregation
from .kinds import ADDITIVE, DISTRIBUTIONS
from .labels import key_label, numeric

_VALUE = attrgetter("value")


@dataclass(slots=True)
class View:
    """An aggregation as the figures see it: its heaviest rows first, cut to a limit."""

    name: str
    function: str
    rows: list[Row]  # heaviest first
    total_keys: int  # keys before the cut (and before the server's cap)
    grand: float  # sum of all values (count and sum)
    every_row: Sequence[Row]  # distributions: all rows, for "other keys" and table totals
    server_cap: int | None = None  # total_rows when the server cut the rows it sent


def _weight_fn(function: str) -> Callable[[Row], float]:
    if function in DISTRIBUTIONS:
        return lambda r: float(sum(map(COUNT, r.buckets or ())))
    if function == "stats":
        return lambda r: numeric((r.stats or {}).get("count", 0))
    return lambda r: abs(numeric(r.value))


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


def ranked_view(
    agg: Aggregation,
    base: Aggregation | None,
    interval: tuple[list[Key], list[float]] | None,
    per_interval: bool,
    limit: int,
) -> View:
    """Rank ``agg`` (or its values since ``base``) once for every figure and table.

    ``interval`` holds the keys and per-interval changes of a count or sum that ``History``
    has already worked out; with it no second pass over a huge map is needed, and Row
    objects are made for the shown rows only.
    """
    fn = agg.function
    if per_interval and fn in ADDITIVE and (interval is not None or base is not None):
        if interval is None:
            assert base is not None
            keys, deltas = additive_deltas(agg, base)
        else:
            keys, deltas = interval
        rows = [Row(keys[i], value=deltas[i]) for i in heaviest(deltas, limit)]
        return View(agg.name, fn, rows, len(deltas) - deltas.count(0), math.fsum(deltas), rows)
    shown = interval_aggregation(agg, base) if per_interval else agg
    grand = 0.0
    if fn in ADDITIVE:
        try:
            grand = math.fsum(map(_VALUE, shown.rows))
        except (TypeError, OverflowError):
            grand = math.nan
        if not math.isfinite(grand):
            grand = math.fsum(numeric(r.value) for r in shown.rows)
    total = shown.total_rows if shown.total_rows is not None else len(shown.rows)
    return View(
        agg.name, fn, _top(shown.rows, limit, fn), total, grand, shown.rows, shown.total_rows
    )


def showing(shown: int, total: int, what: str = "keys") -> str | None:
    return f"showing top {shown:,} of {total:,} {what}" if total > shown else None


def name_of(row: Row, view: View) -> str:
    """A row's label as traced (not yet plotly text)."""
    return key_label(row.key) if row.key else view.name
