"""Serving the app with gunicorn's threaded worker (websockets need a thread each).

One worker process: runs live in its memory.  SIGTERM or Ctrl-C stops every run before the
worker exits; the tracers also carry a parent-death signal for the SIGKILL case.  The worker
(``worker.py``) reads each request whole before a thread sees it; the pool has
``request_threads`` for requests plus one thread for each of ``max_websockets`` streams, so
neither slow clients nor a full set of viewers can take the threads requests need.
"""

from __future__ import annotations

import sys
from typing import Any

from gunicorn.app.base import BaseApplication

from ..config import Settings
from .worker import worker_class


def threads(settings: Settings) -> int:
    return settings.request_threads + settings.max_websockets


def url(settings: Settings) -> str:
    scheme = "https" if settings.tls else "http"
    host = settings.host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    if host in {"0.0.0.0", "[::]"}:
        host = "127.0.0.1"
    return f"{scheme}://{host}:{settings.port}/?token={settings.token}"


def exposed(settings: Settings) -> bool:
    return settings.host not in {"127.0.0.1", "localhost", "::1", "[::1]"}


class _Server(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from .. import create_app

        return create_app(self.settings)


def _when_ready(settings: Settings) -> Any:
    def hook(_arbiter: Any) -> None:
        if exposed(settings):
            print(
                f"dtrace-ide: WARNING: listening on {settings.host}, beyond this machine. The "
                "token is the only guard. Prefer the default 127.0.0.1 with an ssh tunnel "
                f"(ssh -L {settings.port}:127.0.0.1:{settings.port} THISHOST), or pass "
                "--certfile/--keyfile so the token never crosses the network in clear.",
                file=sys.stderr,
                flush=True,
            )
        print(f"dtrace-ide is running. Open this URL:\n\n    {url(settings)}\n", flush=True)

    return hook


def _worker_exit(_server: Any, worker: Any) -> None:
    from .state import KEY, AppState

    app = getattr(worker, "wsgi", None)
    state = getattr(app, "extensions", {}).get(KEY) if app is not None else None
    if isinstance(state, AppState):
        state.runs.shutdown()
        if state.fleet is not None:
            state.fleet.close()


def serve(settings: Settings, certfile: str | None = None, keyfile: str | None = None) -> int:
    options: dict[str, Any] = {
        "bind": f"[{settings.host}]:{settings.port}"
        if ":" in settings.host
        else f"{settings.host}:{settings.port}",
        "workers": 1,
        "worker_class": worker_class(settings),
        "threads": threads(settings),
        # One past the cap: the worker accepts at the cap to close the oldest unfinished
        # connection, or to answer the new one "too many connections".
        "worker_connections": settings.max_connections + 1,
        "timeout": 0,
        "graceful_timeout": 3,
        "keepalive": max(1, round(settings.keepalive_s)),
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "when_ready": _when_ready(settings),
        "worker_exit": _worker_exit,
        "proc_name": "dtrace-ide",
    }
    if certfile and keyfile:
        options["certfile"] = certfile
        options["keyfile"] = keyfile
    _Server(settings, options).run()
    return 0
