"""The cost figures read from /proc agree with ps, and a thread's CPU is its own."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time

import pytest

from ide.tracing.cost import CostMeter, process_cpu_pct, thread_cpu_seconds


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
