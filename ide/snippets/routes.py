"""``/api/snippets`` and ``/api/examples``: thin views over ``SnippetStore`` and the examples.

- ``GET /api/snippets?q=&language=``: ``{"snippets": [Snippet without script], "search"}``,
  newest first; ``q`` matches every word (as a prefix) in title, description, script, tags.
- ``POST /api/snippets`` ``{"title", "language", "script", "description"?, "tags"?,
  "options"?}``: 201 Snippet with a ``Location`` header.
- ``GET /api/snippets/ID``: Snippet.
- ``PUT /api/snippets/ID`` with any of those fields and ``"base_rev"`` (the rev the edit
  started from): Snippet, a new rev when anything changed; 409 ``conflict`` when stale.
- ``DELETE /api/snippets/ID``: ``{"deleted", "undo"}``; ``POST /api/snippets/ID/undelete``
  brings it back (deleted snippets are purged after 30 days).
- ``GET /api/snippets/ID/revisions``: ``{"snippet_id", "current", "revisions": [...]}``;
  ``GET .../revisions/REV``: Revision; ``POST .../revisions/REV/restore``: Snippet, REV's
  content saved as a new rev.
- ``GET /api/snippets/export``: ``{"format": "dtrace-ide-snippets", "version": 1,
  "exported", "snippets"}`` as an attachment; ``POST /api/snippets/import`` takes that file
  (or a list of snippets): 201 ``{"imported", "ids"}``, all or nothing.
- ``GET /api/examples?language=``: ``{"groups": [{"id", "title", "examples": [Example]}]}``.

Snippet: ``{"id", "title", "language", "description", "tags", "options", "created",
"updated", "rev", "script"}``; ``options`` holds ``duration``, ``interval``, ``options``
(tracer options) and other flags of the run form.  Bad input is 400 ``invalid_snippet`` with
a message naming the field; a script over ``max_script_bytes`` says its size and the limit.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Blueprint, Flask, Response, jsonify, request
from werkzeug.exceptions import BadRequest

from .. import examples
from ..tracing.model import LANGUAGE_CHOICES, LANGUAGES
from ..web.errors import ApiError
from ..web.state import state
from .store import Conflict, NotFound, SnippetStore, parse_import
from .validate import SnippetError

bp = Blueprint("snippets", __name__)

F = TypeVar("F", bound=Callable[..., Any])
MAX_QUERY_CHARS = 500
MAX_ID = 2**63 - 1


def store() -> SnippetStore:
    return state().snippets


def _translate_errors(view: F) -> F:
    """The store's exceptions as the one JSON error shape."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        for name, value in kwargs.items():
            if isinstance(value, int) and value > MAX_ID:  # past SQLite's INTEGER
                raise ApiError(404, "not_found", f"no such {name.removesuffix('_id')}")
        try:
            return view(*args, **kwargs)
        except SnippetError as err:
            raise ApiError(400, "invalid_snippet", err.message) from None
        except NotFound as err:
            raise ApiError(404, "not_found", str(err)) from None
        except Conflict as err:
            raise ApiError(409, "conflict", str(err)) from None

    return cast(F, wrapper)


def _body() -> Any:
    if not request.is_json:
        raise ApiError(
            415, "unsupported_media_type", "send JSON with Content-Type: application/json"
        )
    try:
        return request.get_json()
    except (BadRequest, RecursionError, ValueError):
        raise ApiError(400, "bad_json", "the body is not valid JSON") from None


def _base_rev(body: Any) -> int | None:
    value = body.get("base_rev") if isinstance(body, dict) else None
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, "invalid_snippet", "base_rev must be an integer revision number")
    return value


@bp.get("/api/snippets")
@_translate_errors
def list_snippets() -> Response:
    q = request.args.get("q", "")
    if len(q) > MAX_QUERY_CHARS or "\x00" in q:
        raise ApiError(400, "bad_query", f"q must be under {MAX_QUERY_CHARS} characters, no NUL")
    language = request.args.get("language") or None
    if language is not None and language not in LANGUAGES:
        raise ApiError(400, "bad_query", f"language must be {LANGUAGE_CHOICES}")
    found = store().find(query=q, language=language)
    return jsonify(
        {"snippets": [s.to_dict(with_script=False) for s in found], "search": store().search_kind}
    )


@bp.post("/api/snippets")
@_translate_errors
def create_snippet() -> tuple[Response, int, dict[str, str]]:
    created = store().create(_body())
    return jsonify(created.to_dict()), 201, {"Location": f"/api/snippets/{created.id}"}


@bp.get("/api/snippets/<int:snippet_id>")
@_translate_errors
def get_snippet(snippet_id: int) -> Response:
    return jsonify(store().get(snippet_id).to_dict())


@bp.put("/api/snippets/<int:snippet_id>")
@_translate_errors
def update_snippet(snippet_id: int) -> Response:
    body = _body()
    saved = store().update(snippet_id, body, base_rev=_base_rev(body))
    return jsonify(saved.to_dict())


@bp.delete("/api/snippets/<int:snippet_id>")
@_translate_errors
def delete_snippet(snippet_id: int) -> Response:
    store().delete(snippet_id)
    return jsonify({"deleted": snippet_id, "undo": f"/api/snippets/{snippet_id}/undelete"})


@bp.post("/api/snippets/<int:snippet_id>/undelete")
@_translate_errors
def undelete_snippet(snippet_id: int) -> Response:
    return jsonify(store().undelete(snippet_id).to_dict())


@bp.get("/api/snippets/<int:snippet_id>/revisions")
@_translate_errors
def list_revisions(snippet_id: int) -> Response:
    revs = store().revisions(snippet_id)
    current = revs[0].rev if revs else 0
    return jsonify(
        {
            "snippet_id": snippet_id,
            "current": current,
            "revisions": [r.to_dict(with_script=False) for r in revs],
        }
    )


@bp.get("/api/snippets/<int:snippet_id>/revisions/<int:rev>")
@_translate_errors
def get_revision(snippet_id: int, rev: int) -> Response:
    return jsonify(store().revision(snippet_id, rev).to_dict())


@bp.post("/api/snippets/<int:snippet_id>/revisions/<int:rev>/restore")
@_translate_errors
def restore_revision(snippet_id: int, rev: int) -> Response:
    return jsonify(store().restore_revision(snippet_id, rev).to_dict())


@bp.get("/api/snippets/export")
@_translate_errors
def export_snippets() -> Response:
    response = jsonify(store().export())
    response.headers["Content-Disposition"] = 'attachment; filename="dtrace-ide-snippets.json"'
    return response


@bp.post("/api/snippets/import")
@_translate_errors
def import_snippets() -> tuple[Response, int]:
    created = store().import_many(parse_import(_body()))
    return jsonify({"imported": len(created), "ids": [s.id for s in created]}), 201


@bp.get("/api/examples")
def list_examples() -> Response:
    language = request.args.get("language") or None
    if language is not None and language not in LANGUAGES:
        raise ApiError(400, "bad_query", f"language must be {LANGUAGE_CHOICES}")
    return jsonify({"groups": examples.grouped(language)})


def register(app: Flask) -> None:
    app.register_blueprint(bp)
