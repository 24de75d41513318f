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
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, jsonify, request

from ..config import Settings
from .errors import ApiError
from .limits import BadTokenThrottle, Session, Sessions
from .state import state

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


def _throttle() -> BadTokenThrottle:
    return state().throttle


# --- sessions -----------------------------------------------------------------------------


def sessions() -> Sessions:
    return state().sessions


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
