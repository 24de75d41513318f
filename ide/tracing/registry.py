"""Which backend serves which language on this machine.

bpftrace scripts go to bpftrace.  D goes to libdtrace where it works, else translated to
bpftrace (``d_via_bpftrace``); a request may name the way with ``via``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

from ..config import Settings
from .backend import Backend, BackendStatus
from .model import Language

Via = Literal["auto", "libdtrace", "bpftrace"]
VIAS: tuple[Via, ...] = get_args(Via)


@dataclass
class Backends:
    by_language: dict[str, Backend]
    # D through bpftrace, when bpftrace is here: used where libdtrace is not (or when asked).
    d_translated: Backend | None = field(default=None)

    @classmethod
    def for_settings(cls, settings: Settings) -> Backends:
        from .bpftrace import BpftraceBackend
        from .d_via_bpftrace import TranslatedDBackend
        from .libdtrace import LibdtraceBackend

        found: dict[str, Backend] = {}
        translated: Backend | None = None
        if settings.backend in {"auto", "bpftrace"}:
            found["bpftrace"] = bpftrace = BpftraceBackend(settings)
            translated = TranslatedDBackend(bpftrace, settings)
        if settings.backend in {"auto", "dtrace"}:
            found["d"] = LibdtraceBackend(settings)
        return cls(found, translated)

    def get(self, language: Language, via: Via = "auto") -> Backend | None:
        """The backend for ``language``: for D, libdtrace unless ``via`` says bpftrace or
        libdtrace does not work here and bpftrace does."""
        if language != "d":
            return self.by_language.get(language)
        native = self.by_language.get("d")
        if via == "libdtrace":
            return native
        if via == "bpftrace":
            return self.d_translated
        if native is not None and (self.d_translated is None or native.status().available):
            return native
        if self.d_translated is not None and self.d_translated.status().available:
            return self.d_translated
        return native or self.d_translated

    def ways(self, language: Language) -> list[Backend]:
        """Every backend that could serve ``language``, the default first."""
        if language != "d":
            return [b for b in (self.by_language.get(language),) if b is not None]
        return [b for b in (self.by_language.get("d"), self.d_translated) if b is not None]

    def statuses(self) -> list[BackendStatus]:
        out = [b.status() for b in self.by_language.values()]
        if self.d_translated is not None:
            out.append(self.d_translated.status())
        return out
