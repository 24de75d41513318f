"""What merging a fleet costs the server: 50 hosts' latest snapshots into the total and the
by-host views (ide/fleet/merge.py), and their panels, once per interval.

    .venv/bin/python bench/bench_fleet_merge.py [--hosts 50] [--keys 1000] [--intervals 60]
                                                [--only count|quantize|both] [--json FILE]

Simulated agents, one process: each host reports, once per interval (1 Hz, but the bench
does not sleep), the growing snapshot bench_snapshot_pipeline.py's generators make, with its
own values — a ``count()`` of ``--keys`` keys and a ``quantize()`` of ``--keys`` keys x 41
buckets, the same keys on every host (the dearest case for the total: every key is on
every host).  Each host's snapshot is made and offered at once, as a broker consumer
decodes and offers each message; the making is not timed.  Per interval, timed:

- merge: the 50 ``offer`` calls (each reads the host's distributions into the merge's
  columns), then ``total()`` and ``by_host()``;
- panels: ``History.add`` + ``build_panels`` + ``json.dumps`` of each view, as the server
  does for a watching page (a History per view);

beside the baseline measured in the same run, interval by interval: one host's own snapshot
through the same History + panels + JSON (what a run on one host costs today).  Target:
merge + panels of the total view (the page's default) p95 <= 100 ms; both views reported.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Figure, p95, table, write_json
from bench_snapshot_pipeline import _key

from ide.charts import History, build_panels
from ide.config import Settings
from ide.fleet.merge import FleetMerge
from ide.tracing.model import Aggregation, Bucket, Row, Snapshot

BUCKETS = 41  # bench_snapshot_pipeline.power_of_two's: [0, 0] and 40 powers of two
LOS = [0] + [1 << b for b in range(BUCKETS - 1)]
HIS = [0] + [(2 << b) - 1 for b in range(BUCKETS - 1)]


class Agent:
    """One simulated host: its share of each key, grown every interval."""

    def __init__(self, n: int, keys: int, shapes: tuple[str, ...]) -> None:
        self.name = f"host-{n:02d}"
        self.rng = random.Random(n)
        self.keys = [_key(i) for i in range(keys)]
        self.shapes = shapes
        scale = 1 + n % 7
        self.calls = [scale * (1 + 100_000 // (i + 1)) for i in range(keys)]
        self.sizes = [[scale * ((i + b) % 5) for b in range(BUCKETS)] for i in range(keys)]

    def snapshot(self, step: int) -> Snapshot:
        s, noise = step + 1, self.rng.randrange
        aggs: list[Aggregation] = []
        if "count" in self.shapes:
            values = [s * c + noise(5) for c in self.calls]
            aggs.append(Aggregation("@calls", "count", tuple(map(Row, self.keys, values))))
        if "quantize" in self.shapes:
            rows = []
            for key, weights in zip(self.keys, self.sizes, strict=True):
                counts = [s * w for w in weights]
                counts[noise(BUCKETS)] += 1
                rows.append(Row(key, None, tuple(map(Bucket, LOS, HIS, counts))))
            aggs.append(Aggregation("@size", "quantize", tuple(rows)))
        # Hosts attached a little apart: their t differ.
        return Snapshot(s + self.rng.random() / 10, tuple(aggs))


class Stopwatch:
    """Wall and CPU milliseconds of named steps, one interval's worth."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        start, start_cpu = time.perf_counter(), time.process_time()
        yield
        self.ms[name] = (time.perf_counter() - start) * 1000
        self.ms[f"{name} cpu"] = (time.process_time() - start_cpu) * 1000


def panels_json(snapshot: Snapshot, history: History) -> str:
    history.add(snapshot)
    return json.dumps(build_panels(snapshot, history), separators=(",", ":"))


class Fleet:
    """The server's side: the merge, a History per view, and one host's run for the
    baseline."""

    def __init__(self, agents: list[Agent]) -> None:
        self.agents = agents
        cap = Settings().max_rows_per_aggregation
        self.merge = FleetMerge([a.name for a in agents], max_rows=cap)
        self.total, self.by_host, self.one_host = History(), History(), History()

    def interval(self, step: int) -> dict[str, float]:
        gc.collect()  # the last interval's garbage is not this one's
        clock = Stopwatch()
        offer = [0.0, 0.0]
        for agent in self.agents:
            # Made, then offered at once, as a broker consumer decodes and offers each
            # message: only the offer is timed (it reads the distributions while hot).
            snap = agent.snapshot(step)
            with clock.step("offer"):
                self.merge.offer(agent.name, snap)
            offer = [offer[0] + clock.ms["offer"], offer[1] + clock.ms["offer cpu"]]
            if agent is self.agents[0]:
                first = snap
        clock.ms["offer"], clock.ms["offer cpu"] = offer
        with clock.step("merge total"):
            total = self.merge.total()
        with clock.step("merge by host"):
            by_host = self.merge.by_host()
        with clock.step("panels total"):
            panels_json(total.snapshot, self.total)
        with clock.step("panels by host"):
            panels_json(by_host.snapshot, self.by_host)
        with clock.step("one host's panels"):
            panels_json(first, self.one_host)
        return clock.ms


def run(
    hosts: int, keys: int, intervals: int, warmup: int, shapes: tuple[str, ...]
) -> dict[str, list[float]]:
    fleet = Fleet([Agent(n, keys, shapes) for n in range(hosts)])
    out: dict[str, list[float]] = {}
    for step in range(warmup + intervals):
        ms = fleet.interval(step)
        if step >= warmup:
            for name, value in ms.items():
                out.setdefault(name, []).append(value)
    return out


def summed(samples: dict[str, list[float]], names: tuple[str, ...]) -> list[float]:
    return [sum(vs) for vs in zip(*(samples[n] for n in names), strict=True)]


MERGE_TOTAL = ("offer", "merge total")
MERGE_BOTH = (*MERGE_TOTAL, "merge by host")
ROWS: list[tuple[str, tuple[str, ...], str]] = [
    ("merge, total view (offer + total)", MERGE_TOTAL, ""),
    ("merge, by-host view", ("merge by host",), ""),
    ("merge, both views", MERGE_BOTH, ""),
    ("panels + JSON, total view", ("panels total",), ""),
    ("panels + JSON, by-host view", ("panels by host",), ""),
    ("merge + panels, total view (the default)", (*MERGE_TOTAL, "panels total"), "<= 100"),
    ("merge + panels, both views", (*MERGE_BOTH, "panels total", "panels by host"), "<= 100"),
]


def figures(case: str, samples: dict[str, list[float]], hosts: int) -> list[Figure]:
    """Each figure's p95 beside one host's panels p95 (the ratio); a target is absolute."""
    base = samples["one host's panels"]
    out = []
    for name, parts, target in ROWS:
        wall = summed(samples, parts)
        cpu = summed(samples, tuple(f"{p} cpu" for p in parts))
        note = (
            f"p50 {statistics.median(wall):.1f} ms, CPU p50 {statistics.median(cpu):.1f} ms; "
            f"one host's panels p50 {statistics.median(base):.1f} ms; "
            f"{len(wall)} intervals x {hosts} hosts"
        )
        figure = Figure(f"fleet {case}", f"{name} p95", p95(wall), "ms", p95(base), None, target)
        figure.ratio, figure.note = (None if target else p95(wall) / p95(base)), note
        out.append(figure)
    return out


CASES = {"count": ("count",), "quantize": ("quantize",), "both": ("count", "quantize")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=50)
    ap.add_argument("--keys", type=int, default=1000)
    ap.add_argument("--intervals", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--only", choices=sorted(CASES), action="append")
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args()
    load = os.getloadavg()[0]
    print(f"load average {load:.1f} on {os.cpu_count()} CPUs (wall times suffer when busy)")
    out: list[Figure] = []
    for case in args.only or ["count", "quantize", "both"]:
        shapes = CASES[case]
        samples = run(args.hosts, args.keys, args.intervals, args.warmup, shapes)
        label = " + ".join(
            f"{s} {args.keys:,} keys" + (" x 41" if s == "quantize" else "") for s in shapes
        )
        out += figures(label, samples, args.hosts)
        print(table(out[-len(ROWS) :]), flush=True)
        print()
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    if args.json:
        write_json(args.json, out)


if __name__ == "__main__":
    main()
