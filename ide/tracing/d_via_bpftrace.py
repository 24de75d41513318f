"""D on a box without libdtrace: the script is translated to bpftrace and run by bpftrace.

``TranslatedDBackend`` serves the language "d" by way of ``d2bpftrace.translate`` and the
bpftrace backend: the same policy (bpftrace's parse of what runs), the same limits, and
bpftrace's diagnostics placed on the D the user wrote.  What a run reports keeps D's
names: each aggregation says its D function and parameters (``lquantize`` with D's
lo/hi/step, not ``lhist``), and the maps the translation uses for D variables (globals,
``self->``, the syscall name table) are not data to show.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

from ..config import Settings
from .backend import Backend, BackendStatus, RefusedTracer, RunSpec, Tracer
from .model import (
    Aggregation,
    AggregationData,
    AggregationDecl,
    CompileResult,
    Diagnostic,
    Language,
    TracerEvent,
)
from .translation import Translation

Translate = Callable[..., Translation]
TRANSLATION_BUG = "internal: the translation to bpftrace does not compile"


def default_translator() -> Translate:
    from .d2bpftrace import translate

    return translate


class TranslatedDBackend:
    """The "d" language through bpftrace."""

    name = "bpftrace"
    language: Language = "d"

    def __init__(
        self, bpftrace: Backend, settings: Settings, translate: Translate | None = None
    ) -> None:
        self.bpftrace = bpftrace
        self.settings = settings
        self._translate = translate or default_translator()

    def translate(self, script: str) -> Translation:
        return self._translate(script, allow_destructive=self.settings.allow_destructive)

    def status(self) -> BackendStatus:
        s = self.bpftrace.status()
        reason = f"D is translated to bpftrace, and {s.reason}" if s.reason else None
        return BackendStatus(self.name, self.language, s.available, s.version, reason)

    def compile(self, script: str) -> CompileResult:
        tr = self.translate(script)
        if not tr.ok:
            return CompileResult(False, tr.diagnostics, translated=tr)
        bt = self.bpftrace.compile(tr.script)
        placed = [_placed(tr, d, bt.refused) for d in bt.diagnostics]
        diagnostics = sorted([*tr.diagnostics, *placed], key=lambda d: (d.line, d.column))
        decls = tuple(_d_decl(tr, a) for a in bt.aggregations if a.name not in tr.internal_maps)
        return CompileResult(bt.ok, tuple(diagnostics), decls, bt.refused, translated=tr)

    def start(self, script: str, spec: RunSpec) -> Tracer:
        tr = self.translate(script)
        if not tr.ok:
            first = next((d for d in tr.diagnostics if d.severity == "error"), None)
            return RefusedTracer(first.message if first else "the script does not translate")
        return TranslatedTracer(self.bpftrace.start(tr.script, spec), tr)

    def list_probes(self) -> list[str]:
        """D names for what bpftrace can trace here: the system calls, and the timers."""
        out = ["BEGIN", "END", "tick-1s", "profile-97"]
        for probe in self.bpftrace.list_probes():
            for prefix, name in (("sys_enter_", "entry"), ("sys_exit_", "return")):
                head = "tracepoint:syscalls:" + prefix
                if probe.startswith(head):
                    out.append(f"syscall::{probe[len(head) :]}:{name}")
        return out


def _placed(tr: Translation, diag: Diagnostic, refused: bool) -> Diagnostic:
    """A bpftrace diagnostic on the D text.  An error there that is no policy refusal is
    the translator's fault: every D it accepts must compile."""
    d = tr.d_diagnostic(diag)
    if d.severity == "error" and not refused:
        d = replace(d, message=f"{TRANSLATION_BUG}: {d.message}")
    return d


def _d_decl(tr: Translation, decl: AggregationDecl) -> AggregationDecl:
    origin = tr.map_origin(decl.name)
    if origin is None:
        return decl
    return AggregationDecl(decl.name, origin.d_function, dict(origin.params), origin.key_arity)


class TranslatedTracer:
    """bpftrace's tracer, reporting D's aggregations and hiding the translation's maps."""

    def __init__(self, tracer: Tracer, translation: Translation) -> None:
        self.tracer = tracer
        self.translation = translation

    @property
    def pid(self) -> int | None:
        return self.tracer.pid

    def events(self) -> Iterator[TracerEvent]:
        hidden = set(self.translation.internal_maps)
        for event in self.tracer.events():
            if isinstance(event, AggregationData):
                if event.aggregation.name in hidden:
                    continue
                yield AggregationData(self._as_d(event))
            else:
                yield event

    def _as_d(self, event: AggregationData) -> Aggregation:
        agg = event.aggregation
        origin = self.translation.map_origin(agg.name)
        if origin is None:
            return agg
        return Aggregation(
            agg.name, origin.d_function, agg.rows, dict(origin.params), agg.total_rows
        )

    def stop(self) -> None:
        self.tracer.stop()

    def kill(self) -> None:
        self.tracer.kill()
