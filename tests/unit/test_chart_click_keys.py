"""A click on a chart or a table row names the key it drew: the indices figures and tables
carry point into the panel's ``keys``."""

from __future__ import annotations

import math
from typing import Any

from ide.charts import build_panels
from ide.charts.text import plotly_text
from ide.tracing.model import Aggregation, Bucket, Row, Snapshot
from tests.unit.test_charts import decode

KEYS = ["nginx", "sshd", 'a "quoted" <b>key</b>', "cron"] + [f"proc{n}" for n in range(20)]


def panel(agg: Aggregation) -> dict[str, Any]:
    [p] = build_panels(Snapshot(1.0, (agg,)))
    return p


def counts(function: str = "count") -> Aggregation:
    rows = tuple(Row((k,), value=100 - n) for n, k in enumerate(KEYS))
    return Aggregation("@c", function, rows)


def dist(function: str) -> Aggregation:
    rows = tuple(
        Row((k, n), buckets=(Bucket(0, 9, 50 - n), Bucket(10, 19, n + 1)))
        for n, k in enumerate(KEYS[:12])
    )
    return Aggregation("@d", function, rows, {"lo": 0, "hi": 30, "step": 10})


def test_each_pie_slice_names_its_key_and_the_other_slice_none() -> None:
    p = panel(counts())
    trace = p["figure"]["data"][0]
    for label, rank in zip(trace["labels"], trace["customdata"], strict=True):
        if rank < 0:
            assert label.startswith("other (")
        else:
            assert plotly_text(str(p["keys"][rank][0])) == label
    assert -1 in trace["customdata"]


def test_each_bar_names_its_key() -> None:
    p = panel(counts("sum"))
    trace = p["figure"]["data"][0]
    named = [plotly_text(str(p["keys"][r][0])) for r in trace["customdata"]]
    assert named == trace["y"]


def test_each_distribution_trace_and_heatmap_line_names_its_key() -> None:
    p = panel(dist("hist"))
    for trace in p["figure"]["data"]:
        assert "meta" not in trace  # plotly would fill %{...} in its name from meta
        if "customdata" in trace:
            key = p["keys"][trace["customdata"][0]]
            assert trace["name"] == plotly_text(f"{key[0]}, {key[1]}")
        else:
            assert trace["name"].startswith("other ")
    heat = p["heatmap"]["data"][0]
    lines = [p["keys"][r] for r in heat["meta"]["ranks"]]
    assert heat["y"] == [plotly_text(f"{k[0]}, {k[1]}") for k in lines]


def test_a_3d_bar_row_names_its_key_by_its_height_along_y() -> None:
    p = panel(dist("lhist"))
    trace = p["figure"]["data"][0]
    cell = trace["meta"]["cell"]
    hover_of_row: dict[int, str] = {}
    # y holds vertex coordinates; the text of a box's top corners says its key
    for y, text in zip(decode(trace["y"]), trace["text"], strict=True):
        if text:
            hover_of_row.setdefault(math.floor(y / cell), text.split("<br>")[0])
    for row, label in hover_of_row.items():
        key = p["keys"][row]
        assert label == plotly_text(f"{key[0]}, {key[1]}")


def test_table_rows_name_their_keys_numbers_stay_numbers() -> None:
    p = panel(dist("lhist"))
    table = p["table"]
    assert len(table["ranks"]) == len(table["rows"])
    for row, rank in zip(table["rows"], table["ranks"], strict=True):
        assert row[:2] == [KEYS[rank], str(rank)]
        assert p["keys"][rank] == [KEYS[rank], rank]


def test_a_stack_part_is_not_matched_and_a_key_of_only_stacks_is_none() -> None:
    agg = Aggregation("@s", "count", (Row(("bash", "main\nstart\n"), value=3),))
    assert panel(agg)["keys"] == [["bash", None]]
    agg = Aggregation("@k", "count", (Row(("main\nstart\n",), value=3),))
    assert panel(agg)["keys"] == [None]


def test_a_flame_node_of_a_key_part_under_the_stacks_names_the_part() -> None:
    rows = (
        Row(("bash", "read\nmain\nstart\n"), value=3),
        Row(("sshd", "write\nmain\nstart\n"), value=5),
        Row(("bash", "open\nmain\nstart\n"), value=1),
    )
    p = panel(Aggregation("@s", "count", rows))
    trace = p["figure"]["data"][0]
    label = dict(zip(trace["ids"], trace["labels"], strict=True))
    fixed = {
        label[node]: p["keys"][row][:parts]
        for node, (row, parts) in trace["meta"]["key_nodes"].items()
    }
    assert fixed == {"bash": ["bash"], "sshd": ["sshd"]}  # frames (main, read...) fix nothing
