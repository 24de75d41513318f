"""What recording runs costs (ide/archive): bytes per snapshot, the server CPU it adds, and
how fast a scrubber step of an hour-long run answers.

    .venv/bin/python bench/bench_archive.py [--keys 1000] [--hour 3600]

Printed, each beside its baseline measured in the same run:
- bytes a 1k-key count() snapshot takes in the record, beside its JSON;
- CPU to record one snapshot (compress + insert, one transaction), beside the CPU the server
  spends on that snapshot anyway (History.add + build_panels + the JSON it sends): target
  <= 5 % more;
- a scrubber step (``snapshot_at`` at a random time) of a 1 Hz, hour-long, 1k-key run,
  beside reading the latest snapshot: target p95 <= 100 ms.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_snapshot_pipeline import counts

from ide.archive.store import Record, RunArchive, insert_run, insert_snapshot, pack
from ide.charts import History, build_panels
from ide.tracing.model import Snapshot


def record(run_id: str) -> Record:
    return Record(
        id=run_id, title="bench", language="bpftrace", via=None, script="x", options={},
        host="bench", state="running", error=None, started_at=time.time(), ended_at=None,
        duration=0, interval=1, elapsed=0, parent=None, drill=None, viewer_key="k",
        pinned=False, bytes=0, snapshots=0,
    )  # fmt: skip


def p95(values: list[float]) -> float:
    return sorted(values)[int(0.95 * (len(values) - 1))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=1000)
    ap.add_argument("--snapshots", type=int, default=60, help="timed per-snapshot cases")
    ap.add_argument("--hour", type=int, default=3600, help="snapshots of the long run")
    args = ap.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        archive = RunArchive(Path(tmp) / "runs.sqlite")
        with archive.writing() as db:
            insert_run(db, record("r"))
        history = History()
        served, recorded, raw_bytes, kept_bytes = [], [], [], []
        for step in range(args.snapshots):
            snap = Snapshot(float(step), (counts(args.keys, step, rng),))
            t0 = time.process_time()
            history.add(snap)
            json.dumps(build_panels(snap, history))
            t1 = time.process_time()
            data = pack(snap.to_json())
            with archive.writing() as db:
                insert_snapshot(db, "r", step + 1, snap.t, data)
            t2 = time.process_time()
            served.append(t1 - t0)
            recorded.append(t2 - t1)
            raw_bytes.append(len(snap.to_json()))
            kept_bytes.append(len(data))
        serve_ms = statistics.median(served) * 1000
        record_ms = statistics.median(recorded) * 1000
        print(
            f"snapshot of {args.keys} keys: JSON {statistics.median(raw_bytes):,.0f} B, "
            f"recorded {statistics.median(kept_bytes):,.0f} B "
            f"({statistics.median(raw_bytes) / statistics.median(kept_bytes):.1f}x smaller)"
        )
        print(
            f"server CPU per snapshot: panels and JSON {serve_ms:.2f} ms (baseline), "
            f"recording {record_ms:.2f} ms = {100 * record_ms / serve_ms:.1f} % more "
            "(target <= 5 %)"
        )

        with archive.writing() as db:
            insert_run(db, record("hour"))
            base = Snapshot(0.0, (counts(args.keys, 0, rng),)).to_json()
            data = pack(base)
            for step in range(args.hour):
                insert_snapshot(db, "hour", step + 1, float(step), data)
        latest, steps = [], []
        for _ in range(200):
            t0 = time.perf_counter()
            archive.snapshot_at("hour", float("inf"))
            t1 = time.perf_counter()
            archive.snapshot_at("hour", rng.uniform(0, args.hour))
            t2 = time.perf_counter()
            latest.append(t1 - t0)
            steps.append(t2 - t1)
        print(
            f"scrubber step in a {args.hour}-snapshot run: p50 "
            f"{statistics.median(steps) * 1000:.2f} ms, p95 {p95(steps) * 1000:.2f} ms "
            f"(target <= 100 ms); the latest snapshot: p50 "
            f"{statistics.median(latest) * 1000:.2f} ms (baseline)"
        )
        print(f"record of the hour-long run: {archive.get('hour').bytes / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
