"""Panels' tables: plain strings and numbers, shown by the page as text."""

from __future__ import annotations

from typing import Any

from .buckets import COUNT
from .kinds import ADDITIVE, DISTRIBUTIONS
from .labels import bucket_label, bucket_order, key_label, numeric, plain
from .view import View

TABLE_ROWS = 500  # rows sent to the browser; ``total_rows`` tells how many there were


def table(view: View, limit: int = TABLE_ROWS) -> dict[str, Any]:
    """Plain rows (strings and numbers), heaviest keys first, at most ``limit`` of them."""
    fn = view.function
    if fn in DISTRIBUTIONS:
        rows: list[list[Any]] = []
        for row in view.rows:
            if len(rows) >= limit:
                break
            label = key_label(row.key, full=True)
            for b in sorted(row.buckets or (), key=lambda b: bucket_order((b.lo, b.hi))):
                if b.count and len(rows) < limit:
                    rows.append([label, bucket_label(b, fn), b.count])
        total = 0
        for row in view.every_row:
            counts = list(map(COUNT, row.buckets or ()))
            total += len(counts) - counts.count(0)
        return {"columns": ["key", "range", "count"], "rows": rows, "total_rows": total}
    top = view.rows[:limit]
    if fn == "stats" or any(r.stats is not None for r in top):
        columns = ["key", "count", "average", "total"]
        rows = [
            [
                key_label(r.key, full=True),
                plain((r.stats or {}).get("count")),
                plain((r.stats or {}).get("average", r.value)),
                plain((r.stats or {}).get("total")),
            ]
            for r in top
        ]
    elif fn in ADDITIVE:
        grand = view.grand
        columns = ["key", fn, "%"]
        rows = [
            [
                key_label(r.key, full=True),
                plain(r.value),
                plain(100.0 * numeric(r.value) / grand) if grand else None,
            ]
            for r in top
        ]
    else:
        columns = ["key", fn]
        rows = [[key_label(r.key, full=True), plain(r.value)] for r in top]
    return {"columns": columns, "rows": rows, "total_rows": view.total_keys}
