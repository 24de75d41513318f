"""A run's viewer link can be made anew, revoked and made to expire: a revoked, expired or
replaced key opens neither the viewer page nor the stream, a restart keeps the link as it
was, and a database of the first schema gains the link's columns. Over a scripted tracer."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from flask import Flask, request

from ide.archive.store import SCHEMA_VERSION, RunArchive, iso
from ide.tracing import viewer_link
from ide.tracing.viewer_link import ViewerLink
from ide.web.errors import ApiError
from ide.web.state import state_of
from tests.unit.test_archive import SCRIPT, app_in, call, recorded_run, restart
from tests.unit.test_reaper import attach

NOW = 1_800_000_000.0


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The links' clock, moved by the test."""
    now = [NOW]
    monkeypatch.setattr(viewer_link, "clock", lambda: now[0])
    return now


def key_of(url: str) -> str:
    return url.split("?key=")[1]


def page(app: Flask, run_id: str, key: str) -> tuple[int, str]:
    resp = app.test_client().get(f"/view/{run_id}?key={key}")
    return resp.status_code, resp.get_data(as_text=True)


def handshake(app: Flask, run_id: str, key: str) -> str | None:
    """What refuses the stream's handshake with ``key`` alone (no token), None if nothing
    does; the guard runs before the socket would be accepted."""
    url = f"/api/runs/{run_id}/stream?key={key}"
    headers = {"Origin": "http://localhost", "Upgrade": "websocket", "Connection": "Upgrade"}
    with app.test_request_context(url, headers=headers):
        assert request.endpoint == "stream"
        try:
            app.preprocess_request()
        except ApiError as exc:
            assert exc.status == 401
            return exc.message
    return None


def live_run(app: Flask, backend: object) -> str:
    status, body = call(app, "POST", "/api/runs", {"language": "bpftrace", "script": SCRIPT})
    assert status == 201, body
    run = state_of(app).runs.get(body["id"])
    assert run is not None
    attach(run, backend)  # type: ignore[arg-type]
    return str(body["id"])


def test_the_rule_opens_only_the_current_key_while_neither_revoked_nor_expired() -> None:
    link = ViewerLink("k" * 24, expires_at=NOW + 60)
    assert link.opens("k" * 24, NOW) == "open"
    assert link.opens("x" * 24, NOW) == "unknown" and link.opens("", NOW) == "unknown"
    assert link.opens("k" * 24, NOW + 60) == "expired"
    assert link.revoked(NOW).opens("k" * 24, NOW) == "revoked"
    assert link.revoked(NOW).revoked(NOW + 5).revoked_at == NOW  # revoked when it first was
    assert ViewerLink("").opens("", NOW) == "unknown"
    assert ViewerLink.new(None, NOW).expires_at is None
    assert ViewerLink.new(3600, NOW).expires_in(NOW + 600) == 3000
    assert link.expires_in(NOW + 120) == 0


def test_a_revoked_link_opens_neither_the_page_nor_the_stream(tmp_path: Path) -> None:
    app, backend = app_in(tmp_path)
    run_id = live_run(app, backend)
    status, body = call(app, "GET", f"/api/runs/{run_id}")
    key = key_of(body["viewer_url"])
    assert body["viewer_expires_at"] is None and body["viewer_revoked"] is False
    assert page(app, run_id, key)[0] == 200 and handshake(app, run_id, key) is None

    status, body = call(app, "DELETE", f"/api/runs/{run_id}/viewer-link")
    assert status == 200 and body == {
        "id": run_id, "viewer_url": None, "viewer_expires_at": None, "viewer_expires_in": None,
        "viewer_revoked": True,
    }  # fmt: skip
    status, text = page(app, run_id, key)
    assert status == 404 and "revoked" in text and "ask whoever shared it for a new link" in text
    assert "revoked" in (handshake(app, run_id, key) or "")
    status, body = call(app, "GET", f"/api/runs/{run_id}")
    assert body["viewer_url"] is None and body["viewer_revoked"] is True
    # The page signed in still streams the run: only the link was revoked.
    assert state_of(app).runs.get(run_id) is not None
    state_of(app).runs.shutdown()


def test_a_new_link_replaces_the_old_one_and_works_after_a_revoke(tmp_path: Path) -> None:
    app, backend = app_in(tmp_path)
    run_id = live_run(app, backend)
    old = key_of(call(app, "GET", f"/api/runs/{run_id}")[1]["viewer_url"])
    assert call(app, "DELETE", f"/api/runs/{run_id}/viewer-link")[0] == 200
    status, body = call(app, "POST", f"/api/runs/{run_id}/viewer-link", {"expires_in": None})
    assert status == 200 and body["viewer_revoked"] is False and body["viewer_expires_at"] is None
    new = key_of(body["viewer_url"])
    assert new != old
    assert page(app, run_id, new)[0] == 200 and handshake(app, run_id, new) is None
    status, text = page(app, run_id, old)
    assert status == 404 and "unknown or expired" in text
    assert "unknown" in (handshake(app, run_id, old) or "")
    # A body is not needed for a link that does not expire.
    resp = app.test_client().post(
        f"/api/runs/{run_id}/viewer-link", headers={"Authorization": "Bearer t"}
    )
    assert resp.status_code == 200 and key_of(resp.get_json()["viewer_url"]) != new
    assert call(app, "GET", f"/api/runs/{run_id}/viewer-link")[1] == resp.get_json()
    state_of(app).runs.shutdown()


def test_a_link_stops_working_when_it_expires(tmp_path: Path, clock: list[float]) -> None:
    app, backend = app_in(tmp_path)
    run_id = live_run(app, backend)
    status, body = call(app, "POST", f"/api/runs/{run_id}/viewer-link", {"expires_in": 3600})
    assert status == 200 and body["viewer_expires_at"] == iso(NOW + 3600)
    assert body["viewer_expires_in"] == 3600
    key = key_of(body["viewer_url"])
    clock[0] += 3599
    assert page(app, run_id, key)[0] == 200 and handshake(app, run_id, key) is None
    assert call(app, "GET", f"/api/runs/{run_id}")[1]["viewer_expires_in"] == 1
    clock[0] += 1
    status, text = page(app, run_id, key)
    assert status == 404 and f"expired at {iso(NOW + 3600)}" in text
    assert "expired" in (handshake(app, run_id, key) or "")
    body = call(app, "GET", f"/api/runs/{run_id}")[1]
    assert body["viewer_url"] is None and body["viewer_expires_in"] == 0
    assert body["viewer_revoked"] is False
    state_of(app).runs.shutdown()


@pytest.mark.parametrize("expires_in", ["soon", True, 0, 0.5, -5, 61, [60], {"s": 1}])
def test_an_expiry_outside_the_cap_or_not_seconds_is_refused(
    tmp_path: Path, expires_in: object
) -> None:
    app, backend = app_in(tmp_path, max_viewer_link_s=60)
    run_id = live_run(app, backend)
    before = call(app, "GET", f"/api/runs/{run_id}/viewer-link")[1]
    status, err = call(app, "POST", f"/api/runs/{run_id}/viewer-link", {"expires_in": expires_in})
    assert status == 400 and err["error"]["code"] == "bad_expires_in"
    assert "from 1 to 60" in err["error"]["message"] and "null" in err["error"]["message"]
    assert call(app, "GET", f"/api/runs/{run_id}/viewer-link")[1] == before  # unchanged
    assert call(app, "POST", f"/api/runs/{run_id}/viewer-link", {"expires_in": 60})[0] == 200
    state_of(app).runs.shutdown()


def test_the_default_cap_is_thirty_days_and_an_unknown_run_is_a_404(tmp_path: Path) -> None:
    app, backend = app_in(tmp_path)
    run_id = live_run(app, backend)
    month = 30 * 86400
    assert call(app, "POST", f"/api/runs/{run_id}/viewer-link", {"expires_in": month})[0] == 200
    status, err = call(app, "POST", f"/api/runs/{run_id}/viewer-link", {"expires_in": month + 1})
    assert status == 400 and "30 days" in err["error"]["message"]
    for method in ("GET", "POST", "DELETE"):
        status, err = call(app, method, "/api/runs/nope/viewer-link")
        assert status == 404 and err["error"]["code"] == "no_such_run"
    state_of(app).runs.shutdown()


def test_a_restart_keeps_the_link_its_expiry_and_its_revocation(
    tmp_path: Path, clock: list[float]
) -> None:
    app, backend = app_in(tmp_path)
    run_id = recorded_run(app, backend, [3])
    status, body = call(app, "POST", f"/api/runs/{run_id}/viewer-link", {"expires_in": 7200})
    key = key_of(body["viewer_url"])
    app, _ = restart(app, tmp_path)
    # From the record alone (not in memory yet), then opened again by the link.
    body = call(app, "GET", f"/api/runs/{run_id}")[1]
    assert state_of(app).runs.get(run_id) is None
    assert body["viewer_url"] == f"/view/{run_id}?key={key}"
    assert body["viewer_expires_at"] == iso(NOW + 7200) and body["viewer_revoked"] is False
    listed = call(app, "GET", "/api/runs")[1]["runs"]
    assert [r["viewer_expires_at"] for r in listed if r["id"] == run_id] == [iso(NOW + 7200)]
    assert page(app, run_id, key)[0] == 200 and handshake(app, run_id, key) is None
    # Revoked on a run opened again from its record, then another restart.
    assert call(app, "DELETE", f"/api/runs/{run_id}/viewer-link")[0] == 200
    app, _ = restart(app, tmp_path)
    body = call(app, "GET", f"/api/runs/{run_id}")[1]
    assert body["viewer_revoked"] is True and body["viewer_url"] is None
    status, text = page(app, run_id, key)
    assert status == 404 and "revoked" in text
    assert "revoked" in (handshake(app, run_id, key) or "")
    # An expiry, too, counts after a restart.
    status, body = call(app, "POST", f"/api/runs/{run_id}/viewer-link", {"expires_in": 60})
    key = key_of(body["viewer_url"])
    app, _ = restart(app, tmp_path)
    assert page(app, run_id, key)[0] == 200
    clock[0] += 60
    assert page(app, run_id, key)[0] == 404 and handshake(app, run_id, key) is not None
    state_of(app).runs.shutdown()


# The runs table as schema version 1 wrote it (before the link could expire or be revoked).
V1_RUNS = """
    CREATE TABLE runs (
        id TEXT PRIMARY KEY, title TEXT NOT NULL DEFAULT '', language TEXT NOT NULL, via TEXT,
        script TEXT NOT NULL, options TEXT NOT NULL DEFAULT '{}', host TEXT NOT NULL DEFAULT '',
        state TEXT NOT NULL, error TEXT, started_at REAL NOT NULL, ended_at REAL,
        duration REAL NOT NULL DEFAULT 0, interval REAL NOT NULL DEFAULT 1,
        elapsed REAL NOT NULL DEFAULT 0, parent TEXT, drill TEXT,
        viewer_key TEXT NOT NULL DEFAULT '', pinned INTEGER NOT NULL DEFAULT 0,
        bytes INTEGER NOT NULL DEFAULT 0, snapshots INTEGER NOT NULL DEFAULT 0, cost TEXT
    )
"""
V1_REST = [
    "CREATE INDEX runs_started ON runs (started_at)",
    "CREATE TABLE snapshots (run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
    " seq INTEGER NOT NULL, t REAL NOT NULL, data BLOB NOT NULL, PRIMARY KEY (run_id, seq))"
    " WITHOUT ROWID",
    "CREATE INDEX snapshots_t ON snapshots (run_id, t)",
    "CREATE TABLE messages (run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
    " seq INTEGER NOT NULL, t REAL NOT NULL, data TEXT NOT NULL, PRIMARY KEY (run_id, seq))"
    " WITHOUT ROWID",
]


def test_a_first_version_database_opens_and_gains_the_links_columns(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    db = sqlite3.connect(path)
    for statement in [V1_RUNS, *V1_REST]:
        db.execute(statement)
    db.execute(
        "INSERT INTO runs (id, language, script, state, started_at, viewer_key)"
        " VALUES ('old', 'bpftrace', 'BEGIN {}', 'finished', 1.0, 'k1')"
    )
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()

    archive = RunArchive(path)
    with archive.reading() as read:
        assert read.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    found = archive.get("old")
    assert found.viewer_key == "k1" and found.script == "BEGIN {}"
    assert found.viewer_expires_at is None and found.viewer_revoked_at is None
    assert archive.set_viewer_link("old", "k2", NOW, None)
    assert not archive.set_viewer_link("missing", "k", None, None)
    archive.close()
    again = RunArchive(path)  # opened at version 2: nothing more to do
    found = again.get("old")
    assert (found.viewer_key, found.viewer_expires_at, found.viewer_revoked_at) == ("k2", NOW, None)
    again.close()
