"""Two runs' distributions of one key, overlaid: a bar trace for A and one for B over the
union of their bucket ranges (the compare page, ``GET /api/compare?charts=1``)."""

from __future__ import annotations

from typing import Any

from .labels import span_label
from .text import plotly_text
from .theme import COLORWAY, Figure, axis, base_layout, bucket_axis

SIDE_COLOURS = {"A": COLORWAY[0], "B": COLORWAY[1]}


def bucket_ranges(buckets: list[dict[str, Any]], function: str) -> list[str]:
    """Each compared bucket's range as the tracer prints it (``[2, 4)``), as plain text."""
    return [span_label((b["lo"], b["hi"]), function) for b in buckets]


def overlay_figure(buckets: list[dict[str, Any]], function: str, uirevision: str) -> Figure:
    """A's and B's counts per bucket, drawn over each other; hovering a bucket shows both."""
    labels = [plotly_text(label) for label in bucket_ranges(buckets, function)]
    traces = []
    for side in ("A", "B"):
        counts = [b[side.lower()] or 0 for b in buckets]
        traces.append(
            {
                "type": "bar",
                "name": side,
                "x": labels,
                "y": counts,
                "marker": {"color": SIDE_COLOURS[side], "opacity": 0.6},
                "hovertemplate": f"{side}: %{{y:,}}<extra></extra>",
            }
        )
    layout = base_layout(
        uirevision,
        barmode="overlay",
        bargap=0.08,
        showlegend=True,
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0, "font": {"size": 11}},
        margin={"l": 8, "r": 8, "t": 28, "b": 8, "pad": 2},
        xaxis=bucket_axis(labels),
        yaxis=axis("count", rangemode="tozero"),
        hovermode="x unified",
    )
    return {"data": traces, "layout": layout}
