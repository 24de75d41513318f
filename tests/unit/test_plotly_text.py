"""Traced text reaches plotly as text: every figure kind, every place a key can show.

``shown_by_plotly`` reads a string the way plotly.js draws SVG text (src/lib/svg_text_utils.js:
split on tags, decode entities once); tests/browser/test_traced_text.py checks the same
keys in the real plotly.js.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import plotly.graph_objects as go
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ide.charts import History, build_panels, flame_colour
from ide.plotly_text import WORD_JOINER, plotly_text
from ide.tracing.model import Aggregation, Bucket, Row, Snapshot

HOSTILE = [
    '<a href="http://x">x</a>',
    "<b style=font-size:400px>big</b>",
    '<b style="font-size:400px">big</b>',
    "&lt;",
    "%{x}",
    "&#60;script&#62;",
    "vector<int>::push_back",
]
BENIGN = [f"key{i}" for i in range(len(HOSTILE))]

# Markup the figure builders write themselves, around the traced text.
OWN_MARKUP = re.compile(r"<br>|<extra></extra>")
TAG = re.compile(r"<[^<>]*>")  # what plotly.js takes for a tag
ENTITY = re.compile(r"&(#\d+|#x[\da-fA-F]+|[a-z]+);")  # what plotly.js decodes
SCENE_TICK = re.compile(r"\.scene\.\w+\.ticktext\[\d+\]$")  # drawn in WebGL
UNBROKEN_TAG = re.compile("<(?!" + WORD_JOINER + ")")


def shown_by_plotly(text: str) -> str:
    """The text plotly.js draws for an SVG string, or AssertionError if it holds a tag."""
    assert not TAG.search(text), f"plotly would read markup in {text!r}"
    return ENTITY.sub(lambda m: html.unescape(m.group(0)), text)


def strings(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every (path, string) in a figure dict."""
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from strings(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from strings(v, f"{path}[{i}]")


def stack(*frames: str) -> str:
    return "".join(f"\n        {f}" for f in frames) + "\n"


def aggregations(keys: list[str]) -> tuple[Aggregation, ...]:
    """One aggregation per figure kind, keyed by ``keys``."""
    linear = {"lo": 0, "hi": 30, "step": 10}
    return (
        Aggregation("@pie", "count", tuple(Row((k,), value=i + 1) for i, k in enumerate(keys))),
        Aggregation("@bar", "sum", tuple(Row((k, 7), value=-i - 1) for i, k in enumerate(keys))),
        Aggregation(
            "@hist",
            "hist",
            tuple(
                Row((k,), buckets=(Bucket(1, 1, i + 1), Bucket(2, 3, 2)))
                for i, k in enumerate(keys)
            ),
        ),
        Aggregation(
            "@bars3d",
            "lhist",
            tuple(
                Row((k,), buckets=(Bucket(0, 9, i + 1), Bucket(10, 19, 1)))
                for i, k in enumerate(keys)
            ),
            linear,
        ),
        Aggregation(
            "@flame",
            "count",
            tuple(Row((stack(k, f"main<{k}>"), k), value=i + 1) for i, k in enumerate(keys)),
        ),
        Aggregation("@table", "value", tuple(Row((k,), value=k) for k in keys)),
    )


def panels(keys: list[str]) -> list[dict[str, Any]]:
    """The panels of the second of two snapshots, so that the time series are drawn too."""
    history = History()
    first = Snapshot(1.0, aggregations(keys))
    history.add(first)
    doubled = tuple(
        Aggregation(
            a.name,
            a.function,
            tuple(
                Row(
                    r.key,
                    value=r.value * 2 if isinstance(r.value, int) else r.value,
                    buckets=tuple(Bucket(b.lo, b.hi, b.count * 2) for b in r.buckets)
                    if r.buckets
                    else None,
                )
                for r in a.rows
            ),
            a.params,
        )
        for a in first.aggregations
    )
    second = Snapshot(2.0, doubled)
    history.add(second)
    return build_panels(second, history)


def figures(panel: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{panel['name']}.{part}", panel[part])
        for part in ("figure", "series")
        if panel[part] is not None
    ]


def test_svg_text_is_escaped_as_entities() -> None:
    assert plotly_text('<a href="http://x">x</a>') == '&lt;a href="http://x"&gt;x&lt;/a&gt;'
    assert plotly_text("&lt;") == "&amp;lt;"
    assert plotly_text("%{x}") == "%{x}"
    assert plotly_text("plain, 42") == "plain, 42"


def test_webgl_text_breaks_every_tag_with_an_invisible_joiner() -> None:
    assert plotly_text("<b>big</b>", webgl=True) == f"<{WORD_JOINER}b>big<{WORD_JOINER}/b>"
    # WebGL text decodes no entities: they stay as they are.
    assert plotly_text("&lt;", webgl=True) == "&lt;"


@given(st.text())
def test_plotly_draws_any_text_literally(text: str) -> None:
    assert shown_by_plotly(plotly_text(text)) == text
    webgl = plotly_text(text, webgl=True)
    assert not UNBROKEN_TAG.search(webgl)
    assert webgl.replace(WORD_JOINER, "") == text.replace(WORD_JOINER, "")


def test_every_figure_kind_is_built_from_panels() -> None:
    kinds = {p["kind"] for p in panels(HOSTILE)}
    assert kinds == {"pie", "bar", "histogram", "bars3d", "flame", "table"}
    series = {p["name"]: p["series"]["data"][0]["type"] for p in panels(HOSTILE) if p["series"]}
    assert series == {
        "@pie": "scatter",
        "@hist": "heatmap",
        "@bars3d": "heatmap",
        "@bar": "scatter",
        "@flame": "scatter",
    }


def test_no_figure_holds_markup_from_a_key_and_every_key_is_drawn_as_text() -> None:
    checked = []
    for panel in panels(HOSTILE):
        for where, figure in figures(panel):
            go.Figure(figure)
            drawn = []
            for path, text in strings(figure):
                if path.endswith(".hovertemplate"):
                    continue  # constants: see the test below
                if SCENE_TICK.search(path):
                    assert not UNBROKEN_TAG.search(text), (where, path, text)
                    drawn.append(text.replace(WORD_JOINER, ""))
                else:
                    drawn.append(shown_by_plotly(OWN_MARKUP.sub(" | ", text)))
            if figure["data"][0]["type"] == "heatmap":
                continue  # buckets over time, summed over all keys: no key is shown
            shown = " | ".join(drawn)
            for key in HOSTILE:
                assert key in shown, (where, key, shown)
            checked.append(where)
    assert len(checked) == 8, checked  # 5 charts, 3 stacked areas over time


def test_the_3d_chart_labels_keys_in_ticks_and_in_hover() -> None:
    [panel] = [p for p in panels(HOSTILE) if p["kind"] == "bars3d"]
    figure = panel["figure"]
    ticks = figure["layout"]["scene"]["yaxis"]["ticktext"]
    assert sorted(t.replace(WORD_JOINER, "") for t in ticks) == sorted(HOSTILE)
    hover = {shown_by_plotly(t.split("<br>")[0]) for t in figure["data"][0]["text"] if t}
    assert hover == set(HOSTILE)


def test_flame_frames_are_text_and_keep_the_colour_of_their_name() -> None:
    [panel] = [p for p in panels(HOSTILE) if p["kind"] == "flame"]
    trace = panel["figure"]["data"][0]
    plain = dict(zip(trace["labels"], trace["marker"]["colors"], strict=True))
    [benign] = [p for p in panels(BENIGN) if p["kind"] == "flame"]
    assert len(trace["labels"]) == len(benign["figure"]["data"][0]["labels"])
    for key in HOSTILE:
        assert plain[plotly_text(key)] == flame_colour(key)
        assert plain[plotly_text(f"main<{key}>")] == flame_colour(f"main<{key}>")


def test_hover_templates_never_hold_traced_text() -> None:
    def templates(keys: list[str]) -> dict[str, list[str]]:
        return {
            where: [text for path, text in strings(figure) if path.endswith(".hovertemplate")]
            for panel in panels(keys)
            for where, figure in figures(panel)
        }

    assert templates(HOSTILE) == templates(BENIGN)


def test_tables_hold_keys_and_values_as_traced() -> None:
    # The page puts table cells in as text: an entity there would show as "&lt;".
    by_name = {p["name"]: p["table"] for p in panels(HOSTILE)}
    assert sorted(row[0] for row in by_name["@pie"]["rows"]) == sorted(HOSTILE)
    assert sorted(row[1] for row in by_name["@table"]["rows"]) == sorted(HOSTILE)


@pytest.mark.parametrize("name", ["@<b>x</b>", "@&lt;"])
def test_a_map_without_keys_is_labelled_by_its_name_as_text(name: str) -> None:
    agg = Aggregation(name, "count", (Row((), value=3),))
    [panel] = build_panels(Snapshot(1.0, (agg,)))
    assert panel["figure"]["data"][0]["labels"] == [plotly_text(name)]
