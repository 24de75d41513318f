"""Who gets in, and every limit in ide/config.py, against the real server and bpftrace."""

from __future__ import annotations

import contextlib
import hmac
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websocket

from ide import create_app
from ide.config import TRACER_OPTIONS, Settings
from ide.web import auth, limits
from tests.conftest import ROOT, LiveServer, start_server, stop_server, tracer_ready

pytestmark = pytest.mark.skipif(tracer_ready() is not None, reason=str(tracer_ready()))

IDLE = "interval:s:100 { exit(); }"  # cheap: one perf event, fires never within a test
DEFAULTS = Settings(token="-")


# --- helpers -------------------------------------------------------------------------------


def call(
    server: LiveServer,
    method: str,
    path: str,
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
    token: str | None = "default",
    source: str | None = None,
    raw: bytes | None = None,
) -> tuple[int, dict[str, str], Any]:
    """One HTTP request with full control of headers and the source address."""
    port = int(server.base.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=60, source_address=(source, 0) if source else None
    )
    hdrs = dict(headers or {})
    if token == "default":
        token = server.token
    if token is not None:
        hdrs["Authorization"] = f"Bearer {token}"
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    try:
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        payload = resp.read()
        ctype = resp.getheader("Content-Type", "")
        parsed = json.loads(payload) if "json" in ctype and payload else payload.decode()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, parsed
    finally:
        conn.close()


def start_run(
    server: LiveServer, script: str = IDLE, source: str | None = None, **fields: Any
) -> str:
    status, _, body = call(
        server,
        "POST",
        "/api/runs",
        {"language": "bpftrace", "script": script, **fields},
        source=source,
    )
    assert status == 201, body
    run_id: str = body["id"]
    return run_id


def get_run(server: LiveServer, run_id: str) -> dict[str, Any]:
    status, _, body = call(server, "GET", f"/api/runs/{run_id}")
    assert status == 200, body
    return dict(body)


def wait_for(server: LiveServer, run_id: str, pred: Any, timeout: float = 20) -> dict[str, Any]:
    return server.wait_run(run_id, pred, timeout)


def stop_all(server: LiveServer) -> None:
    _, _, body = call(server, "GET", "/api/runs")
    for run in body["runs"]:
        if run["state"] == "running":
            call(server, "DELETE", f"/api/runs/{run['id']}")


def error_code(body: Any) -> str:
    assert isinstance(body, dict) and set(body) == {"error"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    code: str = body["error"]["code"]
    return code


def proc_file(pid: int, name: str) -> bytes:
    return Path(f"/proc/{pid}/{name}").read_bytes()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server of our own: the bad-token tests must not throttle the shared one."""
    s = start_server(
        tmp_path_factory.mktemp("security"),
        env={"DTRACE_IDE_MAX_BAD_TOKENS_PER_MINUTE": "3", "BPFTRACE_MAP_KEYS_MAX": "9999999"},
    )
    yield s
    stop_server(s)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server with small caps, so each is cheap to reach."""
    s = start_server(
        tmp_path_factory.mktemp("small-caps"),
        env={
            "DTRACE_IDE_MAX_ROWS_PER_AGGREGATION": "5",
            "DTRACE_IDE_MAX_OUTPUT_BYTES_PER_S": "2000",
            "DTRACE_IDE_MAX_OUTPUT_LINES": "50",
            "DTRACE_IDE_MAX_UNWATCHED_S": "1.5",
        },
    )
    yield s
    stop_server(s)


# --- who gets in ---------------------------------------------------------------------------


def test_the_right_token_gets_in_and_wrong_ones_do_not(server: LiveServer) -> None:
    assert call(server, "GET", "/api/limits")[0] == 200
    for wrong in (server.token + "x", server.token[:-1]):
        status, _, body = call(server, "GET", "/api/limits", token=wrong, source="127.0.0.9")
        assert status == 401 and error_code(body) == "unauthorized"
    status, _, body = call(server, "GET", "/api/limits", token=None)
    assert status == 401 and error_code(body) == "unauthorized"


def test_the_token_is_compared_with_compare_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        seen.append((a, b))
        return bool(real(a, b))

    monkeypatch.setattr(hmac, "compare_digest", spy)
    app = create_app({"token": "sekrit", "backend": "bpftrace"})
    client = app.test_client()
    assert client.get("/api/limits", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/api/limits", headers={"Authorization": "Bearer sekrit"}).status_code == 200
    # Both sides hashed to 32 bytes first, so not even the token's length leaks.
    assert seen and all(len(a) == len(b) == 32 for a, b in seen[:2])


def test_the_url_token_becomes_an_httponly_strict_cookie(server: LiveServer) -> None:
    status, headers, _ = call(server, "GET", f"/?token={server.token}", token=None)
    assert status == 303
    assert headers["location"] == "/"
    cookie = headers["set-cookie"]
    port = server.base.rsplit(":", 1)[1]
    assert cookie.startswith(f"dtrace_ide_session_{port}=")
    flags = {p.strip().lower() for p in cookie.split(";")[1:]}
    assert "httponly" in flags
    assert "samesite=strict" in flags
    assert "path=/" in flags
    assert "secure" not in flags  # plain HTTP here; see the TLS test below
    assert server.token not in cookie


def test_under_tls_the_cookie_is_secure_too() -> None:
    app = create_app({"token": "t", "tls": True, "backend": "bpftrace"})
    resp = app.test_client().get("/?token=t")
    flags = {p.strip().lower() for p in resp.headers["Set-Cookie"].split(";")[1:]}
    assert {"secure", "httponly", "samesite=strict"} <= flags


def cookie_name(server: LiveServer) -> str:
    return "dtrace_ide_session_" + server.base.rsplit(":", 1)[1]


def signed_in(server: LiveServer) -> tuple[str, str]:
    """The session cookie and the page's CSRF token, as the browser gets them."""
    _, headers, _ = call(server, "GET", f"/?token={server.token}", token=None)
    cookie = headers["set-cookie"].split(";")[0]
    status, _, page = call(server, "GET", "/", headers={"Cookie": cookie}, token=None)
    assert status == 200
    m = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
    assert m, page[:500]
    return cookie, m.group(1)


def test_cookie_auth_needs_the_csrf_header_to_change_state(server: LiveServer) -> None:
    cookie, csrf = signed_in(server)
    body = {"language": "bpftrace", "script": "BEGIN { exit(); }"}
    assert call(server, "GET", "/api/limits", headers={"Cookie": cookie}, token=None)[0] == 200
    for extra in ({}, {auth.CSRF_HEADER: "nope"}, {auth.CSRF_HEADER: csrf + "0"}):
        status, _, err = call(
            server, "POST", "/api/compile", body, headers={"Cookie": cookie, **extra}, token=None
        )
        assert status == 403 and error_code(err) == "csrf"
    status, _, result = call(
        server,
        "POST",
        "/api/compile",
        body,
        headers={"Cookie": cookie, auth.CSRF_HEADER: csrf},
        token=None,
    )
    assert status == 200 and result["ok"] is True


def test_a_forged_cookie_is_not_a_session(server: LiveServer) -> None:
    status, _, body = call(
        server,
        "GET",
        "/api/limits",
        headers={"Cookie": f"{cookie_name(server)}=deadbeef"},
        token=None,
    )
    assert status == 401 and error_code(body) == "unauthorized"


def test_each_sign_in_is_a_random_session_with_its_own_csrf_token(server: LiveServer) -> None:
    first, first_csrf = signed_in(server)
    second, second_csrf = signed_in(server)
    assert first != second and first_csrf != second_csrf
    derived = hmac.new(server.token.encode(), b"session", "sha256").hexdigest()
    assert derived not in first and derived not in second  # not a function of the token
    for cookie in (first, second):
        assert call(server, "GET", "/api/limits", headers={"Cookie": cookie}, token=None)[0] == 200
    body = {"language": "bpftrace", "script": "BEGIN { exit(); }"}
    status, _, err = call(
        server,
        "POST",
        "/api/compile",
        body,
        headers={"Cookie": first, auth.CSRF_HEADER: second_csrf},
        token=None,
    )
    assert status == 403 and error_code(err) == "csrf"


def test_sign_out_ends_the_session_and_clears_its_cookie(server: LiveServer) -> None:
    cookie, csrf = signed_in(server)
    other, _ = signed_in(server)
    status, _, err = call(server, "POST", "/api/signout", headers={"Cookie": cookie}, token=None)
    assert status == 403 and error_code(err) == "csrf"
    status, headers, body = call(
        server,
        "POST",
        "/api/signout",
        headers={"Cookie": cookie, auth.CSRF_HEADER: csrf},
        token=None,
    )
    assert status == 200 and body == {"signed_out": True}
    cleared = headers["set-cookie"]
    assert cleared.startswith(cookie_name(server) + "=;") and "max-age=0" in cleared.lower()
    status, _, err = call(server, "GET", "/api/limits", headers={"Cookie": cookie}, token=None)
    assert status == 401 and error_code(err) == "unauthorized"
    assert call(server, "GET", "/api/limits", headers={"Cookie": other}, token=None)[0] == 200


def test_the_cookie_is_named_after_the_port_and_works_on_its_server_only(
    server: LiveServer, small: LiveServer
) -> None:
    cookie, _ = signed_in(server)
    name, secret = cookie.split("=", 1)
    assert name == cookie_name(server) != cookie_name(small)
    for other_name in (name, cookie_name(small)):
        status, _, _ = call(
            small, "GET", "/api/limits", headers={"Cookie": f"{other_name}={secret}"}, token=None
        )
        assert status == 401


def test_an_idle_session_expires() -> None:
    app = create_app({"token": "t", "backend": "bpftrace", "session_idle_s": 0.3})
    client = app.test_client()
    assert client.get("/?token=t").status_code == 303
    assert client.get("/api/limits").status_code == 200
    time.sleep(0.2)
    assert client.get("/api/limits").status_code == 200  # use keeps it alive
    time.sleep(0.5)
    assert client.get("/api/limits").status_code == 401


def test_the_session_table_is_bounded_and_drops_the_least_recently_used() -> None:
    sessions = limits.Sessions(idle_s=100, max_sessions=3)
    secrets = [sessions.create(now=float(i))[0] for i in range(3)]
    assert sessions.get(secrets[0], now=3.0) is not None  # now the most recently used
    fourth, _ = sessions.create(now=4.0)
    assert len(sessions) == 3
    assert sessions.get(secrets[1], now=5.0) is None
    assert all(sessions.get(x, now=5.0) for x in (secrets[0], secrets[2], fourth))
    assert sessions.get(fourth, now=200.0) is None  # idle past idle_s


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8400", "127.0.0.1.nip.io"])
def test_a_foreign_host_is_refused_even_with_the_token(server: LiveServer, host: str) -> None:
    status, _, body = call(server, "GET", "/api/limits", headers={"Host": host})
    assert status == 421 and error_code(body) == "bad_host"
    # The page itself too: a rebinding page must not even learn that the server is there.
    status, _, body = call(server, "GET", "/", headers={"Host": host}, token=None)
    assert status == 421


def test_our_own_host_names_are_accepted(server: LiveServer) -> None:
    port = server.base.rsplit(":", 1)[1]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
        assert call(server, "GET", "/api/limits", headers={"Host": host})[0] == 200


def ws_url(server: LiveServer, run_id: str) -> str:
    return server.base.replace("http", "ws", 1) + f"/api/runs/{run_id}/stream"


@pytest.mark.parametrize("origin", [None, "http://evil.example", "null", "http://127.0.0.1:1"])
def test_websockets_refuse_a_missing_or_foreign_origin(
    server: LiveServer, origin: str | None
) -> None:
    run_id = start_run(server)
    try:
        kwargs: dict[str, Any] = {"suppress_origin": True} if origin is None else {"origin": origin}
        with pytest.raises(websocket.WebSocketBadStatusException) as err:
            websocket.create_connection(
                ws_url(server, run_id), header=[f"Authorization: Bearer {server.token}"], **kwargs
            )
        assert err.value.status_code == 403
        # The same request from our own page is accepted.
        ws = websocket.create_connection(
            ws_url(server, run_id),
            header=[f"Authorization: Bearer {server.token}"],
            origin=server.base,
        )
        assert json.loads(ws.recv())["type"] == "state"
        ws.close()
    finally:
        call(server, "DELETE", f"/api/runs/{run_id}")


def test_a_websocket_without_token_or_viewer_key_is_refused(server: LiveServer) -> None:
    run_id = start_run(server)
    try:
        with pytest.raises(websocket.WebSocketBadStatusException) as err:
            websocket.create_connection(ws_url(server, run_id) + "?key=nope", origin=server.base)
        assert err.value.status_code == 401
        key = get_run(server, run_id)["viewer_url"].split("key=")[1]
        ws = websocket.create_connection(ws_url(server, run_id) + f"?key={key}", origin=server.base)
        assert json.loads(ws.recv())["type"] == "state"
        ws.close()
    finally:
        call(server, "DELETE", f"/api/runs/{run_id}")


def test_a_revoked_viewer_key_opens_no_websocket_and_a_new_one_does(server: LiveServer) -> None:
    run_id = start_run(server)
    try:
        old = get_run(server, run_id)["viewer_url"].split("key=")[1]
        assert call(server, "DELETE", f"/api/runs/{run_id}/viewer-link")[0] == 200
        with pytest.raises(websocket.WebSocketBadStatusException) as err:
            websocket.create_connection(ws_url(server, run_id) + f"?key={old}", origin=server.base)
        assert err.value.status_code == 401
        status, _, body = call(server, "POST", f"/api/runs/{run_id}/viewer-link", {})
        assert status == 200
        key = body["viewer_url"].split("key=")[1]
        ws = websocket.create_connection(ws_url(server, run_id) + f"?key={key}", origin=server.base)
        assert json.loads(ws.recv())["type"] == "state"
        ws.close()
    finally:
        call(server, "DELETE", f"/api/runs/{run_id}")


def test_a_stream_opened_with_a_viewer_link_ends_when_the_link_is_revoked(
    server: LiveServer,
) -> None:
    run_id = start_run(server)
    try:
        key = get_run(server, run_id)["viewer_url"].split("key=")[1]
        ws = websocket.create_connection(
            ws_url(server, run_id) + f"?key={key}&replay=1", origin=server.base, timeout=30
        )
        token_ws = websocket.create_connection(
            ws_url(server, run_id) + "?replay=1",
            header=[f"Authorization: Bearer {server.token}"],
            origin=server.base,
            timeout=30,
        )
        assert json.loads(ws.recv())["type"] == "state"
        revoked = time.monotonic()
        assert call(server, "DELETE", f"/api/runs/{run_id}/viewer-link")[0] == 200
        said = None
        with contextlib.suppress(websocket.WebSocketConnectionClosedException):
            while raw := ws.recv():
                msg = json.loads(raw)
                if msg["type"] == "error":
                    said = msg
        assert said is not None and said["code"] == "link_refused", said
        assert "revoked" in said["message"]
        assert time.monotonic() - revoked < 15
        # The signed-in page's own stream goes on.
        token_ws.settimeout(10)
        assert json.loads(token_ws.recv())["type"] in {"state", "snapshot", "output"}
        token_ws.close()
    finally:
        call(server, "DELETE", f"/api/runs/{run_id}")


def test_repeated_wrong_tokens_from_one_address_are_answered_429(server: LiveServer) -> None:
    cookie, _ = signed_in(server)
    me = "127.0.0.7"
    for _ in range(3):  # the server's limit is 3 a minute
        assert call(server, "GET", "/api/limits", token="guess", source=me)[0] == 401
    status, headers, body = call(server, "GET", "/api/limits", token="guess", source=me)
    assert status == 429 and error_code(body) == "too_many_bad_tokens"
    assert 1 <= int(headers["retry-after"]) <= 60
    status, _, _ = call(server, "GET", "/?token=guess", token=None, source=me)
    assert status == 429
    # The right token from that same address is still let in, by header and by URL ...
    assert call(server, "GET", "/api/limits", source=me)[0] == 200
    assert call(server, "GET", f"/?token={server.token}", token=None, source=me)[0] == 303
    # ... a signed-in page keeps working, and other addresses are not affected.
    assert (
        call(server, "GET", "/api/limits", headers={"Cookie": cookie}, token=None, source=me)[0]
        == 200
    )
    assert call(server, "GET", "/api/limits", token="guess", source="127.0.0.8")[0] == 401


def test_wrong_tokens_from_many_addresses_are_throttled_in_all_but_never_the_right_one() -> None:
    app = create_app(
        {
            "token": "right",
            "backend": "bpftrace",
            "max_bad_tokens_per_minute": 100,
            "max_bad_tokens_per_minute_all": 5,
        }
    )
    client = app.test_client()

    def get(token: str, address: str) -> int:
        return client.get(
            "/api/limits",
            headers={"Authorization": f"Bearer {token}"},
            environ_base={"REMOTE_ADDR": address},
        ).status_code

    for i in range(5):  # one wrong token each from five addresses of this machine
        assert get("guess", f"127.0.0.{10 + i}") == 401
    assert get("guess", "127.0.0.99") == 429
    assert get("right", "127.0.0.99") == 200
    assert get("right", "127.0.0.10") == 200


def test_the_bad_token_window_slides() -> None:
    t = limits.BadTokenThrottle(limit=2)
    t.failed("a", now=0.0)
    assert t.retry_after("a", now=1.0) == 0
    t.failed("a", now=10.0)
    assert t.retry_after("a", now=11.0) == pytest.approx(49.0)
    assert t.retry_after("b", now=11.0) == 0
    assert t.retry_after("a", now=60.5) == 0  # the first failure left the window


# --- the script policy on the server -------------------------------------------------------


@pytest.mark.parametrize(
    "script",
    [
        'BEGIN { system("id"); exit(); }',
        "BEGIN { signal(9); exit(); }",
        'BEGIN { cat("/etc/shadow"); }',
    ],
)
def test_destructive_scripts_are_refused_by_compile_and_runs(
    server: LiveServer, script: str
) -> None:
    status, _, result = call(
        server, "POST", "/api/compile", {"language": "bpftrace", "script": script}
    )
    assert status == 200 and result["ok"] is False
    (diag,) = result["diagnostics"]
    assert diag["line"] == 1 and diag["column"] == 9 and diag["severity"] == "error"
    assert "--allow-destructive" in diag["message"]
    status, _, body = call(server, "POST", "/api/runs", {"language": "bpftrace", "script": script})
    assert status == 400 and error_code(body) == "script_refused"
    assert body["error"]["diagnostics"] == [diag]


def test_with_allow_destructive_system_really_runs(tmp_path: Path) -> None:
    s = start_server(tmp_path, "--allow-destructive")
    try:
        marker = Path(f"/tmp/dti-{os.getpid()}")  # bpftrace strings stop at 64 bytes
        marker.unlink(missing_ok=True)
        script = f'BEGIN {{ system("touch {marker}"); exit(); }}'
        status, _, result = call(
            s, "POST", "/api/compile", {"language": "bpftrace", "script": script}
        )
        assert status == 200 and result["ok"] is True, result
        run_id = start_run(s, script)
        assert wait_for(s, run_id, lambda b: b["state"] != "running")["state"] == "finished"
        assert marker.exists()
        marker.unlink()
    finally:
        stop_server(s)


def test_the_client_cannot_add_tracer_arguments_or_environment(server: LiveServer) -> None:
    run_id = start_run(
        server,
        IDLE,
        args=["-c", "/bin/sh"],
        command="/bin/sh",
        argv=["--unsafe"],
        env={"BPFTRACE_MAP_KEYS_MAX": "99999999"},
        options={"max_map_keys": 10**9, "max_strlen": 10**6},
    )
    try:
        pid = wait_for(server, run_id, lambda b: b["pid"])["pid"]
        argv = proc_file(pid, "cmdline").split(b"\0")[:-1]
        assert argv[1:] == [b"-f", b"json", b"-"]
        env = dict(e.split(b"=", 1) for e in proc_file(pid, "environ").split(b"\0") if b"=" in e)
        caps = {o.name: o.maximum for o in TRACER_OPTIONS}
        # The server's own BPFTRACE_MAP_KEYS_MAX=9999999 is not passed on either.
        assert env[b"BPFTRACE_MAP_KEYS_MAX"] == str(caps["max_map_keys"]).encode()
        assert env[b"BPFTRACE_STRLEN"] == str(caps["max_strlen"]).encode()
    finally:
        call(server, "DELETE", f"/api/runs/{run_id}")


# --- limits --------------------------------------------------------------------------------


def test_script_size_cap(server: LiveServer) -> None:
    big = "BEGIN { exit(); }\n" + "//" + "x" * DEFAULTS.max_script_bytes
    status, _, body = call(server, "POST", "/api/compile", {"language": "bpftrace", "script": big})
    assert status == 413 and error_code(body) == "script_too_large"
    just = "BEGIN { exit(); }\n//"
    just += "x" * (DEFAULTS.max_script_bytes - len(just))
    status, _, body = call(server, "POST", "/api/compile", {"language": "bpftrace", "script": just})
    assert status == 200 and body["ok"] is True


def test_request_size_cap(server: LiveServer) -> None:
    raw = b'{"language": "bpftrace", "script": "' + b"x" * DEFAULTS.max_request_bytes + b'"}'
    status, _, body = call(
        server, "POST", "/api/runs", raw=raw, headers={"Content-Type": "application/json"}
    )
    assert status == 413 and error_code(body) == "request_entity_too_large"


def test_runs_per_client_and_in_all_are_capped(server: LiveServer) -> None:
    assert (DEFAULTS.max_runs_per_client, DEFAULTS.max_runs_total) == (4, 8)
    stop_all(server)
    script = {"language": "bpftrace", "script": IDLE}
    try:
        # The bearer token is one client, whatever address it comes from.
        for source in ("127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"):
            start_run(server, source=source)
        status, _, body = call(server, "POST", "/api/runs", script, source="127.0.0.5")
        assert status == 429 and "max_runs_per_client" in body["error"]["message"]
        # Each sign-in is a client of its own.
        cookie, csrf = signed_in(server)
        as_page = {"Cookie": cookie, auth.CSRF_HEADER: csrf}
        for _ in range(4):
            status, _, body = call(server, "POST", "/api/runs", script, headers=as_page, token=None)
            assert status == 201, body
        other, other_csrf = signed_in(server)
        status, _, body = call(
            server,
            "POST",
            "/api/runs",
            script,
            headers={"Cookie": other, auth.CSRF_HEADER: other_csrf},
            token=None,
        )
        assert status == 429 and "max_runs_total" in body["error"]["message"]
        _, _, listed = call(server, "GET", "/api/runs")
        assert sum(r["state"] == "running" for r in listed["runs"]) == 8
    finally:
        stop_all(server)
    start_run(server, source="127.0.0.4")  # a freed slot can be used again
    stop_all(server)


def test_a_client_cannot_get_more_runs_by_changing_its_source_address(
    server: LiveServer,
) -> None:
    stop_all(server)
    cookie, csrf = signed_in(server)
    as_page = {"Cookie": cookie, auth.CSRF_HEADER: csrf}
    script = {"language": "bpftrace", "script": IDLE}
    try:
        for i in range(DEFAULTS.max_runs_per_client):
            status, _, body = call(
                server,
                "POST",
                "/api/runs",
                script,
                headers=as_page,
                token=None,
                source=f"127.0.0.{20 + i}",
            )
            assert status == 201, body
        status, _, body = call(
            server, "POST", "/api/runs", script, headers=as_page, token=None, source="127.0.0.2"
        )
        assert status == 429 and "max_runs_per_client" in body["error"]["message"]
    finally:
        stop_all(server)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("duration", 0.05),
        ("duration", -1),
        ("duration", DEFAULTS.max_duration_s + 1),
        ("interval", DEFAULTS.min_interval_s / 2),
        ("interval", 0),
        ("interval", DEFAULTS.max_interval_s + 1),
    ],
)
def test_duration_and_interval_bounds(server: LiveServer, field: str, value: float) -> None:
    status, _, body = call(
        server, "POST", "/api/runs", {"language": "bpftrace", "script": IDLE, field: value}
    )
    assert status == 400 and error_code(body) == f"bad_{field}"


def test_a_run_ends_at_its_duration(server: LiveServer) -> None:
    run_id = start_run(server, IDLE, duration=1)
    body = wait_for(server, run_id, lambda b: b["state"] != "running", timeout=10)
    assert body["state"] == "finished"
    assert 1.0 <= body["elapsed"] < 2.5


def test_output_messages_per_second_are_capped_with_a_visible_count(server: LiveServer) -> None:
    run_id = start_run(server, 'profile:hz:999 { printf("tick\\n"); }', duration=3)
    body = wait_for(server, run_id, lambda b: b["state"] != "running")
    assert body["dropped_output"] > 0
    assert len(body["output"]) <= DEFAULTS.max_output_lines


def test_output_bytes_per_second_are_capped(small: LiveServer) -> None:
    line = "y" * 99  # 100 bytes a line with its newline; the server allows 2000 a second
    script = f'BEGIN {{ unroll(60) {{ printf("{line}\\n"); }} exit(); }}'
    run_id = start_run(small, script)
    body = wait_for(small, run_id, lambda b: b["state"] != "running")
    assert body["state"] == "finished"
    kept, dropped = len(body["output"]), body["dropped_output"]
    assert kept + dropped == 60
    # 20 lines fit in one second's 2000 bytes; the burst may straddle two seconds.
    assert kept in {20, 40}, kept


def test_output_lines_kept_per_run_are_capped(small: LiveServer) -> None:
    script = 'BEGIN { $i = 0; unroll(90) { printf("%d\\n", $i); $i++; } exit(); }'
    run_id = start_run(small, script)
    body = wait_for(small, run_id, lambda b: b["state"] != "running")
    assert body["output"] == [str(i) for i in range(40, 90)]  # the newest 50


def test_rows_per_aggregation_are_capped_and_the_rest_summarised(small: LiveServer) -> None:
    script = "BEGIN { $i = 0; unroll(40) { @r[$i] = sum($i + 1); $i++; } exit(); }"
    run_id = start_run(small, script)
    body = wait_for(small, run_id, lambda b: b["state"] != "running")
    (agg,) = body["snapshot"]["aggregations"]
    assert agg["total_rows"] == 40
    assert sorted(r["key"][0] for r in agg["rows"]) == [35, 36, 37, 38, 39]  # the heaviest


def test_an_unwatched_run_ends_after_max_unwatched(small: LiveServer) -> None:
    run_id = start_run(small, IDLE, keep_running=True)
    t0 = time.monotonic()
    body = wait_for(small, run_id, lambda b: b["state"] != "running", timeout=10)
    took = time.monotonic() - t0
    assert body["state"] == "stopped"
    assert 1.0 <= took < 4.0


def test_tracer_memory_is_capped(server: LiveServer) -> None:
    run_id = start_run(server)
    try:
        pid = wait_for(server, run_id, lambda b: b["pid"])["pid"]
        limits = proc_file(pid, "limits").decode()
        line = next(ln for ln in limits.splitlines() if ln.startswith("Max address space"))
        assert line.split()[3:5] == [str(DEFAULTS.tracer_memory_bytes)] * 2
    finally:
        call(server, "DELETE", f"/api/runs/{run_id}")


def test_the_limits_endpoint_reports_the_caps(server: LiveServer) -> None:
    _, _, body = call(server, "GET", "/api/limits")
    assert body["max_script_bytes"] == DEFAULTS.max_script_bytes
    assert body["max_runs_per_client"] == DEFAULTS.max_runs_per_client
    assert {o["name"]: o["maximum"] for o in body["tracer_options"]} == {
        o.name: o.maximum for o in TRACER_OPTIONS
    }


def test_a_slow_compile_is_cut_at_compile_timeout() -> None:
    app = create_app({"token": "t", "backend": "bpftrace", "compile_timeout_s": 0.001})
    resp = app.test_client().post(
        "/api/compile",
        json={"language": "bpftrace", "script": "BEGIN { exit(); }"},
        headers={"Authorization": "Bearer t"},
    )
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["ok"] is False
    assert "too long" in body["diagnostics"][0]["message"]


# --- where it listens ----------------------------------------------------------------------


def test_by_default_only_localhost_can_connect(server: LiveServer) -> None:
    port = int(server.base.rsplit(":", 1)[1])
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.2", port), timeout=5).close()
    assert "WARNING" not in server.log.read_text()


def test_listening_beyond_localhost_warns_and_shows_the_tunnel(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    with socket.socket() as probe:
        probe.bind(("127.0.0.2", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "ide.cli", "serve", "--host", "127.0.0.2", "--port", str(port)],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env=dict(os.environ, DTRACE_IDE_DATA=str(tmp_path), PYTHONPATH=str(ROOT)),
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 30
        while "Open this URL" not in log.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        text = log.read_text()
        assert "WARNING" in text and "the only guard" in text
        assert "ssh -L" in text and "--certfile" in text
    finally:
        proc.terminate()
        proc.wait(15)
