"""The snapshot model's JSON: model -> JSON -> model gives back the same model."""

from __future__ import annotations

import json

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ide.tracing.model import (
    Aggregation,
    Bucket,
    Row,
    Snapshot,
    aggregation_from_dict,
    snapshot_from_json,
)

# JSON has no NaN or infinity; a tracer reports neither.
numbers = st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False, allow_infinity=False)
bounds = st.none() | st.integers(-(2**63), 2**63 - 1)
buckets = st.builds(Bucket, bounds, bounds, st.integers(0, 2**64 - 1))
keys = st.lists(st.integers(-(2**63), 2**64 - 1) | st.text(), max_size=4).map(tuple)
scalar_rows = st.builds(Row, keys, st.none() | numbers | st.text())
distribution_rows = st.builds(Row, keys, st.none(), st.lists(buckets, max_size=5).map(tuple))
stats_rows = st.builds(
    Row,
    keys,
    numbers,
    st.none(),
    st.fixed_dictionaries({"count": st.integers(0, 2**63), "average": numbers, "total": numbers}),
)
rows = scalar_rows | distribution_rows | stats_rows
aggregations = st.builds(
    Aggregation,
    st.text(),
    st.sampled_from(["count", "sum", "stats", "quantize", "lquantize", "llquantize"]),
    st.lists(rows, max_size=6).map(tuple),
    st.dictionaries(st.sampled_from(["lo", "hi", "step", "factor"]), st.integers(-99, 99)),
    st.none() | st.integers(0, 10**9),
)
snapshots = st.builds(
    Snapshot,
    st.floats(0, 1e9, allow_nan=False),
    st.lists(aggregations, max_size=3).map(tuple),
)


@given(aggregations)
def test_an_aggregation_read_back_from_its_dict_is_the_same(agg: Aggregation) -> None:
    assert aggregation_from_dict(json.loads(json.dumps(agg.to_dict()))) == agg


@given(snapshots)
def test_a_snapshot_read_back_from_its_json_is_the_same(snap: Snapshot) -> None:
    assert snapshot_from_json(snap.to_json()) == snap
    assert json.loads(snap.to_json()) == json.loads(json.dumps(snap.to_dict()))


def test_total_rows_survives_the_worker_json() -> None:
    agg = Aggregation("@a", "count", (Row(("x",), 3), Row(("y",), 1))).capped(1)
    assert aggregation_from_dict(json.loads(json.dumps(agg.to_dict()))).total_rows == 2


def test_the_json_shape_is_the_documented_one() -> None:
    snap = Snapshot(
        1.5,
        (
            Aggregation("@n", "count", (Row(("bash", 3), 35),)),
            Aggregation("@d", "quantize", (Row((), buckets=(Bucket(None, -1, 0),)),)),
        ),
    )
    assert (
        json.loads(snap.to_json())
        == json.loads(json.dumps(snap.to_dict()))
        == {
            "t": 1.5,
            "aggregations": [
                {
                    "name": "@n",
                    "function": "count",
                    "rows": [{"key": ["bash", 3], "value": 35}],
                    "params": {},
                    "total_rows": None,
                },
                {
                    "name": "@d",
                    "function": "quantize",
                    "rows": [{"key": [], "buckets": [{"lo": None, "hi": -1, "count": 0}]}],
                    "params": {},
                    "total_rows": None,
                },
            ],
        }
    )


@pytest.mark.parametrize(
    "bad",
    [
        {"name": "@a", "function": "count"},  # no rows
        {"name": "@a", "function": "count", "rows": [{"key": "x", "value": 1}]},
        {"name": "@a", "function": "count", "rows": [{"key": [], "value": [1]}]},
        {"name": "@a", "function": "quantize", "rows": [{"key": [], "buckets": [{"lo": 1}]}]},
        {"name": "@a", "function": "count", "rows": [], "total_rows": "many"},
    ],
)
def test_json_not_of_the_aggregation_shape_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(msgspec.ValidationError):
        aggregation_from_dict(bad)
