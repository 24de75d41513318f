"""The snippet database's schema, as numbered migrations applied in order.

Each migration takes the connection and whether SQLite has FTS5 (search falls back to LIKE
without it).  ``PRAGMA user_version`` holds how many have been applied.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

# Ordered; migration N brings the schema from version N-1 to N.  Never edit a shipped one:
# add a new one.


def _m1_tables(db: sqlite3.Connection, fts: bool) -> None:
    db.execute(
        """CREATE TABLE snippets (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            title TEXT NOT NULL,
            language TEXT NOT NULL,
            script TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            tags TEXT NOT NULL DEFAULT '[]',
            options TEXT NOT NULL DEFAULT '{}',
            created REAL NOT NULL,
            updated REAL NOT NULL,
            rev INTEGER NOT NULL DEFAULT 1
        )"""
    )
    db.execute(
        """CREATE TABLE revisions (
            snippet_id INTEGER NOT NULL REFERENCES snippets(id) ON DELETE CASCADE,
            rev INTEGER NOT NULL,
            title TEXT NOT NULL,
            language TEXT NOT NULL,
            script TEXT NOT NULL,
            description TEXT NOT NULL,
            tags TEXT NOT NULL,
            options TEXT NOT NULL,
            saved REAL NOT NULL,
            PRIMARY KEY (snippet_id, rev)
        )"""
    )


def _m2_soft_delete(db: sqlite3.Connection, fts: bool) -> None:
    db.execute("ALTER TABLE snippets ADD COLUMN deleted REAL")
    db.execute("CREATE INDEX snippets_by_updated ON snippets(deleted, updated DESC, id DESC)")


def _m3_search(db: sqlite3.Connection, fts: bool) -> None:
    if not fts:
        return  # searched with LIKE instead; see SnippetStore._search_clause
    db.execute(
        """CREATE VIRTUAL TABLE snippets_fts USING fts5(
            title, description, script, content='snippets', content_rowid='id',
            tokenize='unicode61')"""
    )
    db.execute(
        """CREATE TRIGGER snippets_fts_ai AFTER INSERT ON snippets BEGIN
            INSERT INTO snippets_fts(rowid, title, description, script)
            VALUES (new.id, new.title, new.description, new.script);
        END"""
    )
    db.execute(
        """CREATE TRIGGER snippets_fts_ad AFTER DELETE ON snippets BEGIN
            INSERT INTO snippets_fts(snippets_fts, rowid, title, description, script)
            VALUES ('delete', old.id, old.title, old.description, old.script);
        END"""
    )
    db.execute(
        """CREATE TRIGGER snippets_fts_au AFTER UPDATE OF title, description, script
        ON snippets BEGIN
            INSERT INTO snippets_fts(snippets_fts, rowid, title, description, script)
            VALUES ('delete', old.id, old.title, old.description, old.script);
            INSERT INTO snippets_fts(rowid, title, description, script)
            VALUES (new.id, new.title, new.description, new.script);
        END"""
    )
    db.execute("INSERT INTO snippets_fts(snippets_fts) VALUES ('rebuild')")


def _m4_search_tags(db: sqlite3.Connection, fts: bool) -> None:
    """Tags become searchable: the index is rebuilt with a tags column."""
    for trigger in ("snippets_fts_ai", "snippets_fts_ad", "snippets_fts_au"):
        db.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    db.execute("DROP TABLE IF EXISTS snippets_fts")
    if not fts:
        return
    cols = "title, description, script, tags"
    new_cols = "new.title, new.description, new.script, new.tags"
    old_cols = "old.title, old.description, old.script, old.tags"
    db.execute(
        f"""CREATE VIRTUAL TABLE snippets_fts USING fts5(
            {cols}, content='snippets', content_rowid='id', tokenize='unicode61')"""
    )
    db.execute(
        f"""CREATE TRIGGER snippets_fts_ai AFTER INSERT ON snippets BEGIN
            INSERT INTO snippets_fts(rowid, {cols}) VALUES (new.id, {new_cols});
        END"""
    )
    db.execute(
        f"""CREATE TRIGGER snippets_fts_ad AFTER DELETE ON snippets BEGIN
            INSERT INTO snippets_fts(snippets_fts, rowid, {cols})
            VALUES ('delete', old.id, {old_cols});
        END"""
    )
    db.execute(
        f"""CREATE TRIGGER snippets_fts_au AFTER UPDATE OF {cols} ON snippets BEGIN
            INSERT INTO snippets_fts(snippets_fts, rowid, {cols})
            VALUES ('delete', old.id, {old_cols});
            INSERT INTO snippets_fts(rowid, {cols}) VALUES (new.id, {new_cols});
        END"""
    )
    db.execute("INSERT INTO snippets_fts(snippets_fts) VALUES ('rebuild')")


MIGRATIONS: tuple[Callable[[sqlite3.Connection, bool], None], ...] = (
    _m1_tables,
    _m2_soft_delete,
    _m3_search,
    _m4_search_tags,
)
