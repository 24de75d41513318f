"""An agent's side of one fleet run: the request a run command carries, checked against this
host's own limits, and the local run's messages sent to the server, numbered.

A run command's body says what to trace (language, script, duration, interval, options,
via) and nothing else counts: the policy, ``allow_destructive`` and every limit are the
agent's own settings, whatever the body holds besides.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import msgspec

from ..config import TRACER_OPTIONS, Settings, tracer_option
from ..tracing.model import Language
from ..tracing.pipeline import RunRequest
from ..tracing.registry import Via
from ..tracing.session import Run
from ..tracing.viewer import Viewer
from .protocol import RunMessage, encode

ENDED_STATES = frozenset({"finished", "stopped", "failed"})
# How long the forwarder waits for a message before it looks whether the run has ended.
FORWARD_WAIT_S = 0.5
# How much longer than the stop grace the final state may take to come, once the viewer
# has closed without it (the run's end is then read from the run itself).
FINAL_STATE_WAIT_S = 1.0

Publish = Callable[[bytes, object | None], None]  # (a RunMessage's bytes, its `latest` key)


class BadRunBody(ValueError):
    """A signed run command whose body this agent cannot run; ``code`` as the API's."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class RunBody(msgspec.Struct, frozen=True):
    """What a run command's body may say.  Other fields are ignored, never an error: a newer
    server's additions are not this agent's business, and no field sets a setting."""

    language: Language
    script: str
    duration: float = 0.0  # 0: until the server stops it
    interval: float = 1.0
    options: dict[str, int] | None = None
    via: Via = "auto"


def run_request(body: Mapping[str, Any], settings: Settings) -> RunRequest:
    """The local run a run command's body asks for, within this agent's limits."""
    try:
        asked = msgspec.convert(body, RunBody)
    except msgspec.ValidationError as exc:
        raise BadRunBody(
            "bad_request", f"the run command is not one this agent reads: {exc}"
        ) from None
    return RunRequest(
        asked.language,
        _script(asked.script, settings),
        _seconds("duration", asked.duration, 0.1, settings.max_duration_s, zero_ok=True),
        _seconds("interval", asked.interval, settings.min_interval_s, settings.max_interval_s),
        _options(asked.options or {}),
        keep_running=True,
        client="fleet",
        via=asked.via,
    )


def _script(script: str, settings: Settings) -> str:
    if len(script.encode("utf-8", "surrogatepass")) > settings.max_script_bytes:
        raise BadRunBody(
            "script_too_large",
            f"the script is larger than this host's max_script_bytes ({settings.max_script_bytes})",
        )
    if "\x00" in script:
        raise BadRunBody("bad_script", "the script contains a NUL character")
    try:
        script.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRunBody("bad_script", "the script is not valid Unicode text") from None
    if not script.strip():
        raise BadRunBody("bad_script", "the script is empty")
    return script


def _seconds(name: str, value: float, lo: float, hi: float, *, zero_ok: bool = False) -> float:
    if zero_ok and value == 0:
        return 0.0
    if not (math.isfinite(value) and lo <= value <= hi):
        raise BadRunBody(
            f"bad_{name}", f"{name} must be between {lo:g} and {hi:g} seconds on this host"
        )
    return value


def _options(raw: Mapping[str, int]) -> dict[str, int]:
    """Known tracer options with positive values, clamped to their maximum."""
    out: dict[str, int] = {}
    for name, value in raw.items():
        cap = tracer_option(name)
        if cap is None:
            known = ", ".join(o.name for o in TRACER_OPTIONS)
            raise BadRunBody("bad_options", f"unknown tracer option {name!r}; known: {known}")
        if value <= 0:
            raise BadRunBody("bad_options", f"option {name} must be a positive integer")
        out[name] = min(value, cap.maximum)
    return out


def failed_state(
    code: str, error: str, diagnostics: Sequence[Mapping[str, Any]] = ()
) -> dict[str, Any]:
    """The state message of a run that never started here: the stream's state message, with
    the API's error code and, for a script that does not compile, its diagnostics."""
    return {
        "type": "state",
        "state": "failed",
        "attached": False,
        "probes": 0,
        "elapsed": 0.0,
        "error": error,
        "code": code,
        "diagnostics": [dict(d) for d in diagnostics],
    }


class AgentRun:
    """One server run this host traces: its local run once started, when the server last
    spoke of it (``last_word``, monotonic), and the numbered messages sent for it."""

    def __init__(self, run_id: str, host: str, publish: Publish, heard_at: float) -> None:
        self.run_id = run_id
        self.host = host
        self._publish = publish
        self.last_word = heard_at
        self.run: Run | None = None
        self.stop_asked = False  # a stop came before the run had started
        self.timed_out = False
        self.ended = False  # its final state has been sent
        self.seq = 0
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def heard(self, now: float) -> None:
        self.last_word = max(self.last_word, now)

    def send(self, msg: dict[str, Any]) -> None:
        """One stream message of the run, to the server.  Sent under the lock, so ``seq``
        grows in the order the broker link queues them."""
        snapshot = msg.get("type") == "snapshot"
        with self.lock:
            self.seq += 1
            body = encode(RunMessage(self.run_id, self.host, self.seq, msg))
            if msg.get("type") == "state" and msg.get("state") in ENDED_STATES:
                self.ended = True
            # A link that cannot send keeps only the newest snapshot of the run.
            self._publish(body, (self.run_id, "snapshot") if snapshot else None)

    def forward(self, viewer: Viewer, stop_grace_s: float) -> None:
        """Every message of the run's viewer, until the run has ended and all are sent; the
        final state goes out even when the viewer was closed before it came."""
        while True:
            msg = viewer.next_message(FORWARD_WAIT_S)
            if msg is None:
                if viewer.closed:
                    break
                continue
            self.send(msg)
        run = self.run
        if not self.ended and run is not None:
            run.wait(stop_grace_s + FINAL_STATE_WAIT_S)
            self.send(run.state_message())
