"""The shipped D examples on a Linux box without libdtrace: each translates to bpftrace and
compiles there, or says at its D line and column why it cannot; those that translate run
through the real bpftrace and give data, with D's names."""

from __future__ import annotations

import time

import pytest

from ide import examples
from ide.config import Settings
from ide.tracing.backend import RunSpec
from ide.tracing.bpftrace import BpftraceBackend
from ide.tracing.d_via_bpftrace import TRANSLATION_BUG, TranslatedDBackend
from ide.tracing.model import AggregationData, CompileResult, Exited, Output
from tests.conftest import tracer_ready

pytestmark = pytest.mark.skipif(tracer_ready() is not None, reason=str(tracer_ready()))

D = [e for e in examples.all_examples() if e.language == "d"]
# Measured here: 24 of the 46 D examples translate; fewer means the translator regressed.
AT_LEAST_TRANSLATED = 24
RUN_S = 2.0

_compiled: dict[str, CompileResult] = {}


def backend() -> TranslatedDBackend:
    settings = Settings(token="t")
    return TranslatedDBackend(BpftraceBackend(settings), settings)


def compiled(example: examples.Example) -> CompileResult:
    if example.id not in _compiled:
        _compiled[example.id] = backend().compile(example.script)
    return _compiled[example.id]


@pytest.mark.tracer
@pytest.mark.parametrize("example", D, ids=lambda e: e.id)
def test_a_d_example_translates_and_compiles_or_says_why_at_its_position(
    example: examples.Example,
) -> None:
    result = compiled(example)
    if result.ok:
        assert result.translated is not None and result.translated.script
        return
    errors = [d for d in result.diagnostics if d.severity == "error"]
    assert errors, result
    lines = example.script.count("\n") + 1
    for d in errors:
        # The translator's own refusal (never bpftrace rejecting what it emitted), on the D.
        assert not d.message.startswith(TRANSLATION_BUG), (example.id, d)
        assert 1 <= d.line <= lines and d.column >= 1, (example.id, d)


@pytest.mark.tracer
def test_most_d_examples_translate() -> None:
    ok = [e.id for e in D if compiled(e).ok]
    assert len(ok) >= AT_LEAST_TRANSLATED, ok


@pytest.mark.tracer
@pytest.mark.parametrize("example", D, ids=lambda e: e.id)
def test_a_translated_d_example_runs_through_bpftrace(example: examples.Example) -> None:
    result = compiled(example)
    if not result.ok:
        pytest.skip("does not translate (the test above checks it says why)")
    tracer = backend().start(example.script, RunSpec(interval=0.5))
    deadline = time.monotonic() + RUN_S
    aggregations: set[str] = set()
    printed = False
    ended: Exited | None = None
    stopped = False
    for event in tracer.events():
        if isinstance(event, AggregationData):
            aggregations.add(event.aggregation.function)
        elif isinstance(event, Output):
            printed = printed or bool(event.text.strip())
        elif isinstance(event, Exited):
            ended = event
            break
        if not stopped and time.monotonic() > deadline:
            tracer.stop()
            stopped = True
    assert ended is not None and ended.error is None, (example.id, ended)
    declared = {a.function for a in result.aggregations}
    # What a run reports is D's: lquantize stays lquantize, quantize stays quantize.
    assert aggregations <= declared | {"count", "sum", "min", "max", "avg", "stddev"}
    assert not aggregations & {"lhist", "hist"}, aggregations
