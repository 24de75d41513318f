"""The fleet's merge: the latest snapshot per host, by host (the host first in every key) or
totalled per key; hosts lost, returned, finished; caps; keys kept as the data they are."""

from __future__ import annotations

import threading

from hypothesis import given, settings
from hypothesis import strategies as st

from ide.fleet.merge import FleetMerge, MergedSnapshot
from ide.tracing.model import Aggregation, Bucket, Key, Row, Snapshot

HOSTS = ("web-1", "web-2", "web-3")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def scalars(name: str, function: str, values: dict[Key, int | float | str]) -> Aggregation:
    return Aggregation(name, function, tuple(Row(k, value=v) for k, v in values.items()))


def dist(name: str, rows: dict[Key, list[tuple[int | None, int | None, int]]]) -> Aggregation:
    return Aggregation(
        name,
        "quantize",
        tuple(Row(k, buckets=tuple(Bucket(*b) for b in bs)) for k, bs in rows.items()),
    )


def merge(*hosts: str, clock: Clock | None = None, max_rows: int = 5000) -> FleetMerge:
    return FleetMerge(hosts or HOSTS, max_rows=max_rows, clock=clock or Clock())


def rows_of(view: MergedSnapshot, name: str) -> dict[Key, Row]:
    (agg,) = [a for a in view.snapshot.aggregations if a.name == name]
    return {r.key: r for r in agg.rows}


def values_of(view: MergedSnapshot, name: str) -> dict[Key, object]:
    return {k: r.value for k, r in rows_of(view, name).items()}


def test_by_host_prepends_the_host_to_every_key_a_keyless_map_gets_the_host_alone() -> None:
    m = merge()
    m.offer("web-1", Snapshot(1.0, (scalars("@n", "count", {("nginx",): 3, ("sshd",): 1}),)))
    m.offer("web-2", Snapshot(1.0, (scalars("@n", "count", {("nginx",): 4}),)))
    m.offer("web-1", Snapshot(2.0, (scalars("@x", "count", {(): 7}),)))
    m.offer("web-2", Snapshot(2.0, (scalars("@x", "count", {(): 8}),)))
    view = m.by_host()
    assert values_of(view, "@x") == {("web-1",): 7, ("web-2",): 8}
    # web-1's newer snapshot holds @x only: the merge shows what each host sent last.
    m.offer("web-3", Snapshot(1.0, (scalars("@n", "count", {("nginx", 1): 5}),)))
    assert values_of(m.by_host(), "@n") == {("web-3", "nginx", 1): 5}


def test_totals_add_counts_and_sums_per_key_and_keep_keys_seen_on_one_host() -> None:
    m = merge()
    m.offer("web-1", Snapshot(1.0, (scalars("@n", "count", {("nginx",): 3, ("sshd",): 1}),)))
    m.offer("web-2", Snapshot(1.0, (scalars("@n", "count", {("nginx",): 4, ("cron",): 2}),)))
    m.offer("web-3", Snapshot(1.0, (scalars("@b", "sum", {(): 1.5}),)))
    view = m.total()
    assert values_of(view, "@n") == {("nginx",): 7, ("sshd",): 1, ("cron",): 2}
    assert values_of(view, "@b") == {(): 1.5}
    assert view.notes == {}


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.dictionaries(st.sampled_from(["a", "b", "c", "d", "e"]), st.integers(0, 10**12)),
        min_size=1,
        max_size=6,
    )
)
def test_the_total_of_every_key_is_the_sum_of_the_hosts(hosts: list[dict[str, int]]) -> None:
    names = [f"h{i}" for i in range(len(hosts))]
    m = merge(*names)
    for name, counts in zip(names, hosts, strict=True):
        m.offer(
            name, Snapshot(1.0, (scalars("@n", "count", {(k,): v for k, v in counts.items()}),))
        )
    expected: dict[Key, int] = {}
    for counts in hosts:
        for k, v in counts.items():
            expected[(k,)] = expected.get((k,), 0) + v
    if not expected:
        return
    assert values_of(m.total(), "@n") == expected
    by_host = values_of(m.by_host(), "@n")
    assert sum(v for v in by_host.values() if isinstance(v, int)) == sum(expected.values())


def test_min_and_max_take_the_least_and_the_greatest() -> None:
    m = merge()
    m.offer(
        "web-1",
        Snapshot(1.0, (scalars("@lo", "min", {("a",): 5}), scalars("@hi", "max", {("a",): 5}))),
    )
    m.offer(
        "web-2",
        Snapshot(1.0, (scalars("@lo", "min", {("a",): -2}), scalars("@hi", "max", {("a",): 9}))),
    )
    view = m.total()
    assert values_of(view, "@lo") == {("a",): -2}
    assert values_of(view, "@hi") == {("a",): 9}


def stats_row(key: Key, count: int, total: int) -> Row:
    return Row(
        key, value=total // count, stats={"count": count, "average": total // count, "total": total}
    )


def test_stats_and_avg_with_counts_combine_by_count_and_total() -> None:
    m = merge()
    for host, (count, total) in zip(HOSTS, [(1, 10), (3, 90), (0, 0)], strict=True):
        rows = (stats_row(("read",), count, total),) if count else ()
        aggs = (
            Aggregation("@s", "stats", rows),
            Aggregation("@a", "avg", rows),
        )
        m.offer(host, Snapshot(1.0, aggs))
    for name in ("@s", "@a"):
        (row,) = rows_of(m.total(), name).values()
        assert row.stats == {"count": 4, "average": 25.0, "total": 100}
        assert row.value == 25.0  # not the mean of the means (10 and 30)


def test_what_has_no_exact_total_stays_by_host_with_a_note() -> None:
    m = merge()
    m.offer(
        "web-1",
        Snapshot(1.0, (scalars("@a", "avg", {("x",): 10}), scalars("@d", "stddev", {(): 3}))),
    )
    m.offer(
        "web-2",
        Snapshot(1.0, (scalars("@a", "avg", {("x",): 30}), scalars("@d", "stddev", {(): 4}))),
    )
    m.offer("web-3", Snapshot(1.0, (scalars("@v", "value", {("k",): "text"}),)))
    view = m.total()
    assert values_of(view, "@a") == {("web-1", "x"): 10, ("web-2", "x"): 30}  # never 20
    assert values_of(view, "@d") == {("web-1",): 3, ("web-2",): 4}
    assert values_of(view, "@v") == {("web-3", "k"): "text"}
    assert "avg()" in view.notes["@a"] and "shown by host" in view.notes["@a"]
    assert "stddev() has no exact total" in view.notes["@d"]
    assert "value() has no exact total" in view.notes["@v"]


def test_distributions_add_bucket_by_bucket_and_union_differing_buckets() -> None:
    m = merge()
    m.offer(
        "web-1",
        Snapshot(
            1.0,
            (dist("@lat", {("r",): [(None, -1, 1), (0, 0, 2), (1, 1, 3)], ("w",): [(4, 7, 1)]}),),
        ),
    )
    m.offer(
        "web-2", Snapshot(1.0, (dist("@lat", {("r",): [(None, -1, 1), (0, 0, 2), (1, 1, 3)]}),))
    )
    m.offer("web-3", Snapshot(1.0, (dist("@lat", {("r",): [(1, 1, 10), (2, 3, 5)]}),)))
    rows = rows_of(m.total(), "@lat")
    assert rows[("r",)].buckets == (
        Bucket(None, -1, 2),
        Bucket(0, 0, 4),
        Bucket(1, 1, 16),
        Bucket(2, 3, 5),
    )
    assert rows[("w",)].buckets == (Bucket(4, 7, 1),)
    by_host = rows_of(m.by_host(), "@lat")
    assert by_host[("web-3", "r")].buckets == (Bucket(1, 1, 10), Bucket(2, 3, 5))


def test_an_older_snapshot_arriving_late_is_ignored() -> None:
    m = merge()
    assert m.offer("web-1", Snapshot(2.0, (scalars("@n", "count", {(): 20}),)))
    assert not m.offer("web-1", Snapshot(1.0, (scalars("@n", "count", {(): 10}),)))
    assert not m.offer("web-1", Snapshot(2.0, (scalars("@n", "count", {(): 99}),)))  # a repeat
    assert values_of(m.total(), "@n") == {(): 20}
    # A host that numbers its snapshots is ordered by the number.
    assert m.offer("web-2", Snapshot(5.0, (scalars("@n", "count", {(): 5}),)), seq=2)
    assert not m.offer("web-2", Snapshot(6.0, (scalars("@n", "count", {(): 1}),)), seq=1)
    assert values_of(m.total(), "@n") == {(): 25}
    assert not m.offer("db-9", Snapshot(9.0, (scalars("@n", "count", {(): 1}),)))  # not in the run
    assert set(m.hosts()) == set(HOSTS)


def test_the_merged_t_is_the_furthest_hosts_and_each_host_keeps_its_own() -> None:
    clock = Clock()
    m = merge(clock=clock)
    m.offer("web-1", Snapshot(3.0, ()))
    m.offer("web-2", Snapshot(2.5, ()))
    assert m.total().snapshot.t == 3.0
    m.mark_lost("web-1")
    assert m.total().snapshot.t == 3.0  # never goes back when the furthest host is lost
    assert m.hosts()["web-2"].last_t == 2.5
    assert merge().total().snapshot == Snapshot(0.0, ())


def test_a_lost_host_keeps_its_last_data_and_is_reported_lost() -> None:
    clock = Clock()
    m = FleetMerge(HOSTS, lost_after=10.0, clock=clock)
    for host in HOSTS:
        m.offer(host, Snapshot(1.0, (scalars("@n", "count", {("nginx",): 1}),)))
    clock.now += 5
    for host in ("web-1", "web-2"):
        m.offer(host, Snapshot(2.0, (scalars("@n", "count", {("nginx",): 2}),)))
    clock.now += 6
    assert m.expire() == ["web-3"]
    assert m.expire() == []
    view = m.total()
    assert view.lost == ("web-3",)
    assert view.hosts["web-3"].state == "lost"
    assert view.hosts["web-3"].last_seen == 1000.0
    assert values_of(view, "@n") == {("nginx",): 5}  # its last data stays in the total
    assert values_of(m.by_host(), "@n")[("web-3", "nginx")] == 1
    assert m.running()


def test_a_host_that_comes_back_is_marked_returned_not_online() -> None:
    clock = Clock()
    m = merge(clock=clock)
    m.offer("web-1", Snapshot(1.0, ()))
    m.mark_lost("web-1")
    m.heard("web-1")
    assert m.hosts()["web-1"].state == "returned"
    m.offer("web-1", Snapshot(2.0, ()))
    assert m.hosts()["web-1"].state == "returned"  # for the rest of the run
    assert m.total().lost == ()


def test_hosts_never_heard_from_are_waiting_then_lost_and_ended_hosts_stay_ended() -> None:
    clock = Clock()
    m = FleetMerge(HOSTS, lost_after=10.0, clock=clock)
    assert {s.state for s in m.hosts().values()} == {"waiting"}
    m.offer("web-1", Snapshot(1.0, (scalars("@n", "count", {(): 1}),)))
    m.finish("web-1")
    m.finish("web-2", error="bpftrace: Could not resolve symbol")
    clock.now += 11
    assert m.expire() == ["web-3"]
    hosts = m.hosts()
    assert hosts["web-1"].state == "finished"
    assert (hosts["web-2"].state, hosts["web-2"].error) == (
        "failed",
        "bpftrace: Could not resolve symbol",
    )
    assert hosts["web-3"].last_seen is None
    assert not m.running()
    assert values_of(m.total(), "@n") == {(): 1}


def test_keys_with_markup_and_stacks_pass_through_as_data() -> None:
    hostile = "<img src=x onerror=alert(1)>"
    stack = "\n        vfs_read+0x1\n        ksys_read+0x2\n"
    m = merge("<b>web</b>", "web-2")
    m.offer("<b>web</b>", Snapshot(1.0, (scalars("@n", "count", {(hostile, stack): 1}),)))
    m.offer("web-2", Snapshot(1.0, (scalars("@n", "count", {(hostile, stack): 2}),)))
    assert values_of(m.total(), "@n") == {(hostile, stack): 3}
    assert ("<b>web</b>", hostile, stack) in values_of(m.by_host(), "@n")


def test_merged_aggregations_are_capped_heaviest_kept() -> None:
    m = merge(max_rows=3)
    m.offer(
        "web-1",
        Snapshot(1.0, (scalars("@n", "count", {("a",): 1, ("b",): 2, ("c",): 3, ("d",): 40}),)),
    )
    m.offer("web-2", Snapshot(1.0, (scalars("@n", "count", {("a",): 100, ("e",): 1}),)))
    (total,) = m.total().snapshot.aggregations
    assert [r.key for r in total.rows] == [("a",), ("d",), ("c",)]
    assert total.total_rows == 5
    (by_host,) = m.by_host().snapshot.aggregations
    assert [r.key for r in by_host.rows] == [("web-2", "a"), ("web-1", "d"), ("web-1", "c")]
    assert by_host.total_rows == 6


def test_a_host_capped_by_its_own_server_is_named_in_a_note() -> None:
    m = merge()
    capped = scalars("@n", "count", {("a",): 5, ("b",): 4}).capped(1)
    m.offer("web-1", Snapshot(1.0, (capped,)))
    m.offer("web-2", Snapshot(1.0, (scalars("@n", "count", {("b",): 1}),)))
    view = m.total()
    assert "web-1 sent its heaviest 1 of 2 keys" in view.notes["@n"]
    (agg,) = view.snapshot.aggregations
    assert agg.total_rows == 2  # a lower bound: marked cut, as the charts expect


def test_the_merge_is_cached_until_a_newer_snapshot_and_offers_go_on_from_threads() -> None:
    m = merge()
    m.offer("web-1", Snapshot(1.0, (scalars("@n", "count", {(): 1}),)))
    assert m.total().snapshot is m.total().snapshot

    def feed(host: str) -> None:
        for i in range(1, 201):
            m.offer(host, Snapshot(float(i), (scalars("@n", "count", {(): i}),)))

    threads = [threading.Thread(target=feed, args=(h,)) for h in HOSTS]
    for th in threads:
        th.start()
    while any(th.is_alive() for th in threads):
        m.total()
    for th in threads:
        th.join()
    assert values_of(m.total(), "@n") == {(): 600}


def test_the_weights_the_caps_rank_by_are_those_of_row_weight() -> None:
    from ide.fleet.combine import row_weights

    cases = [
        dist("@d", {("a",): [(0, 0, 2), (1, 1, 3)], ("b",): []}).rows,
        scalars("@n", "sum", {("a",): -4, ("b",): 2.5}).rows,
        scalars("@v", "value", {("a",): "text", ("b",): 3}).rows,
        (stats_row(("a",), 2, 10),),
    ]
    for rows in cases:
        assert row_weights(rows) == [r.weight for r in rows]


SPANS = [(None, -1), (0, 0), (1, 1), (2, 3), (4, 7), (8, None)]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(["r", "w"]),
            st.dictionaries(st.sampled_from(range(len(SPANS))), st.integers(0, 1000), min_size=1),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_every_bucket_of_the_total_is_the_sum_of_the_hosts(
    hosts: list[dict[str, dict[int, int]]],
) -> None:
    names = [f"h{i}" for i in range(len(hosts))]
    m = merge(*names)
    expected: dict[Key, dict[int | None, int]] = {}
    for name, keys in zip(names, hosts, strict=True):
        rows: dict[Key, list[tuple[int | None, int | None, int]]] = {
            (k,): [(*SPANS[i], n) for i, n in sorted(b.items())] for k, b in keys.items()
        }
        m.offer(name, Snapshot(1.0, (dist("@lat", rows),)))
        for k, b in keys.items():
            for i, n in b.items():
                by_lo = expected.setdefault((k,), {})
                by_lo[SPANS[i][0]] = by_lo.get(SPANS[i][0], 0) + n
    if not expected:
        return
    got = {
        key: {b.lo: b.count for b in row.buckets or ()}
        for key, row in rows_of(m.total(), "@lat").items()
    }
    assert got == expected
    for row in rows_of(m.total(), "@lat").values():
        spans = [(b.lo, b.hi) for b in row.buckets or ()]
        assert spans == sorted(spans, key=SPANS.index)  # in order, each bucket once


def test_counts_too_large_or_negative_to_pack_are_added_one_by_one() -> None:
    huge = 1 << 60
    m = merge()
    m.offer("web-1", Snapshot(1.0, (dist("@lat", {("r",): [(0, 0, huge), (1, 1, 1)]}),)))
    m.offer("web-2", Snapshot(1.0, (dist("@lat", {("r",): [(0, 0, huge), (1, 1, 2)]}),)))
    m.offer("web-3", Snapshot(1.0, (dist("@lat", {("r",): [(0, 0, -1), (1, 1, 3)]}),)))
    (row,) = rows_of(m.total(), "@lat").values()
    assert row.buckets == (Bucket(0, 0, 2 * huge - 1), Bucket(1, 1, 6))


def test_a_sum_holding_text_stays_by_host_and_says_why() -> None:
    m = merge()
    m.offer("web-1", Snapshot(1.0, (scalars("@s", "sum", {("a",): 1}),)))
    m.offer("web-2", Snapshot(1.0, (scalars("@s", "sum", {("a",): "n/a"}),)))
    view = m.total()
    assert values_of(view, "@s") == {("web-1", "a"): 1, ("web-2", "a"): "n/a"}
    assert (
        view.notes["@s"]
        == "sum() rows with values that are not numbers have no total: shown by host"
    )
