"""The one interface every tracing backend implements.

A backend compiles a script without attaching probes, and starts a ``Tracer``: a child
process owned by the server that reports ``TracerEvent`` objects until it has exited.
Sessions (``session.py``) drive tracers; they never know which backend runs underneath.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .model import CompileResult, Exited, Language, TracerEvent


@dataclass(frozen=True)
class BackendStatus:
    name: str
    language: Language
    available: bool
    version: str | None = None
    reason: str | None = None  # why not available, and how to fix it

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "language": self.language,
            "available": self.available,
            "version": self.version,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class RunSpec:
    """What a run asks of the tracer; values already validated and clamped by the server."""

    interval: float = 1.0  # seconds between snapshots
    options: Mapping[str, int] = field(default_factory=dict)  # see config.TRACER_OPTIONS


class BackendUnavailable(Exception):
    """The backend cannot work on this machine; the message says how to fix it."""


class Tracer(Protocol):
    """A running tracer process."""

    @property
    def pid(self) -> int | None: ...

    def events(self) -> Iterator[TracerEvent]:
        """Blocking iterator of events; always ends with exactly one ``Exited``."""
        ...

    def stop(self) -> None:
        """Ask the tracer to end cleanly (it reports its final aggregations, then exits)."""
        ...

    def kill(self) -> None:
        """End the tracer now."""
        ...


class Backend(Protocol):
    name: str
    language: Language

    def status(self) -> BackendStatus: ...

    def compile(self, script: str) -> CompileResult:
        """Check the script without attaching anything.  Raises ``BackendUnavailable``."""
        ...

    def start(self, script: str, spec: RunSpec) -> Tracer:
        """Start tracing.  Raises ``BackendUnavailable``."""
        ...

    def list_probes(self) -> list[str]:
        """Every probe name the tracer knows (for completion)."""
        ...


class RefusedTracer:
    """A run the server refused before starting anything."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    @property
    def pid(self) -> int | None:
        return None

    def events(self) -> Iterator[TracerEvent]:
        yield Exited(None, self.reason)

    def stop(self) -> None:
        pass

    def kill(self) -> None:
        pass
