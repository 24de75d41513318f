"""One aggregation made of many hosts' copies of it: by host, or totalled per key.

Each function takes ``parts``, the ``(host, aggregation)`` pairs of one aggregation name in
host order, and returns one ``Aggregation`` capped to ``max_rows`` (the heaviest kept, as
``Aggregation.capped`` keeps them) with the notes that say what the numbers are not.

How a total is made, per aggregating function:

- count, sum: added.  min, max: the least and the greatest.
- avg, stats: by count and total, when every row carries them (``Row.stats``); the average
  is then the total over the count.  bpftrace's avg() and libdtrace's come without a count.
- distributions: added bucket by bucket; a key whose hosts hold different buckets gets the
  union of them (``buckets``, which reads each host's buckets once, when offered).
- stddev and plain values (a map of numbers or strings that the script sets): no total is
  exact, so their rows stay by host, with a note, rather than numbers that were never seen.

Keys are data: stacks and strings are compared as they are, nothing is parsed or escaped.
The work is one pass over each host's rows into a dict keyed by the script's key; rows are
made only for what is kept.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from itertools import chain, repeat
from typing import Any

from ide.tracing.model import DISTRIBUTION_FUNCTIONS, Aggregation, Key, Row

from .buckets import Columns, Part, total_buckets

Combined = tuple[Aggregation, list[str]]  # the aggregation and its notes
# How the note of an aggregation the total leaves by host ends its first part.
SHOWN_BY_HOST = ": shown by host"

EXTREMES = frozenset({"min", "max"})
COUNTED = frozenset({"avg", "stats"})
TOTALLED = frozenset({"count", "sum"}) | EXTREMES | COUNTED | DISTRIBUTION_FUNCTIONS


def row_weights(rows: Sequence[Row]) -> list[float]:
    """``Row.weight`` of every row, the common cases without a call per row."""
    if not rows:
        return []
    first = rows[0]
    if first.buckets is not None and all(r.buckets is not None for r in rows):
        return [float(sum([b.count for b in r.buckets or ()])) for r in rows]
    if first.stats is None:
        try:
            return list(map(abs, [r.value for r in rows]))  # type: ignore[arg-type]
        except TypeError:  # None or text among the values
            pass
    return [r.weight for r in rows]


def weights(agg: Aggregation, columns: Columns) -> Sequence[float]:
    """What ``Aggregation.capped`` ranks ``agg``'s rows by (a distribution's from ``columns``)."""
    if agg.is_distribution and all(r.buckets is not None for r in agg.rows):
        return columns.of(agg).weights
    return row_weights(agg.rows)


def heaviest(weights: Sequence[float], n: int) -> list[int]:
    """Positions of the ``n`` heaviest, heaviest first, ties in their order (a stable sort)."""
    return heapq.nlargest(n, range(len(weights)), key=weights.__getitem__)


def _known_rows(parts: Sequence[Part]) -> int:
    """How many rows the hosts had before their own caps cut them."""
    return sum(a.total_rows if a.total_rows is not None else len(a.rows) for _, a in parts)


def capped_notes(parts: Sequence[Part]) -> list[str]:
    return [
        f"{host} sent its heaviest {len(agg.rows):,} of {agg.total_rows:,} keys: "
        "the keys it left out lack its share"
        for host, agg in parts
        if agg.total_rows is not None
    ]


def by_host(
    name: str, parts: Sequence[Part], max_rows: int, columns: Columns | None = None
) -> Aggregation:
    """Every host's rows, the host prepended to each key: ``("web-1", "nginx")``."""
    first = parts[0][1]
    rows: list[Row] = list(chain.from_iterable(agg.rows for _, agg in parts))
    hosts: list[str] = list(chain.from_iterable(repeat(h, len(a.rows)) for h, a in parts))
    known = _known_rows(parts)
    total_rows = known if known > len(rows) else None
    if len(rows) > max_rows:
        cols = columns or Columns()
        picked = heaviest(list(chain.from_iterable(weights(a, cols) for _, a in parts)), max_rows)
        rows, hosts = [rows[i] for i in picked], [hosts[i] for i in picked]
        total_rows = known
    out = tuple(
        Row((host, *r.key), r.value, r.buckets, r.stats)
        for host, r in zip(hosts, rows, strict=True)
    )
    return Aggregation(name, first.function, out, first.params, total_rows)


def total(
    name: str, parts: Sequence[Part], max_rows: int, columns: Columns | None = None
) -> Combined:
    """The hosts' rows summed per key (see the module's docstring for each function)."""
    first = parts[0][1]
    function = first.function
    notes = capped_notes(parts)
    rows: list[Row] | None = None
    if any(a.function != function for _, a in parts):
        reason = "its hosts disagree on the aggregating function"
    elif function not in TOTALLED:
        reason = f"{function}() has no exact total across hosts"
    else:
        reason = (
            f"{function}() rows without a count and total have no exact total"
            if function in COUNTED
            else f"{function}() rows with values that are not numbers have no total"
        )
        try:
            rows = _total_rows(function, parts, columns or Columns())
        except (TypeError, ValueError, KeyError):  # text or None, rows without stats
            rows = None
    if rows is None:
        notes.insert(0, reason + SHOWN_BY_HOST)
        return by_host(name, parts, max_rows, columns), notes
    known, total_rows = len(rows), None
    if any(a.total_rows is not None for _, a in parts):
        # Marked cut even when no row is left out here: a host's share of some keys is
        # missing.  A lower bound: the keys a host left out may be other hosts' or new.
        known = total_rows = max(known, *(a.total_rows or 0 for _, a in parts))
    if len(rows) > max_rows:
        rows = [rows[i] for i in heaviest(row_weights(rows), max_rows)]
        total_rows = known
    return Aggregation(name, function, tuple(rows), first.params, total_rows), notes


def _total_rows(function: str, parts: Sequence[Part], columns: Columns) -> list[Row]:
    if function in DISTRIBUTION_FUNCTIONS:
        return total_buckets(parts, columns)
    if function in COUNTED:
        return _total_counted(parts)
    acc: dict[Key, Any] = {}
    get = acc.get
    if function in EXTREMES:
        pick = min if function == "min" else max
        for _, agg in parts:
            for r in agg.rows:
                old = get(r.key)
                acc[r.key] = r.value if old is None else pick(old, r.value)
        if any(isinstance(v, str) for v in acc.values()):
            raise TypeError("text has no minimum or maximum across hosts")
    else:
        for _, agg in parts:
            for r in agg.rows:
                acc[r.key] = get(r.key, 0) + r.value  # None or text raise TypeError
    return list(map(Row, acc.keys(), acc.values()))


def _total_counted(parts: Sequence[Part]) -> list[Row]:
    """avg and stats: counts and totals add; the average is made again from them."""
    acc: dict[Key, list[int | float]] = {}
    for _, agg in parts:
        for r in agg.rows:
            if r.stats is None:
                raise ValueError("a row without its count and total")
            count, sum_ = r.stats["count"], r.stats["total"]
            old = acc.get(r.key)
            if old is None:
                acc[r.key] = [count, sum_]
            else:
                old[0] += count
                old[1] += sum_
    rows = []
    for key, (count, sum_) in acc.items():
        average = sum_ / count if count else 0
        rows.append(Row(key, average, None, {"count": count, "average": average, "total": sum_}))
    return rows
