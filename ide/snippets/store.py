"""Saved snippets in SQLite: one file, WAL, one transaction per write, full history.

Every save writes the new version as a revision row *and* updates the snippet row inside one
``BEGIN IMMEDIATE`` transaction, so a crash (even ``kill -9``) leaves either the old or the new
version, never half of one.  Deleting is soft: a deleted snippet keeps its history and can be
brought back (the sidebar's undo) until it is purged.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from ..config import Settings
from .schema import MIGRATIONS
from .validate import FIELDS, SnippetError, validate

__all__ = [
    "MIGRATIONS",
    "Conflict",
    "NotFound",
    "SnippetError",
    "SnippetStore",
    "parse_import",
    "validate",
]

DB_NAME = "snippets.sqlite3"
# The name the documentation uses for the data directory; DTRACE_IDE_DATA_DIR works too.
DATA_ENV = "DTRACE_IDE_DATA"
PURGE_DELETED_AFTER_S = 30 * 24 * 3600.0
EXPORT_FORMAT = "dtrace-ide-snippets"
EXPORT_VERSION = 1
POOL_SIZE = 4
_WORD = re.compile(r"\w+", re.UNICODE)


class NotFound(LookupError):
    pass


class Conflict(Exception):
    """The snippet changed since the revision the client based its edit on."""

    def __init__(self, current_rev: int) -> None:
        super().__init__(
            f"the snippet was saved elsewhere meanwhile (now at revision {current_rev})"
        )
        self.current_rev = current_rev


SCHEMA_VERSION = len(MIGRATIONS)


def fts5_available() -> bool:
    try:
        with closing(sqlite3.connect(":memory:")) as db:
            db.execute("CREATE VIRTUAL TABLE probe USING fts5(x)")
    except sqlite3.OperationalError:
        return False
    return True


def default_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("dtrace-ide"))


def data_dir(settings: Settings) -> Path:
    """``Settings.data_dir`` (``DTRACE_IDE_DATA_DIR``), else ``DTRACE_IDE_DATA``, else the
    per-user data directory."""
    if settings.data_dir:
        return Path(settings.data_dir)
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV])
    return default_data_dir()


# --- the store --------------------------------------------------------------------------


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Snippet:
    id: int
    title: str
    language: str
    script: str
    description: str
    tags: list[str]
    options: dict[str, Any]
    created: float
    updated: float
    rev: int

    def to_dict(self, *, with_script: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "language": self.language,
            "description": self.description,
            "tags": self.tags,
            "options": self.options,
            "created": iso(self.created),
            "updated": iso(self.updated),
            "rev": self.rev,
        }
        if with_script:
            body["script"] = self.script
        return body


@dataclass(frozen=True)
class Revision:
    snippet_id: int
    rev: int
    title: str
    language: str
    script: str
    description: str
    tags: list[str]
    options: dict[str, Any]
    saved: float

    def to_dict(self, *, with_script: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {
            "snippet_id": self.snippet_id,
            "rev": self.rev,
            "title": self.title,
            "language": self.language,
            "description": self.description,
            "tags": self.tags,
            "options": self.options,
            "saved": iso(self.saved),
        }
        if with_script:
            body["script"] = self.script
        return body


_SNIPPET_COLS = "id, title, language, script, description, tags, options, created, updated, rev"
_REVISION_COLS = "snippet_id, rev, title, language, script, description, tags, options, saved"


def _snippet(row: Sequence[Any]) -> Snippet:
    return Snippet(
        id=row[0],
        title=row[1],
        language=row[2],
        script=row[3],
        description=row[4],
        tags=json.loads(row[5]),
        options=json.loads(row[6]),
        created=row[7],
        updated=row[8],
        rev=row[9],
    )


def _revision(row: Sequence[Any]) -> Revision:
    return Revision(
        snippet_id=row[0],
        rev=row[1],
        title=row[2],
        language=row[3],
        script=row[4],
        description=row[5],
        tags=json.loads(row[6]),
        options=json.loads(row[7]),
        saved=row[8],
    )


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


class SnippetStore:
    """All snippet reads and writes.  Thread-safe: one SQLite connection per thread."""

    def __init__(
        self,
        path: Path | str,
        *,
        max_script_bytes: int = 256 * 1024,
        use_fts: bool | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.max_script_bytes = max_script_bytes
        self.clock = clock
        self._idle: list[sqlite3.Connection] = []
        self._closed = False
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fts = fts5_available() if use_fts is None else use_fts
        self._migrate(fts)
        with closing(self._connect()) as db:
            self.fts = bool(
                db.execute("SELECT 1 FROM sqlite_master WHERE name = 'snippets_fts'").fetchone()
            )
        self._purge_deleted()

    @classmethod
    def for_settings(cls, settings: Settings) -> SnippetStore:
        return cls(data_dir(settings) / DB_NAME, max_script_bytes=settings.max_script_bytes)

    # -- connections and transactions

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = FULL")
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("PRAGMA busy_timeout = 30000")
        return db

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        """A pooled connection; SQLite connections are cheap but not free to open."""
        with self._lock:
            db = self._idle.pop() if self._idle else None
        if db is None:
            db = self._connect()
        try:
            yield db
        finally:
            with self._lock:
                keep = not self._closed and len(self._idle) < POOL_SIZE and not db.in_transaction
                if keep:
                    self._idle.append(db)
            if not keep:
                db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; taken IMMEDIATE so two writers queue instead of deadlocking."""
        with self._conn() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for db in idle:
            db.close()

    def _migrate(self, fts: bool) -> None:
        with closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
                row = db.execute("SELECT version FROM schema_version").fetchone()
                version = row[0] if row else 0
                if row is None:
                    db.execute("INSERT INTO schema_version (version) VALUES (0)")
                if version > SCHEMA_VERSION:
                    raise RuntimeError(
                        f"{self.path} has schema version {version}; this dtrace-ide knows "
                        f"up to {SCHEMA_VERSION} (a newer release wrote it)"
                    )
                for number in range(version + 1, SCHEMA_VERSION + 1):
                    MIGRATIONS[number - 1](db, fts)
                    db.execute("UPDATE schema_version SET version = ?", (number,))
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    @property
    def search_kind(self) -> str:
        """``fts5`` (ranked words, prefixes) or ``like`` when this SQLite lacks FTS5."""
        return "fts5" if self.fts else "like"

    def schema_version(self) -> int:
        with self._conn() as db:
            row = db.execute("SELECT version FROM schema_version").fetchone()
        return int(row[0])

    def _purge_deleted(self) -> None:
        cutoff = self.clock() - PURGE_DELETED_AFTER_S
        with self._write() as db:
            db.execute("DELETE FROM snippets WHERE deleted IS NOT NULL AND deleted < ?", (cutoff,))

    # -- reads

    def get(self, snippet_id: int) -> Snippet:
        with self._conn() as db:
            return self._get_in(db, snippet_id)

    def find(
        self, *, query: str = "", language: str | None = None, limit: int = 1000
    ) -> list[Snippet]:
        """Newest first; ``query`` matches every word (as a prefix) in title, description,
        script or tags."""
        where = ["s.deleted IS NULL"]
        params: list[Any] = []
        if language is not None:
            where.append("s.language = ?")
            params.append(language)
        words = _WORD.findall(query)
        if words:
            clause, clause_params = self._search_clause(words)
            where.append(clause)
            params.extend(clause_params)
        sql = (
            f"SELECT {', '.join('s.' + c.strip() for c in _SNIPPET_COLS.split(','))} "
            f"FROM snippets s WHERE {' AND '.join(where)} "
            "ORDER BY s.updated DESC, s.id DESC LIMIT ?"
        )
        params.append(limit)
        with self._conn() as db:
            return [_snippet(r) for r in db.execute(sql, params)]

    def _search_clause(self, words: list[str]) -> tuple[str, list[Any]]:
        if self.fts:
            # Each word quoted (so no FTS syntax leaks through) and matched as a prefix.
            match = " ".join('"' + w.replace('"', '""') + '"*' for w in words)
            return "s.id IN (SELECT rowid FROM snippets_fts WHERE snippets_fts MATCH ?)", [match]
        parts = []
        params: list[Any] = []
        for w in words:
            parts.append(
                "instr(lower(s.title || char(10) || s.description || char(10) || s.script"
                " || char(10) || s.tags), ?) > 0"
            )
            params.append(w.lower())
        return "(" + " AND ".join(parts) + ")", params

    def revisions(self, snippet_id: int) -> list[Revision]:
        with self._conn() as db:
            self._get_in(db, snippet_id)
            rows = db.execute(
                f"SELECT {_REVISION_COLS} FROM revisions WHERE snippet_id = ? ORDER BY rev DESC",
                (snippet_id,),
            ).fetchall()
        return [_revision(r) for r in rows]

    def revision(self, snippet_id: int, rev: int) -> Revision:
        with self._conn() as db:
            self._get_in(db, snippet_id)
            row = db.execute(
                f"SELECT {_REVISION_COLS} FROM revisions WHERE snippet_id = ? AND rev = ?",
                (snippet_id, rev),
            ).fetchone()
        if row is None:
            raise NotFound(f"snippet {snippet_id} has no revision {rev}")
        return _revision(row)

    # -- writes

    def create(self, data: Any) -> Snippet:
        fields = validate(data, max_script_bytes=self.max_script_bytes)
        with self._write() as db:
            return self._insert(db, fields)

    def _insert(self, db: sqlite3.Connection, fields: Mapping[str, Any]) -> Snippet:
        now = self.clock()
        cur = db.execute(
            "INSERT INTO snippets (title, language, script, description, tags, options, "
            "created, updated, rev) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)",
            (
                fields["title"],
                fields["language"],
                fields["script"],
                fields["description"],
                _json(fields["tags"]),
                _json(fields["options"]),
                now,
                now,
            ),
        )
        snippet_id = int(cur.lastrowid or 0)
        self._record_revision(db, snippet_id, 1, fields, now)
        return self._get_in(db, snippet_id)

    def update(self, snippet_id: int, data: Any, *, base_rev: int | None = None) -> Snippet:
        """Save the fields given (the rest stay); the new version becomes a revision."""
        fields = validate(data, max_script_bytes=self.max_script_bytes, partial=True)
        with self._write() as db:
            return self._save(db, snippet_id, fields, base_rev)

    def _save(
        self,
        db: sqlite3.Connection,
        snippet_id: int,
        fields: Mapping[str, Any],
        base_rev: int | None,
    ) -> Snippet:
        current = self._get_in(db, snippet_id)
        if base_rev is not None and base_rev != current.rev:
            raise Conflict(current.rev)
        merged = {
            "title": current.title,
            "language": current.language,
            "script": current.script,
            "description": current.description,
            "tags": current.tags,
            "options": current.options,
        }
        merged.update(fields)
        if all(merged[k] == getattr(current, k) for k in FIELDS):
            return current  # nothing changed: no new revision
        now = max(self.clock(), current.updated)
        rev = current.rev + 1
        db.execute(
            "UPDATE snippets SET title = ?, language = ?, script = ?, description = ?, "
            "tags = ?, options = ?, updated = ?, rev = ? WHERE id = ?",
            (
                merged["title"],
                merged["language"],
                merged["script"],
                merged["description"],
                _json(merged["tags"]),
                _json(merged["options"]),
                now,
                rev,
                snippet_id,
            ),
        )
        self._record_revision(db, snippet_id, rev, merged, now)
        return self._get_in(db, snippet_id)

    def restore_revision(self, snippet_id: int, rev: int) -> Snippet:
        """Make revision ``rev`` current again, as a new revision (history is never lost)."""
        with self._write() as db:
            self._get_in(db, snippet_id)
            old = db.execute(
                f"SELECT {_REVISION_COLS} FROM revisions WHERE snippet_id = ? AND rev = ?",
                (snippet_id, rev),
            ).fetchone()
            if old is None:
                raise NotFound(f"snippet {snippet_id} has no revision {rev}")
            r = _revision(old)
            fields = {
                "title": r.title,
                "language": r.language,
                "script": r.script,
                "description": r.description,
                "tags": r.tags,
                "options": r.options,
            }
            return self._save(db, snippet_id, fields, None)

    def delete(self, snippet_id: int) -> None:
        with self._write() as db:
            self._get_in(db, snippet_id)
            db.execute("UPDATE snippets SET deleted = ? WHERE id = ?", (self.clock(), snippet_id))

    def undelete(self, snippet_id: int) -> Snippet:
        with self._write() as db:
            cur = db.execute(
                "UPDATE snippets SET deleted = NULL WHERE id = ? AND deleted IS NOT NULL",
                (snippet_id,),
            )
            if cur.rowcount == 0:
                raise NotFound(f"no deleted snippet {snippet_id}")
            return self._get_in(db, snippet_id)

    def import_many(self, items: Sequence[Any]) -> list[Snippet]:
        """Add every item as a new snippet, all or none."""
        cleaned = []
        for index, item in enumerate(items):
            try:
                cleaned.append(validate(item, max_script_bytes=self.max_script_bytes))
            except SnippetError as err:
                raise SnippetError(err.field, f"snippet #{index + 1}: {err.message}") from None
        with self._write() as db:
            return [self._insert(db, fields) for fields in cleaned]

    def export(self) -> dict[str, Any]:
        snippets = self.find(limit=1_000_000)
        return {
            "format": EXPORT_FORMAT,
            "version": EXPORT_VERSION,
            "exported": iso(self.clock()),
            "snippets": [
                {k: v for k, v in s.to_dict().items() if k not in ("id", "rev")}
                for s in reversed(snippets)
            ],
        }

    # -- helpers inside a transaction

    def _get_in(self, db: sqlite3.Connection, snippet_id: int) -> Snippet:
        row = db.execute(
            f"SELECT {_SNIPPET_COLS} FROM snippets WHERE id = ? AND deleted IS NULL",
            (snippet_id,),
        ).fetchone()
        if row is None:
            raise NotFound(f"no snippet {snippet_id}")
        return _snippet(row)

    def _record_revision(
        self, db: sqlite3.Connection, snippet_id: int, rev: int, f: Mapping[str, Any], now: float
    ) -> None:
        db.execute(
            f"INSERT INTO revisions ({_REVISION_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                snippet_id,
                rev,
                f["title"],
                f["language"],
                f["script"],
                f["description"],
                _json(f["tags"]),
                _json(f["options"]),
                now,
            ),
        )


class ExportFile(msgspec.Struct, frozen=True):
    """What ``export`` writes, as import reads it: each snippet is checked by ``validate``."""

    snippets: list[Any]
    format: Literal["dtrace-ide-snippets"] | None = None  # EXPORT_FORMAT
    version: Annotated[int, msgspec.Meta(le=EXPORT_VERSION)] = EXPORT_VERSION


def parse_import(body: Any) -> list[Any]:
    """The snippets of an export file (or a bare list of snippets)."""
    if isinstance(body, list):
        return body
    if not isinstance(body, dict):
        raise SnippetError("body", "expected an exported snippets file (a JSON object)")
    try:
        return msgspec.convert(body, ExportFile).snippets
    except msgspec.ValidationError as exc:
        detail = str(exc)
    if "$.format" in detail:
        raise SnippetError("format", f'format must be "{EXPORT_FORMAT}"')
    if "$.version" in detail:
        raise SnippetError("version", f"unsupported export version {body.get('version')!r}")
    raise SnippetError("snippets", "snippets must be a list")
