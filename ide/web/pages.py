"""HTML pages and the vendored plotly.js from the plotly wheel (no CDN: the box is offline)."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import importlib
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request

from .auth import (
    authenticated,
    csrf_token,
    public,
    refuse_wrong_token,
    sign_in,
    token_matches,
)
from .errors import ApiError

bp = Blueprint("pages", __name__)


def _page(template: str, status: int = 200, **context: Any) -> Response:
    resp = Response(render_template(template, **context), status=status, mimetype="text/html")
    resp.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; "
        "base-uri 'none'; frame-ancestors 'none'"
    )
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp


@bp.get("/")
@public
def index() -> Response:
    token = request.args.get("token")
    if token is not None:
        if not token_matches(token):
            refuse_wrong_token()
            return _page("unauthorized.html", 401, reason="That token is not this server's.")
        # Trade the token in the URL for a session, and drop it from the address bar.
        target = "/"
        snippet = request.args.get("snippet")
        if snippet:
            target = "/?snippet=" + "".join(c for c in snippet if c.isalnum() or c in "-_")
        resp = redirect(target, code=303)
        sign_in(resp)  # type: ignore[arg-type]
        return resp  # type: ignore[return-value]
    if not authenticated():
        return _page("unauthorized.html", 401, reason=None)
    vendor_brotli("plotly.min.js")  # ready by the time the Run step asks for it
    return _page("index.html", csrf_token=csrf_token())


@bp.get("/view/<run_id>")
@public
def view(run_id: str) -> Response:
    from .api import runs

    run = runs().get(run_id)
    key = request.args.get("key", "")
    if run is None or not hmac.compare_digest(key.encode(), run.viewer_key.encode()):
        return _page("unauthorized.html", 404, reason="This viewer link is unknown or expired.")
    vendor_brotli("plotly.min.js")
    return _page(
        "viewer.html",
        csrf_token="",
        run_id=run.id,
        stream_url=f"/api/runs/{run.id}/stream?key={run.viewer_key}",
    )


# The page's own JS and CSS, gzipped once per file version: the editor bundle alone is
# 400 KB raw and about a third of that gzipped.
COMPRESSIBLE = frozenset({"text/javascript", "application/javascript", "text/css"})
_gzipped: dict[tuple[str, str], bytes] = {}
_GZIP_CACHE_ENTRIES = 64


@bp.after_app_request
def _compress_static(resp: Response) -> Response:
    if (
        resp.status_code != 200
        or request.endpoint != "static"
        or resp.mimetype not in COMPRESSIBLE
        or "gzip" not in request.headers.get("Accept-Encoding", "")
        or "Content-Encoding" in resp.headers
    ):
        return resp
    etag, _ = resp.get_etag()
    key = (request.path, etag or "")
    packed = _gzipped.get(key) if etag else None
    resp.direct_passthrough = False
    if packed is None:
        packed = gzip.compress(resp.get_data(), 6, mtime=0)
        if etag:
            if len(_gzipped) >= _GZIP_CACHE_ENTRIES:
                _gzipped.clear()
            _gzipped[key] = packed
    resp.set_data(packed)
    resp.headers["Content-Encoding"] = "gzip"
    resp.vary.add("Accept-Encoding")
    if etag:
        # Weak: the bytes differ from the plain file's; If-None-Match compares weakly.
        resp.set_etag(etag, weak=True)
    return resp


@lru_cache(maxsize=4)
def _vendor_file(name: str) -> tuple[bytes, bytes, str]:
    if name != "plotly.min.js":
        raise FileNotFoundError(name)
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    raw = path.read_bytes()
    return raw, gzip.compress(raw, 9, mtime=0), hashlib.sha256(raw).hexdigest()[:16]


# Brotli at its best setting makes plotly.js a quarter smaller than gzip -9 does (1.11 MB
# against 1.47 MB), which keeps the first full load under 1.5 MB.  It takes seconds of CPU,
# so it runs once per process on a thread of its own; gzip is served until it is ready.
BROTLI_QUALITY = 11
_brotli: dict[str, bytes] = {}
_brotli_started: set[str] = set()
_brotli_lock = threading.Lock()


def _compress_brotli(name: str, raw: bytes) -> None:
    try:
        brotli: Any = importlib.import_module("brotli")
    except ImportError:  # optional at run time: gzip serves everyone then
        return
    # In slices: each call lets go of the GIL, so the server answers meanwhile (one call on
    # the whole file held it for up to half a second).
    compressor = brotli.Compressor(quality=BROTLI_QUALITY)
    step = 64 * 1024
    parts = [compressor.process(raw[i : i + step]) for i in range(0, len(raw), step)]
    parts.append(compressor.finish())
    _brotli[name] = b"".join(parts)


def vendor_brotli(name: str) -> bytes | None:
    """The brotli copy of a vendored file, or None while it is being made (then started)."""
    packed = _brotli.get(name)
    if packed is not None:
        return packed
    with _brotli_lock:
        if name not in _brotli_started:
            _brotli_started.add(name)
            raw = _vendor_file(name)[0]
            threading.Thread(
                target=_compress_brotli, args=(name, raw), name=f"brotli {name}", daemon=True
            ).start()
    return None


@bp.get("/static-vendor/<name>")
@public
def vendor(name: str) -> Response:
    try:
        raw, packed, etag = _vendor_file(name)
    except FileNotFoundError as exc:
        raise ApiError(404, "not_found", f"no vendored file {name}") from exc
    if request.if_none_match.contains(etag):
        return Response(status=304)
    accept = request.accept_encodings
    small = vendor_brotli(name) if accept.quality("br") > 0 else None
    use_gzip = small is None and accept.quality("gzip") > 0
    if small is not None:
        resp = Response(small, mimetype="text/javascript")
        resp.headers["Content-Encoding"] = "br"
    else:
        resp = Response(packed if use_gzip else raw, mimetype="text/javascript")
    if use_gzip:
        resp.headers["Content-Encoding"] = "gzip"
    resp.headers["Vary"] = "Accept-Encoding"
    resp.set_etag(etag)
    resp.headers["Cache-Control"] = "public, max-age=86400"
    return resp
