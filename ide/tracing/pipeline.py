"""One way from a script to a run: policy, compile gate, the backend's compile, then start.

The API, the websocket stream and the command line all go through ``ScriptPipeline``, so a
script refused or broken on one path is refused or broken on every path.  The backends
apply the policy to their tracer's parse (see ``policy``); what must be judged before any
tracer reads the script (``policy.check_script``) is judged here.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass

from ..config import Settings
from .backend import Backend
from .model import CompileResult, Language
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


def way_of(backend: Backend) -> str | None:
    """How a D run is traced ("libdtrace" or "bpftrace"); None for a bpftrace script."""
    if backend.language != "d":
        return None
    return "bpftrace" if backend.name == "bpftrace" else "libdtrace"


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

    def start(self, req: RunRequest) -> Run:
        """Compile, then start a run of what compiled.  Raises ``ScriptRejected``, the errors
        of ``compile`` and ``session.LimitExceeded``."""
        result = self.compile(req.language, req.script, req.via)
        if not result.ok:
            raise ScriptRejected(result)
        backend = self.backend(req.language, req.via)
        return self.runs.create(
            backend,
            language=req.language,
            script=req.script,
            duration=req.duration,
            interval=req.interval,
            options=dict(req.options or {}),
            keep_running=req.keep_running,
            client=req.client,
            via=way_of(backend),
        )
