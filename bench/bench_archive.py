"""What recording runs costs (ide/archive): bytes per snapshot, the server CPU it adds, and
how fast a scrubber step of an hour-long run answers.

    .venv/bin/python bench/bench_archive.py [--keys 1000] [--hour 3600]

Printed, each beside its baseline measured in the same run:
- bytes a 1k-key count() snapshot takes in the record, beside its JSON;
- CPU to record one snapshot (into the journal, and a tenth of a move of ten into the
  database: compressed, one transaction), beside the CPU the server
  spends on that snapshot anyway (History.add + build_panels + the JSON it sends), in a
  tight loop (the 5 % target is the whole server's, measured by bench_record_cpu.py);
- a scrubber step of a 1 Hz, hour-long, 1k-key run, as the stream answers a seek (the
  snapshot, the charts' history up to it, the panels and the output: ``Replay.message``):
  a jump to a random moment, and a step of one interval forward (Play), beside the panels
  of the latest snapshot a live viewer is sent: target p95 <= 100 ms.
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
from types import SimpleNamespace
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_snapshot_pipeline import counts

from ide.archive.journal import Entry
from ide.archive.replay import Replay
from ide.archive.store import Record, RunArchive, insert_run, insert_snapshot, pack
from ide.charts import History, build_panels
from ide.charts.renderer import PlotlyRenderer
from ide.config import Settings
from ide.tracing.model import Snapshot

COMMIT_EVERY_S = 10  # snapshots a move takes at 1 Hz (ide/archive/recorder.py's COMMIT_S)


def record(run_id: str) -> Record:
    return Record(
        id=run_id, title="bench", language="bpftrace", via=None, script="x", options={},
        host="bench", state="running", error=None, started_at=time.time(), ended_at=None,
        duration=0, interval=1, elapsed=0, parent=None, drill=None, viewer_key="k",
        pinned=False, bytes=0, snapshots=0,
    )  # fmt: skip


def p95(values: list[float]) -> float:
    return sorted(values)[int(0.95 * (len(values) - 1))]


def scrub_steps(archive: RunArchive, hour: int, last: Snapshot, rng: random.Random) -> None:
    """Seeks as a scrubbing viewer sends them, answered as the stream answers them."""
    settings = Settings()
    run = SimpleNamespace(id="hour", script="x", language="bpftrace", snapshot=last, active=False)
    replay = Replay(archive, cast(Any, run), PlotlyRenderer(), settings)
    live = History(max_points=settings.max_history_snapshots)
    for snap in [Snapshot(float(t), last.aggregations) for t in range(600)]:
        live.add(snap)
    view = {"per_interval": False, "charts": True}
    jumps, fulls, steps, baseline = [], [], [], []
    for _ in range(20):
        t = rng.uniform(0, hour)
        t0 = time.perf_counter()
        json.dumps(replay.message(t, **view))
        t1 = time.perf_counter()
        json.dumps(replay.complete(**view, moved_on=lambda: False))
        t2 = time.perf_counter()
        jumps.append(t1 - t0)
        fulls.append(t2 - t1)
        for step in (1, 2, 3, -1, -2, -5, -10, 4):  # scrubbing to and fro from there
            t3 = time.perf_counter()
            json.dumps(replay.message(t + step, **view))
            steps.append(time.perf_counter() - t3)
        t4 = time.perf_counter()
        json.dumps(build_panels(last, live))
        baseline.append(time.perf_counter() - t4)
    keys = len(last.aggregations[0].rows)
    ms = lambda v: f"p50 {statistics.median(v) * 1000:.1f} ms, p95 {p95(v) * 1000:.1f} ms"  # noqa: E731
    print(
        f"scrubber in a {hour}-snapshot run of {keys} keys (target <= 100 ms): "
        f"a step to and fro {ms(steps)}; a jump, first answer {ms(jumps)}, "
        f"then the full time series {ms(fulls)}; "
        f"a live viewer's panels {ms(baseline)} (baseline)"
    )


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
            # As the recorder does: into the journal, then every COMMIT_EVERY_S snapshots
            # into the database (compressed there), one transaction.
            archive.journal.append(Entry("snapshot", "r", step + 1, snap.t, snap.to_json()))
            if (step + 1) % COMMIT_EVERY_S == 0:
                archive.drain()
            t2 = time.process_time()
            served.append(t1 - t0)
            recorded.append(t2 - t1)
            raw_bytes.append(len(snap.to_json()))
            kept_bytes.append(len(pack(snap.to_json())))
        serve_ms = statistics.median(served) * 1000
        record_ms = statistics.mean(recorded) * 1000  # the moves into the database included
        print(
            f"snapshot of {args.keys} keys: JSON {statistics.median(raw_bytes):,.0f} B, "
            f"recorded {statistics.median(kept_bytes):,.0f} B "
            f"({statistics.median(raw_bytes) / statistics.median(kept_bytes):.1f}x smaller)"
        )
        print(
            f"server CPU per snapshot: panels and JSON {serve_ms:.2f} ms (baseline), "
            f"recording (journal, then {COMMIT_EVERY_S} at a time into the database) "
            f"{record_ms:.2f} ms = {100 * record_ms / serve_ms:.1f} % more (in a tight loop; "
            "the target is the whole server's, bench_record_cpu.py)"
        )

        with archive.writing() as db:
            insert_run(db, record("hour"))
            for step in range(args.hour):
                snap = Snapshot(float(step), (counts(args.keys, step, rng),))
                insert_snapshot(db, "hour", step + 1, snap.t, pack(snap.to_json()))
        scrub_steps(archive, args.hour, snap, rng)
        print(f"record of the hour-long run: {archive.get('hour').bytes / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
