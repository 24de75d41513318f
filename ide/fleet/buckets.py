"""Distributions of many hosts added bucket by bucket, fast enough for 50 hosts x 1,000 keys.

Reading 50 hosts' ``Bucket`` objects is the dearest part of a merge: two million of them a
second at 1,000 keys x 41 buckets, scattered in memory.  So each host's distribution is read
once, when it arrives (``Columns.prepare``, from ``FleetMerge.offer``: the objects were just
decoded and are still in the CPU's cache), into one line per row:

- its *layout*, the buckets' lower and upper bounds, interned so that two rows with the
  same buckets have the same layout object (compared by identity);
- its counts packed into one integer, 64 bits a bucket, so that adding two hosts' rows of
  one layout is one addition of two integers rather than one per bucket.  A count is never
  negative; while every row's counts sum to less than 2**52 and at most 2**11 hosts are
  added, no field can carry into the next.  Otherwise (or for counts that do not fit) the
  counts stay a list and are added one by one;
- its weight (its number of events), which the caps rank rows by.

A key whose hosts hold different buckets gets the union of them, in order.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterable, Sequence
from contextlib import suppress
from typing import Any

from ide.tracing.model import Aggregation, Bucket, Key, Row

Part = tuple[str, Aggregation]
Layout = tuple[tuple[int | None, ...], tuple[int | None, ...]]  # lower bounds, upper bounds
Counts = int | list[int]  # packed, or one by one
MAX_HOSTS_PACKED = 1 << 11
MAX_ROW_EVENTS_PACKED = 1 << 52
MAX_LAYOUTS = 100_000


class RowColumns:
    __slots__ = ("counts", "layouts", "weights")

    def __init__(self, layouts: list[Layout], counts: list[Counts], weights: list[int]) -> None:
        self.layouts, self.counts, self.weights = layouts, counts, weights


class Columns:
    """Each host's distributions read into ``RowColumns`` once, shared by both views, and
    kept for as long as the host sends nothing newer (a lost host's last data)."""

    def __init__(self) -> None:
        self._made: dict[int, tuple[Aggregation, RowColumns]] = {}
        self._layouts: dict[tuple[int | None, ...], Layout] = {}

    def prepare(self, snapshot_aggs: Iterable[Aggregation]) -> None:
        for agg in snapshot_aggs:
            if agg.is_distribution:
                self.of(agg)

    def of(self, agg: Aggregation) -> RowColumns:
        made = self._made.get(id(agg))
        if made is None or made[0] is not agg:
            made = self._made[id(agg)] = (agg, self._read(agg.rows))
        return made[1]

    def _read(self, rows: Sequence[Row]) -> RowColumns:
        if len(self._layouts) > MAX_LAYOUTS:
            self._layouts = {}
        interned = self._layouts
        layouts: list[Layout] = []
        counts: list[list[int]] = []
        for r in rows:
            bs = r.buckets or ()
            counts.append([b.count for b in bs])
            los = tuple([b.lo for b in bs])
            layout = interned.get(los)
            if layout is None:
                layout = interned.setdefault(los, (los, tuple([b.hi for b in bs])))
            layouts.append(layout)
        weights = list(map(sum, counts))
        packed: list[Counts] = list(counts)
        if max(weights, default=0) < MAX_ROW_EVENTS_PACKED:
            with suppress(OverflowError):  # a negative count: added one by one
                packed = [int.from_bytes(array("Q", c), sys.byteorder) for c in counts]
        return RowColumns(layouts, packed, weights)

    def keep(self, aggs: Iterable[Aggregation]) -> None:
        """Forget the aggregations no host holds any more."""
        made = self._made
        kept = {id(a): m for a in aggs if (m := made.get(id(a))) is not None and m[0] is a}
        self._made = kept


def unpack(counts: Counts, width: int) -> list[int]:
    if isinstance(counts, list):
        return counts
    return array("Q", counts.to_bytes(8 * width, sys.byteorder)).tolist()


def total_buckets(parts: Sequence[Part], columns: Columns) -> list[Row]:
    """Each key's counts added bucket by bucket across the hosts; a key seen on one host
    only keeps that host's row as it is."""
    packed = len(parts) <= MAX_HOSTS_PACKED
    # key -> [first row, its layout (None once the buckets differ), counts, hosts added]
    acc: dict[Key, list[Any]] = {}
    get = acc.get
    for _, agg in parts:
        cols = columns.of(agg)
        for r, layout, counts in zip(agg.rows, cols.layouts, cols.counts, strict=True):
            entry = get(r.key)
            if entry is None:
                acc[r.key] = [r, layout, counts, 1]
            elif entry[1] is layout and packed and type(counts) is int and type(entry[2]) is int:
                entry[2] += counts
                entry[3] += 1
            else:
                _add_apart(entry, layout, counts)
    rows = []
    for key, (row, layout, counts, hosts) in acc.items():
        if hosts == 1:
            rows.append(row)
        elif layout is not None:
            los, his = layout
            rows.append(Row(key, None, tuple(map(Bucket, los, his, unpack(counts, len(los))))))
        else:
            spans = sorted(counts.items(), key=_lower_first)
            rows.append(Row(key, None, tuple(Bucket(lo, hi, n) for lo, (hi, n) in spans)))
    return rows


def _add_apart(entry: list[Any], layout: Layout, counts: Counts) -> None:
    """Add a row bucket by bucket into ``entry``, which then holds a dict of its buckets
    (lower bound -> [upper bound, count]) and no single layout."""
    if entry[1] is not None:
        los, his = entry[1]
        entry[2] = {
            lo: [hi, n] for lo, hi, n in zip(los, his, unpack(entry[2], len(los)), strict=True)
        }
        entry[1] = None
    spans: dict[int | None, list[Any]] = entry[2]
    los, his = layout
    for lo, hi, n in zip(los, his, unpack(counts, len(los)), strict=True):
        span = spans.get(lo)
        if span is None:
            spans[lo] = [hi, n]
        else:
            span[1] += n
    entry[3] += 1


def _lower_first(item: tuple[int | None, Any]) -> float:
    lo = item[0]
    return -float("inf") if lo is None else lo
