"""Aggregations as chart panels: plotly figure dicts, time series and tables.

``build_panels`` turns one ``Snapshot`` into one panel per aggregation; the browser draws
each ``figure``/``series`` with ``Plotly.react`` and shows ``table`` when asked for numbers.
Figures are built as plain dicts (the JSON plotly.js reads), not through
``plotly.graph_objects``: validating every property costs more than the rest of the
pipeline together, so the tests validate the dicts through ``graph_objects`` instead.

Every string from traced data (keys, frames, bucket bounds) goes into a figure through
``plotly_text`` (``text``), which makes plotly draw it as the text it is; tables are drawn
by the page as text and hold the strings as they are.

A module per concern: ``labels`` (keys, stacks, bucket ranges, numbers), ``buckets``
(distributions lined up by bucket), ``intervals`` (per-interval values and the ``History``
the series keep), ``view`` (an aggregation ranked once per panel), ``figures`` (one module
per kind of figure), ``tables``, ``panels`` (which figure an aggregation gets), ``theme``
(fonts, colours, layout) and ``renderer`` (the ``PlotlyRenderer`` the web app gives its
runs, so that the tracing core never imports this package).
"""

from __future__ import annotations

from .buckets import bucket_totals
from .figures.bars3d import AXIS_LABELS_3D, MESH_BARS
from .figures.flame import FLAME_NODES, flame_colour
from .figures.histogram import HISTOGRAM_KEYS
from .figures.pie_bar import BAR_KEYS
from .intervals import History, interval_aggregation
from .labels import bucket_label, key_label
from .panels import build_panels
from .renderer import PlotlyRenderer
from .tables import TABLE_ROWS

__all__ = [
    "AXIS_LABELS_3D",
    "BAR_KEYS",
    "FLAME_NODES",
    "HISTOGRAM_KEYS",
    "MESH_BARS",
    "TABLE_ROWS",
    "History",
    "PlotlyRenderer",
    "bucket_label",
    "bucket_totals",
    "build_panels",
    "flame_colour",
    "interval_aggregation",
    "key_label",
]
