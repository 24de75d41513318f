"""What the real-tracer stress tests share: a syscall load, batches of runs, a by-hand check.

The load is a bounded shell loop the test starts and stops; the runs go through a real
server's API, several at a time (up to the server's ``max_runs_total``), so a batch of a
hundred runs takes about a tenth of their summed durations.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import LiveServer

# cat and ls for many short syscalls and process exits, dd to /dev/null for long read/write
# runs, and every tenth round a small direct write with fsync for block I/O. The loop ends
# by itself after $2 seconds even if nobody stops it.
LOAD_LOOP = r"""
end=$(( $(date +%s) + $2 )); i=0
while [ "$(date +%s)" -lt "$end" ]; do
  cat /etc/passwd /etc/hostname > /dev/null
  ls / /usr > /dev/null
  dd if=/dev/zero of=/dev/null bs=4k count=64 2> /dev/null
  if [ $((i % 10)) -eq 0 ]; then
    dd if=/dev/zero of="$1/load.bin" bs=64k count=2 oflag=direct conv=fsync 2> /dev/null
  fi
  i=$((i + 1))
done
"""


@contextmanager
def syscall_load(workdir: Path, seconds: float) -> Iterator[subprocess.Popen[bytes]]:
    """A syscall load for at most ``seconds``; stopped (its whole group) when the block ends."""
    proc = subprocess.Popen(
        ["sh", "-c", LOAD_LOOP, "load", str(workdir), str(int(seconds) + 1)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


@dataclass
class Job:
    label: str
    script: str
    duration: float
    interval: float


@dataclass
class Outcome:
    job: Job
    body: dict[str, Any]  # the run's final GET /api/runs/ID
    live: set[str] = field(default_factory=set)  # maps that held data before the stop
    refused: dict[str, Any] | None = None  # the 4xx answer when the run was not started
    started: float = field(default_factory=time.monotonic)

    @property
    def failed(self) -> bool:
        return self.refused is not None or self.body.get("state") != "finished"

    def aggregation(self, name: str) -> dict[str, Any] | None:
        snapshot = self.body.get("snapshot") or {"aggregations": []}
        return next((a for a in snapshot["aggregations"] if a["name"] == name), None)

    def describe(self) -> str:
        if self.refused is not None:
            return f"{self.job.label}: not started: {self.refused}"
        b = self.body
        said = [p.get("message") for p in b.get("problems") or []]
        return (
            f"{self.job.label}: {b.get('state')} after {b.get('elapsed')} s: {b.get('error')}; "
            f"problems: {said}; last output: {(b.get('output') or [])[-3:]}"
        )


def holds_data(agg: dict[str, Any] | None) -> bool:
    if not agg:
        return False
    for row in agg["rows"]:
        if "buckets" in row and sum(b["count"] for b in row["buckets"]) > 0:
            return True
        if isinstance(row.get("value"), int | float) and row["value"]:
            return True
    return False


def run_batch(server: LiveServer, jobs: list[Job], concurrency: int = 8) -> list[Outcome]:
    """Every job as a run through the API, ``concurrency`` at a time, in order of the list.

    Each run is watched by its own thread, so on a loaded machine a slow answer for one run
    does not keep the others from being seen while they hold data.
    """
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(lambda job: run_one(server, job), jobs))


def run_one(server: LiveServer, job: Job) -> Outcome:
    """One run, polled every 0.2 s until it ends; remembers the maps it showed while running."""
    status, body = server.request(
        "POST",
        "/api/runs",
        {
            "language": "bpftrace",
            "script": job.script,
            "duration": job.duration,
            "interval": job.interval,
        },
    )
    if status != 201:
        return Outcome(job, {}, refused={"status": status, **(body or {})})
    outcome = Outcome(job, body)
    while True:
        status, body = server.request("GET", f"/api/runs/{outcome.body['id']}")
        assert status == 200, body
        outcome.body = body
        if body["state"] != "running":
            return outcome
        # Before the duration is up the tracer has not been stopped, so the snapshot comes
        # from the interval prints, not from bpftrace's print at exit.
        before_stop = (body.get("elapsed") or 0) < job.duration
        for agg in (body.get("snapshot") or {}).get("aggregations", []) if before_stop else []:
            if holds_data(agg):
                outcome.live.add(agg["name"])
        late = time.monotonic() - outcome.started > job.duration + 60
        assert not late, f"still running a minute past its duration: {outcome.describe()}"
        time.sleep(0.2)


def fails_by_hand(script: str, seconds: int = 2) -> str | None:
    """Why ``script`` does not run here under bpftrace by hand, or None when it attaches,
    runs ``seconds`` and ends cleanly.

    It ends by an ``exit()`` from an added interval probe rather than by SIGINT: bpftrace 0.17
    loses a SIGINT that arrives before it polls its buffers (while it still attaches, which
    takes seconds on a loaded machine) and then waits for output the script may never make.
    """
    program = f"{script}\ninterval:s:{seconds} {{ exit(); }}\n"
    proc = subprocess.Popen(
        ["bpftrace", "-f", "json", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        _, err = proc.communicate(program.encode(), timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        return f"bpftrace did not end a minute after exit(): {err.decode()[-300:]}"
    if proc.returncode == 0:
        return None
    lines = [
        ln.strip()
        for ln in err.decode("utf-8", "replace").splitlines()
        if ln.strip() and "RLIMIT_MEMLOCK" not in ln
    ]
    errors = [ln for ln in lines if "ERROR" in ln or "error" in ln]
    return (errors or lines or [f"bpftrace exited with {proc.returncode}"])[0][:300]


def fails_by_hand_all(scripts: dict[str, str], workers: int = 4) -> dict[str, str | None]:
    """``fails_by_hand`` for each script, a few at a time."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers) as pool:
        reasons = pool.map(fails_by_hand, scripts.values())
        return dict(zip(scripts, reasons, strict=True))
