"""Panels built from snapshots: what each figure means, tables, per-interval values, history."""

from __future__ import annotations

import base64
import gc
import json
import math
import tracemalloc
from array import array
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
import pytest

from ide import charts
from ide.charts import History, bucket_label, build_panels, key_label
from ide.charts.figures.bars3d import _CELL
from ide.tracing.model import Aggregation, Bucket, Row, Snapshot

STACK_A = "\n        a+1\n        b+2\n        main+3\n"
STACK_C = "\n        c+4\n        b+2\n        main+3\n"


def counts(values: Mapping[Any, float], function: str = "count", name: str = "@c") -> Aggregation:
    rows = tuple(Row(k if isinstance(k, tuple) else (k,), value=v) for k, v in values.items())
    return Aggregation(name, function, rows)


def dist(
    per_key: Mapping[str, Sequence[tuple[int | None, int | None, int]]],
    function: str = "lquantize",
    name: str = "@d",
) -> Aggregation:
    rows = tuple(Row((k,), buckets=tuple(Bucket(*b) for b in bs)) for k, bs in per_key.items())
    return Aggregation(name, function, rows, {"lo": 0, "hi": 30, "step": 10})


def one(agg: Aggregation, history: History | None = None, **kw: Any) -> dict[str, Any]:
    snapshot = Snapshot(1.0, (agg,))
    if history is not None:
        history.add(snapshot)
    panels = build_panels(snapshot, history, **kw)
    assert len(panels) == 1
    return panels[0]


def valid(figure: dict[str, Any] | None) -> dict[str, Any]:
    """plotly.graph_objects raises on any property plotly.js does not know."""
    assert figure is not None
    go.Figure(figure)
    json.dumps(figure, allow_nan=False)
    return figure


def decode(typed: dict[str, str]) -> list[float]:
    code = {"u2": "H", "u4": "I", "i4": "i", "f8": "d"}[typed["dtype"]]
    return list(array(code, base64.b64decode(typed["bdata"])))


# --- labels -----------------------------------------------------------------------------------


def test_key_parts_are_joined_with_a_comma() -> None:
    assert key_label(("bash", 1234)) == "bash, 1234"
    assert key_label(()) == "(no key)"


def test_stack_key_shows_leaf_frames_in_labels_and_whole_stack_in_tables() -> None:
    assert key_label((STACK_A,)) == "a+1 ← b+2 ← …"
    assert key_label((STACK_A,), full=True) == "a+1\nb+2\nmain+3"


@pytest.mark.parametrize(
    ("lo", "hi", "function", "label"),
    [
        (0, 0, "quantize", "[0]"),
        (1, 1, "hist", "[1]"),
        (2, 3, "quantize", "[2, 4)"),
        (512, 1023, "hist", "[512, 1K)"),
        (1024, 2047, "quantize", "[1K, 2K)"),
        (1 << 20, (2 << 20) - 1, "hist", "[1M, 2M)"),
        (1 << 30, None, "hist", "[1G, …)"),
        (-3, -2, "quantize", "[-3, -1)"),
        (10, 19, "llquantize", "[10, 20)"),
        (1000, 1999, "llquantize", "[1k, 2k)"),
        (90000, 99999, "llquantize", "[90k, 100k)"),
        (1024, 2047, "llquantize", "[1024, 2048)"),
        (None, -1, "lquantize", "(…, 0)"),
        (100, None, "lhist", "[100, …)"),
        (1000, 1099, "lhist", "[1000, 1100)"),
    ],
)
def test_bucket_labels_read_like_the_tracer_prints_them(
    lo: int | None, hi: int | None, function: str, label: str
) -> None:
    assert bucket_label(Bucket(lo, hi, 1), function) == label


# --- count: pie ---------------------------------------------------------------------------------


def test_count_is_a_pie_of_the_top_keys_plus_an_other_slice() -> None:
    panel = one(counts({f"k{i}": i for i in range(1, 21)}))
    assert panel["kind"] == "pie"
    trace = valid(panel["figure"])["data"][0]
    assert trace["type"] == "pie"
    assert trace["labels"][:3] == ["k20", "k19", "k18"]
    assert trace["values"][:15] == list(range(20, 5, -1))
    assert trace["labels"][15] == "other (5 keys)"
    assert trace["values"][15] == 1 + 2 + 3 + 4 + 5
    assert "%{percent}" in trace["hovertemplate"] and "%{value" in trace["hovertemplate"]
    assert panel["note"] == "showing top 15 of 20 keys"


def test_pie_with_few_keys_has_no_other_slice() -> None:
    panel = one(counts({("bash", 1): 3, ("sshd", 2): 7}))
    trace = valid(panel["figure"])["data"][0]
    assert trace["labels"] == ["sshd, 2", "bash, 1"]
    assert trace["values"] == [7, 3]
    assert panel["note"] is None


def test_empty_aggregation_has_no_figure_and_says_so() -> None:
    panel = one(Aggregation("@c", "count", ()))
    assert panel["figure"] is None
    assert panel["note"] == "no data yet"
    assert panel["table"]["rows"] == []


# --- sum/min/max/avg/value: sorted bars ----------------------------------------------------------


@pytest.mark.parametrize("function", ["sum", "min", "max", "avg", "value"])
def test_scalar_functions_are_sorted_horizontal_bars_of_the_top_keys(function: str) -> None:
    values = {f"k{i}": (i * 37) % 101 for i in range(40)}
    panel = one(counts(values, function))
    assert panel["kind"] == "bar"
    trace = valid(panel["figure"])["data"][0]
    assert trace["orientation"] == "h"
    expected = sorted(values.values(), reverse=True)[: charts.BAR_KEYS]
    assert trace["x"] == expected
    assert trace["y"][0] == max(values, key=values.__getitem__)
    assert panel["note"] == f"showing top {charts.BAR_KEYS} of 40 keys"


def test_bars_rank_negative_sums_by_size() -> None:
    panel = one(counts({"a": -50, "b": 3, "c": 1}, "sum"))
    assert valid(panel["figure"])["data"][0]["x"] == [3, 1, -50]


# --- stats/stddev: tables only ------------------------------------------------------------------


def test_stats_is_a_table_with_count_average_total() -> None:
    rows = (
        Row(("bash",), value=4, stats={"count": 3, "average": 4, "total": 12}),
        Row(("sshd",), value=1, stats={"count": 9, "average": 1, "total": 9}),
    )
    panel = one(Aggregation("@s", "stats", rows))
    assert panel["kind"] == "table"
    assert panel["figure"] is None
    assert panel["table"]["columns"] == ["key", "count", "average", "total"]
    assert panel["table"]["rows"] == [["sshd", 9, 1, 9], ["bash", 3, 4, 12]]


def test_stddev_is_a_table_of_values() -> None:
    panel = one(counts({"a": 1.5, "b": 2.25}, "stddev"))
    assert panel["kind"] == "table"
    assert panel["table"]["columns"] == ["key", "stddev"]
    assert panel["table"]["rows"] == [["b", 2.25], ["a", 1.5]]


def test_a_map_of_strings_is_a_table() -> None:
    agg = Aggregation("@name", "value", (Row((1,), value="bash"), Row((2,), value="sshd")))
    panel = one(agg)
    assert panel["kind"] == "table"
    assert panel["figure"] is None
    assert sorted(panel["table"]["rows"]) == [["1", "bash"], ["2", "sshd"]]


# --- tables -------------------------------------------------------------------------------------


def test_tables_hold_plain_values_and_are_capped_with_the_total() -> None:
    panel = one(counts({("proc", i): i for i in range(2000)}))
    table = panel["table"]
    assert table["columns"] == ["key 1", "key 2", "count", "%"]
    assert len(table["rows"]) == charts.TABLE_ROWS
    assert table["total_rows"] == 2000
    assert table["rows"][0][:3] == ["proc", "1999", 1999]
    assert table["rows"][0][3] == pytest.approx(100 * 1999 / sum(range(2000)), abs=1e-3)
    assert all(isinstance(c, str | int | float) for row in table["rows"] for c in row)


def test_distribution_table_has_one_row_per_non_zero_bucket() -> None:
    panel = one(dist({"bash": [(0, 9, 2), (10, 19, 0), (20, 29, 5)], "sshd": [(0, 9, 1)]}))
    assert panel["table"]["columns"] == ["key", "range", "count"]
    assert panel["table"]["rows"] == [
        ["bash", "[0, 10)", 2],
        ["bash", "[20, 30)", 5],
        ["sshd", "[0, 10)", 1],
    ]
    assert panel["table"]["total_rows"] == 3


def test_panels_are_json_with_no_nan() -> None:
    rows = (
        Row(("x",), value=float("nan"), stats={"count": 0, "average": float("nan"), "total": 0}),
    )
    panels = build_panels(Snapshot(1.0, (Aggregation("@a", "avg", rows), counts({"a": 1}))))
    text = json.dumps(panels, allow_nan=False)
    assert json.loads(text)[0]["table"]["rows"][0][2] is None


# --- lquantize/lhist: 3D bars -------------------------------------------------------------------


def test_linear_distribution_is_a_mesh_of_boxes_one_row_per_key() -> None:
    agg = dist(
        {
            "bash": [(None, -1, 0), (0, 9, 4), (10, 19, 0), (20, 29, 7)],
            "sshd": [(0, 9, 1), (10, 19, 2), (30, None, 3)],
            "cron": [(10, 19, 9)],
        }
    )
    panel = one(agg)
    assert panel["kind"] == "bars3d"
    trace = valid(panel["figure"])["data"][0]
    assert trace["type"] == "mesh3d"
    bars = 6  # non-zero (key, bucket) pairs
    xs, ys, zs = decode(trace["x"]), decode(trace["y"]), decode(trace["z"])
    assert len(xs) == len(ys) == len(zs) == 8 * bars
    for axis in "ijk":
        indices = decode(trace[axis])
        assert len(indices) == 12 * bars
        assert max(indices) < 8 * bars
    heights = sorted(max(zs[8 * b : 8 * b + 8]) for b in range(bars))
    assert heights == [1, 2, 3, 4, 7, 9]
    assert sorted(set(decode(trace["intensity"]))) == [1, 2, 3, 4, 7, 9]
    scene = panel["figure"]["layout"]["scene"]
    # Keys by weight: bash 11, sshd 6, cron 9.
    assert scene["yaxis"]["ticktext"] == ["bash", "cron", "sshd"]
    assert scene["xaxis"]["ticktext"] == ["(…, 0)", "[0, 10)", "[10, 20)", "[20, 30)", "[30, …)"]
    rows = {int(y) // _CELL for y in ys}
    assert rows == {0, 1, 2}
    labels = [t for t in trace["text"] if t]
    assert "cron<br>[10, 20): 9" in labels


def test_every_one_of_a_thousand_keys_gets_a_row_in_the_3d_chart() -> None:
    per_key = {
        f"p{i}": [(b * 10, b * 10 + 9, 1 + (i + b) % 5) for b in range(i % 20, i % 20 + 3)]
        for i in range(1000)
    }
    panel = one(dist(per_key, "lhist"))
    trace = valid(panel["figure"])["data"][0]
    ys = decode(trace["y"])
    assert len(ys) == 8 * 3000
    assert len({int(y) // _CELL for y in ys}) == 1000
    assert panel["note"] is None


def test_a_dense_3d_chart_merges_buckets_before_dropping_keys() -> None:
    per_key = {f"p{i}": [(b * 10, b * 10 + 9, 1 + i % 3) for b in range(20)] for i in range(1000)}
    panel = one(dist(per_key, "lhist"))
    trace = valid(panel["figure"])["data"][0]
    ys = decode(trace["y"])
    assert len(ys) <= 8 * charts.MESH_BARS
    assert len({int(y) // _CELL for y in ys}) == 1000
    assert "adjacent buckets per bar" in panel["note"]
    total = sum(decode(trace["z"])[4::8])
    assert total == sum(20 * (1 + i % 3) for i in range(1000))  # nothing lost by merging


# --- quantize/hist/llquantize: histograms ---------------------------------------------------------


def test_power_of_two_histogram_has_bucket_labels_in_order_and_a_trace_per_key() -> None:
    buckets = [(0, 0, 1), (1, 1, 2), (2, 3, 3), (1024, 2047, 4)]
    panel = one(dist({"bash": buckets, "sshd": [(2, 3, 12)]}, "quantize"))
    assert panel["kind"] == "histogram"
    figure = valid(panel["figure"])
    names = [t["name"] for t in figure["data"]]
    assert names == ["sshd", "bash"]
    assert figure["data"][0]["x"] == ["[0]", "[1]", "[2, 4)", "[1K, 2K)"]
    assert figure["data"][0]["y"] == [0, 0, 12, 0]
    assert figure["data"][1]["y"] == [1, 2, 3, 4]
    assert figure["layout"]["barmode"] == "stack"


def test_log_linear_histogram_labels() -> None:
    panel = one(dist({"x": [(10, 19, 1), (20, 29, 2), (1000, 1999, 3)]}, "llquantize"))
    assert valid(panel["figure"])["data"][0]["x"] == ["[10, 20)", "[20, 30)", "[1k, 2k)"]


def test_histogram_folds_light_keys_into_one_other_trace() -> None:
    per_key = {f"k{i}": [(0, 0, i), (1, 1, 1)] for i in range(1, 13)}
    panel = one(dist(per_key, "hist"))
    traces = valid(panel["figure"])["data"]
    assert len(traces) == charts.HISTOGRAM_KEYS + 1
    assert traces[-1]["name"] == "other 4 keys"
    assert traces[-1]["y"] == [1 + 2 + 3 + 4, 4]


# --- stacks: flame graph ------------------------------------------------------------------------


def test_stack_keyed_count_is_an_icicle_with_the_root_at_the_bottom() -> None:
    same_as_a = STACK_A.replace("        ", "\t")  # identical frames, other spacing
    panel = one(counts({(STACK_A,): 5, (STACK_C,): 3, (same_as_a,): 2}))
    assert panel["kind"] == "flame"
    trace = valid(panel["figure"])["data"][0]
    assert trace["type"] == "icicle"
    assert trace["tiling"]["orientation"] == "v"
    assert trace["tiling"]["flip"] == "y"
    by_id = dict(zip(trace["ids"], trace["labels"], strict=True))
    parent = {
        by_id[i]: by_id.get(p, "") for i, p in zip(trace["ids"], trace["parents"], strict=True)
    }
    value = dict(zip(trace["labels"], trace["values"], strict=True))
    assert parent == {"all": "", "main": "all", "b": "main", "a": "b", "c": "b"}
    assert value == {"all": 10, "main": 10, "b": 10, "a": 7, "c": 3}
    assert trace["branchvalues"] == "total"


def test_other_key_parts_sit_below_the_stack_in_the_flame_graph() -> None:
    panel = one(counts({("bash", STACK_A): 4, ("sshd", STACK_A): 1}, "sum"))
    trace = valid(panel["figure"])["data"][0]
    by_id = dict(zip(trace["ids"], trace["labels"], strict=True))
    children_of_root = [
        by_id[i] for i, p in zip(trace["ids"], trace["parents"], strict=True) if p == "0"
    ]
    assert sorted(children_of_root) == ["bash", "sshd"]
    assert trace["labels"].count("main") == 2


def test_a_sample_with_an_empty_stack_gets_a_labelled_frame() -> None:
    panel = one(counts({(STACK_A,): 4, ("",): 6}))
    trace = valid(panel["figure"])["data"][0]
    value = dict(zip(trace["labels"], trace["values"], strict=True))
    label = "(no frames: sampled in the other mode)"
    assert value[label] == 6
    assert "" not in trace["labels"]
    empty_id = trace["ids"][trace["labels"].index(label)]
    assert trace["meta"] == {"no_frames": [empty_id], "key_nodes": {}}


def test_frames_of_one_function_merge_whatever_their_offsets() -> None:
    at_113 = "\n        do_syscall_64+113\n        entry_SYSCALL_64+100\n"
    at_70 = "\n        do_syscall_64+70\n        entry_SYSCALL_64+100\n"
    d_style = (
        "\n              vmlinux`do_syscall_64+0x71\n              vmlinux`entry_SYSCALL_64+0x64\n"
    )
    trace = valid(one(counts({(at_113,): 5, (at_70,): 3, (d_style,): 1}))["figure"])["data"][0]
    value = dict(zip(trace["labels"], trace["values"], strict=True))
    assert value["do_syscall_64"] == 8  # one tower, not two
    assert value["vmlinux`do_syscall_64"] == 1
    hover = dict(zip(trace["labels"], trace["customdata"], strict=True))
    assert hover["do_syscall_64"] == "offsets +113, +70"
    assert hover["all"] == ""


def test_a_frame_without_an_offset_is_kept_whole() -> None:
    stack = "\n        0x7f12ab34\n        main+3\n"
    trace = valid(one(counts({(stack,): 2}))["figure"])["data"][0]
    assert "0x7f12ab34" in trace["labels"]


def test_the_3d_camera_keeps_the_scene_inside_the_panel() -> None:
    panel = one(dist({f"k{i}": [(0, 9, i + 1), (10, 19, 2)] for i in range(30)}))
    assert panel["kind"] == "bars3d"
    scene = panel["figure"]["layout"]["scene"]
    assert scene["camera"]["center"]["z"] <= -0.3


# --- per-interval values ------------------------------------------------------------------------


def test_per_interval_count_subtracts_the_previous_snapshot() -> None:
    history = History()
    history.add(Snapshot(1.0, (counts({"a": 5, "b": 3, "z": 4}),)))
    now = Snapshot(2.0, (counts({"a": 9, "b": 3, "c": 2, "z": 1}),))
    history.add(now)
    panel = build_panels(now, history, per_interval=True)[0]
    trace = valid(panel["figure"])["data"][0]
    # a grew by 4, c is new, z went down (the map was cleared), b did not change.
    assert dict(zip(trace["labels"], trace["values"], strict=True)) == {"a": 4, "c": 2, "z": 1}
    assert panel["table"]["rows"][0][:2] == ["a", 4]
    assert panel["table"]["total_rows"] == 3
    cumulative = build_panels(now, history)[0]
    assert cumulative["figure"]["data"][0]["values"] == [9, 3, 2, 1]


def test_per_interval_without_history_cache_gives_the_same_values() -> None:
    history = History()
    before = Snapshot(1.0, (counts({"a": 5, "b": 3}, "sum"),))
    now = Snapshot(2.0, (counts({"a": 2, "b": 13}, "sum"),))
    history.add(before)
    # ``now`` was not added: the previous snapshot is the history's latest one.
    panel = build_panels(now, history, per_interval=True)[0]
    assert valid(panel["figure"])["data"][0]["x"] == [10, -3]


def test_per_interval_distribution_subtracts_buckets() -> None:
    history = History()
    history.add(Snapshot(1.0, (dist({"bash": [(0, 9, 2), (10, 19, 5)]}, "hist"),)))
    now = Snapshot(2.0, (dist({"bash": [(0, 9, 2), (10, 19, 8)], "cron": [(0, 9, 1)]}, "hist"),))
    history.add(now)
    panel = build_panels(now, history, per_interval=True)[0]
    assert panel["table"]["rows"] == [["bash", "[10, 20)", 3], ["cron", "[0, 10)", 1]]


def test_per_interval_stats_recompute_the_average() -> None:
    def stats(count: int, total: int) -> Aggregation:
        return Aggregation(
            "@s",
            "stats",
            (
                Row(
                    ("x",),
                    value=total / count,
                    stats={"count": count, "average": total // count, "total": total},
                ),
            ),
        )

    history = History()
    history.add(Snapshot(1.0, (stats(2, 10),)))
    now = Snapshot(2.0, (stats(6, 50),))
    history.add(now)
    panel = build_panels(now, history, per_interval=True)[0]
    assert panel["table"]["rows"] == [["x", 4, 10, 40]]


def test_per_interval_max_stays_cumulative_and_says_so() -> None:
    history = History()
    history.add(Snapshot(1.0, (counts({"a": 5}, "max"),)))
    now = Snapshot(2.0, (counts({"a": 7}, "max"),))
    history.add(now)
    panel = build_panels(now, history, per_interval=True)[0]
    assert panel["figure"]["data"][0]["x"] == [7]
    assert "since the start" in panel["note"]


# --- time series --------------------------------------------------------------------------------


def test_series_appear_once_history_has_two_points() -> None:
    history = History()
    first = one(counts({"a": 1}), history, per_interval=True)
    assert first["series"] is None
    second = one(counts({"a": 3}), history, per_interval=True)
    assert valid(second["series"])["data"][0]["y"] == [1, 2]


def test_count_series_is_a_stacked_area_of_per_interval_values() -> None:
    history = History(max_series_keys=2)
    snaps = [
        {"a": 5, "b": 1, "c": 1},
        {"a": 7, "b": 6, "c": 2},
        {"a": 8, "b": 9, "c": 5},
    ]
    for t, values in enumerate(snaps, 1):
        snapshot = Snapshot(float(t), (counts(values),))
        history.add(snapshot)
    series = valid(build_panels(snapshot, history, per_interval=True)[0]["series"])
    traces = {t["name"]: t for t in series["data"]}
    assert list(traces) == ["b", "a", "other"]  # b changed by 9 in all, a by 8
    assert all(t["stackgroup"] == "one" for t in series["data"])
    assert traces["a"]["x"] == [1.0, 2.0, 3.0]
    assert traces["a"]["y"] == [5, 2, 1]
    assert traces["b"]["y"] == [1, 5, 3]
    assert traces["other"]["y"] == [1, 1, 3]  # c, which is never among the top 2 keys
    assert "per interval" in series["layout"]["yaxis"]["title"]["text"]

    # Cumulative ("Per interval" off): the same keys as running totals.
    running = valid(build_panels(snapshot, history)[0]["series"])
    totals = {t["name"]: t["y"] for t in running["data"]}
    assert totals == {"b": [1, 6, 9], "a": [5, 7, 8], "other": [1, 2, 5]}
    assert "running total" in running["layout"]["yaxis"]["title"]["text"]


def test_distribution_series_is_a_heatmap_of_buckets_over_time() -> None:
    history = History()
    snaps = [
        {"bash": [(0, 9, 2)], "sshd": [(0, 9, 1)]},
        {"bash": [(0, 9, 2), (20, 29, 4)], "sshd": [(0, 9, 3)]},
        {"bash": [(0, 9, 5), (20, 29, 4)], "sshd": [(0, 9, 3), (10, 19, 7)]},
    ]
    for t, per_key in enumerate(snaps, 1):
        snapshot = Snapshot(float(t), (dist(per_key),))
        history.add(snapshot)
    panel = build_panels(snapshot, history)[0]
    heat = valid(panel["series"])["data"][0]
    assert heat["type"] == "heatmap"
    assert heat["x"] == [1.0, 2.0, 3.0]
    assert heat["y"] == ["[0, 10)", "[10, 20)", "[20, 30)"]
    assert heat["customdata"] == [[3, 2, 3], [0, 0, 7], [0, 4, 0]]
    assert heat["z"][1] == [0.0, 0.0, round(math.log10(8), 4)]


def test_heatmap_colour_is_logarithmic_so_one_hot_bucket_leaves_the_others_visible() -> None:
    history = History()
    for t, hot in enumerate([1, 10_000, 1], 1):
        snapshot = Snapshot(float(t * 1), (dist({"bash": [(0, 9, t * 2), (10, 19, t * hot)]}),))
        history.add(snapshot)
    heat = valid(build_panels(snapshot, history)[0]["series"])["data"][0]
    assert heat["meta"] == {"colour": "log", "spans": [[0, 9], [10, 19]]}
    flat = [z for row in heat["z"] for z in row if z]
    # Linear colour would put the small buckets under 0.1% of the hottest cell.
    assert min(flat) / max(flat) > 0.05
    bar = heat["colorbar"]
    assert bar["ticktext"][:2] == ["1", "10"]
    assert bar["tickvals"][-1] <= max(flat) + 1e-9
    assert "%{customdata:,}" in heat["hovertemplate"]


def test_history_memory_stays_bounded_over_ten_thousand_snapshots() -> None:
    history = History(max_points=100, max_series_keys=3)

    def snapshot(n: int) -> Snapshot:
        keys = {f"k{(n + i) % 500}": n + i for i in range(20)}  # keys keep changing
        buckets = {f"k{n % 7}": [(b, b, n + b) for b in range(0, 40, 4)]}
        return Snapshot(n * 0.1, (counts(keys), dist(buckets, "hist")))

    tracemalloc.start()
    try:
        for n in range(2000):
            history.add(snapshot(n))
        gc.collect()  # count what History keeps, not garbage a collection has not reached yet
        early, _ = tracemalloc.get_traced_memory()
        for n in range(2000, 10_000):
            history.add(snapshot(n))
        gc.collect()
        late, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert history.points("@c") == history.points("@d") == 100
    assert all(len(p[2]) <= 6 for p in history.keyed_series("@c").points)  # type: ignore[union-attr]
    assert late < early * 1.1 + 64 * 1024
    previous = history.previous()
    assert previous is not None and previous.t == pytest.approx(999.8)


# --- layout -------------------------------------------------------------------------------------


def test_layouts_are_transparent_responsive_untitled_and_keep_the_view() -> None:
    history = History()
    aggs = (
        counts({"a": 1}),
        counts({"a": 1}, "sum", "@s"),
        dist({"x": [(0, 9, 1)]}),
        dist({"x": [(0, 0, 1)]}, "quantize", "@q"),
        counts({(STACK_A,): 1}, name="@k"),
    )
    for t in (1.0, 2.0):
        history.add(snapshot := Snapshot(t, aggs))
        panels = build_panels(snapshot, history)
    revisions = []
    for panel in panels:
        for figure in (panel["figure"], panel["series"]):
            if figure is None:
                continue
            layout = valid(figure)["layout"]
            assert layout["autosize"] is True
            assert "width" not in layout and "title" not in layout
            assert layout["paper_bgcolor"] == "rgba(0,0,0,0)"
            revisions.append(layout["uirevision"])
    assert len(revisions) == len(set(revisions)) == 10  # 5 figures, 3 areas, 2 heatmaps
    again = build_panels(Snapshot(3.0, aggs), history)
    assert [p["figure"]["layout"]["uirevision"] for p in again] == [
        p["figure"]["layout"]["uirevision"] for p in panels
    ]


def test_panels_follow_snapshot_order_and_have_the_documented_shape() -> None:
    aggs = (counts({"a": 1}, "sum", "@z"), counts({"a": 1}, "count", "@a"))
    panels = build_panels(Snapshot(1.0, aggs))
    assert [p["name"] for p in panels] == ["@z", "@a"]
    for panel in panels:
        assert set(panel) == {
            "name", "function", "kind", "figure", "heatmap", "heatmap_note", "series", "table",
            "keys", "note",
        }  # fmt: skip
        assert set(panel["table"]) == {"columns", "rows", "ranks", "total_rows"}
        assert panel["keys"] == [["a"]]


def test_per_interval_of_a_capped_map_ignores_keys_that_were_below_the_cap() -> None:
    def capped(values: dict[str, int]) -> Aggregation:
        return Aggregation("@c", "count", counts(values).rows, total_rows=10)

    history = History()
    history.add(Snapshot(1.0, (capped({"a": 10, "b": 5}),)))
    now = Snapshot(2.0, (capped({"a": 12, "c": 50}),))
    history.add(now)
    panel = build_panels(now, history, per_interval=True)[0]
    # c had 50 since the start, but how many of them in this interval is unknown.
    assert panel["figure"]["data"][0]["labels"] == ["a"]
    assert panel["figure"]["data"][0]["values"] == [2]
    area = panel["series"]["data"]
    assert [t["name"] for t in area] == ["a", "b"]
    assert area[0]["y"] == [10, 2]


def test_per_interval_of_a_capped_distribution_ignores_keys_that_were_below_the_cap() -> None:
    def capped(per_key: dict[str, list[tuple[int | None, int | None, int]]]) -> Aggregation:
        return Aggregation("@d", "hist", dist(per_key).rows, total_rows=10)

    history = History()
    history.add(Snapshot(1.0, (capped({"a": [(0, 0, 3)]}),)))
    now = Snapshot(2.0, (capped({"a": [(0, 0, 4)], "z": [(0, 0, 9)]}),))
    history.add(now)
    panel = build_panels(now, history, per_interval=True)[0]
    assert panel["table"]["rows"] == [["a", "[0]", 1]]


def test_a_3d_chart_with_more_keys_than_bars_keeps_the_heaviest_keys() -> None:
    per_key = {f"p{i}": [(0, 9, 10_000 - i)] for i in range(charts.MESH_BARS + 500)}
    panel = one(dist(per_key, "lhist"), max_keys=100_000)
    trace = valid(panel["figure"])["data"][0]
    assert len(decode(trace["x"])) == 8 * charts.MESH_BARS
    assert panel["note"] == f"showing top {charts.MESH_BARS:,} of {charts.MESH_BARS + 500:,} keys"
    assert "p0<br>[0, 10): 10,000" in trace["text"]


def test_interval_aggregation_of_a_count_keeps_only_keys_that_changed() -> None:
    before = counts({"a": 5, "b": 3, "z": 4})
    now = counts({"a": 9, "b": 3, "c": 2, "z": 1})
    rows = charts.interval_aggregation(now, before).rows
    assert {r.key: r.value for r in rows} == {("a",): 4, ("c",): 2, ("z",): 1}


def test_per_interval_avg_without_counts_stays_cumulative_and_says_so() -> None:
    history = History()
    history.add(Snapshot(1.0, (counts({"a": 5}, "avg"),)))
    now = Snapshot(2.0, (counts({"a": 6}, "avg"),))
    history.add(now)
    panel = build_panels(now, history, per_interval=True)[0]
    assert panel["figure"]["data"][0]["x"] == [6]
    assert panel["note"] == "avg() is shown since the start"


def test_bucket_totals_add_rows_with_gaps_and_any_order() -> None:
    rows = dist(
        {
            "run": [(0, 9, 1), (10, 19, 2), (20, 29, 3)],
            "gap": [(0, 9, 10), (20, 29, 30)],
            "shuffled": [(20, 29, 300), (None, -1, 7), (10, 19, 200)],
        }
    ).rows
    assert charts.bucket_totals(rows) == {(None, -1): 7, (0, 9): 11, (10, 19): 202, (20, 29): 333}


def test_histogram_of_keys_with_different_buckets_lines_them_up() -> None:
    panel = one(dist({"a": [(4, 7, 5), (8, 15, 1)], "b": [(1, 1, 2), (2, 3, 3)]}, "quantize"))
    traces = valid(panel["figure"])["data"]
    assert traces[0]["x"] == ["[1]", "[2, 4)", "[4, 8)", "[8, 16)"]
    assert traces[0]["name"] == "a" and traces[0]["y"] == [0, 0, 5, 1]
    assert traces[1]["name"] == "b" and traces[1]["y"] == [2, 3, 0, 0]


def test_flame_graph_keeps_the_heaviest_frames_as_a_tree() -> None:
    stacks = {(f"\n  leaf{i}\n  mid{i % 3}\n  main\n",): 1 + i % 2 for i in range(4000)}
    panel = one(counts(stacks), max_keys=10_000)
    trace = valid(panel["figure"])["data"][0]
    assert len(trace["ids"]) == charts.FLAME_NODES
    ids = set(trace["ids"])
    assert all(p == "" or p in ids for p in trace["parents"])
    kept = dict(zip(trace["labels"], trace["values"], strict=True))
    assert kept["all"] == sum(stacks.values())
    assert {"main", "mid0", "mid1", "mid2", "leaf1"} <= set(kept)  # the 2s before the 1s
    assert f"{charts.FLAME_NODES:,} heaviest of 4,005 frames" in panel["note"]


def test_flame_frames_keep_a_warm_colour_chosen_by_their_name() -> None:
    first = valid(one(counts({(STACK_A,): 5, (STACK_C,): 3}))["figure"])["data"][0]
    later = valid(one(counts({(STACK_C,): 30, (STACK_A,): 1}))["figure"])["data"][0]
    colour = dict(zip(first["labels"], first["marker"]["colors"], strict=True))
    assert colour == dict(zip(later["labels"], later["marker"]["colors"], strict=True))
    for label, c in colour.items():
        hue = int(c.removeprefix("hsl(").split(",")[0])
        assert (label == "all" and c.startswith("hsl(0, 0%")) or 0 <= hue < 50


def test_histogram_labels_tilt_when_many_and_are_left_to_plotly_when_few() -> None:
    def xaxis(buckets: int) -> dict[str, Any]:
        power = [(1 << b, (2 << b) - 1, 1) for b in range(buckets)]
        axis: dict[str, Any] = one(dist({"a": power}, "quantize"))["figure"]["layout"]["xaxis"]
        return axis

    assert "tickangle" not in xaxis(12)  # plotly tilts them only if they would overlap
    assert xaxis(13)["tickangle"] == -45


def test_a_map_the_script_clears_itself_is_shown_as_it_is_per_interval() -> None:
    # The script clears @c after each of its prints: a count that grew since the snapshot
    # before is not "the growth" but the new interval's whole count.
    history = History(reset_by_script=frozenset({"@c", "@d"}))
    history.add(Snapshot(1.0, (counts({"a": 5, "b": 3}), dist({"x": [(0, 9, 2)]}))))
    now = Snapshot(2.0, (counts({"a": 9, "b": 3}), dist({"x": [(0, 9, 6)]})))
    history.add(now)
    pie, lq = build_panels(now, history, per_interval=True)
    values = dict(zip(pie["figure"]["data"][0]["labels"], pie["figure"]["data"][0]["values"],
                      strict=True))  # fmt: skip
    assert values == {"a": 9, "b": 3}
    assert pie["note"] == "since the script last cleared it"
    assert lq["table"]["rows"] == [["x", "[0, 10)", 6]]
    # Over time, each point is the snapshot's own total.
    series = pie["series"]["data"]
    assert [sum(ys) for ys in zip(*(t["y"] for t in series), strict=True)] == [8, 12]
    # A map the script does not clear gives its growth instead.
    plain = History()
    for t, a in ((1.0, 5), (2.0, 9)):
        plain.add(Snapshot(t, (counts({"a": a, "b": 3}),)))
    keyed = plain.keyed_series("@c")
    assert keyed is not None and [p[1] for p in keyed.points] == [8, 4]


def test_the_plotly_renderer_builds_the_panels_of_its_own_history() -> None:
    renderer = charts.PlotlyRenderer()
    history = renderer.history(max_points=3, reset_by_script=frozenset({"@d"}))
    assert isinstance(history, History) and history.reset_by_script == {"@d"}
    snaps = [Snapshot(float(t), (counts({"a": t, "b": 2 * t}),)) for t in range(1, 6)]
    for snap in snaps:
        history.add(snap)
    assert history.points("@c") == 3  # max_points bounds the series
    panels = renderer.panels(snaps[-1], history, per_interval=True)
    assert panels == build_panels(snaps[-1], history, per_interval=True)
    assert panels[0]["table"]["rows"][0][:2] == ["b", 2]

    class Foreign:
        def add(self, snapshot: Snapshot) -> None:
            pass

        def copy(self) -> Foreign:
            return self

    with pytest.raises(TypeError, match="not a history this renderer made"):
        renderer.panels(snaps[-1], Foreign(), per_interval=False)


def test_a_table_splits_a_multi_part_key_into_one_column_per_part() -> None:
    panel = one(counts({("bash", 12): 5, ("sshd", 7): 3}))
    table = panel["table"]
    assert table["columns"] == ["key 1", "key 2", "count", "%"]
    assert table["rows"][0][:3] == ["bash", "12", 5]
    rows = (Row(("bash", 1), buckets=(Bucket(0, 9, 2),)),)
    hist = one(Aggregation("@d", "lquantize", rows, {"lo": 0, "hi": 30, "step": 10}))["table"]
    assert hist["columns"] == ["key 1", "key 2", "range", "count"]
    assert hist["rows"][0][:2] == ["bash", "1"]


def test_a_keyed_lhist_has_a_key_by_bucket_heatmap_beside_its_3d_bars() -> None:
    panel = one(dist({"bash": [(0, 9, 2), (20, 29, 5)], "sshd": [(10, 19, 9000)]}))
    assert panel["kind"] == "bars3d"
    assert panel["figure"]["data"][0]["type"] == "mesh3d"  # the 3D bars, one click away
    heat = valid(panel["heatmap"])["data"][0]
    assert heat["type"] == "heatmap"
    assert heat["y"] == ["bash", "sshd"]  # the heaviest key (sshd) at the top
    assert heat["x"] == ["[0, 10)", "[10, 20)", "[20, 30)"]
    assert heat["customdata"] == [[2, 0, 5], [0, 9000, 0]]
    assert heat["z"][1][1] == round(math.log10(9001), 4)
    assert panel["heatmap_note"] is None  # every key shown
    assert one(counts({"a": 1}))["heatmap"] is None


def test_the_keyed_heatmap_shows_the_heaviest_two_hundred_keys() -> None:
    panel = one(dist({f"k{i}": [(0, 9, i + 1)] for i in range(500)}))
    heat = panel["heatmap"]["data"][0]
    assert len(heat["y"]) == 200 and heat["y"][-1] == "k499"
    assert panel["heatmap_note"] == "showing top 200 of 500 keys"


def test_a_latency_distribution_per_key_also_has_a_key_by_bucket_heatmap() -> None:
    rows = (
        Row(("nginx",), buckets=(Bucket(1, 1, 4), Bucket(1024, 2047, 90))),
        Row(("sshd",), buckets=(Bucket(2, 3, 7),)),
    )
    panel = one(Aggregation("@us", "hist", rows))
    assert panel["kind"] == "histogram"
    heat = valid(panel["heatmap"])["data"][0]
    assert heat["type"] == "heatmap" and heat["y"] == ["sshd", "nginx"]
    assert len(heat["x"]) == 3 and heat["meta"]["colour"] == "log"
    # One key: its histogram says it all; no heatmap.
    assert one(Aggregation("@us", "hist", rows[:1]))["heatmap"] is None
    assert (
        one(Aggregation("@us", "hist", (Row((), buckets=(Bucket(1, 1, 4),)),)))["heatmap"] is None
    )


def test_a_copied_history_goes_on_apart_from_the_one_it_was_copied_from() -> None:
    history = History(max_points=4)
    snaps = [Snapshot(float(t), (counts({"a": t, "b": 3 * t}),)) for t in range(1, 8)]
    for snap in snaps[:3]:
        history.add(snap)
    copy = history.copy()
    for snap in snaps[3:]:
        copy.add(snap)
    assert history.points("@c") == 3 and history.latest() is snaps[2]
    assert copy.points("@c") == 4 and copy.latest() is snaps[-1]
    # The copy draws what a history fed every snapshot draws.
    whole = History(max_points=4)
    for snap in snaps:
        whole.add(snap)
    assert build_panels(snaps[-1], copy, per_interval=True) == build_panels(
        snaps[-1], whole, per_interval=True
    )
    assert build_panels(snaps[2], history) != build_panels(snaps[2], copy)
