"""The JSON API: health, compile, runs, probes, limits, highlight (docs/api.md)."""

from __future__ import annotations

import contextlib
import math
import re
import time
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, TypeVar

import msgspec
from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from ..archive.reopen import reopen
from ..archive.store import iso
from ..config import TRACER_OPTIONS, Settings, tracer_option
from ..tracing import viewer_link
from ..tracing.backend import Backend, BackendUnavailable
from ..tracing.model import LANGUAGE_CHOICES, LANGUAGES, CompileResult, Language
from ..tracing.pipeline import (
    CompileBusy,
    NoBackend,
    RunRequest,
    ScriptPipeline,
    ScriptRejected,
    way_of,
)
from ..tracing.registry import VIAS, Backends, Via
from ..tracing.session import LimitExceeded, Run, RunManager
from ..tracing.viewer_link import ViewerLink
from ..version import __version__
from .auth import identity, settings
from .drill_shapes import DrillInfo
from .errors import ApiError
from .state import state

MAX_RUN_ID = 64

bp = Blueprint("api", __name__, url_prefix="/api")
MAX_PROBES_RETURNED = 200


def backends() -> Backends:
    return state().backends


def runs() -> RunManager:
    return state().runs


def pipeline() -> ScriptPipeline:
    return state().pipeline


# --- request validation ---------------------------------------------------------------------


def json_body() -> dict[str, Any]:
    if not request.is_json:
        raise ApiError(
            415, "unsupported_media_type", "send a JSON body (Content-Type: application/json)"
        )
    try:
        body = request.get_json(force=False, silent=False)
    except RequestEntityTooLarge:
        raise  # 413 from the error handler, not "bad JSON"
    except Exception as exc:
        raise ApiError(400, "bad_json", "the request body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "bad_json", "the request body must be a JSON object")
    return body


PositiveInt = Annotated[int, msgspec.Meta(gt=0)]


class CompileBody(msgspec.Struct, frozen=True):
    """POST /api/compile.  Types are checked by the shape, limits by ``checked_script``."""

    language: Language
    script: str
    via: Via = "auto"  # which tracer takes the script; "auto" lets the server choose


class RunBody(CompileBody, frozen=True):
    """POST /api/runs."""

    duration: float = 0.0  # 0: until stopped
    interval: float = 1.0
    options: dict[str, PositiveInt] | None = None
    keep_running: bool = False
    parent: str | None = None  # a drilldown: the run it was derived from
    drill: DrillInfo | None = None
    hosts: list[str] | str | None = None  # a fleet run: names, patterns, tag:NAME or "*"


class HighlightBody(msgspec.Struct, frozen=True):
    language: Language
    script: str = ""


# A field of the wrong type is answered as it was before the shapes were declared.
SHAPE_ERRORS: dict[str, tuple[str, str]] = {
    "language": ("bad_language", f"language must be {LANGUAGE_CHOICES}"),
    "script": ("bad_script", "script must be a string"),
    "via": ("bad_via", "via must be " + ", ".join(f'"{v}"' for v in VIAS)),
    "duration": ("bad_duration", "duration must be a number of seconds"),
    "interval": ("bad_interval", "interval must be a number of seconds"),
    "options": ("bad_options", "options must be an object"),
    "keep_running": ("bad_keep_running", "keep_running must be true or false"),
    "aggregation": ("bad_aggregation", 'aggregation must be a name such as "@num"'),
    "key": ("bad_key", "key must be a list of the clicked key's parts (strings or integers)"),
    "by": ("bad_by", "by must be a field name or null"),
    "mode": ("bad_mode", 'mode must be "only", "exclude" or "latency"'),
    "parent": ("bad_parent", "parent must be a run id"),
    "drill": ("bad_drill", "drill must be {aggregation, key, by, mode}"),
    "hosts": ("bad_hosts", 'hosts must be a list of host names, patterns or "tag:NAME", or "*"'),
}
_ERROR_FIELD = re.compile(r"`\$\.(\w+)|required field `(\w+)`")
Body = TypeVar("Body", bound=msgspec.Struct)


def parse_body(shape: type[Body], body: Mapping[str, Any]) -> Body:
    try:
        return msgspec.convert(body, shape)
    except msgspec.ValidationError as exc:
        detail = str(exc)
        found = _ERROR_FIELD.search(detail)
        name = (found.group(1) or found.group(2)) if found else ""
        if name == "options" and isinstance(body.get("options"), dict):
            check_options(body["options"])  # raises, naming the option
        code, message = SHAPE_ERRORS.get(name, ("bad_request", detail))
        raise ApiError(400, code, message) from exc


def checked_script(script: str, s: Settings) -> str:
    if len(script.encode("utf-8", "surrogatepass")) > s.max_script_bytes:
        raise ApiError(
            413, "script_too_large", f"the script is larger than {s.max_script_bytes} bytes"
        )
    if "\x00" in script:
        raise ApiError(400, "bad_script", "the script contains a NUL character")
    try:
        script.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate from a \ud800 JSON escape
        raise ApiError(400, "bad_script", "the script is not valid Unicode text") from exc
    if not script.strip():
        raise ApiError(400, "bad_script", "the script is empty: write a probe first")
    return script


def seconds(name: str, value: float, lo: float, hi: float, *, zero_ok: bool = False) -> float:
    if not math.isfinite(value):
        raise ApiError(400, f"bad_{name}", f"{name} must be a number of seconds")
    if zero_ok and value == 0:
        return 0.0
    if not lo <= value <= hi:
        raise ApiError(400, f"bad_{name}", f"{name} must be between {lo:g} and {hi:g} seconds")
    return value


def check_options(raw: Mapping[str, Any]) -> dict[str, int]:
    """Known tracer options with positive integers, clamped to their maximum."""
    out: dict[str, int] = {}
    for name, value in raw.items():
        cap = tracer_option(name)
        if cap is None:
            known = ", ".join(o.name for o in TRACER_OPTIONS)
            raise ApiError(400, "bad_options", f"unknown tracer option {name!r}; known: {known}")
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ApiError(400, "bad_options", f"option {name} must be a positive integer")
        out[name] = min(value, cap.maximum)
    return out


def backend_for(language: Language) -> Backend:
    with pipeline_errors():
        return pipeline().backend(language)


def unavailable(exc: BackendUnavailable) -> ApiError:
    return ApiError(503, "backend_unavailable", str(exc))


def client_id() -> str:
    """Per-client caps count by who signed in (auth.identity), never by source address."""
    return identity()


# --- routes -----------------------------------------------------------------------------


@bp.get("/health")
def health() -> Response:
    return jsonify(
        {
            "version": __version__,
            "backends": [s.to_dict() for s in backends().statuses()],
            "languages": languages_served(backends()),
        }
    )


def languages_served(found: Backends) -> dict[str, Any]:
    """Per language: whether any backend serves it here, the ways that do (D: "libdtrace"
    and/or "bpftrace", translated) and the one taken when a request does not say."""
    out: dict[str, Any] = {}
    for language in LANGUAGES:
        ways = [b for b in found.ways(language) if b.status().available]
        chosen = found.get(language)
        out[language] = {
            "available": bool(ways),
            "via": [way_of(b) for b in ways] if language == "d" else [],
            "default": way_of(chosen) if chosen is not None and language == "d" else None,
        }
    return out


@bp.get("/limits")
def limits() -> Response:
    s = settings()
    return jsonify(
        {
            "max_script_bytes": s.max_script_bytes,
            "max_duration_s": s.max_duration_s,
            "min_interval_s": s.min_interval_s,
            "max_interval_s": s.max_interval_s,
            "max_runs_total": s.max_runs_total,
            "max_runs_per_client": s.max_runs_per_client,
            "max_rows_per_aggregation": s.max_rows_per_aggregation,
            "max_unwatched_s": s.max_unwatched_s,
            "record_runs": s.record_runs,
            "archive_max_age_s": s.archive_max_age_s,
            "fleet": state().fleet is not None,
            "tracer_options": [
                {
                    "name": o.name,
                    "default": o.default,
                    "maximum": o.maximum,
                    "description": o.description,
                    "languages": list(o.languages),
                    "unit": o.unit,
                }
                for o in TRACER_OPTIONS
            ],
        }
    )


@bp.post("/compile")
def compile_script() -> Response:
    body = parse_body(CompileBody, json_body())
    script = checked_script(body.script, settings())
    return jsonify(compiled(body.language, script, body.via).to_dict())


def compiled(language: Language, script: str, via: Via = "auto") -> CompileResult:
    with pipeline_errors():
        return pipeline().compile(language, script, via)


@contextlib.contextmanager
def pipeline_errors() -> Iterator[None]:
    """The script pipeline's errors as API errors, in one place."""
    try:
        yield
    except ScriptRejected as exc:
        raise ApiError(
            400,
            "script_refused" if exc.result.refused else "compile_error",
            str(exc),
            diagnostics=[d.to_dict() for d in exc.result.diagnostics],
        ) from exc
    except NoBackend as exc:
        raise ApiError(503, "backend_unavailable", str(exc)) from exc
    except BackendUnavailable as exc:
        raise unavailable(exc) from exc
    except CompileBusy as exc:
        raise ApiError(429, "too_many_compiles", str(exc), headers={"Retry-After": "1"}) from exc
    except LimitExceeded as exc:
        raise ApiError(429, "too_many_runs", str(exc)) from exc


@bp.post("/runs")
def create_run() -> tuple[Response, int]:
    s = settings()
    body = parse_body(RunBody, json_body())
    script = checked_script(body.script, s)
    duration = seconds("duration", body.duration, 0.1, s.max_duration_s, zero_ok=True)
    interval = seconds("interval", body.interval, s.min_interval_s, s.max_interval_s)
    options = check_options(body.options or {})
    hosts = body.hosts
    if body.parent is not None and hosts is None:
        hosts = drill_hosts(find_run(body.parent))
    elif body.parent is not None:
        find_run(body.parent)
    req = RunRequest(
        body.language,
        script,
        duration,
        interval,
        options,
        body.keep_running,
        client_id(),
        body.via,
        body.parent,
        msgspec.structs.asdict(body.drill) if body.drill is not None else None,
    )
    with pipeline_errors():
        run = pipeline().start(req) if hosts is None else fleet_run(req, hosts)
    return jsonify(run_body(run)), 201


def drill_hosts(parent: Run) -> list[str] | None:
    """Where a drilldown that names no hosts runs: on a fleet run's hosts (those online
    now, as ``fleet_run`` picks them), else on this server (None)."""
    if state().fleet is None:  # no fleet run without a broker
        return None
    from ..fleet.run import FleetRun

    return sorted(parent.hosts()) if isinstance(parent, FleetRun) else None


def fleet_run(req: RunRequest, hosts: list[str] | str) -> Run:
    from ..fleet.hosts import BadHosts, NoHosts

    hub = state().fleet
    if hub is None:
        raise ApiError(
            400,
            "no_broker",
            "this server has no broker: start it with --broker URL --fleet-key FILE",
        )
    try:
        return hub.start_run(pipeline(), req, hosts)
    except BadHosts as exc:
        raise ApiError(400, "bad_hosts", str(exc)) from exc
    except NoHosts as exc:
        raise ApiError(409, "no_hosts", str(exc)) from exc


def run_body(run: Run) -> dict[str, Any]:
    body = run.to_dict()
    body.update(viewer_link_fields(run.id, ViewerLink.of(run)))
    # What the page reopens a run with and derives its drilldowns from (not for viewers).
    body["script"] = run.script
    body["options"] = dict(run.options)
    return body


def viewer_link_fields(run_id: str, link: ViewerLink) -> dict[str, Any]:
    """A run's viewer link as runs show it: ``viewer_url`` only while the link works."""
    now = viewer_link.clock()
    return {
        "viewer_url": f"/view/{run_id}?key={link.key}" if link.state(now) == "open" else None,
        "viewer_expires_at": iso(link.expires_at),
        "viewer_expires_in": link.expires_in(now),
        "viewer_revoked": link.revoked_at is not None,
    }


def find_run(run_id: str) -> Run:
    """The run, live or ended, in memory or opened again from its record."""
    run = runs().get(run_id)
    archive = state().archive
    if run is None and archive is not None and len(run_id) <= MAX_RUN_ID:
        run = reopen(runs(), archive, run_id)
    if run is None:
        raise ApiError(404, "no_such_run", f"there is no run {run_id!r} (it may have expired)")
    return run


@bp.delete("/runs/<run_id>")
def delete_run(run_id: str) -> Response:
    run = find_run(run_id)
    runs().stop(run, "user")
    return jsonify(run_body(run))


# --- probes, for completion -------------------------------------------------------------


def without_module(name: str) -> str:
    """``syscall:vmlinux:read:entry`` -> ``syscall::read:entry``, the way D scripts name it."""
    parts = name.split(":")
    if len(parts) == 4 and parts[1]:
        parts[1] = ""
    return ":".join(parts)


@bp.get("/probes")
def probes() -> Response:
    language = request.args.get("language", "bpftrace")
    if language not in LANGUAGES:
        raise ApiError(400, "bad_language", f"language must be {LANGUAGE_CHOICES}")
    prefix = request.args.get("prefix", "")
    if len(prefix) > 256:
        raise ApiError(400, "bad_prefix", "prefix is too long")
    lang: Language = language
    backend = backend_for(lang)
    s = settings()
    # Per app, like its backends: (when listed, full names, names without the module).
    cache = state().probe_cache
    with state().probe_lock:
        cached = cache.get(lang)
        if cached is None or time.monotonic() - cached[0] > s.probe_list_cache_s:
            try:
                names = sorted(set(backend.list_probes()))
            except BackendUnavailable as exc:
                raise unavailable(exc) from exc
            short = sorted({without_module(n) for n in names}) if lang == "d" else names
            cached = (time.monotonic(), names, short)
            cache[lang] = cached
    # `syscall::rea` leaves the module out, as D scripts usually do: match on names without it.
    names = cached[2] if lang == "d" and _no_module(prefix) else cached[1]
    matches = [p for p in names if p.startswith(prefix)]
    return jsonify(
        {"probes": matches[:MAX_PROBES_RETURNED], "truncated": len(matches) > MAX_PROBES_RETURNED}
    )


def _no_module(prefix: str) -> bool:
    """A D probe prefix whose module field is present and empty (``provider::...``)."""
    parts = prefix.split(":")
    return len(parts) >= 3 and parts[1] == ""


@bp.route("/highlight", methods=["GET", "POST"])
def highlight() -> Response:
    """GET with ?language=&script= for short scripts, POST {language, script} for any."""
    from dtrace_lexer import highlight_html, highlight_tokens

    raw = json_body() if request.method == "POST" else dict(request.args)
    body = parse_body(HighlightBody, raw)
    if len(body.script.encode("utf-8", "surrogatepass")) > settings().max_script_bytes:
        raise ApiError(413, "script_too_large", "the script is too large")
    return jsonify(
        {
            "html": highlight_html(body.script, body.language),
            "tokens": highlight_tokens(body.script, body.language),
        }
    )
