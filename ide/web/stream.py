"""The live stream of a run over a websocket (docs/protocol.md)."""

from __future__ import annotations

import hmac
import json
import threading
from collections.abc import Callable
from typing import Any, cast

from flask import Flask, request
from flask_sock import Sock
from simple_websocket import ConnectionClosed

from ..tracing.session import Viewer
from .api import find_run
from .auth import authenticated, origin_allowed, public
from .errors import ApiError

IDLE_WAIT_S = 30.0
MAX_CLIENT_MESSAGE = 4096
View = Callable[..., None]


def register(app: Flask) -> None:
    sock = Sock(app)

    route = cast(Callable[[View], View], sock.route("/api/runs/<run_id>/stream"))

    @app.before_request
    def _guard_stream() -> None:
        # Before the handshake: once flask-sock calls the view, the socket is accepted.
        if request.endpoint != "stream":
            return
        run = find_run(str((request.view_args or {}).get("run_id", "")))
        if not origin_allowed():
            raise ApiError(403, "bad_origin", "websockets must come from this server's own page")
        key = request.args.get("key", "")
        if not authenticated() and not (
            key and hmac.compare_digest(key.encode(), run.viewer_key.encode())
        ):
            raise ApiError(401, "unauthorized", "open the page from the URL dtrace-ide printed")

    @route
    @public  # guarded above: the token or cookie, or the run's read-only viewer key
    def stream(ws: Any, run_id: str) -> None:
        run = find_run(run_id)
        viewer = run.add_viewer()
        # One thread blocks on the socket for the client's messages (and notices it close);
        # this one blocks until there is something to send. Neither polls.
        threading.Thread(
            target=_receive, args=(ws, viewer), name=f"ws-receive-{run_id}", daemon=True
        ).start()
        try:
            while True:
                msg = viewer.next_message(timeout=IDLE_WAIT_S)
                if msg is not None:
                    ws.send(json.dumps(msg, separators=(",", ":")))
                elif viewer.closed:
                    break
        finally:
            run.remove_viewer(viewer)
            ws.close()


def _receive(ws: Any, viewer: Viewer) -> None:
    try:
        while not viewer.closed:
            incoming = ws.receive()
            if incoming is None:
                break
            _client_message(viewer, incoming)
    except ConnectionClosed:
        pass
    finally:
        viewer.close()


def _client_message(viewer: Viewer, raw: str | bytes) -> None:
    if len(raw) > MAX_CLIENT_MESSAGE:
        return
    try:
        msg = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return
    if not isinstance(msg, dict) or msg.get("type") != "view":
        return
    if isinstance(msg.get("per_interval"), bool):
        viewer.per_interval = msg["per_interval"]
    if isinstance(msg.get("charts"), bool):
        viewer.charts = msg["charts"]
    viewer.snapshot_ready()
