"""Stack-keyed counts and sums: a flame graph (an icicle with its root at the bottom)."""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from ide.tracing.model import Row

from ..labels import is_stack, numeric, stack_frames
from ..text import plotly_text
from ..theme import Figure, base_layout
from ..view import View, showing

FLAME_NODES = 3000  # frames drawn; the lightest are dropped first
OFFSETS_SHOWN = 4  # distinct offsets a frame's hover lists
# A sample with no frames in this stack: under kstack a sample taken in user mode (and the
# other way round). Often most samples; the page can hide them.
NO_FRAMES = "(no frames: sampled in the other mode)"
# "do_syscall_64+113", "vmlinux`do_syscall_64+0x71": the function, then its offset.
_OFFSET = re.compile(r"^(.+?)(\+(?:0x[0-9a-fA-F]+|[0-9]+))$")


def split_offset(frame: str) -> tuple[str, str]:
    """``("do_syscall_64", "+113")``; a frame with no offset (an address) is kept whole."""
    m = _OFFSET.match(frame)
    return (m.group(1), m.group(2)) if m else (frame, "")


@dataclass
class FrameTree:
    """Frames merged by function: each node's label, parent (-1 for the root "all"), value
    and the offsets seen, parents before their children."""

    labels: list[str] = field(default_factory=lambda: ["all"])
    parents: list[int] = field(default_factory=lambda: [-1])
    values: list[float] = field(default_factory=lambda: [0.0])
    offsets: list[dict[str, None]] = field(default_factory=lambda: [{}])
    index: dict[tuple[int, str], int] = field(default_factory=dict)
    # A node that ends a key part with only stacks after it: (a row through it, the parts
    # it fixes), so a click on it drills into those parts.
    key_nodes: dict[int, tuple[int, int]] = field(default_factory=dict)

    def child(self, node: int, frame: str) -> int:
        name, offset = split_offset(frame)
        child = self.index.get((node, name))
        if child is None:
            child = self.index[(node, name)] = len(self.labels)
            self.labels.append(name)
            self.parents.append(node)
            self.values.append(0.0)
            self.offsets.append({})
        if offset and len(self.offsets[child]) < OFFSETS_SHOWN:
            self.offsets[child][offset] = None
        return child

    def hover(self, i: int) -> str:
        seen = list(self.offsets[i])
        return "offsets " + ", ".join(seen) if seen else ""


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
    tree = _frame_tree(view.rows[:max_keys])
    labels, parents, values = tree.labels, tree.parents, tree.values
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
        "customdata": [plotly_text(tree.hover(i)) for i in keep],
        "meta": {
            "no_frames": [str(i) for i in keep if labels[i] == NO_FRAMES],
            # a key part's node: [its row in the panel's keys, how many parts it fixes]
            "key_nodes": {str(i): list(tree.key_nodes[i]) for i in keep if i in tree.key_nodes},
        },
        "branchvalues": "total",
        "sort": False,
        "tiling": {"orientation": "v", "flip": "y", "pad": 0},
        "marker": {
            "colors": [flame_colour(labels[i]) for i in keep],
            "line": {"width": 0.5, "color": "rgba(255,255,255,0.7)"},
        },
        "textinfo": "label",
        "insidetextfont": {"size": 11},
        "hovertemplate": (
            "%{label}<br>%{value:,} (%{percentRoot:.1%})<br>%{customdata}<extra></extra>"
        ),
        "maxdepth": -1,
    }
    note = "; ".join(filter(None, notes)) or None
    return {"data": [trace], "layout": base_layout(uirevision)}, note


def _frame_tree(rows: Sequence[Row]) -> FrameTree:
    """The frames of ``rows`` as a tree; frames of one function at different offsets are one
    frame (as FlameGraph merges them), their offsets kept for the hover."""
    tree = FrameTree()
    for rank, row in enumerate(rows):
        value = numeric(row.value)
        if value <= 0:
            continue
        tree.values[0] += value
        node = 0
        stacks = [is_stack(part) or part == "" for part in row.key]
        for n, part in enumerate(row.key):
            path = (
                list(reversed(stack_frames(str(part)))) or [NO_FRAMES] if stacks[n] else [str(part)]
            )
            for frame in path:
                node = tree.child(node, frame)
                tree.values[node] += value
            if not stacks[n] and all(stacks[n + 1 :]):
                tree.key_nodes.setdefault(node, (rank, n + 1))
    return tree


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
