"""HTML pages and the vendored plotly.js from the plotly wheel (no CDN: the box is offline)."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import importlib
import os
import threading
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request

from ..snippets.store import data_dir
from ..tracing import viewer_link
from ..tracing.session import Run
from ..tracing.viewer_link import ViewerLink
from .auth import (
    authenticated,
    csrf_token,
    public,
    refuse_wrong_token,
    settings,
    sign_in,
    token_matches,
)
from .errors import ApiError
from .viewer_links import refusal

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
    return _page("index.html", csrf_token=csrf_token())


@bp.get("/compare")
@public
def compare() -> Response:
    """Two runs as a difference (static/js/compare.js reads ``?a=&b=`` and asks the API)."""
    if not authenticated():
        return _page("unauthorized.html", 401, reason=None)
    return _page("compare.html", csrf_token=csrf_token())


@bp.get("/view/<run_id>")
@public
def view(run_id: str) -> Response:
    from .api import find_run

    try:
        run: Run | None = find_run(run_id)  # after a restart, opened again from its record
    except ApiError:
        run = None
    refused = refusal(run, request.args.get("key", ""))
    if run is None or refused:
        return _page("unauthorized.html", 404, reason=refused)
    return _page(
        "viewer.html",
        csrf_token="",
        run_id=run.id,
        stream_url=f"/api/runs/{run.id}/stream?key={run.viewer_key}",
        link_expires_in=ViewerLink.of(run).expires_in(viewer_link.clock()),
    )


# Compressed copies of the page's JS and CSS (gzip) and of plotly.js (brotli and gzip) are
# written once per file content into the data directory, then read from there: brotli at
# its best setting takes 10 s of CPU for plotly.js, so it is paid once per plotly
# version, not once per process.  The data directory, because it is the one place a
# service may write (the unit file protects home directories).
COMPRESSIBLE = frozenset({"text/javascript", "application/javascript", "text/css"})
BROTLI_QUALITY = 11  # plotly.js a quarter smaller than gzip -9: 1.11 MB against 1.47 MB


def _brotli(raw: bytes) -> bytes:
    brotli: Any = importlib.import_module("brotli")  # a dependency that ships no type hints
    # In slices: each call lets go of the GIL, so the server answers other requests meanwhile.
    compressor = brotli.Compressor(quality=BROTLI_QUALITY)
    step = 64 * 1024
    parts = [compressor.process(raw[i : i + step]) for i in range(0, len(raw), step)]
    parts.append(compressor.finish())
    return b"".join(parts)


COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "br": _brotli,
    "gzip": lambda raw: gzip.compress(raw, 9, mtime=0),
}


class CompressedCopies:
    """Copies of files compressed once and kept in ``directory``, named by content.

    A changed file (a new plotly, a rebuilt bundle) has a new name, so a stale copy is never
    served.  Where the directory cannot be written, copies are kept in memory instead.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()  # one copy made at a time, and each made once
        self._unwritable: dict[Path, bytes] = {}

    def _path(self, raw: bytes, encoding: str) -> Path:
        return self.directory / f"{hashlib.sha256(raw).hexdigest()[:32]}.{encoding}"

    def existing(self, raw: bytes, encoding: str) -> bytes | None:
        """The copy if it was made already, without making it."""
        path = self._path(raw, encoding)
        with contextlib.suppress(OSError):
            return path.read_bytes()
        return self._unwritable.get(path)

    def get(self, raw: bytes, encoding: str) -> bytes:
        """The copy, made now if it does not exist yet."""
        packed = self.existing(raw, encoding)
        if packed is not None:
            return packed
        path = self._path(raw, encoding)
        with self._lock:
            packed = self.existing(raw, encoding)  # made while this thread waited
            if packed is not None:
                return packed
            packed = COMPRESSORS[encoding](raw)
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
                part = path.with_name(f"{path.name}.{os.getpid()}.part")
                part.write_bytes(packed)
                part.replace(path)  # whole or absent, for other processes too
            except OSError:
                self._unwritable[path] = packed
        return packed


@lru_cache(maxsize=8)
def _copies_in(directory: Path) -> CompressedCopies:
    return CompressedCopies(directory)


def compressed_copies() -> CompressedCopies:
    return _copies_in(data_dir(settings()) / "compressed")


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
    resp.direct_passthrough = False
    resp.set_data(compressed_copies().get(resp.get_data(), "gzip"))
    resp.headers["Content-Encoding"] = "gzip"
    resp.vary.add("Accept-Encoding")
    etag, _ = resp.get_etag()
    if etag:
        # Weak: the bytes differ from the plain file's; If-None-Match compares weakly.
        resp.set_etag(etag, weak=True)
    return resp


@lru_cache(maxsize=4)
def _vendor_file(name: str) -> tuple[bytes, str]:
    if name != "plotly.min.js":
        raise FileNotFoundError(name)
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    raw = path.read_bytes()
    return raw, hashlib.sha256(raw).hexdigest()[:16]


@bp.get("/static-vendor/<name>")
@public
def vendor(name: str) -> Response:
    try:
        raw, etag = _vendor_file(name)
    except FileNotFoundError as exc:
        raise ApiError(404, "not_found", f"no vendored file {name}") from exc
    if request.if_none_match.contains(etag):
        return Response(status=304)
    copies = compressed_copies()
    accept = request.accept_encodings
    small = copies.existing(raw, "br") if accept.quality("br") > 0 else None
    encoding = "br" if small is not None else "gzip" if accept.quality("gzip") > 0 else None
    body = small or (raw if encoding is None else copies.get(raw, encoding))
    resp = Response(body, mimetype="text/javascript")
    if encoding is not None:
        resp.headers["Content-Encoding"] = encoding
    if accept.quality("br") > 0 and small is None:
        # The brotli copy takes seconds: this answer goes out in gzip, and the thread that
        # served it makes the copy once it is sent, for every later request.
        resp.call_on_close(lambda: copies.get(raw, "br"))
    resp.headers["Vary"] = "Accept-Encoding"
    resp.set_etag(etag)
    resp.headers["Cache-Control"] = "public, max-age=86400"
    return resp
