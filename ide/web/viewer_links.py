"""A run's read-only viewer link, made anew (with an expiry or none) or revoked, for live and
recorded runs alike; and why a key does not open a run, which the viewer page and the
stream's handshake both ask here (docs/api.md, "Viewer links")."""

from __future__ import annotations

import math
from typing import Any

import msgspec
from flask import Blueprint, Response, jsonify, request

from ..archive.recorder import Recorder
from ..archive.store import iso
from ..tracing import viewer_link
from ..tracing.session import Run
from ..tracing.viewer_link import ViewerLink
from .api import find_run, json_body, runs, viewer_link_fields
from .auth import settings
from .errors import ApiError
from .state import state

bp = Blueprint("viewer_links", __name__, url_prefix="/api")

ASK_AGAIN = "ask whoever shared it for a new link"
REFUSED = {
    "unknown": f"This viewer link is unknown or expired: {ASK_AGAIN}.",
    "revoked": f"This viewer link was revoked: {ASK_AGAIN}.",
    "expired": f"This viewer link expired at {{at}}: {ASK_AGAIN}.",
}


def refusal(run: Run | None, key: str) -> str | None:
    """Why ``key`` does not open ``run`` now (a sentence for whoever followed the link), or
    None when it does."""
    if run is None:
        return REFUSED["unknown"]
    link = ViewerLink.of(run)
    found = link.opens(key, viewer_link.clock())
    if found == "open":
        return None
    return REFUSED[found].format(at=iso(link.expires_at))


class NewLink(msgspec.Struct, frozen=True):
    """POST /api/runs/ID/viewer-link."""

    expires_in: float | None = None  # seconds; None: the link does not expire


def expires_in(raw: dict[str, Any]) -> float | None:
    """The new link's lifetime from the body: seconds up to ``max_viewer_link_s``, or None."""
    cap = settings().max_viewer_link_s
    rule = (
        f"expires_in must be a number of seconds from 1 to {cap:.0f} ({cap / 86400:g} days), "
        "or null for a link that does not expire"
    )
    try:
        value = msgspec.convert(raw, NewLink).expires_in
    except msgspec.ValidationError:
        raise ApiError(400, "bad_expires_in", rule) from None
    if value is not None and not (math.isfinite(value) and 1 <= value <= cap):
        raise ApiError(400, "bad_expires_in", rule)
    return value


def keep(run: Run, link: ViewerLink) -> None:
    """``link`` becomes the run's, in memory and in its record (so a restart keeps it)."""
    # The key first: a check in between then fails closed (a new key with the old revocation),
    # never open (an old, revoked key without it).
    run.viewer_key = link.key
    run.viewer_expires_at, run.viewer_revoked_at = link.expires_at, link.revoked_at
    archive = state().archive
    if archive is None:
        return
    recorder = runs().recorder
    if isinstance(recorder, Recorder):
        recorder.flush()  # a run that has just started: its record is written before this
    archive.set_viewer_link(run.id, link.key, link.expires_at, link.revoked_at)


def link_body(run: Run) -> dict[str, Any]:
    return {"id": run.id, **viewer_link_fields(run.id, ViewerLink.of(run))}


@bp.get("/runs/<run_id>/viewer-link")
def get_link(run_id: str) -> Response:
    return jsonify(link_body(find_run(run_id)))


@bp.post("/runs/<run_id>/viewer-link")
def new_link(run_id: str) -> Response:
    """A new key, so the old link stops working; it expires after ``expires_in`` seconds."""
    lifetime = expires_in(json_body() if request.get_data() else {})
    run = find_run(run_id)
    keep(run, ViewerLink.new(lifetime, viewer_link.clock()))
    return jsonify(link_body(run))


@bp.delete("/runs/<run_id>/viewer-link")
def revoke_link(run_id: str) -> Response:
    """No key opens the run until a new link is made."""
    run = find_run(run_id)
    keep(run, ViewerLink.of(run).revoked(viewer_link.clock()))
    return jsonify(link_body(run))
