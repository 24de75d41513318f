"""The look shared by every figure: font, colours, and the layout and axes they start from."""

from __future__ import annotations

from typing import Any

Figure = dict[str, Any]

FONT = {
    "family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    "size": 12,
    "color": "#1f2933",
}
GRID = "rgba(31, 41, 51, 0.12)"
COLORWAY = [
    "#3b6fd4",
    "#e07b39",
    "#3a9d6b",
    "#c94f5d",
    "#8a63c9",
    "#2aa5b8",
    "#c7a23a",
    "#d46fae",
    "#6b7a8f",
    "#7cae3a",
    "#a35c3a",
    "#4f8fc9",
    "#b84f9b",
    "#5aa58f",
    "#9a9a3a",
]
OTHER_COLOR = "#c3cad3"
SEQUENTIAL = [
    [0.0, "#eef3fb"],
    [0.25, "#9ec1ea"],
    [0.5, "#4f8fd9"],
    [0.75, "#e0823d"],
    [1.0, "#b8302c"],
]
HEAT = [
    [0.0, "rgba(255,255,255,0)"],
    [0.0001, "#e8f0fb"],
    [0.3, "#7fb0e6"],
    [0.6, "#3b6fd4"],
    [0.85, "#e07b39"],
    [1.0, "#b8302c"],
]


def base_layout(uirevision: str, **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "autosize": True,
        "uirevision": uirevision,
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": dict(FONT),
        "colorway": COLORWAY,
        "margin": {"l": 8, "r": 8, "t": 8, "b": 8, "pad": 2},
        "hoverlabel": {"font": {"family": FONT["family"], "size": 12}},
        "showlegend": False,
    }
    layout.update(extra)
    return layout


def bucket_axis(labels: list[str]) -> dict[str, Any]:
    """The x axis of a distribution's buckets, in their order; up to a dozen labels plotly
    tilts only when they would overlap."""
    tilt = {"tickangle": -45} if len(labels) > 12 else {}
    return axis("", type="category", categoryorder="array", categoryarray=labels, **tilt)


def axis(title: str = "", **extra: Any) -> dict[str, Any]:
    axis: dict[str, Any] = {
        "automargin": True,
        "gridcolor": GRID,
        "zerolinecolor": GRID,
        "linecolor": GRID,
    }
    if title:
        axis["title"] = {"text": title, "standoff": 6}
    axis.update(extra)
    return axis
