"""One value per key: a pie of counts, sorted horizontal bars of sums and the like."""

from __future__ import annotations

import math

from ..labels import numeric
from ..text import plotly_text
from ..theme import COLORWAY, OTHER_COLOR, Figure, axis, base_layout
from ..view import View, name_of, showing

PIE_SLICES = 15  # the rest of the keys become one "other" slice
BAR_KEYS = 25


def pie_figure(view: View, uirevision: str) -> tuple[Figure, str | None]:
    top = view.rows[:PIE_SLICES]
    labels = [plotly_text(name_of(r, view)) for r in top]
    values: list[float] = [numeric(r.value) for r in top]
    colors = [COLORWAY[i % len(COLORWAY)] for i in range(len(top))]
    ranks = list(range(len(top)))  # each slice's row in the panel's keys; -1: no one key
    if view.total_keys > len(top):
        labels.append(f"other ({view.total_keys - len(top):,} keys)")
        values.append(view.grand - math.fsum(values))
        colors.append(OTHER_COLOR)
        ranks.append(-1)
    trace = {
        "type": "pie",
        "labels": labels,
        "values": values,
        "customdata": ranks,
        "sort": False,
        "direction": "clockwise",
        "hole": 0.35,
        "textinfo": "percent",
        "textposition": "inside",
        "insidetextorientation": "horizontal",
        "marker": {"colors": colors, "line": {"color": "rgba(255,255,255,0.8)", "width": 1}},
        "hovertemplate": "%{label}<br>%{value:,} (%{percent})<extra></extra>",
    }
    layout = base_layout(
        uirevision,
        showlegend=True,
        legend={"orientation": "v", "x": 1.0, "xanchor": "left", "y": 0.5, "font": {"size": 11}},
    )
    note = showing(len(top), view.total_keys)
    if view.server_cap is not None:
        note = f"{note}; 'other' adds up the {len(view.every_row):,} keys received"
    return {"data": [trace], "layout": layout}, note


def bar_figure(view: View, uirevision: str) -> tuple[Figure, str | None]:
    ranked = sorted(
        enumerate(view.rows[:BAR_KEYS]), key=lambda nr: numeric(nr[1].value), reverse=True
    )
    top = [r for _, r in ranked]
    trace = {
        "type": "bar",
        "orientation": "h",
        "x": [numeric(r.value) for r in top],
        "y": [plotly_text(name_of(r, view)) for r in top],
        "customdata": [n for n, _ in ranked],  # each bar's row in the panel's keys
        "marker": {"color": COLORWAY[0]},
        "hovertemplate": "%{y}<br>%{x:,}<extra></extra>",
        "cliponaxis": False,
    }
    layout = base_layout(
        uirevision,
        xaxis=axis(view.function),
        yaxis=axis(autorange="reversed", type="category"),
        bargap=0.25,
    )
    return {"data": [trace], "layout": layout}, showing(len(top), view.total_keys)
