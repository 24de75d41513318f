"""The SQLite snippet store: validation, revisions, search, soft delete, migrations."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ide.snippets import store as store_mod
from ide.snippets.store import (
    SCHEMA_VERSION,
    Conflict,
    NotFound,
    SnippetError,
    SnippetStore,
    parse_import,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


@pytest.fixture(params=["fts5", "like"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SnippetStore]:
    if request.param == "fts5" and not store_mod.fts5_available():
        pytest.skip("this SQLite has no FTS5")
    s = SnippetStore(
        tmp_path / "s.sqlite3", use_fts=request.param == "fts5", clock=Clock(), max_script_bytes=64
    )
    yield s
    s.close()


def snippet(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "title": "Syscalls",
        "language": "bpftrace",
        "script": "tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }"[:60],
        "description": "counts",
        "tags": ["sys"],
        "options": {"duration": 10, "interval": 1, "options": {"bufsize": 1024}},
    }
    base.update(over)
    return base


def test_create_then_get_returns_every_field(store: SnippetStore) -> None:
    created = store.create(snippet(title="  padded title  "))
    got = store.get(created.id)
    assert got == created
    assert got.title == "padded title"
    assert got.tags == ["sys"]
    assert got.options == {"duration": 10, "interval": 1, "options": {"bufsize": 1024}}
    assert got.rev == 1
    assert got.to_dict()["created"].endswith("Z")


def test_every_save_keeps_the_previous_revision(store: SnippetStore) -> None:
    s = store.create(snippet(script="one"))
    store.update(s.id, {"script": "two"})
    store.update(s.id, {"title": "renamed"})
    revs = store.revisions(s.id)
    assert [r.rev for r in revs] == [3, 2, 1]
    assert [r.script for r in revs] == ["two", "two", "one"]
    assert revs[0].title == "renamed" and revs[1].title == "Syscalls"
    assert store.revision(s.id, 1).script == "one"


def test_saving_unchanged_fields_adds_no_revision(store: SnippetStore) -> None:
    s = store.create(snippet())
    again = store.update(s.id, {"script": s.script, "title": s.title})
    assert again.rev == 1
    assert len(store.revisions(s.id)) == 1


def test_restore_makes_an_old_revision_current_as_a_new_revision(store: SnippetStore) -> None:
    s = store.create(snippet(script="first"))
    store.update(s.id, {"script": "second", "title": "B"})
    restored = store.restore_revision(s.id, 1)
    assert (restored.script, restored.title, restored.rev) == ("first", "Syscalls", 3)
    assert [r.script for r in store.revisions(s.id)] == ["first", "second", "first"]


def test_restore_of_a_missing_revision_is_not_found(store: SnippetStore) -> None:
    s = store.create(snippet())
    with pytest.raises(NotFound):
        store.restore_revision(s.id, 9)


def test_base_rev_detects_a_save_made_elsewhere(store: SnippetStore) -> None:
    s = store.create(snippet())
    store.update(s.id, {"script": "x"}, base_rev=1)
    with pytest.raises(Conflict) as err:
        store.update(s.id, {"script": "y"}, base_rev=1)
    assert err.value.current_rev == 2
    assert store.get(s.id).script == "x"


def test_list_is_newest_first_and_filters_language(store: SnippetStore) -> None:
    a = store.create(snippet(title="A"))
    b = store.create(snippet(title="B", language="d"))
    c = store.create(snippet(title="C"))
    assert [s.id for s in store.find()] == [c.id, b.id, a.id]
    store.update(a.id, {"script": "touched"})
    assert [s.id for s in store.find()] == [a.id, c.id, b.id]
    assert [s.id for s in store.find(language="d")] == [b.id]


def test_search_matches_words_in_title_description_or_script(store: SnippetStore) -> None:
    t = store.create(snippet(title="Disk latency", script="x", description=""))
    d = store.create(snippet(title="Other", script="y", description="watch the scheduler"))
    s = store.create(snippet(title="Third", script="@opens[comm] = count();", description=""))
    assert [x.id for x in store.find(query="latency")] == [t.id]
    assert [x.id for x in store.find(query="SCHEDULER")] == [d.id]
    assert [x.id for x in store.find(query="opens")] == [s.id]
    assert [x.id for x in store.find(query="disk latency")] == [t.id]
    assert store.find(query="disk scheduler") == []


def test_search_finds_tags(store: SnippetStore) -> None:
    s = store.create(snippet(title="x", description="", script="y", tags=["latency", "disk"]))
    store.create(snippet(title="other", description="", script="z", tags=["cpu"]))
    assert [x.id for x in store.find(query="latency")] == [s.id]
    store.update(s.id, {"tags": ["net"]})
    assert store.find(query="latency") == []
    assert [x.id for x in store.find(query="net")] == [s.id]


def test_search_follows_edits_and_prefixes(store: SnippetStore) -> None:
    s = store.create(snippet(script="kstack"))
    store.update(s.id, {"script": "ustack profile"})
    assert store.find(query="kstack") == []
    assert [x.id for x in store.find(query="prof")] == [s.id]


def test_search_text_with_query_syntax_is_taken_literally(store: SnippetStore) -> None:
    store.create(snippet(title='quote " NEAR( OR * -x'))
    for q in ['"', "NEAR(", "OR", "*", "-x", "a:b", ")(", "'"]:
        store.find(query=q)  # must not raise a syntax error
    assert len(store.find(query='" OR')) == 1


def test_delete_hides_and_undelete_brings_back_with_history(store: SnippetStore) -> None:
    s = store.create(snippet(script="v1"))
    store.update(s.id, {"script": "v2"})
    store.delete(s.id)
    with pytest.raises(NotFound):
        store.get(s.id)
    assert store.find() == []
    assert store.find(query="v2") == []
    back = store.undelete(s.id)
    assert back.script == "v2"
    assert len(store.revisions(s.id)) == 2
    with pytest.raises(NotFound):
        store.undelete(s.id)


def test_deleted_snippets_are_purged_after_the_undo_window(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "p.sqlite3"
    s = SnippetStore(path, clock=clock)
    gone = s.create(snippet())
    s.delete(gone.id)
    s.close()
    clock.now += store_mod.PURGE_DELETED_AFTER_S + 10
    s = SnippetStore(path, clock=clock)
    with pytest.raises(NotFound):
        s.undelete(gone.id)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM revisions").fetchone()[0] == 0
    s.close()


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": None}, "title"),
        ({"title": 5}, "title"),
        ({"title": "a\nb"}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "nul\x00"}, "title"),
        ({"language": "python"}, "language"),
        ({"language": ["d"]}, "language"),
        ({"script": 1}, "script"),
        ({"script": "x" * 65}, "script"),
        ({"script": "a\x00b"}, "script"),
        ({"description": []}, "description"),
        ({"tags": "a,b"}, "tags"),
        ({"tags": [1]}, "tags"),
        ({"tags": [""]}, "tags"),
        ({"options": []}, "options"),
        ({"options": {"duration": "10"}}, "options"),
        ({"options": {"duration": True}}, "options"),
        ({"options": {"duration": -1}}, "options"),
        ({"options": {"duration": float("inf")}}, "options"),
        ({"options": {"interval": 0}}, "options"),
        ({"options": {"options": {"nosuch": 1}}}, "options"),
        ({"options": {"options": {"bufsize": "big"}}}, "options"),
        ({"options": {"options": {"bufsize": 1.5}}}, "options"),
        ({"options": {"bad key": 1}}, "options"),
        ({"options": {"nested": {"a": 1}}}, "options"),
        ({"surprise": 1}, "body"),
    ],
)
def test_invalid_fields_are_refused_with_the_field_named(
    store: SnippetStore, over: dict[str, Any], field: str
) -> None:
    with pytest.raises(SnippetError) as err:
        store.create(snippet(**over))
    assert err.value.field == field
    assert store.find() == []


def test_missing_title_is_refused() -> None:
    data = snippet()
    del data["title"]
    with pytest.raises(SnippetError, match="title is required"):
        store_mod.validate(data, max_script_bytes=100)


def test_script_limit_counts_utf8_bytes() -> None:
    ok = store_mod.validate(snippet(script="é" * 32), max_script_bytes=64)
    assert ok["script"] == "é" * 32
    with pytest.raises(SnippetError, match="65 bytes; the limit is 64"):
        store_mod.validate(snippet(script="é" * 32 + "x"), max_script_bytes=64)


def test_partial_update_validates_only_given_fields(store: SnippetStore) -> None:
    s = store.create(snippet())
    with pytest.raises(SnippetError):
        store.update(s.id, {"title": ""})
    assert store.get(s.id).title == "Syscalls"


def test_import_is_all_or_nothing(store: SnippetStore) -> None:
    with pytest.raises(SnippetError, match="snippet #2"):
        store.import_many([snippet(title="one"), snippet(title="")])
    assert store.find() == []
    made = store.import_many([snippet(title="one"), snippet(title="two")])
    assert [s.title for s in made] == ["one", "two"]


def test_export_then_import_round_trips(store: SnippetStore) -> None:
    store.create(snippet(title="one", tags=["a", "b"]))
    store.create(snippet(title="two", language="d"))
    exported = json.loads(json.dumps(store.export()))
    assert exported["format"] == "dtrace-ide-snippets"
    again = store.import_many(parse_import(exported))
    assert [(s.title, s.language, s.tags) for s in again] == [
        ("one", "bpftrace", ["a", "b"]),
        ("two", "d", ["sys"]),
    ]


@pytest.mark.parametrize(
    "body",
    [{"format": "other", "snippets": []}, {"snippets": {}}, {"version": 99, "snippets": []}, 5],
)
def test_import_refuses_what_is_not_an_export(body: Any) -> None:
    with pytest.raises(SnippetError):
        parse_import(body)


def test_two_connections_saving_at_once_lose_no_revision(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    first, second = SnippetStore(path), SnippetStore(path)
    s = first.create(snippet(script="0"))
    errors: list[BaseException] = []

    def save(st: SnippetStore, tag: str) -> None:
        try:
            for i in range(40):
                st.update(s.id, {"script": f"{tag}{i}"})
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [
        threading.Thread(target=save, args=(first, "a")),
        threading.Thread(target=save, args=(second, "b")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    revs = first.revisions(s.id)
    assert [r.rev for r in revs] == list(range(81, 0, -1))
    scripts = {r.script for r in revs}
    assert {f"a{i}" for i in range(40)} <= scripts and {f"b{i}" for i in range(40)} <= scripts
    assert first.get(s.id).script == revs[0].script
    first.close()
    second.close()


def test_the_database_is_in_wal_mode(store: SnippetStore) -> None:
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


# An older schema written by hand: version 1 had no soft delete and no search index.
V1_SCHEMA = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version VALUES (1);
CREATE TABLE snippets (
    id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL, language TEXT NOT NULL,
    script TEXT NOT NULL, description TEXT NOT NULL DEFAULT '', tags TEXT NOT NULL DEFAULT '[]',
    options TEXT NOT NULL DEFAULT '{}', created REAL NOT NULL, updated REAL NOT NULL,
    rev INTEGER NOT NULL DEFAULT 1);
CREATE TABLE revisions (
    snippet_id INTEGER NOT NULL REFERENCES snippets(id) ON DELETE CASCADE, rev INTEGER NOT NULL,
    title TEXT NOT NULL, language TEXT NOT NULL, script TEXT NOT NULL, description TEXT NOT NULL,
    tags TEXT NOT NULL, options TEXT NOT NULL, saved REAL NOT NULL,
    PRIMARY KEY (snippet_id, rev));
INSERT INTO snippets VALUES (7, 'Old one', 'd', 'syscall:::entry { @[probefunc] = count(); }',
    'from before', '["legacy"]', '{}', 100.0, 200.0, 2);
INSERT INTO revisions VALUES (7, 1, 'Old one', 'd', 'old body', 'from before', '["legacy"]',
    '{}', 100.0);
INSERT INTO revisions VALUES (7, 2, 'Old one', 'd', 'syscall:::entry { @[probefunc] = count(); }',
    'from before', '["legacy"]', '{}', 200.0);
"""


@pytest.mark.parametrize("use_fts", [True, False])
def test_an_older_schema_is_migrated_and_keeps_its_data(tmp_path: Path, use_fts: bool) -> None:
    if use_fts and not store_mod.fts5_available():
        pytest.skip("this SQLite has no FTS5")
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(V1_SCHEMA)
    s = SnippetStore(path, use_fts=use_fts)
    assert s.schema_version() == SCHEMA_VERSION
    old = s.get(7)
    assert (old.title, old.tags, old.rev) == ("Old one", ["legacy"], 2)
    assert [x.id for x in s.find(query="probefunc")] == [7]  # the new index holds old rows
    assert s.revision(7, 1).script == "old body"
    s.delete(7)  # the column added by migration 2
    assert s.find() == []
    fresh = s.create(snippet())
    assert fresh.id == 8
    s.close()
    again = SnippetStore(path, use_fts=use_fts)  # reopening runs no migration twice
    assert again.schema_version() == SCHEMA_VERSION
    again.close()


def test_a_version_3_database_gains_tag_search(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not store_mod.fts5_available():
        pytest.skip("this SQLite has no FTS5")
    path = tmp_path / "v3.sqlite3"
    monkeypatch.setattr(store_mod, "MIGRATIONS", store_mod.MIGRATIONS[:3])
    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", 3)
    old = SnippetStore(path)
    made = old.create(snippet(title="t", description="", script="s", tags=["flamegraph"]))
    assert old.find(query="flamegraph") == []  # version 3 did not index tags
    old.close()
    monkeypatch.undo()
    new = SnippetStore(path)
    assert new.schema_version() == SCHEMA_VERSION == 4
    assert [x.id for x in new.find(query="flamegraph")] == [made.id]
    assert [x.id for x in new.find(query="s")] == [made.id]
    new.close()


def test_a_newer_schema_is_refused_not_downgraded(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    SnippetStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    with pytest.raises(RuntimeError, match="newer release"):
        SnippetStore(path)


def test_a_failed_migration_leaves_the_old_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "half.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(V1_SCHEMA)

    def broken(db: sqlite3.Connection, fts: bool) -> None:
        db.execute("CREATE TABLE half_done (x)")
        raise sqlite3.OperationalError("disk on fire")

    monkeypatch.setattr(
        store_mod, "MIGRATIONS", (*store_mod.MIGRATIONS[:2], broken, *store_mod.MIGRATIONS[3:])
    )
    with pytest.raises(sqlite3.OperationalError, match="disk on fire"):
        SnippetStore(path)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version FROM schema_version").fetchone()[0] == 1
        names = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
    assert "half_done" not in names
    monkeypatch.undo()
    s = SnippetStore(path)
    assert s.schema_version() == SCHEMA_VERSION
    s.close()


def test_default_data_dir_is_the_per_user_data_directory() -> None:
    import platformdirs

    assert store_mod.default_data_dir() == Path(platformdirs.user_data_dir("dtrace-ide"))


def test_a_duration_of_zero_means_until_stopped_and_is_kept(store: SnippetStore) -> None:
    s = store.create(snippet(options={"duration": 0, "interval": 0.5, "keep_running": True}))
    assert store.get(s.id).options == {"duration": 0, "interval": 0.5, "keep_running": True}


def test_the_data_directory_comes_from_settings_then_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ide.config import Settings

    monkeypatch.setenv("DTRACE_IDE_DATA", str(tmp_path / "env"))
    assert store_mod.data_dir(Settings(data_dir=str(tmp_path / "cfg"))) == tmp_path / "cfg"
    assert store_mod.data_dir(Settings(data_dir="")) == tmp_path / "env"
    monkeypatch.delenv("DTRACE_IDE_DATA")
    assert store_mod.data_dir(Settings(data_dir="")) == store_mod.default_data_dir()
