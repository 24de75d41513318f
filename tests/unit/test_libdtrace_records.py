"""Decoding libdtrace's aggregation records, replayed from callbacks recorded from the real
library (tests/fixtures/libdtrace/*.ndjson, Oracle's family) and from records built with the
illumos layout.  None of this needs libdtrace."""

from __future__ import annotations

import itertools
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ide.tracing.dtrace_records import (
    AggregationStore,
    RawKey,
    RawRecord,
    RecordError,
    aggregation_name,
    decode_key_part,
    decode_record,
    llquantize_illumos_buckets,
    llquantize_oracle_buckets,
    lquantize_buckets,
    quantize_buckets,
    stddev_value,
)
from ide.tracing.model import Aggregation, Bucket, aggregation_from_dict

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "libdtrace"


def messages(name: str) -> list[dict[str, Any]]:
    text = (FIXTURES / f"{name}.ndjson").read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def replay(name: str) -> list[tuple[list[Aggregation], list[Aggregation]]]:
    """Per snapshot: (what the store makes of the recorded records, what the worker sent)."""
    out = []
    store = AggregationStore()
    store.begin()
    sent: list[Aggregation] = []
    for m in messages(name):
        if m["type"] == "record":
            store.add(decode_record(RawRecord.from_dict(m["record"])))
        elif m["type"] == "aggregation":
            sent.append(aggregation_from_dict(m["aggregation"]))
        elif m["type"] == "tick":
            out.append((list(store.end()), sent))
            store.begin()
            sent = []
    return out


def by_name(aggs: list[Aggregation]) -> dict[str, Aggregation]:
    return {a.name: a for a in aggs}


def words(*values: int) -> bytes:
    return struct.pack(f"<{len(values)}q", *values)


# --- replaying the real library's callbacks ------------------------------------------------


@pytest.mark.parametrize("name", ["count_by_syscall", "lquantize_read", "every_function"])
def test_recorded_walks_decode_to_what_the_worker_reported(name: str) -> None:
    snapshots = replay(name)
    assert snapshots, "the fixture has at least one snapshot"
    for decoded, sent in snapshots:
        assert [a.to_dict() for a in decoded] == [a.to_dict() for a in sent]


def test_recorded_counts_are_cumulative_from_one_snapshot_to_the_next() -> None:
    snapshots = [by_name(decoded)["@num"] for decoded, _ in replay("count_by_syscall")]
    assert len(snapshots) >= 2
    for earlier, later in itertools.pairwise(snapshots):
        before = {r.key: r.value for r in earlier.rows}
        after = {r.key: r.value for r in later.rows}
        assert set(before) <= set(after)
        for key, value in before.items():
            assert after[key] >= value  # type: ignore[operator]


def test_recorded_syscall_counts_have_string_keys_and_integer_values() -> None:
    decoded, _ = replay("count_by_syscall")[-1]
    num = by_name(decoded)["@num"]
    assert num.function == "count"
    assert num.rows
    for row in num.rows:
        assert len(row.key) == 1 and isinstance(row.key[0], str) and row.key[0]
        assert isinstance(row.value, int) and row.value > 0


def test_recorded_lquantize_carries_its_range_and_buckets_of_its_step() -> None:
    decoded, _ = replay("lquantize_read")[-1]
    dist = by_name(decoded)["@dist"]
    assert dist.function == "lquantize"
    assert dist.params == {"lo": 0, "hi": 12, "step": 2}
    for row in dist.rows:
        assert row.buckets
        for b in row.buckets:
            if b.lo is not None and b.hi is not None:
                assert b.hi - b.lo == 1 and b.lo % 2 == 0


def test_every_aggregating_function_decodes_to_the_values_it_was_fed() -> None:
    [(decoded, _)] = replay("every_function")
    aggs = by_name(decoded)
    value = {name: aggs[name].rows[0].value for name in ("@c", "@mi", "@ma", "@a", "@sd", "@big")}
    assert value == {
        "@c": 2,
        "@mi": -7,
        "@ma": 9,
        "@a": 15,  # (10 + 21) / 2, truncated as dtrace prints it
        "@sd": 3,  # values 3 and 9: mean 6, variance 9
        "@big": 4611686018427387905,  # 2**62 + 1: all 64 bits kept
    }
    assert {r.key: r.value for r in aggs["@s"].rows} == {(1, "k"): 7, (2, "k"): 5}
    assert {a.function for a in aggs.values()} == {
        "count", "sum", "min", "max", "avg", "stddev", "quantize", "lquantize", "llquantize",
    }  # fmt: skip


def nonzero(agg: Aggregation) -> dict[tuple[int | None, int | None], int]:
    [row] = agg.rows
    assert row.buckets is not None
    return {(b.lo, b.hi): b.count for b in row.buckets if b.count}


def test_recorded_distributions_put_each_value_in_its_bucket() -> None:
    [(decoded, _)] = replay("every_function")
    aggs = by_name(decoded)
    assert nonzero(aggs["@q"]) == {(-7, -4): 1, (0, 0): 1, (512, 1023): 1}
    assert nonzero(aggs["@l"]) == {(None, -1): 1, (4, 5): 1, (12, None): 1}
    assert aggs["@l"].params == {"lo": 0, "hi": 12, "step": 2}
    # llquantize(x, 10, 0, 6, 20): below 10 every integer has its own bucket.
    assert nonzero(aggs["@ll"]) == {(-5, -5): 1, (7, 7): 1, (1000, 1499): 1}
    assert aggs["@ll"].params == {"factor": 10, "low": 0, "high": 6, "nsteps": 20}
    # llquantize(x, 10, 1, 3, 10): "abs() < 10", steps of 10, and ">= 10000", as dtrace prints.
    assert nonzero(aggs["@l2"]) == {(-9, 9): 1, (10, 19): 1, (10000, None): 1}


def test_recorded_anonymous_aggregation_and_names() -> None:
    assert aggregation_name("num") == "@num"
    assert aggregation_name("_") == "@"
    assert aggregation_name("@x") == "@x"


# --- the illumos family (SmartOS, FreeBSD, macOS), built from its record layout ------------


def illumos(action: int, data: bytes, keys: tuple[RawKey, ...] = (), arg: int = 0) -> RawRecord:
    return RawRecord("illumos", "x", action, arg, keys, data)


def test_illumos_numbers_its_aggregating_actions_from_count() -> None:
    key = (RawKey(1, 8, words(42)),)
    assert decode_record(illumos(0x701, words(5), key)).function == "count"
    assert decode_record(illumos(0x705, words(-5), key)).row.value == -5  # sum
    assert decode_record(illumos(0x704, words(4, 10))).row.value == 2  # avg
    assert decode_record(illumos(0x704, words(4, 10))).function == "avg"
    assert decode_record(illumos(0x701, words(5), key)).row.key == (42,)


def test_illumos_lquantize_keeps_its_parameters_in_the_first_data_word() -> None:
    base, step, levels = -4, 4, 3
    arg = (step << 48) | (levels << 32) | (base & 0xFFFFFFFF)
    counts = [1, 0, 2, 0, 3]
    d = decode_record(illumos(0x708, words(arg, *counts)))
    assert d.function == "lquantize"
    assert d.params == {"lo": -4, "hi": 8, "step": 4}
    assert d.row.buckets == (
        Bucket(None, -5, 1),
        Bucket(-4, -1, 0),
        Bucket(0, 3, 2),
        Bucket(4, 7, 0),
        Bucket(8, None, 3),
    )


def test_illumos_llquantize_steps_through_each_order_of_magnitude() -> None:
    params = {"factor": 10, "low": 0, "high": 1, "nsteps": 10}
    # [below 1], 1..9 in steps of 1, 10..99 in steps of 10, [100 and up]
    bounds: list[tuple[int | None, int | None]] = [(None, 0)]
    bounds += [(v, v) for v in range(1, 10)]
    bounds += [(v, v + 9) for v in range(10, 100, 10)] + [(100, None)]
    counts = [1] * len(bounds)
    buckets = llquantize_illumos_buckets(params, counts)
    assert [(b.lo, b.hi) for b in buckets] == bounds
    arg = (10 << 48) | (0 << 32) | (1 << 16) | 10
    d = decode_record(illumos(0x709, words(arg, *counts)))
    assert d.params == params and d.row.buckets == buckets
    with pytest.raises(RecordError):
        llquantize_illumos_buckets(params, counts[:-1])


def test_illumos_keys_share_the_data_buffer_layout_of_strings_and_ints() -> None:
    text = RawKey(1, 32, b"bash".ljust(32, b"\0"))
    small = RawKey(1, 4, struct.pack("<i", -3))
    assert decode_key_part(text) == "bash"
    assert decode_key_part(small) == -3
    assert decode_key_part(RawKey(0x402, 8, struct.pack("<Q", 0xFFFF0000))) == "0xffff0000"
    assert decode_key_part(RawKey(0x402, 8, b"\0" * 8, "genunix`read")) == "genunix`read"


def test_an_unknown_action_or_a_short_record_is_an_error_not_a_guess() -> None:
    with pytest.raises(RecordError):
        decode_record(illumos(0x7FF, words(1)))
    with pytest.raises(RecordError):
        decode_record(illumos(0x707, words(1, 2, 3)))  # quantize needs 127 buckets
    with pytest.raises(RecordError):
        decode_record(RawRecord("oracle", "x", 0x707, 0, (), words(1, 2)))  # stddev


def test_a_record_round_trips_through_its_json_form() -> None:
    raw = RawRecord("oracle", "n", 0x701, 0, (RawKey(1, 8, words(3), None),), words(9), 1, 2)
    assert RawRecord.from_dict(json.loads(json.dumps(raw.to_dict()))) == raw
    with pytest.raises(ValueError):
        RawRecord.from_dict({**raw.to_dict(), "family": "solaris"})


# --- bucket arithmetic ---------------------------------------------------------------------


def dtrace_quantize_index(value: int) -> int:
    """Where libdtrace's quantize() counts ``value`` (bucket 63 is zero)."""
    if value == 0:
        return 63
    mag = min(abs(value).bit_length() - 1, 62)
    return 63 + 1 + mag if value > 0 else 63 - 1 - mag


@given(st.integers(min_value=-(2**63) + 1, max_value=2**63 - 1))
def test_quantize_bucket_bounds_hold_the_values_counted_in_them(value: int) -> None:
    counts = [0] * 127
    counts[dtrace_quantize_index(value)] = 1
    [bucket] = quantize_buckets(counts)
    assert bucket.lo is None or bucket.lo <= value
    assert bucket.hi is None or value <= bucket.hi


def test_quantize_buckets_are_powers_of_two_mirrored_around_zero() -> None:
    counts = [1] * 127
    buckets = quantize_buckets(counts)
    middle = buckets[60:67]
    assert [(b.lo, b.hi) for b in middle] == [
        (-7, -4), (-3, -2), (-1, -1), (0, 0), (1, 1), (2, 3), (4, 7),
    ]  # fmt: skip
    assert buckets[0].lo is None and buckets[-1].hi is None


@given(
    st.integers(-100, 100),
    st.integers(1, 20),
    st.integers(1, 30),
    st.integers(-1000, 1000),
)
def test_lquantize_bucket_bounds_hold_the_values_counted_in_them(
    base: int, step: int, levels: int, value: int
) -> None:
    # libdtrace's rule: below base -> 0, at or past base + levels*step -> levels + 1
    if value < base:
        index = 0
    elif value >= base + levels * step:
        index = levels + 1
    else:
        index = (value - base) // step + 1
    counts = [0] * (levels + 2)
    counts[index] = 1
    [bucket] = lquantize_buckets(base, step, levels, counts)
    assert bucket.lo is None or bucket.lo <= value
    assert bucket.hi is None or value <= bucket.hi


def test_empty_distributions_have_no_buckets_and_inner_zeros_are_kept() -> None:
    assert quantize_buckets([0] * 127) == ()
    counts = [0, 1, 0, 0, 1, 0]
    assert [b.count for b in lquantize_buckets(0, 1, 4, counts)] == [1, 0, 0, 1]


def test_oracle_llquantize_buckets_are_contiguous_and_mirrored() -> None:
    params = {"factor": 10, "low": 1, "high": 3, "nsteps": 10}
    nbins = 3 * 9 * 2 + 3
    buckets = llquantize_oracle_buckets(params, [1] * nbins)
    for a, b in itertools.pairwise(buckets):
        assert a.hi is not None and b.lo is not None and a.hi + 1 == b.lo
    assert buckets[0] == Bucket(None, -10000, 1) and buckets[-1] == Bucket(10000, None, 1)
    positive = [(b.lo, b.hi) for b in buckets[1:-1] if b.lo is not None and b.lo > 0]
    negative = [
        (-b.hi, -b.lo) for b in buckets[1:-1] if b.lo is not None and b.hi is not None and b.hi < 0
    ]
    assert sorted(positive) == sorted(negative)
    assert sum(b.count for b in buckets) == nbins


def test_stddev_is_libdtraces_integer_formula_on_128_bit_squares() -> None:
    # values 3 and 9: count 2, sum 12, sum of squares 90
    assert stddev_value([2, 12, 90, 0]) == 3
    # the sum of squares past 64 bits: two values of 2**40
    big = 2 * (2**40) ** 2
    assert stddev_value([2, 2**41, big & (2**64 - 1), big >> 64]) == 0
    assert stddev_value([0, 0, 0, 0]) == 0


# --- the store ----------------------------------------------------------------------------


def count(name: str, key: str, n: int) -> RawRecord:
    return RawRecord("oracle", name, 0x701, 0, (RawKey(1, 16, key.encode().ljust(16, b"\0")),),
                     words(n))  # fmt: skip


def test_the_store_replaces_each_key_with_the_walks_cumulative_value() -> None:
    store = AggregationStore()
    store.begin()
    store.add(decode_record(count("n", "read", 3)))
    store.add(decode_record(count("n", "write", 1)))
    [first] = store.end()
    store.begin()
    store.add(decode_record(count("n", "read", 5)))
    store.add(decode_record(count("n", "write", 1)))
    [second] = store.end()
    assert {r.key: r.value for r in first.rows} == {("read",): 3, ("write",): 1}
    assert {r.key: r.value for r in second.rows} == {("read",): 5, ("write",): 1}


def test_the_store_keeps_reporting_an_aggregation_whose_keys_were_truncated() -> None:
    store = AggregationStore()
    store.begin()
    store.add(decode_record(count("a", "x", 1)))
    store.add(decode_record(count("b", "y", 1)))
    store.end()
    store.begin()
    store.add(decode_record(count("b", "y", 2)))
    a, b = store.end()
    assert (a.name, a.rows) == ("@a", ())
    assert (b.name, [r.value for r in b.rows]) == ("@b", [2])


def test_stack_keys_list_their_frames_and_a_user_stack_starts_with_its_pid() -> None:
    pcs = struct.pack("<4Q", 0xFFFFFFFF81000010, 0xFFFFFFFF81000020, 0, 0)
    assert decode_key_part(RawKey(0x401, 32, pcs)) == "0xffffffff81000010\n0xffffffff81000020"
    user = struct.pack("<4Q", (1234 << 32) | 1234, 0x7F00000010, 0x55000020, 0)
    assert decode_key_part(RawKey(0x101, 32, user)) == "0x7f00000010\n0x55000020"
