"""D through bpftrace over stand-ins: a fixed translation and a bpftrace that answers as told
(the real translator and bpftrace are in tests/unit/test_d2bpftrace.py and
tests/integration/test_d2bpftrace_bpftrace.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ide.config import Settings
from ide.tracing.backend import BackendStatus, RunSpec
from ide.tracing.d_via_bpftrace import TRANSLATION_BUG, TranslatedDBackend
from ide.tracing.model import (
    Aggregation,
    AggregationData,
    AggregationDecl,
    CompileResult,
    Diagnostic,
    Exited,
    Language,
    Row,
    Tick,
)
from ide.tracing.registry import Backends
from ide.tracing.translation import MapOrigin, Span, Translation
from tests.unit.scripted import ScriptedBackend, ScriptedTracer

D = "syscall::read:entry\n{ @dist[execname] = lquantize(arg0, 0, 12, 2); }\n"
BT = (
    "tracepoint:syscalls:sys_enter_read\n"
    "{ @dist[comm] = lhist(args->fd, 0, 12, 2); @__self_ts[tid] = 1; }\n"
)
TRANSLATION = Translation(
    ok=True,
    script=BT,
    line_map=((1, 1), (2, 2)),
    # "lhist(args->fd, 0, 12, 2)" on bpftrace line 2 came from D's "lquantize(arg0, 0, 12, 2)".
    spans=(Span(2, 16, 41, 2, 21, 2, 46),),
    maps=(MapOrigin("@dist", "lquantize", "lhist", {"lo": 0, "hi": 12, "step": 2}, 1),),
    internal_maps=("@__self_ts",),
)


@dataclass
class FakeBpftrace(ScriptedBackend):
    """A bpftrace whose compile answers with ``answer`` and records what it was given."""

    language: Language = "bpftrace"
    answer: CompileResult = field(default_factory=lambda: CompileResult(True))
    available: bool = True
    compiled: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()

    def status(self) -> BackendStatus:
        reason = None if self.available else "bpftrace is not installed"
        return BackendStatus("bpftrace", "bpftrace", self.available, "v0.17.0", reason)

    def compile(self, script: str) -> CompileResult:
        self.compiled.append(script)
        return self.answer

    def start(self, script: str, spec: RunSpec) -> ScriptedTracer:
        self.started.append(script)
        return super().start(script, spec)

    def list_probes(self) -> list[str]:
        return ["tracepoint:syscalls:sys_enter_read", "tracepoint:syscalls:sys_exit_read"]


def backend(bt: FakeBpftrace, translation: Translation = TRANSLATION) -> TranslatedDBackend:
    calls: list[dict[str, Any]] = []

    def translate(script: str, **kw: Any) -> Translation:
        calls.append({"script": script, **kw})
        return translation

    b = TranslatedDBackend(bt, Settings(token="t"), translate)
    b.calls = calls  # type: ignore[attr-defined]
    return b


def test_compile_hands_the_translation_to_bpftrace_and_reports_d_functions() -> None:
    decls = (
        AggregationDecl("@dist", "lhist", {"min": 0, "max": 12, "step": 2}, 1),
        AggregationDecl("@__self_ts", "map", {}, 1),
    )
    bt = FakeBpftrace(answer=CompileResult(True, aggregations=decls))
    result = backend(bt).compile(D)
    assert bt.compiled == [BT]
    assert result.ok and result.translated is TRANSLATION
    [decl] = result.aggregations
    assert (decl.name, decl.function, decl.params, decl.key_arity) == (
        "@dist",
        "lquantize",
        {"lo": 0, "hi": 12, "step": 2},
        1,
    )
    assert result.to_dict()["translated"] == {"script": BT, "line_map": [[1, 1], [2, 2]]}


def test_the_translator_is_told_whether_destructive_actions_are_allowed() -> None:
    b = backend(FakeBpftrace())
    b.compile(D)
    assert b.calls == [{"script": D, "allow_destructive": False}]  # type: ignore[attr-defined]


def test_a_bpftrace_error_lands_on_the_d_text_as_a_translator_bug() -> None:
    wrong = Diagnostic(2, 20, 2, 25, "unknown function", "error")
    bt = FakeBpftrace(answer=CompileResult(False, (wrong,)))
    [d] = backend(bt).compile(D).diagnostics
    assert (d.line, d.column, d.end_line, d.end_column) == (2, 21, 2, 46)
    assert d.message == f"{TRANSLATION_BUG}: unknown function"


def test_a_policy_refusal_keeps_its_own_message_on_the_d_line() -> None:
    refusal = Diagnostic(1, 1, 1, 10, "system() is refused without --allow-destructive")
    bt = FakeBpftrace(answer=CompileResult(False, (refusal,), refused=True))
    [d] = backend(bt).compile(D).diagnostics
    assert d.message == refusal.message and d.line == 1


def test_d_that_does_not_translate_never_reaches_bpftrace() -> None:
    refused = Translation(
        ok=False,
        script="",
        diagnostics=(Diagnostic(1, 1, 1, 9, "copyout(): no bpftrace equivalent"),),
    )
    bt = FakeBpftrace()
    b = backend(bt, refused)
    result = b.compile("BEGIN { copyout(0, 0, 0); }")
    assert not result.ok and result.diagnostics == refused.diagnostics
    assert bt.compiled == []
    tracer = b.start("BEGIN { copyout(0, 0, 0); }", RunSpec())
    events = list(tracer.events())
    assert bt.started == []
    assert isinstance(events[-1], Exited) and "no bpftrace equivalent" in str(events[-1].error)


def test_a_run_reports_d_aggregations_and_hides_the_translations_own_maps() -> None:
    bt = FakeBpftrace()
    tracer = backend(bt).start(D, RunSpec())
    assert bt.started == [BT]
    lhist = Aggregation("@dist", "lhist", (Row(("bash",), buckets=()),), {"min": 0})
    scratch = Aggregation("@__self_ts", "map", (Row(("42",), value=1),))
    q = bt.tracers[0].events_q
    for event in (AggregationData(lhist), AggregationData(scratch), Tick(), Exited(0)):
        q.put(event)
    events = list(tracer.events())
    aggs = [e.aggregation for e in events if isinstance(e, AggregationData)]
    assert [(a.name, a.function, a.params) for a in aggs] == [
        ("@dist", "lquantize", {"lo": 0, "hi": 12, "step": 2})
    ]
    assert aggs[0].rows == lhist.rows
    assert isinstance(events[-1], Exited)


def test_probes_are_listed_with_their_d_names() -> None:
    probes = backend(FakeBpftrace()).list_probes()
    assert {"syscall::read:entry", "syscall::read:return", "BEGIN"} <= set(probes)


def test_the_status_follows_bpftrace_and_says_d_is_translated() -> None:
    status = backend(FakeBpftrace(available=False)).status()
    assert (status.name, status.language, status.available) == ("bpftrace", "d", False)
    assert status.reason is not None and status.reason.startswith("D is translated to bpftrace")


@dataclass
class FakeLibdtrace(ScriptedBackend):
    available: bool = True
    name = "libdtrace"
    language: Language = "d"

    def __post_init__(self) -> None:
        super().__init__()

    def status(self) -> BackendStatus:
        return BackendStatus("libdtrace", "d", self.available, None, None)


def backends(libdtrace: bool | None, bpftrace: bool | None) -> Backends:
    found: dict[str, Any] = {}
    translated = None
    if bpftrace is not None:
        found["bpftrace"] = bt = FakeBpftrace(available=bpftrace)
        translated = backend(bt)
    if libdtrace is not None:
        found["d"] = FakeLibdtrace(available=libdtrace)
    return Backends(found, translated)


def test_d_goes_to_libdtrace_where_it_works_and_to_bpftrace_where_it_does_not() -> None:
    assert isinstance(backends(True, True).get("d"), FakeLibdtrace)
    assert isinstance(backends(False, True).get("d"), TranslatedDBackend)
    assert isinstance(backends(None, True).get("d"), TranslatedDBackend)
    # Neither works: libdtrace answers, with its reason for not working.
    assert isinstance(backends(False, False).get("d"), FakeLibdtrace)
    assert backends(None, None).get("d") is None


def test_via_names_the_way_even_where_it_is_not_the_default() -> None:
    both = backends(True, True)
    assert isinstance(both.get("d", "bpftrace"), TranslatedDBackend)
    assert isinstance(both.get("d", "libdtrace"), FakeLibdtrace)
    assert backends(None, True).get("d", "libdtrace") is None
    assert backends(True, None).get("d", "bpftrace") is None
    # bpftrace scripts have one way only.
    assert isinstance(both.get("bpftrace", "libdtrace"), FakeBpftrace)


def test_ways_and_statuses_list_both_ways_of_d() -> None:
    both = backends(True, True)
    assert [type(b) for b in both.ways("d")] == [FakeLibdtrace, TranslatedDBackend]
    statuses = [(s.name, s.language) for s in both.statuses()]
    assert statuses == [("bpftrace", "bpftrace"), ("libdtrace", "d"), ("bpftrace", "d")]
