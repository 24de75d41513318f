"""libdtrace backend (D language).  Placeholder until the real consumer lands."""

from __future__ import annotations

from ..config import Settings
from .backend import BackendStatus, BackendUnavailable, RunSpec, Tracer
from .model import CompileResult, Language

REASON = "libdtrace was not found: install DTrace (see docs/backends.md)"


class LibdtraceBackend:
    name = "dtrace"
    language: Language = "d"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def status(self) -> BackendStatus:
        return BackendStatus(self.name, self.language, False, None, REASON)

    def compile(self, script: str) -> CompileResult:
        raise BackendUnavailable(REASON)

    def start(self, script: str, spec: RunSpec) -> Tracer:
        raise BackendUnavailable(REASON)

    def list_probes(self) -> list[str]:
        return []
