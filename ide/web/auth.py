"""Who gets in: a bearer token or the session cookie set by opening the printed URL.

Every endpoint is authenticated unless its view is marked ``@public``.  State-changing
requests that authenticate by cookie must also carry the CSRF header; websockets must come
from the server's own origin; requests for a foreign ``Host`` are refused (DNS rebinding).
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, current_app, request

from ..config import Settings
from .errors import ApiError

COOKIE = "dtrace_ide_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

F = TypeVar("F", bound=Callable[..., Any])


def public(view: F) -> F:
    """Mark a view as reachable without the token."""
    view.dtrace_ide_public = True  # type: ignore[attr-defined]
    return view


def settings() -> Settings:
    s: Settings = current_app.config["SETTINGS"]
    return s


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).digest()


def token_matches(candidate: str | None) -> bool:
    if not candidate:
        return False
    ok = hmac.compare_digest(_digest(candidate), _digest(settings().token))
    if not ok:
        _throttle().failed(request.remote_addr or "")
    return ok


class BadTokenThrottle:
    """Wrong tokens per remote address over the last minute; past the limit, answer 429.

    Only presented tokens count and only token checks are refused while an address is over
    the limit: a stale cookie from an earlier server is routine, and a signed-in page keeps
    working even when someone on the same address guesses tokens.
    """

    WINDOW_S = 60.0
    MAX_ADDRESSES = 10_000

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def failed(self, address: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            times = self._failures.pop(address, None) or deque()
            times.append(now)
            while len(times) > self.limit + 1:
                times.popleft()
            self._failures[address] = times
            while len(self._failures) > self.MAX_ADDRESSES:
                self._failures.popitem(last=False)

    def retry_after(self, address: str, now: float | None = None) -> float:
        """Seconds until ``address`` may present a token again (0: now)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            times = self._failures.get(address)
            if not times:
                return 0.0
            while times and now - times[0] >= self.WINDOW_S:
                times.popleft()
            if not times:
                del self._failures[address]
            if len(times) < self.limit:
                return 0.0
            return self.WINDOW_S - (now - times[-self.limit])


def _throttle() -> BadTokenThrottle:
    t: BadTokenThrottle = current_app.extensions["dtrace_ide_auth"]
    return t


def presents_token() -> bool:
    """Does this request offer a token (not a cookie) to be checked?"""
    return bool(bearer()) or (request.endpoint == "pages.index" and "token" in request.args)


def cookie_value() -> str:
    """What the session cookie holds: derived from the token, never the token itself."""
    return hmac.new(settings().token.encode(), b"session", hashlib.sha256).hexdigest()


def csrf_token() -> str:
    return hmac.new(settings().token.encode(), b"csrf", hashlib.sha256).hexdigest()


def bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return None


def has_session_cookie() -> bool:
    value = request.cookies.get(COOKIE)
    return value is not None and hmac.compare_digest(value.encode(), cookie_value().encode())


def authenticated() -> bool:
    return token_matches(bearer()) or has_session_cookie()


def allowed_hosts(s: Settings) -> set[str]:
    hosts = {"localhost", "127.0.0.1", "::1", "[::1]"}
    if s.host not in {"", "0.0.0.0", "::"}:
        hosts.add(s.host.strip("[]"))
    hosts.update(h.strip().lower() for h in s.allowed_hosts.split(",") if h.strip())
    return hosts


def host_allowed() -> bool:
    s = settings()
    host = (request.host or "").lower()
    name = urlsplit("//" + host).hostname or ""
    if s.host in {"0.0.0.0", "::"} and not s.allowed_hosts:
        # Listening on every address: any literal IP is fine, names must be listed.
        return _is_ip(name) or name in allowed_hosts(s)
    return name in allowed_hosts(s) or name == s.host.strip("[]").lower()


def _is_ip(name: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def origin_allowed() -> bool:
    """A websocket's Origin must be this server itself."""
    origin = request.headers.get("Origin")
    if not origin:
        return False
    parts = urlsplit(origin)
    return parts.netloc.lower() == (request.host or "").lower() and parts.scheme in {
        "http",
        "https",
    }


def install(app: Flask) -> None:
    s: Settings = app.config["SETTINGS"]
    app.extensions["dtrace_ide_auth"] = BadTokenThrottle(s.max_bad_tokens_per_minute)

    @app.before_request
    def _guard() -> Any:
        if not host_allowed():
            raise ApiError(421, "bad_host", "requests must name this server's own host")
        if presents_token():
            wait = _throttle().retry_after(request.remote_addr or "")
            if wait > 0:
                raise ApiError(
                    429,
                    "too_many_bad_tokens",
                    "too many wrong tokens from this address; try again in a minute",
                    headers={"Retry-After": str(max(1, round(wait)))},
                )
        if request.endpoint == "static":  # the page's own assets carry no secrets
            return None
        view = app.view_functions.get(request.endpoint or "")
        if view is None or getattr(view, "dtrace_ide_public", False):
            return None
        if token_matches(bearer()):
            return None
        if has_session_cookie():
            if request.method not in SAFE_METHODS and not hmac.compare_digest(
                request.headers.get(CSRF_HEADER, "").encode(), csrf_token().encode()
            ):
                raise ApiError(403, "csrf", f"missing or wrong {CSRF_HEADER} header")
            return None
        raise ApiError(
            401,
            "unauthorized",
            "open the URL that `dtrace-ide serve` printed (it carries ?token=...), "
            "or send Authorization: Bearer TOKEN",
        )
