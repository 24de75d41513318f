"""The API's ``via``: which way a D script is traced, what health says of each language, and
the translation a compile returns (over stand-in tracers; the real ones are in
tests/integration)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from ide import create_app
from ide.tracing.registry import Backends
from ide.web.state import state_of
from tests.unit.test_d_via_bpftrace import BT, D, FakeLibdtrace, backends

HEADERS = {"Authorization": "Bearer t"}


def app_with(tmp_path: Path, found: Backends) -> Flask:
    app = create_app({"token": "t", "data_dir": str(tmp_path)})
    state = state_of(app)
    state.backends.by_language = found.by_language
    state.backends.d_translated = found.d_translated
    return app


def post(app: Flask, url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    resp = app.test_client().post(url, json=body, headers=HEADERS)
    return resp.status_code, resp.get_json()


def test_health_says_which_ways_serve_d_and_which_is_taken(tmp_path: Path) -> None:
    for libdtrace, via, default in [
        (True, ["libdtrace", "bpftrace"], "libdtrace"),
        (False, ["bpftrace"], "bpftrace"),
        (None, ["bpftrace"], "bpftrace"),
    ]:
        app = app_with(tmp_path, backends(libdtrace, True))
        body = app.test_client().get("/api/health", headers=HEADERS).get_json()
        assert body["languages"]["d"] == {"available": True, "via": via, "default": default}
        assert body["languages"]["bpftrace"]["available"] is True


def test_health_says_d_is_unavailable_when_neither_way_works(tmp_path: Path) -> None:
    app = app_with(tmp_path, backends(False, False))
    body = app.test_client().get("/api/health", headers=HEADERS).get_json()
    assert body["languages"]["d"]["available"] is False
    assert body["languages"]["d"]["via"] == []
    reasons = [b["reason"] for b in body["backends"] if b["language"] == "d"]
    assert any(r and r.startswith("D is translated to bpftrace") for r in reasons)


def test_a_compile_via_bpftrace_returns_the_translation(tmp_path: Path) -> None:
    app = app_with(tmp_path, backends(True, True))
    status, body = post(app, "/api/compile", {"language": "d", "script": D, "via": "bpftrace"})
    assert status == 200 and body["ok"] is True
    assert body["translated"] == {"script": BT, "line_map": [[1, 1], [2, 2]]}


def test_a_compile_via_auto_takes_libdtrace_where_it_works(tmp_path: Path) -> None:
    app = app_with(tmp_path, backends(True, True))
    status, body = post(app, "/api/compile", {"language": "d", "script": D})
    assert status == 200 and "translated" not in body
    app = app_with(tmp_path, backends(False, True))
    status, body = post(app, "/api/compile", {"language": "d", "script": D})
    assert status == 200 and body["translated"]["script"] == BT


@pytest.mark.parametrize(
    ("libdtrace", "bpftrace", "via", "says"),
    [(None, True, "libdtrace", 'use via "bpftrace"'), (True, None, "bpftrace", "install it")],
)
def test_a_way_that_is_not_here_is_refused_with_what_to_do(
    tmp_path: Path, libdtrace: bool | None, bpftrace: bool | None, via: str, says: str
) -> None:
    app = app_with(tmp_path, backends(libdtrace, bpftrace))
    for url in ("/api/compile", "/api/runs"):
        status, body = post(app, url, {"language": "d", "script": D, "via": via})
        assert status == 503, body
        assert body["error"]["code"] == "backend_unavailable"
        assert says in body["error"]["message"]


def test_a_run_says_its_way_and_bpftrace_runs_the_translation(tmp_path: Path) -> None:
    found = backends(True, True)
    app = app_with(tmp_path, found)
    status, run = post(app, "/api/runs", {"language": "d", "script": D, "via": "bpftrace"})
    assert status == 201, run
    assert run["via"] == "bpftrace" and run["language"] == "d"
    assert found.by_language["bpftrace"].started == [BT]  # type: ignore[attr-defined]
    status, run = post(app, "/api/runs", {"language": "d", "script": D})
    assert status == 201 and run["via"] == "libdtrace"
    assert isinstance(found.by_language["d"], FakeLibdtrace)
    status, run = post(app, "/api/runs", {"language": "bpftrace", "script": BT})
    assert status == 201 and run["via"] is None
    state_of(app).runs.shutdown()
