"""Stack-keyed counts and sums: a flame graph (an icicle with its root at the bottom)."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

from ide.tracing.model import Row

from ..labels import is_stack, numeric, stack_frames
from ..text import plotly_text
from ..theme import Figure, base_layout
from ..view import View, showing

FLAME_NODES = 3000  # frames drawn; the lightest are dropped first


def flame_colour(frame: str) -> str:
    """The classic warm flame-graph colours, chosen by the frame's name so a frame keeps its
    colour from one snapshot to the next."""
    if frame == "all":
        return "hsl(0, 0%, 78%)"
    h = zlib.crc32(frame.encode("utf-8", "surrogatepass"))
    return f"hsl({h % 50}, {70 + (h >> 8) % 25}%, {52 + (h >> 16) % 14}%)"


def flame_figure(view: View, uirevision: str, max_keys: int) -> tuple[Figure, str | None]:
    """An icicle of stacks with the root at the bottom; other key parts sit below the stack.

    Paths that share a prefix share nodes, so identical frame paths merge; the lightest
    nodes are dropped when there are more than ``FLAME_NODES``.
    """
    labels, parents, values = _frame_tree(view.rows[:max_keys])
    keep = list(range(len(labels)))
    notes = [showing(min(max_keys, len(view.rows)), view.total_keys, "stacks")]
    if len(labels) > FLAME_NODES:
        keep = _heaviest_nodes(values)
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
    note = "; ".join(filter(None, notes)) or None
    return {"data": [trace], "layout": base_layout(uirevision)}, note


def _frame_tree(rows: Sequence[Row]) -> tuple[list[str], list[int], list[float]]:
    """The frames of ``rows`` as a tree: each node's label, parent (-1 for the root "all")
    and value, parents before their children."""
    labels = ["all"]
    parents = [-1]
    values = [0.0]
    children: dict[tuple[int, str], int] = {}
    for row in rows:
        value = numeric(row.value)
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
    return labels, parents, values


def _heaviest_nodes(values: list[float]) -> list[int]:
    """The ``FLAME_NODES`` heaviest nodes, in tree order.

    A parent weighs at least as much as its children and comes before them, so a weight
    floor (ties taken in order while there is room) keeps a tree.
    """
    floor = sorted(values, reverse=True)[FLAME_NODES - 1]
    room = FLAME_NODES - sum(1 for v in values if v > floor)
    keep = []
    for i, v in enumerate(values):
        if v > floor or (v == floor and room > 0):
            keep.append(i)
            room -= v == floor
    return keep
