"""Slow, silent and numerous clients cannot starve the real server (ide/web/worker.py)."""

from __future__ import annotations

import json
import os
import select
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websocket

from tests.conftest import ROOT, LiveServer, free_port, start_server, stop_server, tracer_ready

pytestmark = pytest.mark.skipif(tracer_ready() is not None, reason=str(tracer_ready()))

IDLE = "interval:s:100 { exit(); }"
HALF = b"GET /api/limits HTTP/1.1\r\nHost: 127.0.0.1\r\n"  # no blank line: never ends


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Default caps but a small pool, so that nothing but the server model keeps it free."""
    s = start_server(
        tmp_path_factory.mktemp("busy"),
        env={
            "DTRACE_IDE_HEADER_TIMEOUT_S": "4",
            "DTRACE_IDE_REQUEST_THREADS": "4",
            "DTRACE_IDE_MAX_WEBSOCKETS": "12",
        },
    )
    yield s
    stop_server(s)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Every connection cap small enough to reach with a handful of sockets."""
    s = start_server(
        tmp_path_factory.mktemp("tiny"),
        env={
            "DTRACE_IDE_MAX_CONNECTIONS": "6",
            "DTRACE_IDE_MAX_CONNECTIONS_PER_ADDRESS": "3",
            "DTRACE_IDE_MAX_WEBSOCKETS": "6",
            "DTRACE_IDE_MAX_WEBSOCKETS_PER_RUN": "6",
            "DTRACE_IDE_HEADER_TIMEOUT_S": "1",
            "DTRACE_IDE_BODY_TIMEOUT_S": "1",
            "DTRACE_IDE_KEEPALIVE_S": "1",
            "DTRACE_IDE_SEND_TIMEOUT_S": "1",
            "DTRACE_IDE_MAX_REQUEST_HEAD_BYTES": "4096",
            "DTRACE_IDE_MAX_BUFFERED_REQUEST_BYTES": "100000",
        },
    )
    yield s
    stop_server(s)


# --- helpers -------------------------------------------------------------------------------


def port(server: LiveServer) -> int:
    return int(server.base.rsplit(":", 1)[1])


def connect(server: LiveServer, source: str = "127.0.0.1", rcvbuf: int = 0) -> socket.socket:
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port(server)))
    s.settimeout(10)
    return s


def half_sent(server: LiveServer, source: str = "127.0.0.1") -> socket.socket:
    s = connect(server, source)
    s.sendall(HALF)
    return s


def read_response(s: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP response from ``s`` (read until its Content-Length or the end)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed after {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1]), headers, body


def raw(server: LiveServer, data: bytes, source: str = "127.0.0.1") -> tuple[int, str, Any]:
    """Send ``data`` as it is; the status, Content-Type and (JSON-parsed) body."""
    with connect(server, source) as s:
        s.sendall(data)
        status, headers, body = read_response(s)
    ctype = headers.get("content-type", "")
    return status, ctype, json.loads(body) if "json" in ctype else body


def closed_soon(s: socket.socket, within: float = 3.0) -> bool:
    s.settimeout(within)
    try:
        while s.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        pass
    return True


def authed_get(server: LiveServer, path: str = "/api/limits", source: str = "127.0.0.1") -> int:
    head = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {server.token}\r\n\r\n"
    status, _, _ = raw(server, head.encode(), source)
    return status


def start_run(server: LiveServer) -> tuple[str, str]:
    status, body = server.request("POST", "/api/runs", {"language": "bpftrace", "script": IDLE})
    assert status == 201, body
    return body["id"], body["viewer_url"].split("key=")[1]


def stop_runs(server: LiveServer) -> None:
    _, body = server.request("GET", "/api/runs")
    for run in body["runs"]:
        if run["state"] == "running":
            server.request("DELETE", f"/api/runs/{run['id']}")


def open_stream(
    server: LiveServer, run_id: str, key: str | None = None, source: str = "127.0.0.1"
) -> websocket.WebSocket:
    url = server.base.replace("http", "ws", 1) + f"/api/runs/{run_id}/stream"
    sock = connect(server, source)  # websocket-client has no source address of its own
    if key is not None:
        return websocket.create_connection(
            f"{url}?key={key}", origin=server.base, timeout=10, socket=sock
        )
    return websocket.create_connection(
        url,
        origin=server.base,
        header=[f"Authorization: Bearer {server.token}"],
        timeout=10,
        socket=sock,
    )


def refused_stream(ws: websocket.WebSocket) -> tuple[dict[str, Any], int, str]:
    """The error message and the close code and reason of a stream the server turned away."""
    msg = json.loads(ws.recv())
    opcode, frame = ws.recv_data_frame(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_CLOSE
    code = int.from_bytes(frame.data[:2], "big")
    return msg, code, frame.data[2:].decode()


def timed(fn: Any, *args: Any) -> tuple[Any, float]:
    t0 = time.monotonic()
    out = fn(*args)
    return out, time.monotonic() - t0


# --- starvation ----------------------------------------------------------------------------


def test_half_sent_requests_and_many_viewers_do_not_starve_the_server(busy: LiveServer) -> None:
    run_id, key = start_run(busy)
    held: list[socket.socket] = []
    streams: list[websocket.WebSocket] = []
    try:
        # 100 half-sent requests, from addresses of their own so no per-address cap
        # closes them: they are all still open when the real request comes.
        held = [half_sent(busy, f"127.0.1.{i}") for i in range(1, 101)]
        # 70 streams to one run, half by its viewer link: 8 are let in, 62 turned away.
        for i in range(70):
            ws = open_stream(busy, run_id, key if i % 2 else None)
            first = json.loads(ws.recv())
            if first["type"] == "state":
                streams.append(ws)
                continue
            assert first["code"] == "too_many_streams", first
            assert "max_websockets_per_run" in first["message"]
            opcode, frame = ws.recv_data_frame(control_frame=True)
            assert opcode == websocket.ABNF.OPCODE_CLOSE
            assert int.from_bytes(frame.data[:2], "big") == 1013
            ws.close()
        assert len(streams) == 8
        status, took = timed(authed_get, busy)
        assert status == 200 and took < 2.0, took
        (status, body), took = timed(
            busy.request, "POST", "/api/compile", {"language": "bpftrace", "script": IDLE}
        )
        assert status == 200 and body["ok"] is True and took < 2.0, took
        # The half-sent requests were never dropped to make room ...
        held[0].settimeout(0.05)
        with pytest.raises(TimeoutError):
            held[0].recv(1)
        # ... until their header_timeout_s (4 s from connecting): then 408, in JSON.
        held[-1].settimeout(6)
        status, _headers, body = read_response(held[-1])
        assert status == 408
        assert json.loads(body)["error"]["code"] == "request_timeout"
    finally:
        for s in held:
            s.close()
        for ws in streams:
            ws.close()
        stop_runs(busy)


def test_streams_are_capped_per_run_and_in_all_and_give_their_slot_back(
    busy: LiveServer,
) -> None:
    (a, key_a), (b, _) = start_run(busy), start_run(busy)
    streams: list[websocket.WebSocket] = []
    try:
        for i in range(8):
            streams.append(open_stream(busy, a, key_a if i < 4 else None))
            assert json.loads(streams[-1].recv())["type"] == "state"
        msg, code, reason = refused_stream(open_stream(busy, a, key_a))  # viewer links count
        assert msg["code"] == "too_many_streams" and "max_websockets_per_run" in msg["message"]
        assert code == 1013 and "too many viewers" in reason
        for _ in range(4):
            streams.append(open_stream(busy, b))
            assert json.loads(streams[-1].recv())["type"] == "state"
        msg, code, _ = refused_stream(open_stream(busy, b))
        assert "max_websockets" in msg["message"] and "per_run" not in msg["message"]
        # 12 streams hold 12 threads; request_threads more are left for requests.
        status, took = timed(authed_get, busy)
        assert status == 200 and took < 2.0
        streams.pop(0).close()
        deadline = time.monotonic() + 5
        while True:  # the slot comes back once the server has seen the close
            ws = open_stream(busy, a)
            if json.loads(ws.recv())["type"] == "state":
                streams.append(ws)
                break
            ws.close()
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        for ws in streams:
            ws.close()
        stop_runs(busy)


# --- connection caps -----------------------------------------------------------------------


def test_busy_connections_from_one_address_are_capped(tiny: LiveServer) -> None:
    run_id, _ = start_run(tiny)
    streams = [open_stream(tiny, run_id, source="127.0.0.5") for _ in range(3)]
    try:
        for ws in streams:
            assert json.loads(ws.recv())["type"] == "state"
        status, ctype, body = raw(tiny, b"GET /api/health HTTP/1.1\r\n\r\n", "127.0.0.5")
        assert status == 429 and "json" in ctype
        assert body["error"]["code"] == "too_many_connections"
        assert "max_connections_per_address" in body["error"]["message"]
        assert authed_get(tiny, source="127.0.0.6") == 200
    finally:
        for ws in streams:
            ws.close()
        stop_runs(tiny)


def test_at_the_address_cap_the_oldest_unfinished_request_makes_room(tiny: LiveServer) -> None:
    held = [half_sent(tiny, "127.0.0.7") for _ in range(3)]
    try:
        time.sleep(0.2)
        assert authed_get(tiny, source="127.0.0.7") == 200
        assert closed_soon(held[0], within=0.5)
    finally:
        for s in held:
            s.close()


def test_busy_connections_in_all_are_capped(tiny: LiveServer) -> None:
    run_id, _ = start_run(tiny)
    sources = ["127.0.0.10"] * 3 + ["127.0.0.11"] * 3
    streams = [open_stream(tiny, run_id, source=src) for src in sources]
    try:
        for ws in streams:
            assert json.loads(ws.recv())["type"] == "state"
        status, _, body = raw(tiny, b"GET /api/health HTTP/1.1\r\n\r\n", "127.0.0.12")
        assert status == 503 and body["error"]["code"] == "too_many_connections"
        assert "max_connections" in body["error"]["message"]
    finally:
        for ws in streams:
            ws.close()
        stop_runs(tiny)
    # Not busy, only unfinished: the oldest goes to make room.
    time.sleep(0.3)
    held = [half_sent(tiny, f"127.0.0.{20 + i}") for i in range(6)]
    try:
        time.sleep(0.2)
        assert authed_get(tiny, source="127.0.0.30") == 200
        assert closed_soon(held[0], within=0.5)
    finally:
        for s in held:
            s.close()


# --- deadlines -----------------------------------------------------------------------------


def test_a_request_head_that_trickles_in_is_dropped_at_header_timeout(tiny: LiveServer) -> None:
    with connect(tiny) as s:
        t0 = time.monotonic()
        s.sendall(b"GET /api/limits HTTP/1.1\r\n")
        for byte in b"X-Slow: " + b"a" * 40:  # a byte every 0.1 s: active, never done
            s.sendall(bytes([byte]))
            if select.select([s], [], [], 0.1)[0]:
                break
        took = time.monotonic() - t0
        status, _, body = read_response(s)
    assert status == 408 and json.loads(body)["error"]["code"] == "request_timeout"
    assert 0.9 <= took < 2.5, took


def test_a_body_that_stops_is_dropped_at_body_timeout(tiny: LiveServer) -> None:
    head = (
        "POST /api/compile HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {tiny.token}\r\nContent-Length: 100\r\n\r\n"
    )
    with connect(tiny) as s:
        s.sendall(head.encode() + b'{"language": ')
        status, _, body = read_response(s)
    assert status == 408 and json.loads(body)["error"]["code"] == "request_timeout"


def test_an_idle_kept_alive_connection_is_closed_after_keepalive(tiny: LiveServer) -> None:
    with connect(tiny) as s:
        s.sendall(
            f"GET /api/limits HTTP/1.1\r\nAuthorization: Bearer {tiny.token}\r\n\r\n".encode()
        )
        assert read_response(s)[0] == 200
        t0 = time.monotonic()
        assert closed_soon(s, within=4)
        assert time.monotonic() - t0 < 3


def test_requests_read_but_not_handled_are_capped_in_bytes(tiny: LiveServer) -> None:
    head = b"POST /api/compile HTTP/1.1\r\nContent-Length: 60000\r\n\r\n"
    conns = [connect(tiny, f"127.0.0.{40 + i}") for i in range(3)]
    try:
        for s in conns:
            s.sendall(head + b"x" * 45000)  # 135,000 bytes held in all, past 100,000
            time.sleep(0.1)
        assert closed_soon(conns[0], within=0.5)
        conns[1].settimeout(0.2)
        with pytest.raises(TimeoutError):
            conns[1].recv(1)
    finally:
        for s in conns:
            s.close()


def test_a_client_that_does_not_read_is_dropped_at_send_timeout(tiny: LiveServer) -> None:
    with connect(tiny, rcvbuf=4096) as s:
        s.sendall(b"GET /static-vendor/plotly.min.js HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        time.sleep(3)  # send_timeout_s is 1
        got = b""
        s.settimeout(5)
        try:
            while chunk := s.recv(1 << 20):
                got += chunk
        except ConnectionResetError:
            pass
    head, _, body = got.partition(b"\r\n\r\n")
    length = int(
        next(ln for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length")).split(
            b":"
        )[1]
    )
    assert len(body) < length  # cut off, not waited for
    assert authed_get(tiny) == 200


# --- the server's own error pages ----------------------------------------------------------


@pytest.mark.parametrize(
    ("request_bytes", "status", "code"),
    [
        (b"GET /api/" + b"x" * 5000 + b" HTTP/1.1\r\n\r\n", 414, "request_uri_too_long"),
        (
            b"GET /api/limits HTTP/1.1\r\nX-Big: " + b"x" * 9000 + b"\r\n\r\n",
            431,
            "request_header_fields_too_large",
        ),
        (
            b"GET /api/limits HTTP/1.1\r\n" + b"X-Many: x\r\n" * 150 + b"\r\n",
            431,
            "request_header_fields_too_large",
        ),
        (b"GET /api/limits HTTP/1.1 junk\r\n\r\n", 400, "bad_request"),
        (b"GET /api/limits HTTP/1.1\r\nBad Name: x\r\n\r\n", 400, "bad_request"),
        (
            b"POST /api/compile HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            411,
            "length_required",
        ),
    ],
)
def test_the_servers_own_errors_answer_in_the_json_shape_for_the_api(
    busy: LiveServer, request_bytes: bytes, status: int, code: str
) -> None:
    got, ctype, body = raw(busy, request_bytes)
    assert got == status and "application/json" in ctype, body
    assert set(body) == {"error"} and body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


def test_request_heads_past_max_request_head_bytes_are_431(tiny: LiveServer) -> None:
    head = b"GET /api/limits HTTP/1.1\r\n" + b"X-Pad: " + b"y" * 3000 + b"\r\n"
    head += b"X-Pad2: " + b"y" * 3000 + b"\r\n"
    status, _ctype, body = raw(tiny, head)  # never ends, and past 4096 bytes
    assert status == 431 and body["error"]["code"] == "request_header_fields_too_large"
    assert "max_request_head_bytes" in body["error"]["message"]


def test_pages_keep_a_plain_error_page(busy: LiveServer) -> None:
    status, ctype, _body = raw(busy, b"GET /" + b"x" * 5000 + b" HTTP/1.1\r\n\r\n")
    assert status == 414 and "json" not in ctype


# --- under TLS -----------------------------------------------------------------------------


def test_under_tls_stalled_handshakes_hold_no_thread_and_slow_requests_time_out(
    tmp_path: Path,
) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (apt-get install openssl)")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes"),
            *("-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost"),
        ],
        check=True,
        capture_output=True,
    )
    listen = free_port()
    token = "tls-token-" + os.urandom(6).hex()
    env = dict(
        os.environ,
        DTRACE_IDE_TOKEN=token,
        DTRACE_IDE_DATA=str(tmp_path / "data"),
        DTRACE_IDE_HEADER_TIMEOUT_S="1",
        DTRACE_IDE_REQUEST_THREADS="2",
        PYTHONPATH=str(ROOT),
    )
    args = ["serve", "--port", str(listen), "--certfile", str(cert), "--keyfile", str(key)]
    with (tmp_path / "server.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ide.cli", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ROOT,
        )
    server = LiveServer(f"https://127.0.0.1:{listen}", token, proc, tmp_path / "server.log")
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE

    def authed(s: socket.socket) -> int:
        with ctx.wrap_socket(s, server_hostname="localhost") as tls:
            tls.sendall(
                f"GET /api/limits HTTP/1.1\r\nHost: localhost\r\n"
                f"Authorization: Bearer {token}\r\n\r\n".encode()
            )
            return read_response(tls)[0]

    stalled: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, server.log.read_text()
            try:
                if authed(connect(server)) == 200:
                    break
            except OSError:
                time.sleep(0.2)
        for i in range(20):  # the first bytes of a ClientHello, then nothing
            stalled.append(connect(server, f"127.0.2.{i + 1}"))
            stalled[-1].sendall(b"\x16\x03\x01")
        status, took = timed(authed, connect(server))
        assert status == 200 and took < 2.0, took
        with ctx.wrap_socket(connect(server), server_hostname="localhost") as s:
            s.sendall(HALF)
            status, _, body = read_response(s)
        assert status == 408 and json.loads(body)["error"]["code"] == "request_timeout"
    finally:
        for c in stalled:
            c.close()
        stop_server(server)
