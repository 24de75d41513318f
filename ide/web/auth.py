"""Who gets in: a bearer token or the session cookie set by opening the printed URL.

Opening the URL starts a session: a random secret in an ``HttpOnly``, ``SameSite=Strict``
cookie named after the port, kept on the server with its own CSRF token and an idle expiry.

Every endpoint is authenticated unless its view is marked ``@public``.  State-changing
requests that authenticate by cookie must also carry the CSRF header; websockets must come
from the server's own origin; requests for a foreign ``Host`` are refused (DNS rebinding).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, jsonify, request

from ..config import Settings
from .errors import ApiError

COOKIE_PREFIX = "dtrace_ide_session_"  # + the port
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
    """Is ``candidate`` the server's token?  A wrong one is counted against its sender."""
    if not candidate:
        return False
    ok = hmac.compare_digest(_digest(candidate), _digest(settings().token))
    if not ok:
        address = request.remote_addr or ""
        # Whether this one came past the limit is decided by the failures before it.
        g.dtrace_ide_bad_token_wait = _throttle().retry_after(address)
        _throttle().failed(address)
    return ok


def refuse_wrong_token() -> None:
    """Answer a wrong token with 429 instead of 401 while wrong tokens come too fast.

    Called only after a token was checked and found wrong: the right token is never refused
    because of anybody's wrong ones.
    """
    wait: float = g.get("dtrace_ide_bad_token_wait", 0.0)
    if wait > 0:
        raise ApiError(
            429,
            "too_many_bad_tokens",
            "too many wrong tokens (max_bad_tokens_per_minute); try again in a minute",
            headers={"Retry-After": str(max(1, round(wait)))},
        )


class BadTokenThrottle:
    """Wrong tokens over the last minute, per remote address and from all addresses.

    Past either limit, wrong tokens are answered 429 (with Retry-After) instead of 401.
    Memory is bounded: ``limit + 1`` times per address, ``MAX_ADDRESSES`` addresses.
    """

    WINDOW_S = 60.0
    MAX_ADDRESSES = 10_000

    def __init__(self, limit: int, limit_all: int | None = None) -> None:
        self.limit = limit
        self.limit_all = limit_all if limit_all is not None else limit * 6
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._all: deque[float] = deque()
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
            self._all.append(now)
            while len(self._all) > self.limit_all + 1:
                self._all.popleft()

    def retry_after(self, address: str, now: float | None = None) -> float:
        """Seconds until a wrong token from ``address`` is answered 401 again (0: now)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            wait = self._wait(self._all, self.limit_all, now)
            times = self._failures.get(address)
            if times is not None:
                wait = max(wait, self._wait(times, self.limit, now))
                if not times:
                    del self._failures[address]
            return wait

    def _wait(self, times: deque[float], limit: int, now: float) -> float:
        while times and now - times[0] >= self.WINDOW_S:
            times.popleft()
        if len(times) < limit:
            return 0.0
        return self.WINDOW_S - (now - times[-limit])


def _throttle() -> BadTokenThrottle:
    t: BadTokenThrottle = current_app.extensions["dtrace_ide_auth"]
    return t


# --- sessions -----------------------------------------------------------------------------


@dataclass
class Session:
    """One sign-in: its CSRF token, and when it was last used."""

    key: str  # SHA-256 of the cookie's secret; the secret itself is not kept
    csrf: str
    last_used: float


class Sessions:
    """Sign-ins, each a random secret in the browser's cookie; bounded and expiring.

    Nothing in a session is derived from the token: signing out (or the idle timeout)
    ends it for good, and a cookie seen by another program says nothing about the token.
    """

    def __init__(self, idle_s: float, max_sessions: int) -> None:
        self.idle_s = idle_s
        self.max_sessions = max_sessions
        self._by_key: OrderedDict[str, Session] = OrderedDict()  # least recently used first
        self._lock = threading.Lock()

    @staticmethod
    def _key(secret: str) -> str:
        return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()

    def create(self, now: float | None = None) -> tuple[str, Session]:
        """A new session and the secret that goes in its cookie."""
        now = time.monotonic() if now is None else now
        secret = secrets.token_urlsafe(32)
        session = Session(self._key(secret), secrets.token_urlsafe(32), now)
        with self._lock:
            self._by_key[session.key] = session
            while len(self._by_key) > self.max_sessions:
                self._by_key.popitem(last=False)
        return secret, session

    def get(self, secret: str | None, now: float | None = None) -> Session | None:
        """The live session of a cookie's secret (and mark it used), or None."""
        if not secret:
            return None
        now = time.monotonic() if now is None else now
        key = self._key(secret)
        with self._lock:
            session = self._by_key.get(key)
            if session is None:
                return None
            if now - session.last_used > self.idle_s:
                del self._by_key[key]
                return None
            session.last_used = now
            self._by_key.move_to_end(key)
            return session

    def drop(self, secret: str | None) -> bool:
        if not secret:
            return False
        with self._lock:
            return self._by_key.pop(self._key(secret), None) is not None

    def __len__(self) -> int:
        return len(self._by_key)


def sessions() -> Sessions:
    s: Sessions = current_app.extensions["dtrace_ide_sessions"]
    return s


def cookie_name(s: Settings | None = None) -> str:
    """Named after the port: browsers send 127.0.0.1's cookies to every port of it."""
    return f"{COOKIE_PREFIX}{(s or settings()).port}"


def current_session() -> Session | None:
    return sessions().get(request.cookies.get(cookie_name()))


def sign_in(resp: Response) -> Session:
    """Start a session and put its secret in ``resp``'s cookie (ending this browser's last)."""
    sessions().drop(request.cookies.get(cookie_name()))
    secret, session = sessions().create()
    resp.set_cookie(
        cookie_name(),
        secret,
        httponly=True,
        samesite="Strict",
        secure=settings().tls,
        path="/",
    )
    return session


def csrf_token() -> str:
    """The CSRF token of this request's session ("" without one)."""
    session = current_session()
    return session.csrf if session is not None else ""


def bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return None


def authenticated() -> bool:
    return token_matches(bearer()) or current_session() is not None


def identity() -> str:
    """Who a request is, for per-client caps: the session, or the token's holder.

    Not the source address: every address in 127.0.0.0/8 is this machine.
    """
    ident: str | None = g.get("dtrace_ide_identity")
    if ident is not None:
        return ident
    session = current_session()
    return f"session:{session.key[:16]}" if session is not None else "token"


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
    app.extensions["dtrace_ide_auth"] = BadTokenThrottle(
        s.max_bad_tokens_per_minute, s.max_bad_tokens_per_minute_all
    )
    app.extensions["dtrace_ide_sessions"] = Sessions(s.session_idle_s, s.max_sessions)

    @app.before_request
    def _guard() -> Any:
        if not host_allowed():
            raise ApiError(421, "bad_host", "requests must name this server's own host")
        if request.endpoint == "static":  # the page's own assets carry no secrets
            return None
        view = app.view_functions.get(request.endpoint or "")
        if view is None or getattr(view, "dtrace_ide_public", False):
            return None
        token = bearer()
        if token is not None and token_matches(token):
            g.dtrace_ide_identity = "token"
            return None
        session = current_session()
        if session is not None:
            if request.method not in SAFE_METHODS and not hmac.compare_digest(
                request.headers.get(CSRF_HEADER, "").encode(), session.csrf.encode()
            ):
                raise ApiError(403, "csrf", f"missing or wrong {CSRF_HEADER} header")
            g.dtrace_ide_identity = f"session:{session.key[:16]}"
            return None
        if token is not None:
            refuse_wrong_token()
        raise ApiError(
            401,
            "unauthorized",
            "open the URL that `dtrace-ide serve` printed (it carries ?token=...), "
            "or send Authorization: Bearer TOKEN",
        )

    @app.post("/api/signout")
    def signout() -> Response:
        """End this browser's session (the cookie stops working) and clear its cookie."""
        ended = sessions().drop(request.cookies.get(cookie_name()))
        resp = jsonify({"signed_out": ended})
        resp.delete_cookie(
            cookie_name(), path="/", secure=settings().tls, httponly=True, samesite="Strict"
        )
        return resp
