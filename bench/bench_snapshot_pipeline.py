"""Time the snapshot pipeline: History.add + build_panels + json.dumps, per snapshot.

    .venv/bin/python bench/bench_snapshot_pipeline.py [--repeats N] [--validate]

Each case feeds a History a run of growing synthetic snapshots (the values a tracer would
report after each interval) and times the last ones.  Printed: p50/p95 wall milliseconds
and p50 CPU milliseconds per snapshot (other work on the machine inflates wall time), the
JSON size, and how the time grows with the number of keys (linear growth
gives a ratio of about 10 per tenfold keys).  ``--validate`` also times building the same
figures through plotly.graph_objects, the alternative to hand-built dicts.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ide.charts import History, build_panels
from ide.tracing.model import Aggregation, Bucket, Row, Snapshot

NAMES = ["bash", "sshd", "systemd", "postgres", "nginx", "python3", "java", "node", "cron"]


def _key(i: int) -> tuple[str, int]:
    return (NAMES[i % len(NAMES)], 1000 + i)


def counts(keys: int, step: int, rng: random.Random) -> Aggregation:
    # Zipf-like: a few busy keys, a long tail; every key grows with time.
    rows = tuple(
        Row(_key(i), value=(step + 1) * (1 + 100_000 // (i + 1)) + rng.randrange(5))
        for i in range(keys)
    )
    return Aggregation("@calls", "count", rows)


def sums(keys: int, step: int, rng: random.Random) -> Aggregation:
    rows = tuple(
        Row(_key(i), value=(step + 1) * (7 + i % 97) * 1024 + rng.randrange(1024))
        for i in range(keys)
    )
    return Aggregation("@bytes", "sum", rows)


def linear(keys: int, buckets: int, step: int, rng: random.Random) -> Aggregation:
    rows = []
    for i in range(keys):
        bs = [Bucket(None, -1, 0)]
        for b in range(buckets):
            bs.append(Bucket(b * 10, b * 10 + 9, (step + 1) * ((i + b) % 7) + rng.randrange(2)))
        bs.append(Bucket(buckets * 10, None, rng.randrange(2)))
        rows.append(Row(_key(i), buckets=tuple(bs)))
    return Aggregation("@lat", "lquantize", tuple(rows), {"lo": 0, "hi": buckets * 10, "step": 10})


def power_of_two(keys: int, step: int, rng: random.Random) -> Aggregation:
    rows = []
    for i in range(keys):
        bs = [Bucket(0, 0, step)] + [
            Bucket(1 << b, (2 << b) - 1, (step + 1) * (b % 5) + rng.randrange(3)) for b in range(40)
        ]
        rows.append(Row(_key(i), buckets=tuple(bs)))
    return Aggregation("@size", "quantize", tuple(rows))


CASES = {
    "count 1k keys": lambda s, r: (counts(1_000, s, r),),
    "count 10k keys": lambda s, r: (counts(10_000, s, r),),
    "count 100k keys": lambda s, r: (counts(100_000, s, r),),
    "sum 100k keys": lambda s, r: (sums(100_000, s, r),),
    "lquantize 1k keys x 20": lambda s, r: (linear(1_000, 20, s, r),),
    "lquantize 1k keys x 100": lambda s, r: (linear(1_000, 100, s, r),),
    "quantize 1k keys x 41": lambda s, r: (power_of_two(1_000, s, r),),
}


def run(
    case: str, repeats: int, warmup: int, per_interval: bool
) -> tuple[list[float], list[float], int]:
    rng = random.Random(7)
    history = History()
    times: list[float] = []
    cpu: list[float] = []
    size = 0
    for n in range(warmup + repeats):
        # Made one at a time, as a tracer reports them: a run holds two snapshots at most,
        # and a heap of old ones would make the garbage collector's passes look dearer.
        snap = Snapshot(0.5 * (n + 1), CASES[case](n, rng))
        start, start_cpu = time.perf_counter(), time.process_time()
        history.add(snap)
        panels = build_panels(snap, history, per_interval=per_interval)
        text = json.dumps(panels, separators=(",", ":"))
        elapsed, elapsed_cpu = time.perf_counter() - start, time.process_time() - start_cpu
        if n >= warmup:
            times.append(elapsed * 1000)
            cpu.append(elapsed_cpu * 1000)
            size = len(text)
    return times, cpu, size


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def validate_cost(case: str) -> float:
    import plotly.graph_objects as go

    rng = random.Random(7)
    history = History()
    snaps = [Snapshot(0.5 * (s + 1), CASES[case](s, rng)) for s in range(3)]
    for s in snaps:
        history.add(s)
    panels = build_panels(snaps[-1], history)
    go.Figure({"data": [{"type": "pie"}]})  # load the validators before timing
    start = time.perf_counter()
    for p in panels:
        for fig in (p["figure"], p["series"]):
            if fig is not None:
                go.Figure(fig).to_plotly_json()
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--validate", action="store_true")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    print(f"load average {load:.1f} on {os.cpu_count()} CPUs (wall times suffer when busy)")
    print(
        f"{'case':<26}{'mode':<14}{'p50 ms':>9}{'p95 ms':>9}{'cpu p50':>9}{'JSON KB':>10}"
        + ("  graph_objects ms" if args.validate else "")
    )
    wall: dict[str, float] = {}
    cpu_time: dict[str, float] = {}
    for case in CASES:
        for per_interval in (False, True):
            times, cpu, size = run(case, args.repeats, args.warmup, per_interval)
            mode = "per-interval" if per_interval else "cumulative"
            p50 = statistics.median(times)
            if not per_interval:
                wall[case], cpu_time[case] = p50, statistics.median(cpu)
            extra = ""
            if args.validate and not per_interval:
                extra = f"  {validate_cost(case):>17.1f}"
            print(
                f"{case:<26}{mode:<14}{p50:>9.1f}{p95(times):>9.1f}"
                f"{statistics.median(cpu):>9.1f}{size / 1024:>10.1f}" + extra
            )
    print()
    for more, fewer in (("count 10k keys", "count 1k keys"), ("count 100k keys", "count 10k keys")):
        label = f"growth {more.split()[1]}/{fewer.split()[1]} keys:"
        print(
            f"{label:<24}{wall[more] / wall[fewer]:5.1f}x wall, "
            f"{cpu_time[more] / cpu_time[fewer]:5.1f}x cpu (cumulative p50)"
        )


if __name__ == "__main__":
    main()
