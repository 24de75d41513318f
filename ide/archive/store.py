"""Every run's record, in ``runs.sqlite`` beside the snippet database: the run (script,
language, options, host, state, times), each snapshot (compressed on its own, so any one is
read without the others), and the messages its viewers got (output, problems, state).

Writes come from one thread (the recorder's); reads open a connection each (WAL lets them
run beside the writer). Retention drops the oldest unpinned records past a total size or an
age.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import zstandard

from .journal import Entry, Journal, write_entries

log = logging.getLogger(__name__)

DB_NAME = "runs.sqlite"
# zstd level 1: a 1k-key snapshot's JSON shrinks ~6.7x in 0.07 ms (zlib level 1, which the
# first records used: ~4.8x in 0.16 ms), bench/bench_archive.py.
COMPRESSION = 1
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_codecs = threading.local()  # zstd's (de)compressors are not to be shared between threads
INTERRUPTED = "the server stopped while this run was running"
# Reading connections kept open for the next read; more readers at once open their own.
READERS_KEPT = 4

_SCHEMA = [  # the first version's; each later one is a step of _MIGRATIONS
    """
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL DEFAULT '',
        language TEXT NOT NULL,
        via TEXT,
        script TEXT NOT NULL,
        options TEXT NOT NULL DEFAULT '{}',
        host TEXT NOT NULL DEFAULT '',
        state TEXT NOT NULL,
        error TEXT,
        started_at REAL NOT NULL,
        ended_at REAL,
        duration REAL NOT NULL DEFAULT 0,
        interval REAL NOT NULL DEFAULT 1,
        elapsed REAL NOT NULL DEFAULT 0,
        parent TEXT,
        drill TEXT,
        viewer_key TEXT NOT NULL DEFAULT '',
        pinned INTEGER NOT NULL DEFAULT 0,
        bytes INTEGER NOT NULL DEFAULT 0,
        snapshots INTEGER NOT NULL DEFAULT 0,
        cost TEXT
    )
    """,
    "CREATE INDEX runs_started ON runs (started_at)",
    """
    CREATE TABLE snapshots (
        run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        t REAL NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (run_id, seq)
    ) WITHOUT ROWID
    """,
    "CREATE INDEX snapshots_t ON snapshots (run_id, t)",
    """
    CREATE TABLE messages (
        run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        t REAL NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)
    ) WITHOUT ROWID
    """,
]
# Each version's statements, run on a database of the version before (1: on an empty one).
_MIGRATIONS: dict[int, list[str]] = {
    1: _SCHEMA,
    2: [  # the viewer link can expire and be revoked
        "ALTER TABLE runs ADD COLUMN viewer_expires_at REAL",
        "ALTER TABLE runs ADD COLUMN viewer_revoked_at REAL",
    ],
}
SCHEMA_VERSION = max(_MIGRATIONS)

_ENCODE = msgspec.json.Encoder()
_DECODE = msgspec.json.Decoder()


def pack(snapshot_json: bytes) -> bytes:
    """A snapshot's JSON as the record keeps it (zstd)."""
    if not hasattr(_codecs, "compress"):
        _codecs.compress = zstandard.ZstdCompressor(level=COMPRESSION).compress
    data: bytes = _codecs.compress(snapshot_json)
    return data


def inflate(data: bytes) -> bytes:
    """The JSON of a kept snapshot: zstd, or zlib in records written before it."""
    if not data.startswith(_ZSTD_MAGIC):
        return zlib.decompress(data)
    if not hasattr(_codecs, "decompress"):
        _codecs.decompress = zstandard.ZstdDecompressor().decompress
    out: bytes = _codecs.decompress(data)
    return out


def unpack(data: bytes) -> dict[str, Any]:
    out: dict[str, Any] = _DECODE.decode(inflate(data))
    return out


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


class NoRecord(LookupError):
    """No record of that run (never recorded, deleted, or expired)."""


@dataclass(frozen=True)
class Record:
    """A recorded run as ``GET /api/runs`` lists it."""

    id: str
    title: str
    language: str
    via: str | None
    script: str
    options: dict[str, int]
    host: str
    state: str
    error: str | None
    started_at: float
    ended_at: float | None
    duration: float
    interval: float
    elapsed: float
    parent: str | None
    drill: dict[str, Any] | None
    viewer_key: str
    pinned: bool
    bytes: int
    snapshots: int
    cost: dict[str, Any] | None = None  # the last figures measured while it went
    viewer_expires_at: float | None = None  # the viewer link's (ide/tracing/viewer_link.py)
    viewer_revoked_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "state": self.state,
            "language": self.language,
            "via": self.via,
            "host": self.host,
            "started_at": iso(self.started_at),
            "ended_at": iso(self.ended_at),
            "elapsed": round(self.elapsed, 3),
            "duration": self.duration,
            "interval": self.interval,
            "parent": self.parent,
            "drill": self.drill,
            "error": self.error,
            "recorded": True,
            "pinned": self.pinned,
            "bytes": self.bytes,
            "snapshots": self.snapshots,
            "options": self.options,
            "cost": self.cost,
        }


_COLUMNS = (
    "id, title, language, via, script, options, host, state, error, started_at, ended_at, "
    "duration, interval, elapsed, parent, drill, viewer_key, pinned, bytes, snapshots, cost, "
    "viewer_expires_at, viewer_revoked_at"
)


def _record(row: Sequence[Any]) -> Record:
    return Record(
        id=row[0],
        title=row[1],
        language=row[2],
        via=row[3],
        script=row[4],
        options=_DECODE.decode(row[5]),
        host=row[6],
        state=row[7],
        error=row[8],
        started_at=row[9],
        ended_at=row[10],
        duration=row[11],
        interval=row[12],
        elapsed=row[13],
        parent=row[14],
        drill=_DECODE.decode(row[15]) if row[15] else None,
        viewer_key=row[16],
        pinned=bool(row[17]),
        bytes=row[18],
        snapshots=row[19],
        cost=_DECODE.decode(row[20]) if row[20] else None,
        viewer_expires_at=row[21],
        viewer_revoked_at=row[22],
    )


class RunArchive:
    """The records of every run. Thread-safe; the writes are the recorder thread's."""

    def __init__(self, path: Path | str, *, clock: Any = time.time) -> None:
        self.path = Path(path)
        self.clock = clock
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._write_lock = threading.Lock()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._closed = False
        # The connections are opened once, here: their descriptors are the archive's from
        # the start, not a run's.
        db = self._connect()
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            db.close()
            raise RuntimeError(
                f"{self.path} has schema version {version}; this dtrace-ide knows up to "
                f"{SCHEMA_VERSION} (a newer release wrote it)"
            )
        for step in range(version + 1, SCHEMA_VERSION + 1):  # a new or an older database
            with self._transaction(db):
                for statement in _MIGRATIONS[step]:
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {step}")
        # What a crash left in the journal goes in first.
        self._writer: sqlite3.Connection | None = db
        self.journal = Journal(self.path.with_name(self.path.stem + ".journal"))
        try:
            self.journal.move(self._write_journal, left=True)
        except (OSError, sqlite3.Error):  # kept in the journal and in memory for the next move
            log.exception("moving what %s held into the database failed", self.journal.path)
        # What was running when the server last stopped ended with it, its last few
        # snapshots not yet tallied.
        with self._transaction(db):
            db.execute(
                "UPDATE runs SET (bytes, snapshots, elapsed) = (SELECT"
                " COALESCE(SUM(length(data)), 0), COUNT(*), MAX(runs.elapsed, COALESCE(MAX(t), 0))"
                " FROM snapshots WHERE run_id = runs.id) WHERE state = 'running'"
            )
            db.execute(
                "UPDATE runs SET state = 'failed', error = ? WHERE state = 'running'",
                (INTERRUPTED,),
            )
        self._readers.append(self._connect())

    def drain(self) -> None:
        """Move what the journal holds into the database (reads of snapshots and messages do
        it first)."""
        if not len(self.journal):
            return
        try:
            self.journal.move(self._write_journal)
        except (OSError, sqlite3.Error):  # kept for the next move; reads go on without it
            log.exception("moving the journal into %s failed", self.path)

    def _write_journal(self, entries: list[Entry]) -> None:
        with self.writing() as db:
            write_entries(db, entries, pack)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode = WAL")
        # A committed interval survives the server's crash (kill -9); only the machine's
        # crash can take the last commits, which FULL would keep at a sync per interval.
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("PRAGMA busy_timeout = 30000")
        return db

    @staticmethod
    @contextmanager
    def _transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    @contextmanager
    def reading(self, *, recent: bool = False) -> Iterator[sqlite3.Connection]:
        """A connection to read on, from the few kept open; with ``recent``, after the
        journal's entries moved into the database (a read of snapshots or messages, which a
        live run may have in the journal alone; the runs' rows may lag it by COMMIT_S).
        Closing a connection per read would not give its descriptor back anyway: SQLite
        defers closing a file while another connection of the process holds a lock on it,
        as the writer does in WAL mode."""
        if recent:
            self.drain()
        with self._readers_lock:
            db = self._readers.pop() if self._readers else None
        if db is None:
            db = self._connect()
        try:
            yield db
        finally:
            if db.in_transaction:
                db.execute("ROLLBACK")
            with self._readers_lock:
                keep = not self._closed and len(self._readers) < READERS_KEPT
                if keep:
                    self._readers.append(db)
            if not keep:
                db.close()

    @contextmanager
    def writing(self) -> Iterator[sqlite3.Connection]:
        """One write transaction on the archive's one writer connection (opening one per
        transaction cost more than the write itself)."""
        with self._write_lock:
            if self._writer is None:
                self._writer = self._connect()
            with self._transaction(self._writer):
                yield self._writer

    def close(self) -> None:
        self.drain()
        self.journal.close()
        with self._write_lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
        with self._readers_lock:
            self._closed = True
            readers, self._readers = self._readers, []
        for db in readers:
            db.close()

    # --- reads ----------------------------------------------------------------------------

    def get(self, run_id: str) -> Record:
        with self.reading() as db:
            row = db.execute(f"SELECT {_COLUMNS} FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise NoRecord(run_id)
        return _record(row)

    def find(
        self, *, state: str | None = None, q: str | None = None, before: float | None = None,
        limit: int = 100, language: str | None = None,
    ) -> list[Record]:  # fmt: skip
        """Newest first; ``q`` matches the title or the script (case-insensitive)."""
        where: list[str] = ["1 = 1"]
        args: list[Any] = []
        for column, value in (("state", state), ("language", language)):
            if value:
                where.append(f"{column} = ?")
                args.append(value)
        if before is not None:
            where.append("started_at < ?")
            args.append(before)
        if q:
            pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            where.append("(title LIKE ? ESCAPE '\\' OR script LIKE ? ESCAPE '\\')")
            args += [pattern, pattern]
        sql = (
            f"SELECT {_COLUMNS} FROM runs WHERE {' AND '.join(where)} "
            "ORDER BY started_at DESC LIMIT ?"
        )
        with self.reading() as db:
            return [_record(r) for r in db.execute(sql, [*args, limit])]

    def snapshots(
        self, run_id: str, *, start: float | None = None, end: float | None = None,
        step: float | None = None, limit: int = 10_000,
    ) -> list[dict[str, Any]]:  # fmt: skip
        """The run's snapshots in time order; with ``step``, at most one per ``step`` s."""
        self.get(run_id)
        sql = "SELECT t, data FROM snapshots WHERE run_id = ? AND t >= ? AND t <= ? ORDER BY seq"
        lo = -1.0 if start is None else start
        hi = float("inf") if end is None else end
        out: list[dict[str, Any]] = []
        last = -float("inf")
        with self.reading(recent=True) as db:
            for t, data in db.execute(sql, (run_id, lo, hi)):
                if step and t - last < step:
                    continue
                last = t
                out.append(unpack(data))
                if len(out) >= limit:
                    break
        return out

    def snapshot_at(self, run_id: str, t: float) -> dict[str, Any] | None:
        """The last snapshot taken at or before ``t`` (the first one before it began)."""
        self.get(run_id)
        at = "SELECT data FROM snapshots WHERE run_id = ? AND t <= ? ORDER BY t DESC LIMIT 1"
        first = "SELECT data FROM snapshots WHERE run_id = ? ORDER BY t LIMIT 1"
        with self.reading(recent=True) as db:
            row = db.execute(at, (run_id, t)).fetchone() or db.execute(first, (run_id,)).fetchone()
        return unpack(row[0]) if row else None

    def last_snapshots(self, run_id: str, n: int) -> list[bytes]:
        """The JSON of the run's last ``n`` snapshots, in time order."""
        with self.reading(recent=True) as db:
            rows = db.execute(
                "SELECT data FROM snapshots WHERE run_id = ? ORDER BY seq DESC LIMIT ?",
                (run_id, n),
            ).fetchall()
        return [inflate(r[0]) for r in reversed(rows)]

    def snapshots_until(
        self, run_id: str, t: float, *, after_seq: int = 0, limit: int
    ) -> list[tuple[int, bytes]]:
        """(seq, snapshot JSON) of the last ``limit`` snapshots taken at or before ``t`` and
        after ``after_seq``, in time order: what a replay at ``t`` draws from."""
        with self.reading(recent=True) as db:
            rows = db.execute(
                "SELECT seq, data FROM snapshots WHERE run_id = ? AND seq > ? AND t <= ?"
                " ORDER BY seq DESC LIMIT ?",
                (run_id, after_seq, t, limit),
            ).fetchall()
        return [(r[0], inflate(r[1])) for r in reversed(rows)]

    def messages(self, run_id: str) -> list[tuple[float, dict[str, Any]]]:
        """(t, message) in the order the run's viewers got them."""
        with self.reading(recent=True) as db:
            rows = db.execute(
                "SELECT t, data FROM messages WHERE run_id = ? ORDER BY seq", (run_id,)
            ).fetchall()
        return [(r[0], _DECODE.decode(r[1])) for r in rows]

    def load(
        self, run: Record, snapshots: Iterable[tuple[float, bytes]],
        messages: Iterable[tuple[float, dict[str, Any]]],
    ) -> Record:  # fmt: skip
        """A whole run at once (an import), in one transaction: ``snapshots`` as (t, snapshot
        JSON), taken before ``messages``."""
        entries = [
            Entry("snapshot", run.id, seq, t, data) for seq, (t, data) in enumerate(snapshots, 1)
        ]
        entries += [
            Entry("message", run.id, seq, t, _ENCODE.encode(message))
            for seq, (t, message) in enumerate(messages, 1)
        ]
        with self.writing() as db:
            insert_run(db, run)
            write_entries(db, entries, pack)  # as the recorder's journal moves them
        return self.get(run.id)

    def total_bytes(self) -> int:
        with self.reading() as db:
            return int(db.execute("SELECT COALESCE(SUM(bytes), 0) FROM runs").fetchone()[0])

    # --- writes ---------------------------------------------------------------------------

    def update(
        self, run_id: str, *, pinned: bool | None = None, title: str | None = None
    ) -> Record:
        with self.writing() as db:
            if pinned is not None:
                db.execute("UPDATE runs SET pinned = ? WHERE id = ?", (int(pinned), run_id))
            if title is not None:
                db.execute("UPDATE runs SET title = ? WHERE id = ?", (title, run_id))
        return self.get(run_id)

    def set_viewer_link(
        self, run_id: str, key: str, expires_at: float | None, revoked_at: float | None
    ) -> bool:
        """The run's viewer link as it is now (made anew or revoked); False without a record."""
        with self.writing() as db:
            changed = db.execute(
                "UPDATE runs SET viewer_key = ?, viewer_expires_at = ?, viewer_revoked_at = ?"
                " WHERE id = ?",
                (key, expires_at, revoked_at, run_id),
            ).rowcount
        return changed > 0

    def delete(self, run_id: str) -> None:
        with self.writing() as db:
            if db.execute("DELETE FROM runs WHERE id = ?", (run_id,)).rowcount == 0:
                raise NoRecord(run_id)

    def expire(self, max_bytes: int, max_age_s: float) -> list[str]:
        """Drop unpinned, ended records older than ``max_age_s``, then the oldest until the
        total is at most ``max_bytes``; returns the ids dropped."""
        dropped: list[str] = []
        with self.writing() as db:
            old = self.clock() - max_age_s
            rows = db.execute(
                "SELECT id, bytes, started_at FROM runs WHERE pinned = 0 AND state != 'running' "
                "ORDER BY started_at"
            ).fetchall()
            total = int(db.execute("SELECT COALESCE(SUM(bytes), 0) FROM runs").fetchone()[0])
            for run_id, size, started in rows:
                if started >= old and total <= max_bytes:
                    break
                db.execute("DELETE FROM runs WHERE id = ?", (run_id,))
                total -= size
                dropped.append(run_id)
        return dropped


# --- what the recorder writes, in its own transactions -----------------------------------


def insert_run(db: sqlite3.Connection, r: Record) -> None:
    db.execute(
        f"INSERT OR REPLACE INTO runs ({_COLUMNS}) VALUES ({', '.join('?' * 23)})",
        (
            r.id, r.title, r.language, r.via, r.script, _ENCODE.encode(r.options).decode(),
            r.host, r.state, r.error, r.started_at, r.ended_at, r.duration, r.interval,
            r.elapsed, r.parent, _ENCODE.encode(r.drill).decode() if r.drill else None,
            r.viewer_key, int(r.pinned), r.bytes, r.snapshots,
            _ENCODE.encode(r.cost).decode() if r.cost else None,
            r.viewer_expires_at, r.viewer_revoked_at,
        ),
    )  # fmt: skip


def insert_snapshot(db: sqlite3.Connection, run_id: str, seq: int, t: float, data: bytes) -> None:
    """One snapshot kept as ``data`` (already packed), the run's size, count and elapsed time
    following (the recorder's go through the journal: ide/archive/journal.py)."""
    db.execute(
        "INSERT OR REPLACE INTO snapshots (run_id, seq, t, data) VALUES (?, ?, ?, ?)",
        (run_id, seq, t, data),
    )
    db.execute(
        "UPDATE runs SET bytes = bytes + ?, snapshots = snapshots + 1, elapsed = MAX(elapsed, ?)"
        " WHERE id = ?",
        (len(data), t, run_id),
    )


def _cost_json(cost: dict[str, Any] | None) -> str | None:
    """The cost figures as the runs table keeps them (None keeps those kept before)."""
    return _ENCODE.encode(cost).decode() if cost is not None else None


def end_run(
    db: sqlite3.Connection, run_id: str, state: str, error: str | None, elapsed: float,
    ended_at: float, cost: dict[str, Any] | None = None,
) -> None:  # fmt: skip
    db.execute(
        "UPDATE runs SET state = ?, error = ?, elapsed = ?, ended_at = ?,"
        " cost = COALESCE(?, cost) WHERE id = ?",
        (state, error, elapsed, ended_at, _cost_json(cost), run_id),
    )
