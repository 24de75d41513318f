"""Keyed linear distributions as a 2D heatmap: buckets along X, one row per key, the count
as colour (log by default, as for heatmaps over time).

This is what a keyed lhist/lquantize shows first: every cell is readable at once and it
draws in milliseconds, where 3D bars read poorly and take 0.25-1 s under software GL (they
stay one click away).
"""

from __future__ import annotations

from ..buckets import Columns
from ..labels import span_label
from ..text import plotly_text
from ..theme import HEAT, Figure, axis, base_layout
from ..view import View, name_of, showing
from .series import log_colour, log_ticks

HEATMAP_KEYS = 200  # rows drawn; the heaviest keys first


def keyed_heatmap_figure(view: View, uirevision: str, max_keys: int) -> tuple[Figure, str | None]:
    rows = view.rows[: min(max_keys, HEATMAP_KEYS)]
    columns = Columns(rows)
    width = len(columns.spans)
    counts: list[list[int]] = []
    for where, row_counts in zip(columns.indices, columns.counts, strict=True):
        line = [0] * width
        for i, count in zip(where, row_counts, strict=True):
            line[i] += count
        counts.append(line)
    counts.reverse()  # the heaviest key at the top
    keys = [plotly_text(name_of(r, view)) for r in reversed(rows)]
    buckets = [plotly_text(span_label(s, view.function)) for s in columns.spans]
    top = max((c for line in counts for c in line), default=0)
    tickvals, ticktext = log_ticks(top)
    trace = {
        "type": "heatmap",
        "x": buckets,
        "y": keys,
        "z": [[log_colour(c) for c in line] for line in counts],
        "customdata": counts,
        # each line's row in the panel's keys (the heaviest is drawn at the top)
        "meta": {"colour": "log", "ranks": list(reversed(range(len(rows))))},
        "colorscale": HEAT,
        "zmin": 0,
        "xgap": 1,
        "ygap": 1,
        "colorbar": {
            "thickness": 10,
            "len": 0.8,
            "outlinewidth": 0,
            "tickvals": tickvals,
            "ticktext": ticktext,
        },
        "hovertemplate": "%{y}<br>%{x}: %{customdata:,}<extra></extra>",
    }
    layout = base_layout(
        uirevision,
        xaxis=axis("", type="category", categoryorder="array", categoryarray=buckets),
        yaxis=axis("", type="category", categoryorder="array", categoryarray=keys, automargin=True),
    )
    return {"data": [trace], "layout": layout}, showing(len(rows), view.total_keys)
