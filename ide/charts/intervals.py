"""Values per interval: one snapshot minus the one before, and the history the series keep.

Snapshots hold values accumulated since the probes attached.  ``History`` keeps what the
time series need from each snapshot (per-interval values of the busiest keys and
per-interval bucket totals of distributions) and only the last two whole snapshots (to
subtract one from the other), so a long run at a fast interval stays within a fixed
amount of memory.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Sequence
from operator import attrgetter, sub
from typing import Any

from ide.tracing.model import Aggregation, Bucket, Key, Row, Snapshot

from .buckets import COUNT, LO, bucket_totals
from .kinds import ADDITIVE, CUMULATIVE_ONLY, DISTRIBUTIONS, SERIES_FUNCTIONS
from .labels import Span, numeric

_VALUE = attrgetter("value")
_KEY = attrgetter("key")


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


def additive_deltas(agg: Aggregation, base: Aggregation) -> tuple[list[Key], list[float]]:
    keys, values = _values(agg.rows)
    old_keys, old_values = _values(base.rows)
    before = dict(zip(old_keys, old_values, strict=True))
    return keys, _deltas(agg.function, keys, values, before, capped=agg.total_rows is not None)


def heaviest(deltas: list[float], n: int) -> list[int]:
    """Indices of the ``n`` largest non-zero changes, largest first."""
    weights = list(map(abs, deltas))
    picked = heapq.nlargest(n, range(len(deltas)), key=weights.__getitem__)
    return [i for i in picked if deltas[i]]


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
        keys, deltas = additive_deltas(agg, base)
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
            count = numeric(row.stats.get("count")) - numeric(old.stats.get("count"))
            total = numeric(row.stats.get("total")) - numeric(old.stats.get("total"))
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
    counts = list(map(COUNT, now))
    if tuple(map(LO, now)) == tuple(map(LO, then)):  # the usual case: same buckets
        diff = list(map(sub, counts, map(COUNT, then)))
    else:
        old = {(b.lo, b.hi): b.count for b in then}
        diff = [b.count - old.get((b.lo, b.hi), 0) for b in now]
    if min(diff, default=0) < 0:  # cleared since
        return now
    if not any(diff):
        return ()
    # Zero buckets stay: rows keep the runs of adjacent buckets that ``Columns`` adds fast.
    return tuple(
        b if d == c else Bucket(b.lo, b.hi, d) for b, d, c in zip(now, diff, counts, strict=True)
    )


class KeyedSeries:
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
        top = {keys[i]: deltas[i] for i in heaviest(deltas, keep)}
        self.points.append((t, math.fsum(deltas), top))
        self.last = dict(zip(keys, values, strict=True))
        self.keys, self.deltas = keys, deltas


class BucketSeries:
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
        self._keyed: dict[str, KeyedSeries] = {}
        self._buckets: dict[str, BucketSeries] = {}
        self._latest: Snapshot | None = None
        self._previous: Snapshot | None = None

    def add(self, snapshot: Snapshot) -> None:
        for agg in snapshot.aggregations:
            if agg.function in SERIES_FUNCTIONS:
                keyed = self._keyed.get(agg.name)
                if keyed is None:
                    keyed = self._keyed[agg.name] = KeyedSeries(self.max_points)
                if agg.name in self.reset_by_script:
                    keyed.last = {}
                # Twice the keys drawn: one busy in a few intervals only still has its
                # values there when it ranks among the busiest of the whole window.
                keyed.add(snapshot.t, agg, self.max_series_keys * 2)
            elif agg.function in DISTRIBUTIONS:
                dist = self._buckets.get(agg.name)
                if dist is None:
                    dist = self._buckets[agg.name] = BucketSeries(self.max_points)
                if agg.name in self.reset_by_script:
                    dist.last = []
                dist.add(snapshot.t, agg)
        self._previous = self._latest
        self._latest = snapshot

    def copy(self) -> History:
        """An independent copy, as cheap as a list of references: the points already taken
        and the values last seen are never changed in place (each ``add`` makes new ones),
        so the copy shares them. A replay keeps copies to go back to."""
        out = History(self.max_points, self.max_series_keys, self.reset_by_script)
        for name, keyed in self._keyed.items():
            k = out._keyed[name] = KeyedSeries(self.max_points)
            k.last, k.keys, k.deltas = keyed.last, keyed.keys, keyed.deltas
            k.points.extend(keyed.points)
        for name, dist in self._buckets.items():
            d = out._buckets[name] = BucketSeries(self.max_points)
            d.spans, d.last = dict(dist.spans), dist.last
            d.points.extend(dist.points)
        out._latest, out._previous = self._latest, self._previous
        return out

    def latest(self) -> Snapshot | None:
        return self._latest

    def previous(self) -> Snapshot | None:
        return self._previous

    def points(self, name: str) -> int:
        """How many snapshots of aggregation ``name`` the time series hold."""
        series = self._keyed.get(name) or self._buckets.get(name)
        return len(series.points) if series is not None else 0

    def keyed_series(self, name: str) -> KeyedSeries | None:
        return self._keyed.get(name)

    def bucket_series(self, name: str) -> BucketSeries | None:
        return self._buckets.get(name)
