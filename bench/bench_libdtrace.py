"""libdtrace backend figures: compile latency, start to first snapshot, stop to the end.

    .venv/bin/python bench/bench_libdtrace.py [--reps N]

Needs root and a libdtrace (here: ../shared/tools/build-libdtrace-linux).  Timed at the
backend (no web server), each figure the median of N runs, next to ``dtrace`` by hand:

  compile        LibdtraceBackend.compile, uncached: a worker process opens a handle and
                 compiles; baseline ``dtrace -e -s FILE`` (compile only, never enables).
  attach         start() to the Attached event (probes enabled).
  first snapshot start() to the first Tick, with a 1 s snapshot interval.
  stop           stop() to Exited (final snapshot included).
  detach         stop() to the worker process being gone: libdtrace's teardown of the
                 probes, which the run does not wait for.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ide.config import Settings  # noqa: E402
from ide.tracing.backend import RunSpec  # noqa: E402
from ide.tracing.libdtrace import LibdtraceBackend  # noqa: E402
from ide.tracing.libdtrace_tracer import LibdtraceTracer  # noqa: E402
from ide.tracing.model import Attached, Exited, Tick  # noqa: E402

SCRIPTS = {
    "count by syscall (360 probes)": "syscall:::entry { @num[probefunc] = count(); }",
    "lquantize of read sizes": (
        "syscall::read:entry { @dist[execname] = lquantize(arg0, 0, 12, 2); }"
    ),
    "with a mistake on line 2": "syscall:::entry\n{ @num[probefunc] = cont(); }",
}
DTRACE = "/usr/local/sbin/dtrace"


def by_hand(script: str) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".d") as f:
        f.write(script)
        f.flush()
        start = time.perf_counter()
        subprocess.run([DTRACE, "-e", "-s", f.name], capture_output=True, timeout=60)
        return time.perf_counter() - start


def compile_once(script: str) -> float:
    backend = LibdtraceBackend(Settings())  # a fresh backend: nothing cached
    backend.status()  # the version check is once per server, not per compile
    start = time.perf_counter()
    backend.compile(script)
    return time.perf_counter() - start


def run_once(script: str) -> dict[str, float]:
    backend = LibdtraceBackend(Settings())
    backend.status()
    start = time.perf_counter()
    tracer = backend.start(script, RunSpec(interval=1.0))
    assert isinstance(tracer, LibdtraceTracer)
    figures: dict[str, float] = {}
    stop_at = 0.0
    for event in tracer.events():
        now = time.perf_counter()
        if isinstance(event, Attached):
            figures["attach"] = now - start
        elif isinstance(event, Tick) and "first snapshot" not in figures:
            figures["first snapshot"] = now - start
            stop_at = time.perf_counter()
            tracer.stop()
        elif isinstance(event, Exited):
            figures["stop"] = now - stop_at
    tracer.proc.wait()
    figures["detach"] = time.perf_counter() - stop_at
    return figures


def median(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:8.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root")
    status = LibdtraceBackend(Settings()).status()
    if not status.available:
        sys.exit(f"libdtrace unavailable: {status.reason}")
    print(f"libdtrace {status.version}, {args.reps} runs each, medians")
    print(f"{'compile':32} {'backend':>11} {'dtrace -e':>11}")
    for name, script in SCRIPTS.items():
        ours = [compile_once(script) for _ in range(args.reps)]
        theirs = [by_hand(script) for _ in range(args.reps)] if os.path.exists(DTRACE) else []
        print(f"{name:32} {median(ours):>11} {median(theirs) if theirs else 'n/a':>11}")
    print()
    print(f"{'run (interval 1 s)':32} " + " ".join(f"{k:>15}" for k in
          ("attach", "first snapshot", "stop", "detach")))  # fmt: skip
    for name, script in list(SCRIPTS.items())[:2]:
        runs = [run_once(script) for _ in range(max(1, args.reps // 2))]
        cells = [median([r[k] for r in runs]) for k in ("attach", "first snapshot", "stop",
                                                        "detach")]  # fmt: skip
        print(f"{name:32} " + " ".join(f"{c:>15}" for c in cells))


if __name__ == "__main__":
    main()
