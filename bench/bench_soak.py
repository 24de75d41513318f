"""Long runs: one continuous run at a 100 ms interval, watched, for minutes.

    .venv/bin/python bench/bench_soak.py [--minutes 10] [--interval 0.1] [--json out.json]

A browser-equivalent websocket client receives every snapshot (charts included), switches
between cumulative and per-interval views now and then, and reconnects once a minute as a
reloaded page would (the new socket opens before the old one closes, so the run keeps
going).  Every few seconds the server's memory (VmRSS of the server and its worker, from
/proc/PID/status) and open file descriptors (/proc/PID/fd) are read.

The run's chart history is bounded (``max_history_snapshots``: 600 snapshots, one minute at
100 ms), so memory legitimately grows while it fills; growth is measured from the end of a
warm-up (90 s, or a quarter of a shorter soak) to the end, and as a slope over that span.
Targets: growth <= 10 MB, no growth in file descriptors.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    Figure,
    Server,
    Viewer,
    descendants,
    log,
    open_fds,
    rss_kb,
    table,
    tracer_problem,
    write_json,
)

SCRIPT = (
    "tracepoint:raw_syscalls:sys_enter\n"
    "{\n  @num[comm] = count();\n  @ids = lhist(args->id, 0, 400, 20);\n}\n"
)
SAMPLE_EVERY_S = 5.0
RECONNECT_EVERY_S = 60.0
VIEW_TOGGLE_EVERY_S = 20.0


@dataclass
class Sample:
    t: float
    server_kb: int  # the server's processes, tracer excluded
    tracer_kb: int
    fds: int  # the server's processes
    snapshots: int


def _split(server: Server) -> tuple[list[int], list[int]]:
    mine: list[int] = []
    tracers: list[int] = []
    for pid in descendants(server.pid):
        try:
            with open(f"/proc/{pid}/comm") as f:
                comm = f.read().strip()
        except FileNotFoundError:
            continue
        (tracers if comm == "bpftrace" else mine).append(pid)
    return mine, tracers


def sample(server: Server, t: float, snapshots: int) -> Sample:
    mine, tracers = _split(server)
    return Sample(
        t,
        sum(rss_kb(p) for p in mine),
        sum(rss_kb(p) for p in tracers),
        sum(open_fds(p) for p in mine),
        snapshots,
    )


def slope_kb_per_min(samples: list[Sample]) -> float:
    if len(samples) < 3:
        return 0.0
    ts = [s.t / 60 for s in samples]
    kb = [float(s.server_kb) for s in samples]
    return statistics.linear_regression(ts, kb).slope


def soak(minutes: float, interval: float) -> tuple[list[Sample], float, Sample, dict[str, int]]:
    """Samples, the warm-up's end (s), the idle sample before the run and counters."""
    total = minutes * 60
    warmup = min(90.0, total / 4)
    samples: list[Sample] = []
    with tempfile.TemporaryDirectory(prefix="dtrace-ide-bench-") as tmp, Server(Path(tmp)) as srv:
        idle = sample(srv, 0, 0)
        run_id = srv.start_run(SCRIPT, duration=0, interval=interval)
        viewer = Viewer(srv, run_id)
        received = reconnects = 0
        srv.wait_attached(run_id)
        start = time.monotonic()
        next_sample = next_toggle = 0.0
        next_reconnect = RECONNECT_EVERY_S
        per_interval = False
        while (now := time.monotonic() - start) < total:
            if now >= next_reconnect:
                fresh = Viewer(srv, run_id)  # open first: the run stops when nobody watches
                received += viewer.snapshots
                viewer.close()
                viewer, reconnects = fresh, reconnects + 1
                next_reconnect = now + RECONNECT_EVERY_S
                time.sleep(1.0)  # the server notices the old socket's close
            if now >= next_toggle:
                per_interval = not per_interval
                viewer.send_view(per_interval=per_interval)
                next_toggle = now + VIEW_TOGGLE_EVERY_S
            if now >= next_sample:
                s = sample(srv, now, received + viewer.snapshots)
                samples.append(s)
                log(
                    f"soak {now:6.0f}s server {s.server_kb / 1024:6.1f} MB  tracer "
                    f"{s.tracer_kb / 1024:5.1f} MB  fds {s.fds}  snapshots {s.snapshots}"
                )
                next_sample = now + SAMPLE_EVERY_S
            time.sleep(0.2)
        state = srv.request("GET", f"/api/runs/{run_id}")[1]["state"]
        if state != "running":
            raise RuntimeError(f"the run ended during the soak: {state}")
        samples.append(sample(srv, time.monotonic() - start, received + viewer.snapshots))
        srv.stop_run(run_id)
        viewer.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and sample(srv, 0, 0).fds > idle.fds:
            time.sleep(0.2)
        after = sample(srv, 0, 0)
    return samples, warmup, idle, {"reconnects": reconnects, "fds_after_stop": after.fds}


def figures(
    samples: list[Sample], warmup: float, idle: Sample, counters: dict[str, int], interval: float
) -> list[Figure]:
    steady = [s for s in samples if s.t >= warmup]
    base, last = steady[0], steady[-1]
    span_min = (last.t - base.t) / 60
    growth_mb = (last.server_kb - base.server_kb) / 1024
    peak_mb = (max(s.server_kb for s in steady) - base.server_kb) / 1024
    rate = (last.snapshots - base.snapshots) / max(1e-9, last.t - base.t)
    return [
        Figure(
            "soak",
            f"server RSS growth over {span_min:.1f} min",
            growth_mb,
            "MB",
            target="<= 10",
            note=(
                f"after a {warmup:.0f} s warm-up: {base.server_kb / 1024:.1f} -> "
                f"{last.server_kb / 1024:.1f} MB, peak +{peak_mb:.1f} MB, slope "
                f"{slope_kb_per_min(steady):.0f} KB/min; idle before the run "
                f"{idle.server_kb / 1024:.1f} MB"
            ),
        ),
        Figure(
            "soak",
            "server open fds growth while running",
            float(last.fds - base.fds),
            "fds",
            target="<= 0",
            note=(
                f"{base.fds} -> {last.fds}, at most {max(s.fds for s in steady)} "
                f"({counters['reconnects']} viewer reconnects)"
            ),
        ),
        Figure(
            "soak",
            "server open fds after the run - before",
            float(counters["fds_after_stop"] - idle.fds),
            "fds",
            target="<= 0",
            note=f"{idle.fds} before the run, {counters['fds_after_stop']} after it stopped",
        ),
        Figure(
            "soak",
            "tracer RSS growth",
            (last.tracer_kb - base.tracer_kb) / 1024,
            "MB",
            note=f"bpftrace: {base.tracer_kb / 1024:.1f} -> {last.tracer_kb / 1024:.1f} MB",
        ),
        Figure(
            "soak",
            "snapshots received / sent",
            rate,
            "/s",
            1 / interval,
            rate * interval,
            note="the viewer's snapshot rate against the run's interval",
        ),
    ]


def run(minutes: float, interval: float = 0.1) -> list[Figure]:
    problem = tracer_problem()
    if problem:
        raise SystemExit(f"bench_soak: {problem}")
    samples, warmup, idle, counters = soak(minutes, interval)
    return figures(samples, warmup, idle, counters, interval)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between snapshots")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args()
    figs = run(args.minutes, args.interval)
    print(table(figs))
    if args.json:
        write_json(args.json, figs)


if __name__ == "__main__":
    main()
