"""Runs, live and recorded: the list, one run, its snapshots over time, export and import,
pin and title, and deleting a record (docs/api.md, "Recorded runs")."""

from __future__ import annotations

import gzip
import io
import secrets
import time
import zlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import msgspec
from flask import Blueprint, Response, jsonify, request

from ..archive.reopen import recorded_output
from ..archive.store import NoRecord, Record, RunArchive, iso
from ..tracing.model import Language, Snapshot
from ..tracing.session import Run
from ..tracing.viewer_link import ViewerLink
from .api import json_body, parse_body, run_body, runs, viewer_link_fields
from .errors import ApiError
from .state import state

bp = Blueprint("archive", __name__, url_prefix="/api")

MAX_LISTED = 1000
MAX_SNAPSHOTS = 10_000  # one answer of /snapshots; ask again with ?from= for more
EXPORT_VERSION = 1
_DECODE = msgspec.json.Decoder()
_ENCODE = msgspec.json.Encoder()


def archive() -> RunArchive:
    found = state().archive
    if found is None:
        raise ApiError(404, "not_recorded", "runs are not recorded on this server (record_runs)")
    return found


def record(run_id: str) -> Record:
    try:
        return archive().get(run_id)
    except NoRecord:
        raise ApiError(
            404, "no_such_run", f"there is no run {run_id!r} (it may have expired)"
        ) from None


def live_body(run: Run, found: Record | None) -> dict[str, Any]:
    """A live run's body with what its record adds."""
    body = run_body(run)
    started = time.time() - (time.monotonic() - run.created)
    body.update(
        recorded=state().archive is not None,
        title=found.title if found else "",
        started_at=iso(found.started_at if found else started),
        bytes=found.bytes if found else 0,
        pinned=found.pinned if found else False,
        host=found.host if found else "",
        cost=run.cost(),
    )
    return body


def recorded_body(found: Record, *, full: bool) -> dict[str, Any]:
    """A recorded run that is no longer in memory, as ``GET /api/runs/ID`` shows a run."""
    body = found.to_dict()
    body["viewers"] = 0
    body.update(viewer_link_fields(found.id, ViewerLink.of(found)))
    if not full:
        return body
    output, problems = recorded_output(archive().messages(found.id))
    body.update(
        script=found.script,
        snapshot=archive().snapshot_at(found.id, float("inf")),
        output=output[-state().settings.max_output_lines :],
        problems=problems,
    )
    return body


def _when(raw: str | None, name: str) -> float | None:
    """An ISO 8601 time or seconds since the epoch; a bad one is a 400 naming ``name``."""
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise ApiError(400, f"bad_{name}", f"{name} must be an ISO 8601 time or seconds") from None


def _number(name: str, default: float | None = None) -> float | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ApiError(400, f"bad_{name}", f"{name} must be a number of seconds") from None


def _unrecorded_shown(run: Run, filters: dict[str, Any]) -> bool:
    """A run in memory that the record's answer left out, shown when it passes the filters:
    one whose record is not written yet, or any run on a server that records none. An ended
    run without its record had it deleted; a recorded one was left out by the filters."""
    if state().archive is not None:
        if not run.active:
            return False
        try:
            archive().get(run.id)
            return False
        except NoRecord:
            pass
    want, q, language, before = (filters[k] for k in ("state", "q", "language", "before"))
    started = time.time() - (time.monotonic() - run.created)
    return (
        (want is None or run.state == want)
        and (q is None or q.lower() in run.script.lower())
        and (language is None or run.language == language)
        and (before is None or started < before)
    )


@bp.get("/runs")
def list_runs() -> Response:
    """Live runs and recorded ones, newest first; ``state``, ``language``, ``q``, ``before``,
    ``limit``."""
    filters: dict[str, Any] = {
        k: request.args.get(k) or None for k in ("state", "language", "q")
    } | {"before": _when(request.args.get("before"), "before")}
    limit = int(min(MAX_LISTED, max(1, _number("limit", 100) or 100)))
    live = {r.id: r for r in runs().all()}
    recorded = archive().find(**filters, limit=limit) if state().archive is not None else []
    out = []
    for found in recorded:
        run = live.pop(found.id, None)
        out.append(live_body(run, found) if run else recorded_body(found, full=False))
    out += [live_body(run, None) for run in live.values() if _unrecorded_shown(run, filters)]
    out.sort(key=lambda b: b.get("started_at") or "", reverse=True)
    for body in out:
        for k in ("snapshot", "output", "script"):
            body.pop(k, None)
    return jsonify({"runs": out[:limit]})


@bp.get("/runs/<run_id>")
def get_run(run_id: str) -> Response:
    run = runs().get(run_id)
    found = None
    if state().archive is not None:
        try:
            found = archive().get(run_id)
        except NoRecord:
            found = None
    if run is not None:
        return jsonify(live_body(run, found))
    if found is None:
        raise ApiError(404, "no_such_run", f"there is no run {run_id!r} (it may have expired)")
    return jsonify(recorded_body(found, full=True))


@bp.get("/runs/<run_id>/snapshots")
def snapshots(run_id: str) -> Response:
    record(run_id)
    step = _number("step")
    found = archive().snapshots(
        run_id, start=_number("from"), end=_number("to"), step=step, limit=MAX_SNAPSHOTS
    )
    return jsonify({"snapshots": found})


@bp.get("/runs/<run_id>/snapshots/at")
def snapshot_at(run_id: str) -> Response:
    record(run_id)
    t = _number("t")
    if t is None:
        raise ApiError(400, "bad_t", "give t, seconds since the probes attached")
    found = archive().snapshot_at(run_id, t)
    if found is None:
        raise ApiError(404, "no_snapshot", "this run has no snapshot yet")
    return jsonify(found)


class RunPatch(msgspec.Struct, frozen=True):
    pinned: bool | None = None
    title: str | None = msgspec.field(default=None)


@bp.patch("/runs/<run_id>")
def patch_run(run_id: str) -> Response:
    body = parse_body(RunPatch, json_body())
    if body.title is not None and len(body.title) > 200:
        raise ApiError(400, "bad_title", "title is longer than 200 characters")
    record(run_id)
    return jsonify(archive().update(run_id, pinned=body.pinned, title=body.title).to_dict())


@bp.delete("/runs/<run_id>/record")
def delete_record(run_id: str) -> Response:
    run = runs().get(run_id)
    if run is not None and run.active:
        raise ApiError(409, "run_active", "the run is still going: stop it first")
    record(run_id)
    archive().delete(run_id)
    return Response(status=204)


# --- export and import ------------------------------------------------------------------


def export_lines(found: Record) -> Iterator[bytes]:
    head = {**found.to_dict(), "script": found.script}
    yield _ENCODE.encode({"type": "run", "version": EXPORT_VERSION, "run": head}) + b"\n"
    for snap in archive().snapshots(found.id, limit=10**9):
        yield _ENCODE.encode({"type": "snapshot", "snapshot": snap}) + b"\n"
    for t, message in archive().messages(found.id):
        yield _ENCODE.encode({"type": "message", "t": t, "message": message}) + b"\n"


@bp.get("/runs/<run_id>/export")
def export(run_id: str) -> Response:
    found = record(run_id)
    data = b"".join(export_lines(found))
    name = f"dtrace-ide-run-{run_id}.ndjson"
    if request.args.get("gzip") in {"1", "true"}:
        data, name = gzip.compress(data, mtime=0), name + ".gz"
        kind = "application/gzip"
    else:
        kind = "application/x-ndjson"
    return Response(
        data, mimetype=kind, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


class ImportedRun(msgspec.Struct):
    language: Language
    script: str
    state: str
    title: str = ""
    via: str | None = None
    host: str = ""
    options: dict[str, int] = {}
    duration: float = 0.0
    interval: float = 1.0
    elapsed: float = 0.0
    error: str | None = None
    started_at: str | None = None
    ended_at: str | None = None


class ExportedSnapshot(msgspec.Struct):
    snapshot: Snapshot


class ExportedMessage(msgspec.Struct):
    t: float
    message: dict[str, Any]


def _expanded(raw: bytes, cap: int) -> bytes:
    """The export as NDJSON: gunzipped when it is gzip, to at most ``cap`` bytes."""
    if raw[:2] != b"\x1f\x8b":
        return raw
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflate.decompress(raw, cap + 1)
    except zlib.error:
        raise ApiError(400, "bad_export", "the gzip data is damaged") from None
    if len(data) > cap:
        raise ApiError(
            413, "export_too_large", f"the export expands to more than {cap} bytes "
            "(archive_max_bytes)",
        )  # fmt: skip
    if not inflate.eof:
        raise ApiError(400, "bad_export", "the gzip data is cut short")
    return data


def read_export(
    raw: bytes, cap: int
) -> tuple[ImportedRun, Iterator[tuple[float, bytes]], list[tuple[float, dict[str, Any]]]]:
    """The run, its snapshots (t, snapshot JSON) and its messages from an export (NDJSON,
    maybe gzipped). The snapshots are read as they are asked for, the messages meanwhile:
    the list is whole once the snapshots have all been taken."""
    lines = (ln for ln in io.BytesIO(_expanded(raw, cap)) if ln.strip())
    try:
        head = _DECODE.decode(next(lines, b"null"))
        if not isinstance(head, dict) or head.get("type") != "run":
            raise ApiError(400, "bad_export", 'the first line must be the run ({"type": "run"})')
        meta = msgspec.convert(head.get("run"), ImportedRun)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ApiError(400, "bad_export", f"this is not a dtrace-ide run export: {exc}") from None
    messages: list[tuple[float, dict[str, Any]]] = []

    def snapshots() -> Iterator[tuple[float, bytes]]:
        try:
            for line in lines:
                item = _DECODE.decode(line)
                kind = item.get("type") if isinstance(item, dict) else None
                if kind == "snapshot":
                    snap = msgspec.convert(item, ExportedSnapshot).snapshot
                    yield snap.t, snap.to_json()
                elif kind == "message":
                    m = msgspec.convert(item, ExportedMessage)
                    messages.append((m.t, m.message))
                else:
                    raise ApiError(400, "bad_export", f"an export line of unknown type {kind!r}")
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ApiError(
                400, "bad_export", f"this is not a dtrace-ide run export: {exc}"
            ) from None

    return meta, snapshots(), messages


@bp.post("/runs/import")
def import_run() -> Response:
    """A run exported here or on another box, recorded anew under a new id."""
    settings = state().settings
    request.max_content_length = settings.max_import_bytes  # an export is a large request
    meta, snaps, messages = read_export(request.get_data(cache=False), settings.archive_max_bytes)
    started = _when(meta.started_at, "started_at") or time.time()
    ended = _when(meta.ended_at, "ended_at")
    run = Record(
        id=secrets.token_urlsafe(9), title=meta.title, language=meta.language, via=meta.via,
        script=meta.script, options=meta.options, host=meta.host,
        state="stopped" if meta.state == "running" else meta.state, error=meta.error,
        started_at=started, ended_at=ended, duration=meta.duration,
        interval=meta.interval, elapsed=meta.elapsed, parent=None, drill=None,
        viewer_key=secrets.token_urlsafe(18), pinned=False, bytes=0, snapshots=0,
    )  # fmt: skip
    found = archive().load(run, snaps, messages)  # all or nothing: a bad line undoes it
    body = recorded_body(found, full=False)
    return Response(_ENCODE.encode(body), status=201, mimetype="application/json")
