"""Drilldowns checked by the real tracers: every drilldown offered on the shipped examples
compiles (bpftrace, and Oracle's D where libdtrace is here), and drilling a running ``dd``
by pid gives only that dd's pid."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from ide import examples
from ide.config import Settings
from ide.tracing.drilldown import DrillImpossible, Unreadable
from ide.tracing.drilldown.views import read
from ide.tracing.model import Aggregation, Language
from ide.tracing.pipeline import DrillDoesNotCompile, RunRequest, ScriptPipeline
from ide.tracing.registry import Backends
from ide.tracing.session import RunManager
from tests.conftest import libdtrace_ready, tracer_ready

EXAMPLES_PER_LANGUAGE = 20


@pytest.fixture(scope="module")
def pipeline() -> Iterator[ScriptPipeline]:
    settings = Settings(token="t", max_unwatched_s=600, max_concurrent_compiles=2)
    runs = RunManager(settings)
    yield ScriptPipeline(settings, Backends.for_settings(settings), runs)
    runs.shutdown()


def needs(language: Language) -> None:
    reason = tracer_ready() if language == "bpftrace" else libdtrace_ready()
    if reason is not None:
        pytest.skip(str(reason))


def drills_of(language: Language, script: str, p: ScriptPipeline) -> list[tuple[Any, ...]]:
    """Every drilldown a click on a key of each aggregation offers, with a key of the right
    shape (a name where the key is a string, a number elsewhere)."""
    view = read(language, script)
    out = []
    for agg in sorted({u.aggregation for c in view.clauses for u in c.updates}):
        try:
            menu = p.drill_menu(language, script, agg)
        except DrillImpossible:
            continue
        update = next(u for c in view.clauses for u in c.updates if u.aggregation == agg)
        key = ["bash" if k.kind == "string" else "7" for k in update.keys]
        for by, mode in [(None, "only"), (None, "exclude"), (None, "latency")] + [
            (f.name, "only") for f in menu.fields
        ]:
            if menu.unavailable[mode] is None:
                out.append((agg, key, by, mode))
    return out


@pytest.mark.tracer
@pytest.mark.parametrize("language", ["bpftrace", "d"])
def test_every_offered_drilldown_of_the_shipped_examples_compiles(
    language: Language, pipeline: ScriptPipeline
) -> None:
    needs(language)
    chosen: list[tuple[examples.Example, list[tuple[Any, ...]]]] = []
    for example in examples.all_examples():
        if example.language != language or len(chosen) == EXAMPLES_PER_LANGUAGE:
            continue
        if not pipeline.compile(language, example.script).ok:
            continue  # a provider this box lacks (ip, vminfo, ...): nothing to drill into here
        drills = drills_of(language, example.script, pipeline)
        if drills:
            chosen.append((example, drills))
    assert len(chosen) == EXAMPLES_PER_LANGUAGE

    def check(job: tuple[examples.Example, tuple[Any, ...]]) -> str | None:
        example, (agg, key, by, mode) = job
        try:
            pipeline.drill(language, example.script, agg, key, by, mode)
        except (DrillDoesNotCompile, DrillImpossible, Unreadable) as exc:
            return f"{example.id} {agg} {key} by={by} {mode}: {exc}"
        return None

    jobs = [(e, d) for e, drills in chosen for d in drills]
    with ThreadPoolExecutor(2) as pool:
        failures = [f for f in pool.map(check, jobs) if f is not None]
    assert not failures, "\n".join(failures)
    assert len(jobs) >= 5 * EXAMPLES_PER_LANGUAGE  # every aggregation offers several


COUNT_BY_PROCESS = {
    "bpftrace": "tracepoint:raw_syscalls:sys_enter { @num[comm] = count(); }\n",
    "d": "syscall:::entry\n{\n\t@num[execname] = count();\n}\n",
}


def run_rows(p: ScriptPipeline, language: Language, script: str, seconds: float) -> Aggregation:
    run = p.start(RunRequest(language, script, duration=seconds, interval=0.5))
    assert run.wait(seconds + 30), run.to_dict()
    assert run.snapshot is not None, run.to_dict()
    return next(a for a in run.snapshot.aggregations if a.name == "@num")


@pytest.mark.tracer
@pytest.mark.parametrize("language", ["bpftrace", "d"])
def test_drilling_a_running_dd_by_pid_gives_only_that_dds_pid(
    language: Language, pipeline: ScriptPipeline
) -> None:
    needs(language)
    dd = subprocess.Popen(
        ["dd", "if=/dev/zero", "of=/dev/null", "bs=1", "count=100000000"],
        stderr=subprocess.DEVNULL,
    )
    stop = threading.Timer(60, dd.kill)
    stop.start()
    try:
        time.sleep(0.2)
        parent = run_rows(pipeline, language, COUNT_BY_PROCESS[language], 2.0)
        assert "dd" in {r.key[0] for r in parent.rows}, parent
        derived = pipeline.drill(language, COUNT_BY_PROCESS[language], "@num", ["dd"], "pid",
                                 "only")  # fmt: skip
        child = run_rows(pipeline, language, derived.script, 2.0)
    finally:
        stop.cancel()
        dd.kill()
        dd.wait()
    assert child.rows, child
    assert {int(r.key[0]) for r in child.rows} == {dd.pid}
    assert all(r.value and int(r.value) > 100 for r in child.rows), child
