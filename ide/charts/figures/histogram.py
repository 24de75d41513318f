"""Power-of-two and log-linear distributions: stacked bars over bucket ranges."""

from __future__ import annotations

from ..buckets import Columns
from ..labels import span_label
from ..text import plotly_text
from ..theme import COLORWAY, OTHER_COLOR, Figure, axis, base_layout, bucket_axis
from ..view import View, name_of, showing

HISTOGRAM_KEYS = 8  # stacked traces; the rest become "other keys"


def histogram_figure(view: View, uirevision: str) -> tuple[Figure, str | None]:
    """Bars over bucket ranges, one stacked trace per busy key, the rest as "other keys"."""
    top = view.rows[:HISTOGRAM_KEYS]
    columns = Columns(view.every_row)
    labels = [plotly_text(span_label(s, view.function)) for s in columns.spans]
    hover = "%{fullData.name}<br>%{x}: %{y:,}<extra></extra>"
    traces = []
    place = {id(row): n for n, row in enumerate(view.every_row)}
    for n, row in enumerate(top):
        traces.append(
            {
                "type": "bar",
                "name": plotly_text(name_of(row, view)),
                "x": labels,
                "y": columns.totals([place[id(row)]]),
                "marker": {"color": COLORWAY[n % len(COLORWAY)]},
                "hovertemplate": hover,
                # its row in the panel's keys (not in meta: plotly fills %{...} in a name
                # from a trace's meta, and a key may hold "%{x}")
                "customdata": [n] * len(labels),
            }
        )
    if len(view.every_row) > len(top):
        shown = {place[id(row)] for row in top}
        rest = columns.totals(n for n in range(len(view.every_row)) if n not in shown)
        traces.append(
            {
                "type": "bar",
                "name": f"other {len(view.every_row) - len(top):,} keys",
                "x": labels,
                "y": rest,
                "marker": {"color": OTHER_COLOR},
                "hovertemplate": hover,
            }
        )
    layout = base_layout(
        uirevision,
        barmode="stack",
        bargap=0.08,
        showlegend=len(traces) > 1,
        legend={"orientation": "h", "y": -0.25, "font": {"size": 11}},
        xaxis=bucket_axis(labels),
        yaxis=axis("count", rangemode="tozero"),
    )
    return {"data": traces, "layout": layout}, showing(len(top), view.total_keys)
