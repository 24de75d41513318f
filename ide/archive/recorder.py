"""The recorder: what each run publishes (its start, every snapshot, the messages its viewers
get, its end) goes into the archive as it comes, from one thread of its own, so a slow disk
never holds a tracer's consumer. Snapshots and messages are appended to the archive's journal
the moment they are taken off the queue, and moved into the database every few seconds in one
transaction: a crash of the server loses at most what was still queued, about one interval.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

import msgspec

from ..tracing.process import name_this_thread
from .journal import Entry
from .store import Record, RunArchive, end_run, insert_run

if TYPE_CHECKING:
    from ..tracing.model import Snapshot
    from ..tracing.recording import RecordedRun as Run

log = logging.getLogger(__name__)

_ENCODE = msgspec.json.Encoder()
THREAD_NAME = "dtrace-ide-rec"  # what top -H shows for the writer
MAX_QUEUED = 10_000  # items waiting for the disk; past this the newest are dropped, counted
# Snapshots between two cost figures in the record: reading /proc for them was half of what
# recording a snapshot cost, before the figures were read once per snapshot for everyone.
COST_EVERY = 10
# The journal's entries go into the database at most this many seconds after they came, or
# once this many wait (ide/archive/journal.py): one transaction for them all.
COMMIT_S = 10.0
COMMIT_EVERY = 200
COMMIT_BYTES = 4 * 1024 * 1024  # of snapshots' JSON waiting
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
        self._snapshots: dict[str, int] = {}  # run: snapshots recorded
        self._journal_since: float | None = None  # when the journal's oldest entry came
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
            try:
                batch = [self._queue.get(timeout=self._until_commit())]
            except queue.Empty:
                self.archive.drain()  # COMMIT_S went by with entries in the journal
                continue
            while len(batch) < 500:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            done = None in batch
            try:
                self._write([item for item in batch if item is not None])
                if done or self._commit_due():
                    self.archive.drain()
            except Exception:  # a full disk must not end the recording of later runs
                log.exception("recording %d items failed", len(batch))
            if self._queue.empty():
                self._idle.set()
            if done:
                return

    def _commit_due(self) -> bool:
        journal = self.archive.journal
        full = len(journal) >= COMMIT_EVERY or journal.bytes >= COMMIT_BYTES
        return full or self._until_commit() == 0

    def _until_commit(self) -> float | None:
        """Seconds until the journal's entries are due in the database (None: it has none)."""
        if not len(self.archive.journal):
            self._journal_since = None
            return None
        if self._journal_since is None:
            self._journal_since = time.monotonic()
        return max(0.0, self._journal_since + COMMIT_S - time.monotonic())

    def _write(self, batch: list[tuple[Any, ...]]) -> None:
        """Snapshots and messages go to the journal; a run's start and end, and everything
        before them, into the database at once (in the order they came)."""
        for item in batch:
            kind = item[0]
            if kind == "snapshot":
                self._journal_snapshot(*item[1:])
            elif kind == "message":
                _, run_id, t, message = item
                seq = self._seq[run_id] = self._seq.get(run_id, 0) + 1
                self.archive.journal.append(
                    Entry("message", run_id, seq, t, _ENCODE.encode(message))
                )
            elif kind == "flushed":
                self.archive.drain()
            elif kind == "expire":
                self.archive.drain()
                self.archive.expire(*self.retain)
            else:
                self.archive.drain()
                with self.archive.writing() as db:
                    self._apply(db, item)

    def _journal_snapshot(self, run: Run, seq: int, snapshot: Snapshot) -> None:
        journal = self.archive.journal
        journal.append(Entry("snapshot", run.id, seq, snapshot.t, run.snapshot_json(snapshot, seq)))
        # The cost figures follow with the first snapshot, then every COST_EVERY and at the end.
        count = self._snapshots[run.id] = self._snapshots.get(run.id, 0) + 1
        if count % COST_EVERY == 1:
            journal.append(Entry("cost", run.id, 0, snapshot.t, _ENCODE.encode(run.cost())))

    def _apply(self, db: Any, item: tuple[Any, ...]) -> None:
        kind = item[0]
        if kind == "run":
            insert_run(db, item[1])
        elif kind == "end":
            _, run, state, error, elapsed, ended_at = item
            end_run(db, run.id, state, error, elapsed, ended_at, run.cost())  # its last figures
            self._seq.pop(run.id, None)
            self._snapshots.pop(run.id, None)
        elif kind == "forget":
            db.execute("DELETE FROM runs WHERE id = ?", (item[1],))
