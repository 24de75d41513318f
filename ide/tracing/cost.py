"""What tracing costs, while a run goes: the tracer's CPU (% of one core over its life), the
CPU of the server's thread that reads it, the events the tracer lost, the snapshot's size.

Read from /proc (Linux, and illumos' /proc has the same per-process times in its psinfo:
there it reads as unmeasured until that reader is written); ``None`` where it cannot be read.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from .model import Snapshot

CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PROC = Path("/proc")


def _stat(path: Path) -> list[str] | None:
    try:
        text = path.read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ")".
    return text[text.rfind(")") + 2 :].split()


def _uptime() -> float | None:
    try:
        return float((PROC / "uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def process_cpu_pct(pid: int | None) -> float | None:
    """The process's own CPU time over its life, as ps's %CPU counts it (not its reaped
    children's)."""
    fields = _stat(PROC / str(pid) / "stat") if pid else None
    uptime = _uptime()
    if fields is None or uptime is None:
        return None
    # Fields from 3 on: utime is the 14th of the whole line, so index 11 here.
    cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK
    life = uptime - int(fields[19]) / CLK_TCK
    return round(100.0 * cpu / life, 1) if life > 0 else None


def thread_cpu_seconds(native_id: int | None) -> float | None:
    """CPU seconds of one of this process's threads."""
    fields = _stat(PROC / "self" / "task" / str(native_id) / "stat") if native_id else None
    if fields is None:
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


# A run's figures are read from /proc at most once per snapshot, and at least this often
# (in seconds) while no new snapshot comes: every viewer and the recorder ask for them.
FRESH_S = 1.0


class CostMeter:
    """One run's cost figures; once measured they are kept, so a run that ended shows the
    last figures measured while it went."""

    def __init__(self) -> None:
        self.reader: threading.Thread | None = None  # the server's thread reading the tracer
        self.seen: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._json: tuple[int, bytes] = (-1, b"")
        self._measured: tuple[int, float, bool] | None = None  # seq, when, tracer alive
        self._figures: dict[str, Any] = {}

    def snapshot_json(self, snapshot: Snapshot, seq: int) -> bytes:
        """The JSON of the run's snapshot number ``seq``, encoded once for all who need it
        (the size figure, the recorder)."""
        with self._lock:
            cached_seq, data = self._json
        if cached_seq == seq:
            return data
        data = snapshot.to_json()
        with self._lock:
            if seq > self._json[0]:
                self._json = (seq, data)
        return data

    def measure(
        self, tracer_pid: int | None, elapsed: float, snapshot: Snapshot | None, seq: int,
        events_lost: int,
    ) -> dict[str, Any]:  # fmt: skip
        """``tracer_pid`` None once the tracer is gone."""
        now = time.monotonic()
        with self._lock:
            last = self._measured
            if (
                last is not None
                and last[0] == seq
                and now - last[1] < FRESH_S
                and last[2] == (tracer_pid is not None)
            ):
                return dict(self._figures, events_lost=events_lost)
        figures = self._measure(tracer_pid, elapsed, snapshot, seq, events_lost)
        with self._lock:
            self._measured, self._figures = (seq, now, tracer_pid is not None), figures
        return dict(figures)

    def _measure(
        self, tracer_pid: int | None, elapsed: float, snapshot: Snapshot | None, seq: int,
        events_lost: int,
    ) -> dict[str, Any]:  # fmt: skip
        seen = self.seen
        tracer = process_cpu_pct(tracer_pid)
        if tracer is not None:
            seen["tracer_cpu_pct"] = tracer
        reader = thread_cpu_seconds(self.reader.native_id if self.reader else None)
        if reader is not None and elapsed > 0:
            seen["server_cpu_pct"] = round(100 * reader / elapsed, 1)
        if snapshot is not None and seen.get("seq") != seq:
            seen["seq"], seen["snapshot_bytes"] = seq, len(self.snapshot_json(snapshot, seq))
        return {
            "tracer_cpu_pct": seen.get("tracer_cpu_pct"),
            "server_cpu_pct": seen.get("server_cpu_pct"),
            "events_lost": events_lost,
            "snapshot_bytes": seen.get("snapshot_bytes", 0),
        }
