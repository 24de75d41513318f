"""What a run tells whoever records it (``ide.archive.Recorder``): the core knows only this."""

from __future__ import annotations

from typing import Any, Protocol

from .model import Snapshot


class RecordedRun(Protocol):
    """What a recorder reads of a run (``session.Run`` has it)."""

    id: str
    viewer_key: str
    language: Any
    script: str
    via: str | None
    options: dict[str, int]
    duration: float
    interval: float
    parent: str | None
    drill: dict[str, Any] | None
    host_label: str | None  # where it ran, when not this server

    def elapsed(self) -> float: ...

    def cost(self) -> dict[str, Any]: ...

    def snapshot_json(self, snapshot: Snapshot, seq: int) -> bytes:
        """The snapshot's JSON, encoded once for the run's viewers and its record."""
        ...


class RunRecorder(Protocol):
    def started(self, run: RecordedRun) -> None: ...

    def snapshot(self, run: RecordedRun, snapshot: Snapshot, seq: int) -> None: ...

    def message(self, run: RecordedRun, message: dict[str, Any]) -> None: ...

    def forget(self, run_id: str) -> None: ...

    def close(self, timeout: float = 10.0) -> None: ...
