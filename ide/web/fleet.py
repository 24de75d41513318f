"""The fleet's routes: the hosts the server has heard of (docs/api.md, docs/fleet.md)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from .state import state

bp = Blueprint("fleet", __name__, url_prefix="/api")


@bp.get("/hosts")
def hosts() -> Response:
    """GET /api/hosts: every host heard of, online or not, and the broker's state; a server
    without a broker has none."""
    hub = state().fleet
    if hub is None:
        return jsonify({"broker": None, "hosts": []})
    return jsonify({"broker": hub.broker_status(), "hosts": hub.directory.to_list()})
