"""Linear distributions: buckets by keys, counts as the heights of boxes in a 3D scene."""

from __future__ import annotations

import base64
import math
from array import array
from collections.abc import Sequence
from itertools import compress
from typing import Any

from ..buckets import Columns
from ..labels import Span, span_label
from ..text import plotly_text
from ..theme import GRID, SEQUENTIAL, Figure, base_layout
from ..view import View, name_of, showing

MESH_BARS = 6000  # 3D bars drawn; buckets are merged when more would be needed
AXIS_LABELS_3D = 20  # tick labels per 3D axis; every row is still drawn and hoverable
_BOX_I = (0, 0, 4, 4, 0, 0, 1, 1, 2, 2, 3, 3)
_BOX_J = (1, 2, 5, 6, 1, 5, 2, 6, 3, 7, 0, 4)
_BOX_K = (2, 3, 6, 7, 5, 4, 6, 5, 7, 6, 4, 7)
_CELL = 10  # a bucket/key cell is 10 units wide; a bar fills 8 of them
MIN_BUCKETS_3D = 6  # merging stops here; then the lightest keys go


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


# Per row (in row order), the bucket indices and counts of its non-zero buckets.
_RowCells = list[tuple[list[int], list[int]]]


def bars3d_figure(view: View, uirevision: str, max_keys: int) -> tuple[Figure, str | None]:
    """Buckets along X, keys along Y, counts as the height of boxes (one mesh3d trace).

    Every key up to ``max_keys`` gets a row.  A mesh of more than ``MESH_BARS`` boxes is
    too heavy to send every interval, so adjacent buckets are merged first (the bars get
    wider, no key is lost) and only then are the lightest keys left out.
    """
    rows = view.rows[:max_keys]
    columns = Columns(rows)
    spans, fine, factor = _merge_to_fit(columns.spans, _nonzero_cells(columns))
    cells = [
        (bx, y, count)
        for y, (where, counts) in enumerate(fine)
        for bx, count in zip(where, counts, strict=True)
    ]
    if len(cells) > MESH_BARS:  # still too many: keep the heaviest keys' rows
        keep = cells[MESH_BARS][1]  # cells are in row order: cut before this row
        rows = rows[: max(1, keep)]
        cells = [c for c in cells if c[1] < len(rows)]
    notes = [showing(len(rows), view.total_keys)]
    if factor > 1:
        notes.append(f"{factor} adjacent buckets per bar")

    bucket_labels = [span_label(s, view.function) for s in spans]
    key_labels = [name_of(r, view) for r in rows]
    trace = _boxes_trace(cells, key_labels, bucket_labels)
    layout = base_layout(uirevision, scene=_scene(key_labels, bucket_labels))
    return {"data": [trace], "layout": layout}, "; ".join(filter(None, notes)) or None


def _nonzero_cells(columns: Columns) -> _RowCells:
    """Bucket indices and counts of each row's non-zero buckets, in row order."""
    fine: _RowCells = []
    for where, counts in zip(columns.indices, columns.counts, strict=True):
        if 0 in counts:
            nonzero = list(compress(range(len(counts)), counts))
            where = list(map(where.__getitem__, nonzero))
            counts = list(map(counts.__getitem__, nonzero))
        fine.append((where, counts))
    return fine


def _merge_to_fit(spans: list[Span], fine: _RowCells) -> tuple[list[Span], _RowCells, int]:
    """The fewest adjacent buckets merged for the bars to fit in ``MESH_BARS``.

    Returns the spans and row cells after merging and how many buckets make one bar.
    """
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
    return spans, fine, factor


def _boxes_trace(
    cells: list[tuple[int, int, int]], key_labels: list[str], bucket_labels: list[str]
) -> dict[str, Any]:
    """One mesh3d trace of a box per (bucket, key, count) cell, as typed arrays."""
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
    return {
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
        "meta": {"cell": _CELL},  # a box at y in [k * cell, (k + 1) * cell) is row k
        "colorbar": {"thickness": 10, "len": 0.6, "outlinewidth": 0},
    }


def _ticks(labels: list[str]) -> dict[str, Any]:
    """At most ``AXIS_LABELS_3D`` tick labels, evenly spaced, at the middle of their cells."""
    step = max(1, math.ceil(len(labels) / AXIS_LABELS_3D))
    picked = range(0, len(labels), step)
    return {
        "tickmode": "array",
        "tickvals": [i * _CELL + _CELL // 2 for i in picked],
        "ticktext": [plotly_text(labels[i], webgl=True) for i in picked],
    }


def _scene(key_labels: list[str], bucket_labels: list[str]) -> dict[str, Any]:
    """The 3D scene: bucket and key axes as wide as their cells, a camera that fits the box."""
    scene_axis = {
        "backgroundcolor": "rgba(0,0,0,0)",
        "gridcolor": GRID,
        "showspikes": False,
        "zerolinecolor": GRID,
        "tickfont": {"size": 10},
    }
    return {
        "xaxis": {
            **scene_axis,
            **_ticks(bucket_labels),
            "title": {"text": "bucket"},
            "range": [0, max(1, len(bucket_labels)) * _CELL],
        },
        "yaxis": {
            **scene_axis,
            **_ticks(key_labels),
            "title": {"text": "key"},
            "range": [0, max(1, len(key_labels)) * _CELL],
        },
        "zaxis": {**scene_axis, "title": {"text": "count"}, "rangemode": "tozero"},
        "aspectmode": "manual",
        "aspectratio": {"x": 1.5, "y": 1.5, "z": 0.7},
        # Looking a little below the box's middle keeps its front labels inside the panel.
        "camera": {
            "eye": {"x": 1.6, "y": -1.6, "z": 1.1},
            "center": {"x": 0, "y": 0, "z": -0.35},
        },
    }
