"""Figures over time, from a run's ``History``: stacked areas of keys, heatmaps of buckets."""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping
from typing import Any

from ide.tracing.model import Key

from ..intervals import BucketSeries, KeyedSeries
from ..labels import bucket_order, key_label, span_label
from ..text import plotly_text
from ..theme import COLORWAY, HEAT, OTHER_COLOR, Figure, axis, base_layout


def keyed_series_figure(
    series: KeyedSeries,
    function: str,
    uirevision: str,
    keys: int,
    totals: Mapping[Key, float] | None = None,
) -> Figure | None:
    """A stacked area of per-interval values of the busiest keys, plus everything else; with
    ``totals`` (each key's value now, for count and sum) the running totals instead: a
    point's total is the value now less what was added after it."""
    points = list(series.points)
    if len(points) < 2:
        return None
    if totals is not None:
        points = _running_totals(points, totals)
    weight: dict[Key, float] = {}
    for _, _, values in points:
        for key, v in values.items():
            weight[key] = weight.get(key, 0.0) + abs(v)
    top = heapq.nlargest(keys, weight, key=weight.__getitem__)
    t = [p[0] for p in points]
    traces = []
    shown = [0.0] * len(points)
    for n, key in enumerate(top):
        ys = [p[2].get(key, 0.0) for p in points]
        shown = [a + b for a, b in zip(shown, ys, strict=True)]
        traces.append(_area(plotly_text(key_label(key)), t, ys, COLORWAY[n % len(COLORWAY)]))
    rest = [p[1] - s for p, s in zip(points, shown, strict=True)]
    if any(abs(r) > 1e-9 for r in rest):
        traces.append(_area("other", t, rest, OTHER_COLOR))
    layout = base_layout(
        uirevision,
        showlegend=True,
        legend={"orientation": "h", "y": -0.2, "font": {"size": 11}},
        xaxis=axis("seconds"),
        yaxis=axis(
            f"{function}, running total" if totals is not None else f"{function} per interval",
            rangemode="tozero",
        ),
        hovermode="x unified",
    )
    return {"data": traces, "layout": layout}


def _area(name: str, t: list[float], ys: list[float], color: str) -> dict[str, Any]:
    return {
        "type": "scatter",
        "mode": "lines",
        "name": name,
        "x": t,
        "y": ys,
        "stackgroup": "one",
        "line": {"width": 0.5, "color": color},
        "fillcolor": color,
        "hovertemplate": "%{fullData.name}: %{y:,}<extra></extra>",
    }


def _running_totals(points: list[Any], totals: Mapping[Key, float]) -> list[Any]:
    """The points of per-interval values as running totals, from the totals now."""
    grand = sum(totals.values())
    now_keys = dict(totals)
    out = []
    for t, total, values in reversed(points):
        out.append((t, grand, {k: now_keys.get(k, 0.0) for k in values}))
        grand -= total
        for k, v in values.items():
            now_keys[k] = now_keys.get(k, 0.0) - v
    out.reverse()
    return out


def heatmap_figure(series: BucketSeries, function: str, uirevision: str) -> Figure | None:
    """Time along X, buckets along Y, per-interval counts (all keys together) as colour.

    Colour is the log of the count by default, so one hot bucket does not wash out every
    other cell (the appliance Analytics did the same); ``customdata`` keeps the counts, which
    the hover shows and from which the page recolours linearly or by rank.
    """
    points = list(series.points)
    if len(points) < 2:
        return None
    order = sorted(series.spans, key=bucket_order)
    counts = []
    for span in order:
        i = series.spans[span]
        counts.append([p[1][i] if i < len(p[1]) else 0 for p in points])
    labels = [plotly_text(span_label(s, function)) for s in order]
    top = max((c for row in counts for c in row), default=0)
    tickvals, ticktext = log_ticks(top)
    trace = {
        "type": "heatmap",
        "x": [p[0] for p in points],
        "y": labels,
        "z": [[log_colour(c) for c in row] for row in counts],
        "customdata": counts,
        # each line's bucket bounds, for "what's in this bucket"
        "meta": {"colour": "log", "spans": [list(s) for s in order]},
        "colorscale": HEAT,
        "zmin": 0,
        "ygap": 1,
        "colorbar": {
            "thickness": 10,
            "len": 0.8,
            "outlinewidth": 0,
            "tickvals": tickvals,
            "ticktext": ticktext,
        },
        "hovertemplate": "%{x:.1f} s<br>%{y}: %{customdata:,}<extra></extra>",
    }
    layout = base_layout(
        uirevision,
        xaxis=axis("seconds"),
        yaxis=axis("", type="category", categoryorder="array", categoryarray=labels),
    )
    return {"data": [trace], "layout": layout}


def log_colour(count: float) -> float:
    """The colour value of a count: log10(1 + count), so 0 stays 0 (transparent)."""
    return round(math.log10(1 + count), 4) if count > 0 else 0.0


def log_ticks(top: float) -> tuple[list[float], list[str]]:
    """Colour-bar ticks at the powers of ten up to ``top``, labelled with the counts."""
    vals: list[float] = []
    text: list[str] = []
    power = 1
    while power <= max(top, 1):
        vals.append(log_colour(power))
        text.append(f"{power:,}")
        power *= 10
    return vals, text
