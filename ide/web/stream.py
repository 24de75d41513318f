"""The live stream of a run over a websocket (docs/protocol.md)."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Iterator
from typing import Any, cast

from flask import Flask, g, request
from flask_sock import Sock
from simple_websocket import ConnectionClosed

from ..archive.replay import NOT_RECORDED, Replay
from ..config import Settings
from ..tracing.session import Run
from ..tracing.viewer import Viewer
from .api import find_run
from .auth import authenticated, origin_allowed, public
from .errors import ApiError
from .limits import StreamSlots
from .state import state
from .viewer_links import refusal
from .worker import socket_handed_over

# How often a stream opened with a viewer link looks whether the link still opens the run
# when it has nothing else to send.
LINK_CHECK_S = 5.0
MAX_CLIENT_MESSAGE = 4096
# The server pings this often; a client that does not answer two in a row is dropped.  It
# also makes the socket's reader wait in select(), so the socket can carry a send timeout.
PING_INTERVAL_S = 25.0
TRY_AGAIN_LATER = 1013  # the websocket close code for "full, come back later"
View = Callable[..., None]


def slots() -> StreamSlots:
    return state().streams


def _guard_stream() -> None:
    """The token or cookie, or the run's read-only viewer key; a free stream slot."""
    # Before the handshake: once flask-sock calls the view, the socket is accepted.
    if request.endpoint != "stream":
        return
    run = find_run(str((request.view_args or {}).get("run_id", "")))
    if not origin_allowed():
        raise ApiError(403, "bad_origin", "websockets must come from this server's own page")
    key = request.args.get("key", "")
    if not authenticated() and (refused := refusal(run, key)):
        why = refused if key else "open the page from the URL dtrace-ide printed"
        raise ApiError(401, "unauthorized", why)
    # Taken before the handshake so that two at once cannot both get the last slot;
    # a full run is told so over the socket, where the page can show it.
    g.stream_refused = slots().take(run.id)
    if g.stream_refused is None:
        g.stream_slot = run.id


def _give_back_slot(_exc: BaseException | None) -> None:
    run_id = g.pop("stream_slot", None)
    if run_id is not None:
        slots().give_back(run_id)


def register(app: Flask) -> None:
    settings: Settings = app.config["SETTINGS"]
    app.config.setdefault("SOCK_SERVER_OPTIONS", {"ping_interval": PING_INTERVAL_S})
    sock = Sock(app)

    route = cast(Callable[[View], View], sock.route("/api/runs/<run_id>/stream"))

    app.before_request(_guard_stream)
    app.teardown_request(_give_back_slot)

    @route
    @public  # guarded above: the token or cookie, or the run's read-only viewer key
    def stream(ws: Any, run_id: str) -> None:
        # The websocket's threads own the socket from here.
        socket_handed_over(request.environ.get("gunicorn.socket"), settings.send_timeout_s)
        refused = g.get("stream_refused")
        if refused:
            ws.send(json.dumps({"type": "error", "code": "too_many_streams", "message": refused}))
            ws.close(reason=TRY_AGAIN_LATER, message="too many viewers (see the error message)")
            return
        run = find_run(run_id)
        # A viewer that came with a link is let go when the link is revoked or expires.
        key = None if authenticated() else request.args.get("key", "")
        keep_open = request.args.get("replay") == "1"
        _serve(
            ws,
            run,
            keep_open=keep_open,
            link_refused=lambda: None if key is None else refusal(run, key),
        )


def _serve(ws: Any, run: Run, *, keep_open: bool, link_refused: Callable[[], str | None]) -> None:
    """Send the run's messages to one viewer until either side is done, or its link stops
    opening the run."""
    viewer = run.add_viewer(keep_open=keep_open)
    answer = _answerer(run, viewer)
    # One thread blocks on the socket for the client's messages (and notices it close);
    # this one blocks until there is something to send. Neither polls.
    threading.Thread(
        target=_receive, args=(ws, viewer), name=f"ws-receive-{run.id}", daemon=True
    ).start()
    try:
        while True:
            msg = viewer.next_message(timeout=LINK_CHECK_S)
            if refused := link_refused():
                ws.send(json.dumps({"type": "error", "code": "link_refused", "message": refused}))
                break
            if msg is not None:
                for out in answer(msg):
                    ws.send(json.dumps(out, separators=(",", ":")))
            elif viewer.closed:
                break
    finally:
        run.remove_viewer(viewer)
        ws.close()


def _answerer(run: Run, viewer: Viewer) -> Callable[[dict[str, Any]], Iterator[dict[str, Any]]]:
    """What is sent for each of the viewer's messages: the client's seek and live are
    answered here, from the run's record and the run itself."""
    archive = state().archive
    replay = Replay(archive, run, state().runs.renderer, run.settings) if archive else None

    def answer(msg: dict[str, Any]) -> Iterator[dict[str, Any]]:
        if msg["type"] == "seek":
            if replay is None:
                yield NOT_RECORDED
                return
            view = {"per_interval": viewer.per_interval, "charts": viewer.charts}
            quick = replay.message(msg["t"], **view)
            yield quick
            if quick.get("partial"):  # then in full, unless the viewer moved on meanwhile
                full = replay.complete(**view, moved_on=lambda: viewer.asked_again)
                if full is not None:
                    yield full
        elif msg["type"] == "live":
            lines = list(run.output)
            yield {"type": "output", "lines": lines, "dropped": run.dropped_output, "reset": True}
        else:
            yield msg

    return answer


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
    if not isinstance(msg, dict):
        return
    kind = msg.get("type")
    if kind == "seek":
        t = msg.get("t")
        if isinstance(t, int | float) and not isinstance(t, bool) and math.isfinite(t):
            viewer.seek(max(0.0, float(t)))
        return
    if kind == "live":
        viewer.live()
        return
    if kind != "view":
        return
    if isinstance(msg.get("per_interval"), bool):
        viewer.per_interval = msg["per_interval"]
    if isinstance(msg.get("charts"), bool):
        viewer.charts = msg["charts"]
    if isinstance(msg.get("by_host"), bool):
        viewer.by_host = msg["by_host"]
    if viewer.seek_t is not None:
        viewer.seek(viewer.seek_t)  # the moment shown, in the new view
    else:
        viewer.snapshot_ready()
