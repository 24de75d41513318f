"""Which backend serves which language on this machine."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Settings
from .backend import Backend, BackendStatus
from .model import Language


@dataclass
class Backends:
    by_language: dict[str, Backend]

    @classmethod
    def for_settings(cls, settings: Settings) -> Backends:
        from .bpftrace import BpftraceBackend
        from .libdtrace import LibdtraceBackend

        found: dict[str, Backend] = {}
        if settings.backend in {"auto", "bpftrace"}:
            found["bpftrace"] = BpftraceBackend(settings)
        if settings.backend in {"auto", "dtrace"}:
            found["d"] = LibdtraceBackend(settings)
        return cls(found)

    def get(self, language: Language) -> Backend | None:
        return self.by_language.get(language)

    def statuses(self) -> list[BackendStatus]:
        return [b.status() for b in self.by_language.values()]
