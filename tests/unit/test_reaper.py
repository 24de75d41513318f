"""The reaper sleeps until the next deadline it knows of, and still meets every deadline."""

from __future__ import annotations

import time

import pytest

from ide.config import Settings
from ide.tracing.model import Attached
from ide.tracing.reaper import REAPER_POLL_S
from ide.tracing.session import Run, RunManager
from tests.unit.scripted import ScriptedBackend


def new_run(manager: RunManager, backend: ScriptedBackend, duration: float = 0) -> Run:
    return manager.create(
        backend,  # type: ignore[arg-type]
        language="bpftrace",
        script="x",
        duration=duration,
        interval=1.0,
        options={},
    )


def attach(run: Run, backend: ScriptedBackend) -> None:
    backend.tracers[-1].events_q.put(Attached(1))
    deadline = time.monotonic() + 3
    while run.attached_at is None:
        assert time.monotonic() < deadline
        time.sleep(0.005)


def test_with_nothing_due_the_reaper_sleeps_a_whole_beat() -> None:
    settings = Settings(token="t")
    manager, backend = RunManager(settings), ScriptedBackend()
    run = new_run(manager, backend)
    run.add_viewer()
    attach(run, backend)
    beat = min(settings.stop_on_disconnect_s, settings.stop_grace_s)
    assert manager.reap(time.monotonic()) == pytest.approx(beat)
    manager.shutdown()


def test_the_reaper_wakes_when_a_timed_run_is_due() -> None:
    manager, backend = RunManager(Settings(token="t")), ScriptedBackend()
    run = new_run(manager, backend, duration=30)
    run.add_viewer()
    assert manager.reap(time.monotonic()) == pytest.approx(
        REAPER_POLL_S
    )  # its clock starts on attaching
    attach(run, backend)
    assert run.attached_at is not None
    now = run.attached_at + 29.6
    assert manager.reap(now) == pytest.approx(0.4)
    manager.shutdown()


def test_a_viewer_leaving_stops_the_run_at_its_deadline_not_a_beat_later() -> None:
    settings = Settings(token="t", stop_on_disconnect_s=1.0)
    manager, backend = RunManager(settings), ScriptedBackend()
    run = new_run(manager, backend)
    attach(run, backend)
    run.remove_viewer(run.add_viewer())
    left = run.unwatched_since
    assert manager.reap(left + 0.25) == pytest.approx(0.75)
    assert run.stop_requested_at is None
    manager.reap(left + 1.0)
    assert run.stop_reason == "disconnect"
    manager.shutdown()


def test_a_short_timed_run_ends_on_time_with_the_reaper_running() -> None:
    manager, backend = RunManager(Settings(token="t")), ScriptedBackend()
    run = new_run(manager, backend, duration=0.3)
    run.add_viewer()
    attach(run, backend)
    assert run.attached_at is not None
    assert run.wait(3)
    assert run.state == "finished"
    assert run.stop_requested_at is not None
    assert run.stop_requested_at - run.attached_at < 0.3 + 0.15
    manager.shutdown()
