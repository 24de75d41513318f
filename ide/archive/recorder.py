"""The recorder: what each run publishes (its start, every snapshot, the messages its viewers
get, its end) goes into the archive as it comes, from one thread of its own, so a slow disk
never holds a tracer's consumer. Each batch is one transaction: a crash of the server loses
at most what was still queued, about one interval.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

from ..tracing.process import name_this_thread
from .store import (
    Record,
    RunArchive,
    end_run,
    insert_message,
    insert_run,
    insert_snapshot,
    pack,
    tally_run,
)

if TYPE_CHECKING:
    from ..tracing.model import Snapshot
    from ..tracing.recording import RecordedRun as Run

log = logging.getLogger(__name__)

THREAD_NAME = "dtrace-ide-rec"  # what top -H shows for the writer
MAX_QUEUED = 10_000  # items waiting for the disk; past this the newest are dropped, counted
# Snapshots between two updates of a run's row in the record (its size, count and cost
# figures): reading /proc for the figures was half of what recording a snapshot cost.
TALLY_EVERY = 10
RECORDED_MESSAGES = frozenset({"output", "error", "state"})
TERMINAL = frozenset({"finished", "stopped", "failed"})
HEAD_LINES = 30  # where a title: line is looked for
_COMMENT_MARKS = ("//", "/*", "*", "#")


def title_of(script: str) -> str:
    """A run's title: the ``title:`` line of its header comment, else its first line of code."""
    lines = [ln.strip() for ln in script.split("\n", HEAD_LINES)[:HEAD_LINES]]
    for line in lines:
        text = line
        for mark in _COMMENT_MARKS:
            text = text.removeprefix(mark)
        text = text.lstrip("*").strip()
        if text.startswith("title:"):
            return text[len("title:") :].removesuffix("*/").strip()[:200]
    code = next((ln for ln in lines if ln and not ln.startswith(_COMMENT_MARKS)), "")
    return code[:200]


class Recorder:
    """Records runs into ``archive``; ``retain`` is (max_bytes, max_age_s)."""

    def __init__(self, archive: RunArchive, retain: tuple[int, float]) -> None:
        self.archive = archive
        self.retain = retain
        self.host = socket.gethostname()
        self.dropped = 0
        self._queue: queue.Queue[tuple[Any, ...] | None] = queue.Queue(MAX_QUEUED)
        self._seq: dict[str, int] = {}
        self._untallied: dict[str, tuple[int, int, float]] = {}  # run: bytes, snapshots, t
        self._idle = threading.Event()
        self._thread = threading.Thread(target=self._write_forever, name="recorder", daemon=True)
        self._thread.start()
        self._put(("expire",))

    # --- what a run tells it (from the run's threads) --------------------------------------

    def started(self, run: Run) -> None:
        host = run.host_label or self.host
        record = Record(
            id=run.id, title=title_of(run.script), language=run.language, via=run.via,
            script=run.script, options=dict(run.options), host=host, state="running",
            error=None, started_at=time.time(), ended_at=None, duration=run.duration,
            interval=run.interval, elapsed=0.0, parent=run.parent, drill=run.drill,
            viewer_key=run.viewer_key, pinned=False, bytes=0, snapshots=0,
        )  # fmt: skip
        self._put(("run", record))

    def snapshot(self, run: Run, snapshot: Snapshot, seq: int) -> None:
        self._put(("snapshot", run, seq, snapshot))

    def message(self, run: Run, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind not in RECORDED_MESSAGES:
            return
        self._put(("message", run.id, run.elapsed(), message))
        if kind == "state" and message.get("state") in TERMINAL:
            self._put(
                ("end", run, message["state"], message.get("error"), run.elapsed(), time.time())
            )
            self._put(("expire",))

    def forget(self, run_id: str) -> None:
        """A run that never started leaves no record."""
        self._put(("forget", run_id))

    def _put(self, item: tuple[Any, ...]) -> None:
        self._idle.clear()
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1

    # --- the writer ------------------------------------------------------------------------

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far is on disk."""
        self._put(("flushed",))
        return self._idle.wait(timeout)

    def close(self, timeout: float = 10.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)
        self.archive.close()

    def _write_forever(self) -> None:
        name_this_thread(THREAD_NAME)
        while True:
            batch = [self._queue.get()]
            while len(batch) < 500:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            done = None in batch
            try:
                self._write([item for item in batch if item is not None])
            except Exception:  # a full disk must not end the recording of later runs
                log.exception("recording %d items failed", len(batch))
            if self._queue.empty():
                self._idle.set()
            if done:
                return

    def _write(self, batch: list[tuple[Any, ...]]) -> None:
        expire = any(item[0] == "expire" for item in batch)
        work = [item for item in batch if item[0] not in {"expire", "flushed"}]
        if work:
            with self.archive.writing() as db:
                for item in work:
                    self._apply(db, item)
        if expire:
            self.archive.expire(*self.retain)

    def _apply(self, db: Any, item: tuple[Any, ...]) -> None:
        kind = item[0]
        if kind == "run":
            insert_run(db, item[1])
        elif kind == "snapshot":
            _, run, seq, snapshot = item
            data = pack(run.snapshot_json(snapshot, seq))
            insert_snapshot(db, run.id, seq, snapshot.t, data, tally=False)
            # The run's row follows with the first snapshot, then every TALLY_EVERY and at
            # the end (opening the archive tallies what a crash left untallied).
            size, count, _ = self._untallied.get(run.id, (0, 0, 0.0))
            self._untallied[run.id] = (size + len(data), count + 1, snapshot.t)
            if seq == 1 or count + 1 >= TALLY_EVERY:
                tally_run(db, run.id, *self._untallied.pop(run.id), run.cost())
        elif kind == "message":
            _, run_id, t, message = item
            seq = self._seq[run_id] = self._seq.get(run_id, 0) + 1
            insert_message(db, run_id, seq, t, message)
        elif kind == "end":
            _, run, state, error, elapsed, ended_at = item
            if run.id in self._untallied:
                tally_run(db, run.id, *self._untallied.pop(run.id))
            end_run(db, run.id, state, error, elapsed, ended_at, run.cost())  # its last figures
            self._seq.pop(run.id, None)
        elif kind == "forget":
            db.execute("DELETE FROM runs WHERE id = ?", (item[1],))
