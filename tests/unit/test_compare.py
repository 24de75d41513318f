"""Two runs compared: per key A, B, B-A and B/A; distributions bucket by bucket; rows ranked
by the largest change and capped; and ``GET /api/compare`` over live and recorded runs of the
scripted tracer, with its errors."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from flask import Flask

from ide.archive.compare import compare_aggregation, compare_snapshots, difference
from ide.archive.recorder import Recorder
from ide.charts.compare import overlay_figure
from ide.tracing.model import Aggregation, AggregationData, Bucket, Row, Snapshot, Tick
from ide.web.state import state_of
from tests.unit.test_archive import Scripted, app_in, call, scripted_run
from tests.unit.test_plotly_text import HOSTILE, shown_by_plotly, strings


def snap(*aggs: Aggregation, t: float = 1.0) -> dict[str, Any]:
    return Snapshot(t, aggs).to_dict()


def counts(name: str, values: dict[str, int], function: str = "count") -> Aggregation:
    return Aggregation(name, function, tuple(Row((k,), value=v) for k, v in values.items()))


def hist(name: str, rows: dict[str, list[tuple[int | None, int | None, int]]]) -> Aggregation:
    return Aggregation(
        name,
        "hist",
        tuple(Row((k,), buckets=tuple(Bucket(*b) for b in bs)) for k, bs in rows.items()),
    )


def by_key(agg: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["key"][0]: r for r in agg["rows"]}


# --- the core ------------------------------------------------------------------------------


def test_scalar_keys_have_a_b_delta_and_ratio() -> None:
    out = compare_snapshots(
        snap(counts("@num", {"bash": 10, "dd": 4})),
        snap(counts("@num", {"bash": 15, "dd": 2})),
        100,
    )
    [agg] = out["aggregations"]
    assert agg["name"] == "@num" and agg["function"] == "count" and not agg["distribution"]
    rows = by_key(agg)
    assert rows["bash"] == {"key": ["bash"], "a": 10, "b": 15, "delta": 5, "ratio": 1.5}
    assert rows["dd"] == {"key": ["dd"], "a": 4, "b": 2, "delta": -2, "ratio": 0.5}
    assert out["only_in_a"] == out["only_in_b"] == out["mismatched"] == []


def test_a_key_missing_on_one_side_is_null_there_and_counts_as_zero_for_delta() -> None:
    out = compare_snapshots(
        snap(counts("@num", {"gone": 7, "both": 1})),
        snap(counts("@num", {"new": 3, "both": 1})),
        100,
    )
    rows = by_key(out["aggregations"][0])
    assert rows["gone"] == {"key": ["gone"], "a": 7, "b": None, "delta": -7, "ratio": 0.0}
    assert rows["new"] == {"key": ["new"], "a": None, "b": 3, "delta": 3, "ratio": None}
    assert rows["both"]["delta"] == 0 and rows["both"]["ratio"] == 1.0


def test_the_ratio_is_null_where_a_is_zero_or_not_a_number() -> None:
    assert difference(0, 5) == {"a": 0, "b": 5, "delta": 5, "ratio": None}
    assert difference(0, 0)["ratio"] is None
    assert difference(2.5, 5)["ratio"] == 2.0
    # a bpftrace map of strings: shown side by side, no arithmetic
    assert difference("x", "y") == {"a": "x", "b": "y", "delta": None, "ratio": None}
    assert difference(None, None) == {"a": None, "b": None, "delta": None, "ratio": None}


def test_stats_rows_are_compared_by_their_average() -> None:
    a = Aggregation("@s", "stats", (Row(("k",), stats={"count": 2, "average": 4, "total": 8}),))
    b = Aggregation("@s", "stats", (Row(("k",), stats={"count": 3, "average": 6, "total": 18}),))
    [row] = compare_snapshots(snap(a), snap(b), 10)["aggregations"][0]["rows"]
    assert (row["a"], row["b"], row["delta"], row["ratio"]) == (4, 6, 2, 1.5)


def test_distributions_are_compared_bucket_by_bucket() -> None:
    a = hist("@lat", {"read": [(0, 0, 4), (1, 1, 10), (2, 3, 6)]})
    b = hist("@lat", {"read": [(1, 1, 5), (2, 3, 6), (4, 7, 9)], "write": [(0, 0, 2)]})
    [agg] = compare_snapshots(snap(a), snap(b), 100)["aggregations"]
    assert agg["distribution"]
    rows = by_key(agg)
    read = rows["read"]
    assert (read["a"], read["b"], read["delta"], read["ratio"]) == (20, 20, 0, 1.0)
    assert read["change"] == 4 + 5 + 0 + 9  # the totals agree; the shape moved
    assert [(b["lo"], b["hi"], b["a"], b["b"], b["delta"]) for b in read["buckets"]] == [
        (0, 0, 4, 0, -4),
        (1, 1, 10, 5, -5),
        (2, 3, 6, 6, 0),
        (4, 7, 0, 9, 9),
    ]
    assert read["buckets"][0]["ratio"] == 0.0 and read["buckets"][3]["ratio"] is None
    write = rows["write"]
    assert write["a"] is None and write["b"] == 2
    assert write["buckets"] == [{"lo": 0, "hi": 0, "a": None, "b": 2, "delta": 2, "ratio": None}]
    # ranked by how far the shape moved: read (18) before write (2)
    assert [r["key"] for r in agg["rows"]] == [["read"], ["write"]]


def test_open_ended_buckets_sort_first_and_last() -> None:
    a = hist("@h", {"k": [(None, -1, 1), (0, 0, 1)]})
    b = hist("@h", {"k": [(10, None, 3), (0, 0, 2)]})
    [row] = compare_snapshots(snap(a), snap(b), 10)["aggregations"][0]["rows"]
    assert [(x["lo"], x["hi"]) for x in row["buckets"]] == [(None, -1), (0, 0), (10, None)]


def test_rows_are_ranked_by_the_largest_change_either_way() -> None:
    out = compare_snapshots(
        snap(counts("@num", {"up": 1, "down": 100, "same": 50, "small": 5})),
        snap(counts("@num", {"up": 41, "down": 10, "same": 50, "small": 6})),
        100,
    )
    assert [r["key"][0] for r in out["aggregations"][0]["rows"]] == ["down", "up", "small", "same"]


def test_rows_past_the_cap_are_left_out_and_counted() -> None:
    a = {"name": "@n", "function": "count", "rows": [{"key": [i], "value": i} for i in range(50)]}
    b = {
        "name": "@n",
        "function": "count",
        "rows": [{"key": [i], "value": 2 * i} for i in range(50)],
    }
    agg = compare_aggregation(a, b, 10)
    assert len(agg["rows"]) == 10 and agg["total_rows"] == 50 and agg["left_out"] == 40
    assert [r["key"][0] for r in agg["rows"]] == list(range(49, 39, -1))  # the biggest moves
    assert not agg["partial"]
    assert compare_aggregation({**a, "total_rows": 900}, b, 10)["partial"]


def test_aggregations_in_one_run_only_or_of_another_function_are_named() -> None:
    out = compare_snapshots(
        snap(counts("@num", {"x": 1}), counts("@a_only", {"x": 1}), counts("@f", {"x": 1})),
        snap(counts("@num", {"x": 2}), counts("@b_only", {"x": 1}), counts("@f", {"x": 1}, "sum")),
        10,
    )
    assert [a["name"] for a in out["aggregations"]] == ["@num"]
    assert out["only_in_a"] == ["@a_only"] and out["only_in_b"] == ["@b_only"]
    assert out["mismatched"] == [{"name": "@f", "function_a": "count", "function_b": "sum"}]


def test_keys_with_markup_and_quotes_pass_through_as_data() -> None:
    keys = [*HOSTILE, 'say "hi"', "it's", "kstack\n  frame_a\n  frame_b\n"]
    a = snap(counts("@num", {k: 1 for k in keys}))
    b = snap(counts("@num", {k: 2 for k in keys}))
    rows = compare_snapshots(a, b, 100)["aggregations"][0]["rows"]
    assert sorted(r["key"][0] for r in rows) == sorted(keys)  # exactly as traced


def test_the_overlay_figure_holds_no_markup_plotly_would_read() -> None:
    a = hist("@lat", {"k": [(0, 0, 4), (1, 1, 10), (1024, 2047, 3)]})
    b = hist("@lat", {"k": [(1, 1, 5), (2048, None, 1)]})
    [row] = compare_snapshots(snap(a), snap(b), 10)["aggregations"][0]["rows"]
    figure = overlay_figure(row["buckets"], "hist", "u")
    assert [t["name"] for t in figure["data"]] == ["A", "B"]
    assert figure["data"][0]["x"] == ["[0]", "[1]", "[1K, 2K)", "[2K, …)"]
    assert figure["data"][0]["y"] == [4, 10, 3, 0] and figure["data"][1]["y"] == [0, 5, 0, 1]
    assert figure["layout"]["barmode"] == "overlay"
    for path, text in strings(figure["data"]):
        if path.endswith("hovertemplate"):
            continue
        shown_by_plotly(text)


# --- GET /api/compare --------------------------------------------------------------------------


def traced(
    app: Flask, backend: Scripted, snapshots: list[list[Aggregation]], *, stop: bool = True
) -> str:
    """A run whose tracer reports each of ``snapshots`` in turn, then (with ``stop``) ends
    and is recorded."""
    run, events = scripted_run(app, backend)
    for aggs in snapshots:
        for agg in aggs:
            events.put(AggregationData(agg))
        events.put(Tick())
    deadline = time.monotonic() + 5
    while run.seq < len(snapshots):
        assert time.monotonic() < deadline
        time.sleep(0.005)
    if stop:
        state_of(app).runs.stop(run, "user")
        recorder = state_of(app).runs.recorder
        assert isinstance(recorder, Recorder) and recorder.flush()
    return run.id


def test_two_recorded_runs_compare_at_their_last_snapshots(tmp_path: Path) -> None:
    app, backend = app_in(tmp_path)
    a = traced(app, backend, [[counts("@num", {"bash": 1})], [counts("@num", {"bash": 10})]])
    b = traced(app, backend, [[counts("@num", {"bash": 25, "dd": 7})]])
    status, body = call(app, "GET", f"/api/compare?a={a}&b={b}")
    assert status == 200, body
    assert body["a"]["id"] == a and body["b"]["id"] == b
    assert body["a"]["title"] == "Syscalls by process" and body["a"]["started_at"]
    assert body["a"]["state"] == "stopped" and isinstance(body["a"]["t"], float)
    [agg] = body["aggregations"]
    assert [(r["key"], r["a"], r["b"], r["delta"]) for r in agg["rows"]] == [
        (["bash"], 10, 25, 15),
        (["dd"], None, 7, 7),
    ]
    assert agg["rows"][0]["label"] == "bash"
    state_of(app).runs.shutdown()


def test_a_time_picks_the_snapshot_of_that_moment_even_of_one_run_against_itself(
    tmp_path: Path,
) -> None:
    app, backend = app_in(tmp_path)
    a = traced(app, backend, [[counts("@num", {"bash": n})] for n in (1, 5, 9)])
    _, snaps = call(app, "GET", f"/api/runs/{a}/snapshots")
    t0 = snaps["snapshots"][0]["t"]
    status, body = call(app, "GET", f"/api/compare?a={a}&b={a}&t_a={t0}")
    assert status == 200, body
    assert body["a"]["t"] == t0 and body["b"]["t"] == snaps["snapshots"][-1]["t"]
    assert body["aggregations"][0]["rows"][0]["delta"] == 8
    state_of(app).runs.shutdown()


def test_a_live_run_is_compared_at_its_latest_snapshot(tmp_path: Path) -> None:
    app, backend = app_in(tmp_path, record_runs=False)
    a = traced(app, backend, [[counts("@num", {"bash": 4})]], stop=False)
    b = traced(app, backend, [[counts("@num", {"bash": 2})]], stop=False)
    status, body = call(app, "GET", f"/api/compare?a={a}&b={b}")
    assert status == 200, body
    assert body["a"]["state"] == "running" and body["a"]["title"] == "Syscalls by process"
    assert body["aggregations"][0]["rows"][0]["ratio"] == 0.5
    status, body = call(app, "GET", f"/api/compare?a={a}&b={b}&t_b=1")
    assert status == 400 and body["error"]["code"] == "bad_t_b"
    assert "leave t_b out" in body["error"]["message"]
    state_of(app).runs.shutdown()


def test_distributions_come_with_bucket_ranges_and_with_charts_an_overlay(
    tmp_path: Path,
) -> None:
    app, backend = app_in(tmp_path)
    a = traced(app, backend, [[hist("@lat", {"<b>k</b>": [(0, 0, 3), (1, 1, 1)]})]])
    b = traced(app, backend, [[hist("@lat", {"<b>k</b>": [(1, 1, 6)]})]])
    status, body = call(app, "GET", f"/api/compare?a={a}&b={b}")
    [row] = body["aggregations"][0]["rows"]
    assert status == 200 and row["label"] == "<b>k</b>" and "figure" not in row
    assert [x["range"] for x in row["buckets"]] == ["[0]", "[1]"]
    status, body = call(app, "GET", f"/api/compare?a={a}&b={b}&charts=1")
    [row] = body["aggregations"][0]["rows"]
    assert [t["y"] for t in row["figure"]["data"]] == [[3, 1], [0, 6]]
    state_of(app).runs.shutdown()


def test_the_server_row_cap_bounds_the_rows_and_marks_cut_snapshots(tmp_path: Path) -> None:
    app, backend = app_in(tmp_path, max_rows_per_aggregation=2)
    # each run keeps its 2 heaviest keys: A has y and z, B has x and z
    a = traced(app, backend, [[counts("@num", {"x": 1, "y": 2, "z": 3})]])
    b = traced(app, backend, [[counts("@num", {"x": 10, "y": 2, "z": 3})]])
    status, body = call(app, "GET", f"/api/compare?a={a}&b={b}")
    assert status == 200, body
    [agg] = body["aggregations"]
    assert [(r["key"], r["delta"]) for r in agg["rows"]] == [(["x"], 10), (["y"], -2)]
    assert agg["total_rows"] == 3 and agg["left_out"] == 1 and agg["partial"]
    state_of(app).runs.shutdown()


def test_compare_errors_say_what_to_do(tmp_path: Path) -> None:
    app, backend = app_in(tmp_path)
    a = traced(app, backend, [[counts("@num", {"bash": 1})]])
    empty = traced(app, backend, [], stop=False)
    cases = {
        f"/api/compare?b={a}": (400, "bad_a"),
        f"/api/compare?a={a}": (400, "bad_b"),
        f"/api/compare?a={a}&b=nope": (404, "no_such_run"),
        f"/api/compare?a={'x' * 100}&b={a}": (404, "no_such_run"),
        f"/api/compare?a={a}&b={a}&t_a=soon": (400, "bad_t_a"),
        f"/api/compare?a={a}&b={a}&t_b=-1": (400, "bad_t_b"),
        f"/api/compare?a={a}&b={a}&t_b=inf": (400, "bad_t_b"),
        f"/api/compare?a={a}&b={empty}": (409, "no_snapshot"),
    }
    for url, (want_status, want_code) in cases.items():
        status, body = call(app, "GET", url)
        assert (status, body["error"]["code"]) == (want_status, want_code), url
        assert body["error"]["message"]
    _, body = call(app, "GET", f"/api/compare?a={a}&b={empty}")
    assert "has no data yet" in body["error"]["message"]
    state_of(app).runs.shutdown()


# --- the page ----------------------------------------------------------------------------------


def test_the_compare_page_needs_the_sign_in_and_loads_its_module(tmp_path: Path) -> None:
    app, _ = app_in(tmp_path)
    client = app.test_client()
    resp = client.get("/compare?a=x&b=y")
    assert resp.status_code == 401 and "?token=" in resp.get_data(as_text=True)
    client.get("/?token=t")
    html = client.get("/compare?a=x&b=y").get_data(as_text=True)
    assert "js/compare.js" in html and "css/compare.css" in html
    assert 'id="compare-aggs"' in html
    for tag in html.split("<script")[1:]:
        assert 'src="' in tag.split(">")[0], "inline scripts are refused by the page's CSP"
    state_of(app).runs.shutdown()
