"""One way from a script to a run: policy, compile gate, the backend's compile, then start.

The API, the websocket stream and the command line all go through ``ScriptPipeline``, so a
script refused or broken on one path is refused or broken on every path.  The backends
apply the policy to their tracer's parse (see ``policy``); what must be judged before any
tracer reads the script (``policy.check_script``) is judged here.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..config import Settings
from .backend import Backend
from .drilldown import Drill, DrillImpossible, Menu, Mode, derive, menu
from .model import CompileResult, KeyPart, Language
from .policy import check_script
from .registry import Backends, Via
from .session import Run, RunManager


class NoBackend(Exception):
    """No backend serves the language on this server."""


class CompileBusy(Exception):
    """``max_concurrent_compiles`` compiles were running for the whole wait."""


class ScriptRejected(Exception):
    """The script does not compile, or the server refuses part of it."""

    def __init__(self, result: CompileResult) -> None:
        super().__init__(
            "this server refuses part of the script"
            if result.refused
            else "the script does not compile"
        )
        self.result = result


@dataclass(frozen=True)
class RunRequest:
    language: Language
    script: str
    duration: float = 0.0
    interval: float = 1.0
    options: Mapping[str, int] | None = None
    keep_running: bool = False
    client: str = "local"
    via: Via = "auto"  # D: libdtrace, or translated to bpftrace ("auto": libdtrace if it works)
    parent: str | None = None  # the run this one drills down from
    drill: Mapping[str, Any] | None = None  # {"aggregation", "key", "by", "mode"}


def way_of(backend: Backend) -> str | None:
    """How a D run is traced ("libdtrace" or "bpftrace"); None for a bpftrace script."""
    if backend.language != "d":
        return None
    return "bpftrace" if backend.name == "bpftrace" else "libdtrace"


class DrillDoesNotCompile(Exception):
    """A drilldown's derived script does not compile (or is refused): ``result`` says where,
    in the derived script."""

    def __init__(self, drill: Drill, result: CompileResult) -> None:
        first = result.diagnostics[0].message if result.diagnostics else "no message"
        super().__init__(f"the derived script does not compile: {first}")
        self.drill = drill
        self.result = result


class ScriptPipeline:
    def __init__(self, settings: Settings, backends: Backends, runs: RunManager) -> None:
        self.settings = settings
        self.backends = backends
        self.runs = runs
        self._gate = threading.BoundedSemaphore(settings.max_concurrent_compiles)

    def backend(self, language: Language, via: Via = "auto") -> Backend:
        backend = self.backends.get(language, via)
        if backend is None:
            if language == "d" and via == "libdtrace":
                raise NoBackend(
                    'libdtrace is not on this server; use via "bpftrace" (D translated to '
                    "bpftrace) or install DTrace"
                )
            if language == "d" and via == "bpftrace":
                raise NoBackend("bpftrace is not on this server: install it to run D through it")
            raise NoBackend(f"no backend serves {language} on this server")
        return backend

    def compile(self, language: Language, script: str, via: Via = "auto") -> CompileResult:
        """The script checked as the server will run it.  Raises ``NoBackend``,
        ``CompileBusy`` and the backend's ``BackendUnavailable``."""
        backend = self.backend(language, via)
        # A D script's pre-tracer checks hold whichever way it runs; translated to bpftrace,
        # what runs is judged again by the bpftrace backend it goes through.
        refused = check_script(script, language, self.settings)
        if refused:
            return CompileResult(False, tuple(refused), refused=True)
        # Each compile may be a process (a D compile is a ~100 MB worker): at most a few.
        if not self._gate.acquire(timeout=self.settings.compile_timeout_s):
            raise CompileBusy(
                f"{self.settings.max_concurrent_compiles} compiles are already running "
                "(max_concurrent_compiles); try again in a moment"
            )
        try:
            return backend.compile(script)
        finally:
            self._gate.release()

    def _illumos(self, backend: Backend) -> bool:
        return way_of(backend) == "libdtrace" and sys.platform.startswith("sunos")

    def drill_menu(
        self, language: Language, script: str, aggregation: str, via: Via = "auto"
    ) -> Menu:
        """What a click on ``aggregation`` can offer.  A D script translated to bpftrace is
        offered only the fields its translation takes."""
        backend = self.backend(language, via)
        found = menu(language, script, aggregation, illumos=self._illumos(backend))
        if way_of(backend) != "bpftrace":
            return found
        from .d2bpftrace import translate

        key: list[KeyPart] = ["x" if ok else "0" for ok in found.comparable]
        kept = []
        for f in found.fields:
            try:
                derived = derive(language, script, aggregation, key, f.name, "only")
            except DrillImpossible:
                continue
            if translate(derived.script, allow_destructive=self.settings.allow_destructive).ok:
                kept.append(f)
        return replace(found, fields=kept)

    def drill(
        self,
        language: Language,
        script: str,
        aggregation: str,
        key: Sequence[KeyPart],
        by: str | None,
        mode: Mode,
        via: Via = "auto",
    ) -> Drill:
        """The derived script, checked as any script is.  Raises ``DrillImpossible``,
        ``drilldown.Unreadable``, ``DrillDoesNotCompile`` and the errors of ``compile``."""
        backend = self.backend(language, via)
        illumos = self._illumos(backend)
        drill = derive(language, script, aggregation, key, by, mode, illumos=illumos)
        result = self.compile(language, drill.script, via)
        if result.ok:
            return drill
        # "123" may be a string of an expression whose type only the tracer knows.
        quoted = derive(
            language, script, aggregation, key, by, mode, illumos=illumos, quote_unknown=True
        )
        if quoted.script != drill.script and self.compile(language, quoted.script, via).ok:
            return quoted
        raise DrillDoesNotCompile(drill, result)

    def start(self, req: RunRequest) -> Run:
        """Compile, then start a run of what compiled.  Raises ``ScriptRejected``, the errors
        of ``compile`` and ``session.LimitExceeded``."""
        result = self.compile(req.language, req.script, req.via)
        if not result.ok:
            raise ScriptRejected(result)
        backend = self.backend(req.language, req.via)
        return self.launch(req, backend, way_of(backend))

    def launch(
        self,
        req: RunRequest,
        backend: Backend,
        via: str | None,
        run_type: Callable[..., Run] = Run,
    ) -> Run:
        """A run of ``req``, already checked, on ``backend`` (``session.LimitExceeded``)."""
        return self.runs.create(
            backend,
            language=req.language,
            script=req.script,
            duration=req.duration,
            interval=req.interval,
            options=dict(req.options or {}),
            keep_running=req.keep_running,
            client=req.client,
            via=via,
            parent=req.parent,
            drill=dict(req.drill) if req.drill is not None else None,
            run_type=run_type,
        )
