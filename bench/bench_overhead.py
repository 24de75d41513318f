"""What running a script through dtrace-ide costs over running bpftrace by hand.

    .venv/bin/python bench/bench_overhead.py [--quick] [--trials N] [--window S] [--json out.json]

A child process makes syscalls (getppid) as fast as it can and counts them, while the same
aggregation script runs

  cli        ``bpftrace -e SCRIPT`` on the command line, maps printed only at exit;
  cli+print  the same plus ``interval:s:1 { print(@num); }`` in JSON, read from a pipe --
             what a user who wants live numbers from the command line would run;
  ide        through the real server (POST /api/runs, interval 1 s) with a websocket
             client that receives every snapshot (1 snapshot/s, charts included);

and, for reference, with no tracer at all.  Measured over the same window in each mode: the
CPU time of the tracer's processes (for the IDE: the server, its worker and bpftrace, read
from /proc/PID/task/TID/schedstat) and the load generator's throughput: calls per second of
its own CPU time (the eBPF program's cost is charged to it, and other work on the machine
does not change this figure much) and calls per wall second (which other work does change).
Modes alternate, in a rotating order, ``--trials`` times; medians are reported with their
spread.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    SYSCALL_COUNT,
    Figure,
    Server,
    Viewer,
    log,
    spread,
    table,
    tracer_problem,
    tree_cpu_seconds,
    write_json,
)

SETTLE_S = 1.5  # after attaching: the first snapshot and the server's first charts are built
MODES = ("none", "cli", "cli+print", "ide")


class Trial(NamedTuple):
    cpu: float  # seconds of CPU used by the tracer's processes in the window
    wall_rate: float  # the load's syscalls per second of wall time
    cpu_rate: float  # the load's syscalls per second of its own CPU time


def load(seconds: float) -> tuple[float, float]:
    """Syscalls per second of wall time and per second of CPU time, for ``seconds``.

    The eBPF program runs in this process's context and is charged to its system time, so
    calls per CPU second measure what tracing costs each call even when other work on the
    machine takes the CPU away (which lowers calls per wall second, whatever the mode).
    """
    call = os.getppid
    n = 0
    start, cpu_start = time.perf_counter(), time.process_time()
    end = start + seconds
    while True:
        for _ in range(1000):
            call()
        n += 1000
        if time.perf_counter() >= end:
            wall = time.perf_counter() - start
            return n / wall, n / (time.process_time() - cpu_start)


def run_load(seconds: float) -> tuple[float, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--load", str(seconds)],
        capture_output=True,
        text=True,
        check=True,
    )
    wall, cpu = out.stdout.split()
    return float(wall), float(cpu)


def _drain(stream: object) -> None:
    for _ in iter(stream.readline, b""):  # type: ignore[attr-defined]
        pass


def _window(pid: int, seconds: float) -> Trial:
    """Run the load for ``seconds`` and read the CPU time of ``pid`` and its descendants."""
    cpu0 = tree_cpu_seconds(pid)
    wall, cpu = run_load(seconds)
    cpu1 = tree_cpu_seconds(pid)
    return Trial(cpu1 - cpu0, wall, cpu)


def trial_none(seconds: float) -> Trial:
    return Trial(0.0, *run_load(seconds))


def trial_cli(seconds: float, live_print: bool) -> Trial:
    if live_print:
        script = SYSCALL_COUNT + "\ninterval:s:1 { print(@num); }\n"
        argv = ["bpftrace", "-f", "json", "-e", script]
    else:
        argv = ["bpftrace", "-e", SYSCALL_COUNT]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    try:
        first = proc.stdout.readline()  # "Attaching 1 probe..." / {"type": "attached_probes"}
        if b"ttach" not in first:
            raise RuntimeError(f"bpftrace did not attach: {first!r}")
        reader = threading.Thread(target=_drain, args=(proc.stdout,), daemon=True)
        reader.start()
        time.sleep(SETTLE_S)
        return _window(proc.pid, seconds)
    finally:
        proc.send_signal(2)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def trial_ide(server: Server, seconds: float) -> Trial:
    run_id = server.start_run(SYSCALL_COUNT, duration=0, interval=1.0)
    viewer = Viewer(server, run_id)
    try:
        server.wait_attached(run_id)
        time.sleep(SETTLE_S)
        seen = viewer.snapshots
        trial = _window(server.pid, seconds)
        if viewer.snapshots - seen < seconds * 0.5:
            raise RuntimeError(f"the viewer got {viewer.snapshots - seen} snapshots in {seconds}s")
        return trial
    finally:
        server.stop_run(run_id)
        viewer.close()


def other_tracers() -> int:
    """Tracers running on the machine besides ours (called between trials, when ours are not).

    Their probes fire on the load generator's syscalls too, so a trial that overlaps one is
    slower for reasons that are not the mode's.
    """
    count = 0
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/comm") as f:
                count += f.read().strip() in {"bpftrace", "dtrace"}
        except (FileNotFoundError, NotADirectoryError, ProcessLookupError):
            continue
    return count


OTHERS: list[int] = []  # other tracers seen around each trial, for the notes


def measure(trials: int, window: float) -> dict[str, list[Trial]]:
    results: dict[str, list[Trial]] = {m: [] for m in MODES}
    OTHERS.clear()
    with tempfile.TemporaryDirectory(prefix="dtrace-ide-bench-") as tmp, Server(Path(tmp)) as srv:
        for t in range(trials):
            order = MODES[t % len(MODES) :] + MODES[: t % len(MODES)]
            for mode in order:
                before = other_tracers()
                if mode == "none":
                    r = trial_none(window)
                elif mode == "cli":
                    r = trial_cli(window, live_print=False)
                elif mode == "cli+print":
                    r = trial_cli(window, live_print=True)
                else:
                    r = trial_ide(srv, window)
                results[mode].append(r)
                OTHERS.append(max(before, other_tracers()))
                log(
                    f"overhead trial {t + 1}/{trials} {mode:<9} cpu {r.cpu * 1000:7.1f} ms  "
                    f"load {r.wall_rate / 1e6:.3f} M/s, {r.cpu_rate / 1e6:.3f} M/CPU s  "
                    f"other tracers {OTHERS[-1]}"
                )
    return results


def figures(results: dict[str, list[Trial]], window: float) -> list[Figure]:
    def cpu(mode: str) -> list[float]:
        return [t.cpu * 1000 / window for t in results[mode]]  # ms of CPU per second

    def ratios(num: list[float], den: list[float]) -> list[float]:
        # Trial by trial: the modes of one trial ran back to back under the same noise.
        return [a / b for a, b in zip(num, den, strict=True) if b > 0]

    out: list[Figure] = []
    ide_cpu, cli_cpu, clip_cpu = cpu("ide"), cpu("cli"), cpu("cli+print")
    for base, base_cpu, target in (("cli", cli_cpu, "<= 1.10"), ("cli+print", clip_cpu, "")):
        rs = ratios(ide_cpu, base_cpu)
        out.append(
            Figure(
                "overhead",
                f"CPU ide / {base} (server+tracer)",
                statistics.median(ide_cpu),
                "ms/s",
                statistics.median(base_cpu),
                statistics.median(rs) if rs else None,
                target,
                spread(rs) if rs else None,
                samples=rs,
            )
        )
    for kind, unit in (("cpu_rate", "Mcall/CPU s"), ("wall_rate", "Mcall/s")):

        def rate(mode: str, kind: str = kind) -> list[float]:
            return [getattr(t, kind) / 1e6 for t in results[mode]]

        ide_rate = rate("ide")
        for base, target in (("cli", ">= 0.97"), ("cli+print", ""), ("none", "")):
            rs = ratios(ide_rate, rate(base))
            what = "per CPU second" if kind == "cpu_rate" else "per wall second"
            out.append(
                Figure(
                    "overhead",
                    f"load calls {what}, ide / {base}",
                    statistics.median(ide_rate),
                    unit,
                    statistics.median(rate(base)),
                    statistics.median(rs),
                    target,
                    spread(rs),
                    note=f"best of each: {max(ide_rate) / max(rate(base)):.3f}",
                    samples=rs,
                )
            )
    extra = statistics.median(ide_cpu) - statistics.median(cli_cpu)
    out.append(
        Figure(
            "overhead",
            "CPU the IDE adds over cli",
            extra / 10,
            "% of a core",
            note=(
                "(ide - cli) CPU per second of wall time; other tracers were running around "
                f"{sum(1 for n in OTHERS if n)} of {len(OTHERS)} trial windows"
            ),
        )
    )
    return out


def run(quick: bool, trials: int | None = None, window: float | None = None) -> list[Figure]:
    problem = tracer_problem()
    if problem:
        raise SystemExit(f"bench_overhead: {problem}")
    trials = trials or (3 if quick else 6)
    window = window or (5.0 if quick else 10.0)
    return figures(measure(trials, window), window)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 trials of 5 s instead of 6 of 10")
    parser.add_argument("--trials", type=int)
    parser.add_argument("--window", type=float, help="seconds of load per trial")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--load", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        print(*load(args.load))
        return
    figs = run(args.quick, args.trials, args.window)
    print(table(figs))
    if args.json:
        write_json(args.json, figs)


if __name__ == "__main__":
    main()
