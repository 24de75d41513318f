"""The gunicorn worker: a request reaches a thread only once it has arrived whole.

gunicorn's gthread worker gives a connection a thread as soon as its first byte arrives and
then reads the rest of the request on that thread, blocking: 70 clients that each send half
a request hold 64 threads until they hang up.  This worker reads the request line, the
headers and a ``Content-Length`` body in its event loop, without blocking, under deadlines
(``header_timeout_s``, ``body_timeout_s``), and hands the thread pool only requests that are
complete.  A slow or silent client costs a socket and its bytes, never a thread.

Connections are capped in all (``max_connections``) and per client address
(``max_connections_per_address``).  At a cap the oldest connection that is still being read
(or idles between requests) is closed to make room, so a flood of half-sent requests cannot
keep a real request out; only when every connection is busy is the new one refused with
``429``/``503`` in the JSON error shape.  gunicorn's own error pages (400, 414, 431) answer in
that shape too for ``/api/`` paths.
"""

from __future__ import annotations

import contextlib
import errno
import json
import selectors
import socket
import ssl
import struct
import threading
import time
from collections import OrderedDict
from typing import Any

from gunicorn import http
from gunicorn import sock as gsock
from gunicorn.workers.gthread import TConn, ThreadWorker
from werkzeug.http import HTTP_STATUS_CODES

from ..config import Settings

LINGER_S = 2.0  # after "Connection: close", how long to wait for the client's FIN
RECV_BYTES = 64 * 1024


def error_bytes(status: int, code: str, message: str, *, close: bool = True) -> bytes:
    """A complete HTTP/1.1 response carrying ``{"error": {"code", "message"}}``."""
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    reason = HTTP_STATUS_CODES.get(status, "Error")
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n" + ("Connection: close\r\n" if close else "") + "\r\n"
    )
    return head.encode("latin-1") + body


def status_code_name(status: int) -> str:
    """The error code for a status, as the app names werkzeug's (``uri_too_long``...)."""
    return HTTP_STATUS_CODES.get(status, "error").lower().replace(" ", "_").replace("-", "_")


class Conn(TConn):  # type: ignore[misc]
    """A client connection and what the event loop has read of its next request."""

    def __init__(self, cfg: Any, sock: socket.socket, client: Any, server: Any) -> None:
        super().__init__(cfg, sock, client, server)
        self.address = client[0] if isinstance(client, tuple) else ""
        self.buf = bytearray()
        self.head_end = -1  # offset just past the blank line, once seen
        self.need = -1  # bytes of head and body, once the head is read
        self.scanned = 0
        self.deadline = 0.0
        self.since = 0.0
        self.target = ""  # the request target of the request being handled
        self.handshaking = False
        self.idle = False  # between requests on a kept-alive connection
        self.lingering = False
        self.closed = False
        self.handed_over = False
        self.waiting = False  # in the event loop (evictable), not on a thread
        self.registered = False

    def reset_request(self, leftover: bytes = b"") -> None:
        self.buf = bytearray(leftover)
        self.head_end = -1
        self.need = -1
        self.scanned = 0


_handed_over = threading.local()


def socket_handed_over(sock: socket.socket | None, send_timeout_s: float) -> None:
    """Say, on the thread serving a request, that the app took its socket (a websocket).

    The worker then forgets the connection without touching the socket: its new owner
    closes it, and a socket closed under the event loop's feet could have its number
    reused by the next connection while still registered.

    The socket goes back to blocking mode: the websocket library writes each frame with
    one ``send()``, which in timeout mode may write only part of it and corrupt the
    stream.  The kernel's own send timeout (``SO_SNDTIMEO``) still drops a client that
    stops reading.
    """
    _handed_over.flag = True
    if sock is None:
        return
    sock.settimeout(None)
    seconds = int(send_timeout_s)
    micros = int((send_timeout_s - seconds) * 1_000_000)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", seconds, micros))


def worker_class(settings: Settings) -> type[ThreadWorker]:
    """The worker class, bound to the server's settings (gunicorn instantiates it)."""
    return type("DtraceIdeWorker", (GuardedWorker,), {"settings": settings})


class GuardedWorker(ThreadWorker):  # type: ignore[misc]
    settings: Settings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.waiting: OrderedDict[Conn, None] = OrderedDict()  # oldest first
        self.by_address: dict[str, set[Conn]] = {}
        self.buffered = 0
        self.local = threading.local()
        self.ssl_context: ssl.SSLContext | None = None

    # --- accepting ----------------------------------------------------------------------

    def accept(self, listener: socket.socket) -> None:
        try:
            client_sock, client_addr = listener.accept()
        except OSError as e:
            if e.errno in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                return
            raise
        self.nr_conns += 1
        conn = Conn(self.cfg, client_sock, client_addr, listener.getsockname())
        s = self.settings
        mine = self.by_address.setdefault(conn.address, set())
        if len(mine) >= s.max_connections_per_address:
            victim = min((c for c in mine if c.waiting), key=lambda c: c.since, default=None)
            if victim is None:
                self._refuse(
                    conn,
                    429,
                    "too_many_connections",
                    f"{len(mine)} connections from this address are busy, the cap "
                    "(max_connections_per_address); close one first",
                )
                return
            self._close(victim)
        if self.nr_conns > s.max_connections:
            victim = next(iter(self.waiting), None)
            if victim is None:
                self._refuse(
                    conn,
                    503,
                    "too_many_connections",
                    f"{s.max_connections} connections are busy, the server's cap "
                    "(max_connections); try again in a moment",
                )
                return
            self._close(victim)
        mine.add(conn)
        if self.cfg.is_ssl:
            if self.ssl_context is None:
                self.ssl_context = gsock.ssl_context(self.cfg)
            try:
                conn.sock = self.ssl_context.wrap_socket(
                    conn.sock,
                    server_side=True,
                    do_handshake_on_connect=False,
                    suppress_ragged_eofs=self.cfg.suppress_ragged_eofs,
                )
            except (OSError, ValueError):
                self._close(conn)
                return
            conn.handshaking = True
        self._wait(conn, time.monotonic() + s.header_timeout_s)

    def _refuse(self, conn: Conn, status: int, code: str, message: str) -> None:
        self.log.warning("refused a connection from %s: %s", conn.address, message)
        self.by_address.setdefault(conn.address, set()).add(conn)
        if self.cfg.is_ssl:  # plain text would mean nothing inside TLS
            self._close(conn)
            return
        with contextlib.suppress(OSError):
            conn.sock.send(error_bytes(status, code, message))
        # Read (and drop) the request it is sending meanwhile: closing with it unread would
        # reset the connection before the client has read the answer.
        self._linger(conn)

    # --- the event loop's side of a connection -------------------------------------------

    def _wait(self, conn: Conn, deadline: float, events: int = selectors.EVENT_READ) -> None:
        conn.sock.setblocking(False)
        conn.deadline = deadline
        conn.since = time.monotonic()
        conn.waiting = True
        self.waiting[conn] = None
        self.waiting.move_to_end(conn)
        if conn.registered:
            self.poller.modify(conn.sock, events, self._on_event(conn))
        else:
            self.poller.register(conn.sock, events, self._on_event(conn))
            conn.registered = True

    def _on_event(self, conn: Conn) -> Any:
        def callback(_fileobj: Any) -> None:
            if conn.closed or not conn.registered:
                return  # closed or handed on earlier in the same round of events
            try:
                self._readable(conn)
            except Exception:  # the event loop must outlive any one connection
                self.log.exception("error reading a request")
                self._close(conn)

        return callback

    def _unwait(self, conn: Conn) -> None:
        if conn.registered:
            with contextlib.suppress(KeyError, ValueError, OSError):
                self.poller.unregister(conn.sock)
            conn.registered = False
        if conn.waiting:
            conn.waiting = False
            self.waiting.pop(conn, None)
        self.buffered -= len(conn.buf)
        conn.buf = bytearray()

    def _close(self, conn: Conn) -> None:
        if not conn.closed:
            self._forget(conn)
            conn.close()

    def _forget(self, conn: Conn) -> None:
        if conn.closed:
            return
        conn.closed = True
        self._unwait(conn)
        mine = self.by_address.get(conn.address)
        if mine is not None:
            mine.discard(conn)
            if not mine:
                del self.by_address[conn.address]
        self.nr_conns -= 1

    def _drop(self, conn: Conn) -> None:
        """Close a connection past its deadline, telling it why when it sent something."""
        if conn.buf and not conn.lingering:
            self._answer_and_close(
                conn,
                408,
                "the request did not arrive in time (header_timeout_s, body_timeout_s), or "
                "newer connections needed its place",
            )
        else:
            self._close(conn)

    def _answer_and_close(self, conn: Conn, status: int, message: str) -> None:
        api = _target(conn.buf).startswith("/api/")
        text = message if api else f"{HTTP_STATUS_CODES.get(status, 'Error')}: {message}"
        data = error_bytes(status, status_code_name(status), text) if api else _plain(status, text)
        try:
            conn.sock.setblocking(False)
            conn.sock.send(data)
        except (OSError, ValueError):
            pass
        self._linger(conn)

    def _linger(self, conn: Conn) -> None:
        """Half-close and wait (in the event loop, not blocking it) for the client's FIN."""
        self._unwait(conn)
        conn.lingering = True
        try:
            conn.sock.shutdown(socket.SHUT_WR)
        except (OSError, ValueError):
            self._close(conn)
            return
        self._wait(conn, time.monotonic() + LINGER_S)

    def _readable(self, conn: Conn) -> None:
        try:
            if conn.handshaking:
                conn.sock.do_handshake()
                conn.handshaking = False
                self._wait(conn, conn.deadline)
            while True:
                chunk = conn.sock.recv(RECV_BYTES)
                if not chunk:
                    self._close(conn)
                    return
                if conn.lingering:
                    continue
                if conn.idle:  # the first byte of the next request on a kept-alive connection
                    conn.idle = False
                    conn.deadline = time.monotonic() + self.settings.header_timeout_s
                conn.buf += chunk
                self.buffered += len(chunk)
                if self._progress(conn):
                    return
        except (BlockingIOError, ssl.SSLWantReadError):
            if conn.registered:
                self.poller.modify(conn.sock, selectors.EVENT_READ, self._on_event(conn))
        except ssl.SSLWantWriteError:
            self.poller.modify(conn.sock, selectors.EVENT_WRITE, self._on_event(conn))
        except (OSError, ValueError):
            self._close(conn)
        while self.buffered > self.settings.max_buffered_request_bytes:
            oldest = next((c for c in self.waiting if c.buf), None)
            if oldest is None:
                break
            self._close(oldest)

    def _progress(self, conn: Conn) -> bool:
        """Look at what has arrived; True once the connection left the reading state."""
        s = self.settings
        buf = conn.buf
        if conn.head_end < 0:
            start = max(0, conn.scanned - 3)
            end = buf.find(b"\r\n\r\n", start)
            conn.scanned = len(buf)
            line_end = buf.find(b"\r\n", 0, self.cfg.limit_request_line + 2)
            if line_end < 0 and len(buf) > self.cfg.limit_request_line + 2:
                self._answer_and_close(conn, 414, "the request line is too long (URI too long)")
                return True
            if end < 0:
                if len(buf) > s.max_request_head_bytes:
                    self._answer_and_close(
                        conn,
                        431,
                        f"the request headers are larger than {s.max_request_head_bytes} bytes "
                        "(max_request_head_bytes)",
                    )
                    return True
                return False
            conn.head_end = end + 4
            length = self._body_length(conn, bytes(buf[: conn.head_end]))
            if length is None:
                return True
            conn.need = conn.head_end + length
            if length:
                conn.deadline = time.monotonic() + s.body_timeout_s
        if len(buf) >= conn.need:
            self._dispatch(conn)
            return True
        return False

    def _body_length(self, conn: Conn, head: bytes) -> int | None:
        """The body's length from the head, or None when the connection was answered."""
        lengths: list[bytes] = []
        chunked = expect = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                lengths.append(value.strip())
            elif name == b"transfer-encoding":
                chunked = True
            elif name == b"expect" and value.strip().lower() == b"100-continue":
                expect = True
        if chunked:
            self._answer_and_close(
                conn,
                411,
                "send the body with a Content-Length header, not chunked",
            )
            return None
        if not lengths:
            return 0
        if len(set(lengths)) > 1 or not lengths[0].isdigit():
            self._answer_and_close(conn, 400, "bad Content-Length header")
            return None
        length = int(lengths[0])
        cap, limit = body_cap(self.settings, _target(head))
        if length > cap:
            self._answer_and_close(
                conn, 413, f"the request body is larger than {cap} bytes ({limit})"
            )
            return None
        if expect and length:
            with contextlib.suppress(OSError, ValueError):
                conn.sock.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        return length

    def _dispatch(self, conn: Conn) -> None:
        data = bytes(conn.buf)
        conn.target = _target(conn.buf)
        self._unwait(conn)
        conn.reset_request()
        if conn.parser is None:
            conn.parser = http.get_parser(self.cfg, conn.sock, conn.client)
            conn.initialized = True
        conn.parser.unreader.unread(data)
        conn.data_ready = True
        conn.sock.setblocking(True)
        self.enqueue_req(conn)

    def finish_request(self, conn: Conn, fs: Any) -> None:
        """On the event loop, after a thread answered: wait for the next request or close."""
        try:
            keep = bool(fs.result()) if not fs.cancelled() else False
        except Exception:
            keep = False
        if conn.handed_over:
            self._forget(conn)
            return
        if conn.sock.fileno() < 0:
            self._close(conn)
            return
        if not keep or not self.alive or conn.parser is None:
            self._linger(conn)
            return
        leftover = conn.parser.unreader.take_buffered()
        conn.reset_request(leftover)
        self.buffered += len(leftover)
        if leftover:
            self._wait(conn, time.monotonic() + self.settings.header_timeout_s)
            conn.scanned = 0
            self._progress(conn)
        else:
            self._wait(conn, time.monotonic() + self.settings.keepalive_s)
            conn.idle = True

    def murder_pending(self) -> None:
        """Close connections past their deadline, and all of them once the worker stops."""
        now = time.monotonic()
        for conn in [c for c in self.waiting if c.deadline <= now or not self.alive]:
            if conn.waiting:
                if conn.lingering or not self.alive:
                    self._close(conn)
                else:
                    self._drop(conn)

    def murder_keepalived(self, force: bool = False) -> None:
        if force:
            for conn in list(self.waiting):
                self._close(conn)

    # --- the thread's side --------------------------------------------------------------

    def handle(self, conn: Conn) -> Any:
        self.local.target = conn.target
        _handed_over.flag = False
        try:
            return super().handle(conn)
        finally:
            conn.handed_over = _handed_over.flag

    def handle_request(self, req: Any, conn: Conn) -> Any:
        # The request is in memory; what can still stall is the client not reading.
        conn.sock.settimeout(self.settings.send_timeout_s)
        return super().handle_request(req, conn)

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        target = getattr(req, "path", None) or getattr(self.local, "target", "")
        if not str(target).startswith("/api/"):
            super().handle_error(req, client, addr, exc)
            return
        capture = _Capture(client)
        super().handle_error(req, capture, addr, exc)
        status, message = _parse_gunicorn_error(bytes(capture.sent))
        try:
            client.settimeout(self.settings.send_timeout_s)
            client.sendall(error_bytes(status, status_code_name(status), message))
        except (OSError, ValueError):
            pass


class _Capture:
    """Stands in for the client socket while gunicorn writes its HTML error page."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.sent = bytearray()

    def sendall(self, data: bytes) -> None:
        self.sent += data

    def send(self, data: bytes) -> int:
        self.sent += data
        return len(data)

    def gettimeout(self) -> float:
        return 0.0

    def setblocking(self, _flag: bool) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def _parse_gunicorn_error(page: bytes) -> tuple[int, str]:
    import html
    import re

    text = page.decode("latin-1", "replace")
    m = re.match(r"HTTP/1\.1 (\d{3}) ([^\r\n]*)", text)
    status = int(m.group(1)) if m else 400
    reason = m.group(2) if m else "Bad Request"
    body = text.split("</h1>", 1)[1] if "</h1>" in text else ""
    detail = html.unescape(body.replace("</body>", "").replace("</html>", "")).strip()
    return status, (f"{reason}: {detail}" if detail else reason)[:500]


IMPORT_PATH = "/api/runs/import"


def body_cap(settings: Settings, target: str) -> tuple[int, str]:
    """The largest body a request for ``target`` may have, and the limit's name: an exported
    run is larger than any other request."""
    if target.partition("?")[0] == IMPORT_PATH:
        return settings.max_import_bytes, "max_import_bytes"
    return settings.max_request_bytes, "max_request_bytes"


def _target(buf: bytes | bytearray) -> str:
    """The request target of the request line at the start of ``buf`` ("" when unknown)."""
    line = bytes(buf[: buf.find(b"\r\n") if b"\r\n" in buf[:8192] else 8192])
    parts = line.split(b" ")
    return parts[1].decode("latin-1") if len(parts) >= 2 else ""


def _plain(status: int, text: str) -> bytes:
    body = text.encode("utf-8", "replace")
    reason = HTTP_STATUS_CODES.get(status, "Error")
    return (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode("latin-1") + body
