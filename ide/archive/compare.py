"""Two snapshots as a difference: per aggregation in common, per key, A, B, B-A and B/A, and
for a distribution the same bucket by bucket (docs/api.md, "Compare").

Plain dicts in the JSON shape of ``Snapshot.to_dict`` in, plain dicts out: a recorded
snapshot is compared as it was read from the archive, a live one as it would be sent.

- Aggregations are matched by name; one of the same name with another function is not in
  common (it is listed under ``mismatched``).
- A key missing on one side has ``null`` there; for ``delta`` it counts as 0, so a key
  that appeared has ``delta == b`` and one that went has ``delta == -a``.
- ``ratio`` is B/A, ``null`` where A is missing or 0 (or either is not a number).
- A distribution's row carries its ``buckets``, the union of both sides' bucket ranges in
  order, each with its own ``a``, ``b``, ``delta`` and ``ratio`` (a bucket a side does not
  have counts 0 there when the side has the key); the row's ``a`` and ``b`` are the key's
  totals, and ``change`` is the sum of the buckets' ``|delta|``: how far the shape moved,
  which is what its rows are ranked by (two equal totals can hide a moved distribution).
- Rows are ranked by the largest change first; past ``max_rows`` the rest are left out and
  ``left_out`` says how many.  Keys are compared by equality, stacks included.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from ..tracing.model import DISTRIBUTION_FUNCTIONS

Number = int | float
Value = Number | str | None
Span = tuple[int | None, int | None]


def _number(value: Any) -> Number | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _value(row: dict[str, Any]) -> Value:
    """What a scalar row is compared by: its value, else its stats' average; text as is."""
    value = row.get("value")
    if isinstance(value, str):
        return value
    found = _number(value)
    if found is None and isinstance(row.get("stats"), dict):
        found = _number(row["stats"].get("average"))
    return found


def difference(a: Value, b: Value) -> dict[str, Any]:
    """``{"a", "b", "delta", "ratio"}`` for one key or bucket (None for a missing side)."""
    na, nb = _number(a), _number(b)
    numeric = (a is None or na is not None) and (b is None or nb is not None)
    delta = ratio = None
    if numeric and (na is not None or nb is not None):
        delta = (nb or 0) - (na or 0)
        if na:
            ratio = (nb or 0) / na
    return {"a": a, "b": b, "delta": delta, "ratio": ratio}


def _key(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row.get("key") or ())


def _spans(row: dict[str, Any] | None) -> dict[Span, int]:
    if row is None:
        return {}
    out: dict[Span, int] = {}
    for bucket in row.get("buckets") or ():
        span = (bucket.get("lo"), bucket.get("hi"))
        out[span] = out.get(span, 0) + int(_number(bucket.get("count")) or 0)
    return out


def _span_order(span: Span) -> tuple[float, float]:
    lo, hi = span
    return (-math.inf if lo is None else lo, math.inf if hi is None else hi)


def distribution_row(
    key: tuple[Any, ...], row_a: dict[str, Any] | None, row_b: dict[str, Any] | None
) -> dict[str, Any]:
    """One key of a distribution, bucket by bucket."""
    spans_a, spans_b = _spans(row_a), _spans(row_b)
    buckets = []
    for span in sorted(spans_a.keys() | spans_b.keys(), key=_span_order):
        a = spans_a.get(span, 0) if row_a is not None else None
        b = spans_b.get(span, 0) if row_b is not None else None
        buckets.append({"lo": span[0], "hi": span[1], **difference(a, b)})
    total_a = sum(spans_a.values()) if row_a is not None else None
    total_b = sum(spans_b.values()) if row_b is not None else None
    change = sum(abs(bucket["delta"] or 0) for bucket in buckets)
    return {"key": list(key), **difference(total_a, total_b), "change": change, "buckets": buckets}


def _rank(row: dict[str, Any]) -> tuple[float, float, str]:
    """Largest change first; then the bigger key; then the key's text, for a stable order."""
    change = row.get("change", row["delta"])
    size = max(abs(_number(row["a"]) or 0), abs(_number(row["b"]) or 0))
    return (-abs(change) if change is not None else 1.0, -size, repr(row["key"]))


def compare_aggregation(
    agg_a: dict[str, Any], agg_b: dict[str, Any], max_rows: int
) -> dict[str, Any]:
    """One aggregation in common: its rows ranked by change, at most ``max_rows`` of them."""
    rows_a = {_key(r): r for r in agg_a.get("rows") or ()}
    rows_b = {_key(r): r for r in agg_b.get("rows") or ()}
    keys = list(rows_a) + [k for k in rows_b if k not in rows_a]
    function = str(agg_a.get("function", ""))
    is_distribution = function in DISTRIBUTION_FUNCTIONS or any(
        r.get("buckets") is not None for r in (*rows_a.values(), *rows_b.values())
    )
    rows = []
    for key in keys:
        ra, rb = rows_a.get(key), rows_b.get(key)
        if is_distribution:
            rows.append(distribution_row(key, ra, rb))
        else:
            a = _value(ra) if ra is not None else None
            b = _value(rb) if rb is not None else None
            rows.append({"key": list(key), **difference(a, b)})
    rows.sort(key=_rank)
    return {
        "name": agg_a.get("name"),
        "function": function,
        "distribution": is_distribution,
        "rows": rows[:max_rows],
        "total_rows": len(rows),
        "left_out": max(0, len(rows) - max_rows),
        # A side cut to the server's cap: a key "missing" there may only be past the cap.
        "partial": agg_a.get("total_rows") is not None or agg_b.get("total_rows") is not None,
    }


def _by_name(aggs: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {str(agg.get("name")): agg for agg in aggs}


def compare_snapshots(a: dict[str, Any], b: dict[str, Any], max_rows: int) -> dict[str, Any]:
    """``{"aggregations", "only_in_a", "only_in_b", "mismatched"}`` for snapshots A and B,
    the aggregations in A's order."""
    aggs_a = _by_name(a.get("aggregations") or ())
    aggs_b = _by_name(b.get("aggregations") or ())
    compared = []
    mismatched = []
    for name, agg_a in aggs_a.items():
        agg_b = aggs_b.get(name)
        if agg_b is None:
            continue
        if agg_a.get("function") != agg_b.get("function"):
            mismatched.append(
                {"name": name, "function_a": agg_a.get("function"),
                 "function_b": agg_b.get("function")}
            )  # fmt: skip
            continue
        compared.append(compare_aggregation(agg_a, agg_b, max_rows))
    return {
        "aggregations": compared,
        "only_in_a": [n for n in aggs_a if n not in aggs_b],
        "only_in_b": [n for n in aggs_b if n not in aggs_a],
        "mismatched": mismatched,
    }
