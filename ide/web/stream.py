"""The live stream of a run over a websocket (docs/protocol.md)."""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from typing import Any, cast

from flask import Flask, request
from flask_sock import Sock

from .api import find_run
from .auth import authenticated, origin_allowed, public
from .errors import ApiError

PING_EVERY_S = 15.0
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
        try:
            while True:
                msg = viewer.next_message(timeout=0.25)
                if msg is not None:
                    ws.send(json.dumps(msg, separators=(",", ":")))
                elif viewer.closed:
                    break
                incoming = ws.receive(timeout=0)
                if incoming is not None:
                    _client_message(viewer, incoming)
        finally:
            run.remove_viewer(viewer)
            ws.close()


def _client_message(viewer: Any, raw: str | bytes) -> None:
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
