"""Distribution rows lined up by bucket, and their counts summed over keys."""

from __future__ import annotations

from collections.abc import Iterable
from operator import add, attrgetter

from ide.tracing.model import Row

from .labels import Span, bucket_order

LO = attrgetter("lo")
HI = attrgetter("hi")
COUNT = attrgetter("count")


class Columns:
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
            los = tuple(map(LO, buckets))
            bounds.update(zip(los, map(HI, buckets), strict=True))
            lows.append(los)
            self.counts.append(list(map(COUNT, buckets)))
        self.spans: list[Span] = sorted(bounds.items(), key=bucket_order)
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
    columns = Columns(rows)
    return dict(zip(columns.spans, columns.totals(), strict=True))
