"""One websocket's view of a run: a bounded queue of messages in which the newest snapshot
replaces an unsent one and output lines merge, paced so that a flooding script costs a few
messages a second."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..config import Settings


class ViewedRun(Protocol):
    """What a viewer reads of its run (``session.Run``)."""

    settings: Settings

    def snapshot_message(
        self, per_interval: bool, with_charts: bool, by_host: bool = False
    ) -> dict[str, Any] | None:
        """The latest snapshot as the stream sends it (``by_host``: a fleet run's panels
        by host instead of totalled)."""


# Output goes to a viewer at most this often, the lines in between merged into one message:
# a flooding script then costs a few messages a second, not one per line, and the sends
# (syscalls a syscall tracer sees) do not feed the flood.
OUTPUT_PACE_S = 0.1


@dataclass
class Viewer:
    """One websocket's view of a run."""

    run: ViewedRun
    max_queue: int
    per_interval: bool = False
    charts: bool = True
    by_host: bool = False
    # A viewer that can scrub back stays after the run ends, until its client leaves.
    keep_open: bool = False
    # The moment it is shown (seconds since the run attached), or None when it is live.
    seek_t: float | None = None
    _seek_pending: bool = False
    _live_pending: bool = False
    _queue: deque[dict[str, Any]] = field(default_factory=deque)
    _snapshot_pending: bool = False
    _started: bool = False
    _output_sent_at: float = 0.0
    _cond: threading.Condition = field(default_factory=threading.Condition)
    dropped: int = 0
    closed: bool = False

    def push(self, msg: dict[str, Any]) -> None:
        with self._cond:
            if msg["type"] == "output" and self.seek_t is not None:
                return  # going live again sends the whole output
            if msg["type"] == "output" and self._queue and self._queue[-1]["type"] == "output":
                self._queue[-1]["lines"].extend(msg["lines"])
                self._queue[-1]["dropped"] = msg["dropped"]
                excess = len(self._queue[-1]["lines"]) - self.run.settings.max_output_lines
                if excess > 0:
                    del self._queue[-1]["lines"][:excess]
                    self.dropped += excess
            else:
                self._queue.append(msg)
                while len(self._queue) > self.max_queue:
                    self._queue.popleft()
                    self.dropped += 1
            self._cond.notify()

    def snapshot_ready(self) -> None:
        with self._cond:
            self._snapshot_pending = True
            self._cond.notify()

    def seek(self, t: float) -> None:
        """Show moment ``t`` of the run: live snapshots and output wait until ``live()``."""
        with self._cond:
            self.seek_t, self._seek_pending = t, True
            self._queue = deque(m for m in self._queue if m["type"] != "output")
            self._cond.notify()

    def live(self) -> None:
        """Show the run as it is now again: its whole output, then its latest snapshot."""
        with self._cond:
            if self.seek_t is None:
                return
            self.seek_t, self._seek_pending = None, False
            self._live_pending = self._snapshot_pending = True
            self._cond.notify()

    @property
    def asked_again(self) -> bool:
        """Whether the client asked for another moment (or left) since the last answer."""
        return self._seek_pending or self._live_pending or self.closed

    def _ready(self) -> bool:
        live_snapshot = self._snapshot_pending and self.seek_t is None
        return bool(self._queue) or self._seek_pending or self._live_pending or live_snapshot

    def next_message(self, timeout: float) -> dict[str, Any] | None:
        """The next message to send, or None after ``timeout`` with nothing to say."""
        with self._cond:
            if not self._ready() and not self.closed:
                self._cond.wait(timeout)
            self._pace_output()
            # Asked by the client, answered by the stream (ide/archive/replay.py).
            if self._started and self._seek_pending:
                self._seek_pending = False
                return {"type": "seek", "t": self.seek_t}
            if self._started and self._live_pending:
                self._live_pending = False
                return {"type": "live"}
            # The first message is the state; after that the newest snapshot goes first, so
            # the final snapshot arrives before the final state.
            if self._snapshot_pending and self._started and self.seek_t is None:
                self._snapshot_pending = False
                take_snapshot = True
            elif self._queue:
                self._started = True
                msg = self._queue.popleft()
                if msg["type"] == "output":
                    self._output_sent_at = time.monotonic()
                return msg
            else:
                return None
        if not take_snapshot:
            return None
        return self.run.snapshot_message(self.per_interval, self.charts, self.by_host)

    def _pace_output(self) -> None:
        """Hold a lone output message until OUTPUT_PACE_S after the last one, so the lines
        that come meanwhile join it; anything else to send ends the wait."""
        while (
            len(self._queue) == 1
            and self._queue[0]["type"] == "output"
            and not self._snapshot_pending
            and not self.closed
        ):
            wait = self._output_sent_at + OUTPUT_PACE_S - time.monotonic()
            if wait <= 0:
                return
            self._cond.wait(wait)

    def end(self) -> None:
        """The run ended: the stream ends once the last messages are sent, unless this
        viewer can scrub back through the run."""
        if not self.keep_open:
            self.close()

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify()
