"""A backend whose tracers replay events the test puts on their queue, for the code above
the backends (sessions, the reaper); the real tracers are tested in tests/integration."""

from __future__ import annotations

import queue
from collections.abc import Iterator

from ide.tracing.backend import BackendStatus, RunSpec
from ide.tracing.model import CompileResult, Exited, TracerEvent


class ScriptedTracer:
    """Replays events put on its queue; stop() ends it like SIGINT would."""

    def __init__(self) -> None:
        self.events_q: queue.Queue[TracerEvent] = queue.Queue()
        self.stopped = False

    @property
    def pid(self) -> int | None:
        return None

    def events(self) -> Iterator[TracerEvent]:
        while True:
            ev = self.events_q.get()
            yield ev
            if isinstance(ev, Exited):
                return

    def stop(self) -> None:
        self.stopped = True
        self.events_q.put(Exited(0))

    def kill(self) -> None:
        self.events_q.put(Exited(-9))


class ScriptedBackend:
    name = "scripted"
    language = "bpftrace"

    def __init__(self) -> None:
        self.tracers: list[ScriptedTracer] = []

    def status(self) -> BackendStatus:
        return BackendStatus("scripted", "bpftrace", True)

    def compile(self, script: str) -> CompileResult:
        return CompileResult(True)

    def start(self, script: str, spec: RunSpec) -> ScriptedTracer:
        t = ScriptedTracer()
        self.tracers.append(t)
        return t

    def list_probes(self) -> list[str]:
        return []
