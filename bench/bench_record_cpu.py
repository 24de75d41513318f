"""What recording a run costs the whole server: its CPU with recording on beside off.

    .venv/bin/python bench/bench_record_cpu.py [--trials 8] [--window 20] [--keys 1000]

Two real servers, one with ``record_runs`` on and one off (``DTRACE_IDE_RECORD_RUNS=0``),
each run a real bpftrace script whose map holds ``--keys`` keys, at a 1 s interval, watched
by a websocket client as a page would (charts included).  Over the same window, side by
side (what else the machine does weighs on both), the CPU time of each server's processes
(the server and its worker; bpftrace left out: recording does not change it) is read from
/proc/PID/task/TID/schedstat; ``--trials`` pairs, each in fresh data directories, the one
started first alternating.  Printed: the median ratio
on/off and its spread, target <= 1.05; and the recorder's own thread (``dtrace-ide-rec``)
beside the same server's other threads.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Server, Viewer, descendants, run_seconds, spread, tracer_problem

from ide.archive.recorder import THREAD_NAME

WARMUP_S = 8.0


def script(keys: int) -> str:
    # Fires on every CPU about a thousand times a second: all the keys fill in seconds.
    return f"profile:hz:997 {{ @num[nsecs % {keys}] = count(); }}"


def server_cpu(server: Server) -> tuple[float, float]:
    """CPU seconds of the server's processes, and of the recorder's thread among them."""
    total = recorder = 0.0
    for pid in descendants(server.pid):
        try:
            with open(f"/proc/{pid}/comm") as f:
                if "bpftrace" in f.read():
                    continue
            total += run_seconds(pid)  # to the nanosecond (schedstat)
            recorder += thread_seconds(pid, THREAD_NAME)
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total, recorder


def thread_seconds(pid: int, name: str) -> float:
    """CPU seconds of the process's threads called ``name`` (schedstat)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                if f.read().strip() != name:
                    continue
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total / 1e9


class Watched:
    """A server (recording or not) running the bench's script, watched as a page would."""

    def __init__(self, stack: contextlib.ExitStack, record: bool, keys: int) -> None:
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        env = {"DTRACE_IDE_RECORD_RUNS": "1" if record else "0"}
        self.server = stack.enter_context(Server(Path(tmp), env=env))
        self.keys = keys
        self.run_id = self.server.start_run(script(keys), interval=1.0)
        stack.callback(self.server.stop_run, self.run_id)
        self.server.wait_attached(self.run_id)
        viewer = Viewer(self.server, self.run_id)
        stack.callback(viewer.close)

    def check(self) -> None:
        _, body = self.server.request("GET", f"/api/runs/{self.run_id}")
        rows = body["snapshot"]["aggregations"][0]["rows"]
        if len(rows) < self.keys * 0.9:
            raise RuntimeError(f"the map held {len(rows)} keys, not {self.keys}")


def pair(keys: int, window: float, on_first: bool) -> dict[bool, tuple[float, float]]:
    """Both servers side by side over the same ``window`` seconds, so that what else the
    machine does meanwhile weighs on both: for each (recording or not), its CPU seconds per
    wall second and its recorder thread's among them."""
    with contextlib.ExitStack() as stack:
        order = (True, False) if on_first else (False, True)
        watched = {record: Watched(stack, record, keys) for record in order}
        time.sleep(WARMUP_S)
        c0, t0 = {r: server_cpu(w.server) for r, w in watched.items()}, time.monotonic()
        time.sleep(window)
        c1, t1 = {r: server_cpu(w.server) for r, w in watched.items()}, time.monotonic()
        for w in watched.values():
            w.check()
        return {
            r: ((c1[r][0] - c0[r][0]) / (t1 - t0), (c1[r][1] - c0[r][1]) / (t1 - t0))
            for r in watched
        }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--window", type=float, default=20.0)
    ap.add_argument("--keys", type=int, default=1000)
    args = ap.parse_args()
    problem = tracer_problem()
    if problem:
        sys.exit(f"cannot run: {problem}")
    on, off, ratios, shares, rec_ms, rest_ms = [], [], [], [], [], []
    for trial in range(args.trials):
        got = pair(args.keys, args.window, on_first=trial % 2 == 0)
        (with_rec, rec_thread), (without, _) = got[True], got[False]
        on.append(with_rec)
        off.append(without)
        ratios.append(with_rec / without)
        # The same server's other threads are the baseline the recorder's thread adds to.
        shares.append(rec_thread / (with_rec - rec_thread))
        rec_ms.append(1000 * rec_thread)
        rest_ms.append(1000 * (with_rec - rec_thread))
        print(
            f"trial {trial + 1}: recording {100 * with_rec:.2f} % of a core "
            f"(its recorder thread {1000 * rec_thread:.3f} ms/s), "
            f"not recording {100 * without:.2f} %",
            flush=True,
        )
    print(
        f"server CPU at 1 Hz and {args.keys} keys, watched: recording "
        f"{100 * statistics.median(on):.2f} % of a core, not recording "
        f"{100 * statistics.median(off):.2f} % (baseline); ratio median "
        f"{statistics.median(ratios):.3f} (spread {spread(ratios):.2f}, target <= 1.05)"
    )
    print(
        f"the recorder's thread: {statistics.median(rec_ms):.3f} ms per second beside the "
        f"same server's other threads' {statistics.median(rest_ms):.2f} ms per second "
        f"(baseline): median {100 * statistics.median(shares):.1f} % of them "
        f"(spread {spread(shares):.2f}; it encodes the snapshot's JSON for them too)"
    )


if __name__ == "__main__":
    main()
