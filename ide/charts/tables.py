"""Panels' tables: plain strings and numbers, shown by the page as text."""

from __future__ import annotations

from typing import Any

from ide.tracing.model import Key, KeyPart

from .buckets import COUNT
from .kinds import ADDITIVE, DISTRIBUTIONS
from .labels import bucket_label, bucket_order, is_stack, key_label, numeric, plain
from .view import View

TABLE_ROWS = 500  # rows sent to the browser; ``total_rows`` tells how many there were


def key_arity(view: View) -> int:
    """How many parts the keys have (the most of the rows shown; 1 for none)."""
    return max((len(r.key) for r in view.rows), default=1) or 1


def key_columns(arity: int) -> list[str]:
    return ["key"] if arity <= 1 else [f"key {i}" for i in range(1, arity + 1)]


def key_cells(key: Key, arity: int) -> list[Any]:
    """One cell per key part (a stack with all its frames); a single key as its label."""
    if arity <= 1:
        return [key_label(key, full=True)]
    cells: list[Any] = [key_label((part,), full=True) for part in key]
    return cells + [""] * (arity - len(cells))


def drill_keys(view: View, limit: int) -> list[list[KeyPart | None] | None]:
    """The keys a click on a chart or table row drills into, heaviest first (a figure's
    ``customdata``/``meta`` and a table's ``ranks`` index them). A stack part is None, since
    a stack cannot be matched by value, and a key of nothing but stacks is None."""
    keys: list[list[KeyPart | None] | None] = []
    for r in view.rows[:limit]:
        parts = [None if is_stack(p) else p for p in r.key]
        keys.append(None if r.key and all(p is None for p in parts) else parts)
    return keys


def table(view: View, limit: int = TABLE_ROWS) -> dict[str, Any]:
    """Plain rows (strings and numbers), heaviest keys first, at most ``limit`` of them;
    a multi-part key is split into one column per part."""
    arity = key_arity(view)
    keys = key_columns(arity)
    fn = view.function
    if fn in DISTRIBUTIONS:
        rows: list[list[Any]] = []
        ranks: list[int] = []  # each table row's row in the panel's keys
        for rank, row in enumerate(view.rows):
            if len(rows) >= limit:
                break
            cells = key_cells(row.key, arity)
            for b in sorted(row.buckets or (), key=lambda b: bucket_order((b.lo, b.hi))):
                if b.count and len(rows) < limit:
                    rows.append([*cells, bucket_label(b, fn), b.count])
                    ranks.append(rank)
        total = 0
        for row in view.every_row:
            counts = list(map(COUNT, row.buckets or ()))
            total += len(counts) - counts.count(0)
        return {
            "columns": [*keys, "range", "count"],
            "rows": rows,
            "ranks": ranks,
            "total_rows": total,
        }
    top = view.rows[:limit]
    if fn == "stats" or any(r.stats is not None for r in top):
        columns = [*keys, "count", "average", "total"]
        rows = [
            [
                *key_cells(r.key, arity),
                plain((r.stats or {}).get("count")),
                plain((r.stats or {}).get("average", r.value)),
                plain((r.stats or {}).get("total")),
            ]
            for r in top
        ]
    elif fn in ADDITIVE:
        grand = view.grand
        columns = [*keys, fn, "%"]
        rows = [
            [
                *key_cells(r.key, arity),
                plain(r.value),
                plain(100.0 * numeric(r.value) / grand) if grand else None,
            ]
            for r in top
        ]
    else:
        columns = [*keys, fn]
        rows = [[*key_cells(r.key, arity), plain(r.value)] for r in top]
    return {
        "columns": columns,
        "rows": rows,
        "ranks": list(range(len(rows))),
        "total_rows": view.total_keys,
    }
