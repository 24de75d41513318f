"""The cost figures read from /proc agree with ps, and a thread's CPU is its own."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time

import pytest

from ide.tracing import cost
from ide.tracing.cost import CostMeter, process_cpu_pct, thread_cpu_seconds
from ide.tracing.model import Snapshot


def burn(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


@pytest.mark.skipif(shutil.which("ps") is None, reason="no ps here")
def test_a_process_cpu_share_is_what_ps_says_within_20_percent() -> None:
    burn(0.5)
    ours = process_cpu_pct(os.getpid())
    theirs = float(subprocess.run(["ps", "-o", "%cpu=", "-p", str(os.getpid())],
                                  capture_output=True, text=True, check=True).stdout)  # fmt: skip
    assert ours is not None
    assert abs(ours - theirs) <= max(0.2 * theirs, 1.0), (ours, theirs)


def test_a_thread_cpu_counts_that_thread_only() -> None:
    times: list[float | None] = []

    def work() -> None:
        burn(0.3)
        times.append(thread_cpu_seconds(threading.get_native_id()))

    t = threading.Thread(target=work)
    t.start()
    t.join()
    [spent] = times
    assert spent is not None and 0.2 <= spent <= 0.6, spent
    assert thread_cpu_seconds(threading.get_native_id()) is not None
    assert process_cpu_pct(None) is None and thread_cpu_seconds(None) is None


def test_a_meter_keeps_its_last_figures_once_the_tracer_is_gone() -> None:
    meter = CostMeter()
    first = meter.measure(os.getpid(), 1.0, None, 0, 3)
    assert first["tracer_cpu_pct"] is not None and first["events_lost"] == 3
    after = meter.measure(None, 2.0, None, 0, 3)
    assert after["tracer_cpu_pct"] == first["tracer_cpu_pct"]


def count_proc_reads(monkeypatch: pytest.MonkeyPatch) -> list[int | None]:
    """The pids whose /proc figures the meter reads from here on (each read says 1.5 %)."""
    reads: list[int | None] = []

    def counted(pid: int | None) -> float | None:
        reads.append(pid)
        return 1.5

    monkeypatch.setattr(cost, "process_cpu_pct", counted)
    return reads


def test_a_meter_reads_proc_once_per_snapshot_for_all_who_ask(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reads = count_proc_reads(monkeypatch)
    meter = CostMeter()
    snap = Snapshot(1.0, ())
    for viewer in range(3):  # three viewers and the recorder at one snapshot
        assert meter.measure(7, 1.0, snap, 1, viewer)["events_lost"] == viewer
    assert reads == [7]
    meter.measure(7, 2.0, snap, 2, 0)  # the next snapshot
    meter.measure(None, 2.1, snap, 2, 0)  # the tracer ended: its last figures are read
    assert reads == [7, 7, None]


def test_a_meter_measures_again_after_a_second_without_snapshots(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    reads = count_proc_reads(monkeypatch)
    meter = CostMeter()
    meter.measure(7, 1.0, None, 0, 0)
    clock[0] += cost.FRESH_S / 2
    meter.measure(7, 1.5, None, 0, 0)
    clock[0] += cost.FRESH_S
    meter.measure(7, 2.5, None, 0, 0)
    assert reads == [7, 7]


def test_a_snapshot_is_encoded_once_per_seq(monkeypatch: pytest.MonkeyPatch) -> None:
    meter = CostMeter()
    encoded: list[float] = []
    real = Snapshot.to_json

    def counted(self: Snapshot) -> bytes:
        encoded.append(self.t)
        return real(self)

    monkeypatch.setattr(Snapshot, "to_json", counted)
    first, second = Snapshot(1.0, ()), Snapshot(2.0, ())
    assert meter.snapshot_json(first, 1) == meter.snapshot_json(first, 1) == real(first)
    meter.measure(None, 1.0, first, 1, 0)  # the size figure takes the same JSON
    assert meter.snapshot_json(second, 2) == real(second)
    assert meter.snapshot_json(first, 1) == real(first)  # a late reader of seq 1 gets its own
    assert encoded == [1.0, 2.0, 1.0]
