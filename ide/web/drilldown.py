"""Drilldown: ``POST /api/drilldown`` derives a script from a click on a key,
``GET /api/drilldown/fields`` says what a click on an aggregation can offer (docs/api.md)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import msgspec
from flask import Blueprint, Response, jsonify, request

from ..tracing.drilldown import DrillImpossible, Mode, Unreadable
from ..tracing.model import Diagnostic, Language
from ..tracing.pipeline import DrillDoesNotCompile
from ..tracing.registry import Via
from .api import checked_script, json_body, parse_body, pipeline, pipeline_errors
from .auth import settings
from .drill_shapes import AggregationName, FieldName, Key
from .errors import ApiError

bp = Blueprint("drilldown", __name__, url_prefix="/api/drilldown")


class DrillBody(msgspec.Struct, frozen=True):
    language: Language
    script: str
    aggregation: AggregationName
    key: Key
    by: FieldName | None = None
    mode: Mode = "only"
    via: Via = "auto"


@contextlib.contextmanager
def drill_errors() -> Iterator[None]:
    try:
        with pipeline_errors():
            yield
    except Unreadable as exc:
        raise ApiError(
            400,
            "drilldown_impossible",
            f"dtrace-ide cannot read this script for a drilldown: {exc.diagnostic.message}",
            diagnostics=[exc.diagnostic.to_dict()],
        ) from exc
    except DrillImpossible as exc:
        raise ApiError(
            400,
            "drilldown_impossible",
            exc.message,
            # About the script as a whole (its aggregation, keys, probes): at its start.
            diagnostics=[Diagnostic(1, 1, 1, 1, exc.message).to_dict()],
        ) from exc
    except DrillDoesNotCompile as exc:
        raise ApiError(
            400,
            "drilldown_does_not_compile",
            str(exc),
            diagnostics=[d.to_dict() for d in exc.result.diagnostics],
        ) from exc


@bp.post("")
def drill() -> Response:
    raw = json_body()
    body = parse_body(DrillBody, raw)
    script = checked_script(body.script, settings())
    with drill_errors():
        derived = pipeline().drill(
            body.language, script, body.aggregation, body.key, body.by, body.mode, body.via
        )
    return jsonify(
        {
            "script": derived.script,
            "diff": derived.diff,
            "fields": [f.to_dict() for f in derived.fields],
            "aggregation": derived.aggregation,
        }
    )


class FieldsQuery(msgspec.Struct, frozen=True):
    language: Language
    script: str
    aggregation: AggregationName
    via: Via = "auto"


@bp.route("/fields", methods=["GET", "POST"])
def fields() -> Response:
    """GET with a query string; POST the same as JSON for a script too long for a URL."""
    raw = json_body() if request.method == "POST" else dict(request.args)
    query = parse_body(FieldsQuery, raw)
    script = checked_script(query.script, settings())
    with drill_errors():
        found = pipeline().drill_menu(query.language, script, query.aggregation, query.via)
    return jsonify(
        {
            "aggregation": found.aggregation,
            "fields": [f.to_dict() for f in found.fields],
            "key_arity": found.key_arity,
            "comparable": list(found.comparable),
            "unavailable": found.unavailable,
        }
    )
