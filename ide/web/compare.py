"""``GET /api/compare``: two runs, live or recorded, each at a time of its own, as a
difference (the core is ``ide/archive/compare.py``; docs/api.md, "Compare")."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, jsonify, request

from ..archive.compare import compare_snapshots
from ..archive.recorder import title_of
from ..archive.store import NoRecord, Record, iso
from ..charts.compare import bucket_ranges, overlay_figure
from ..charts.labels import key_label
from ..tracing.session import Run
from .errors import ApiError
from .state import state

bp = Blueprint("compare", __name__, url_prefix="/api")

MAX_RUN_ID = 64
CHARTED_KEYS = 8  # per distribution, the keys that changed most get an overlaid chart


@dataclass(frozen=True)
class Side:
    """One run of the two, and the snapshot of it that is compared."""

    body: dict[str, Any]  # id, title, state, language, started_at, t
    snapshot: dict[str, Any]


def _time(name: str) -> float | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    try:
        t = float(raw)
    except ValueError:
        t = math.nan
    if not math.isfinite(t) or t < 0:
        raise ApiError(
            400, f"bad_{name}", f"{name} must be seconds since the probes attached (0 or more)"
        )
    return t


def _record(run_id: str) -> Record | None:
    archive = state().archive
    if archive is None:
        return None
    try:
        return archive.get(run_id)
    except NoRecord:
        return None


def _snapshot(
    which: str, run_id: str, run: Run | None, found: Record | None, t: float | None
) -> dict[str, Any] | None:
    """The run's snapshot at ``t``: from its record when it has one (its latest without
    ``t``), else the live run's latest."""
    archive = state().archive
    if archive is not None and found is not None and (t is not None or run is None):
        return archive.snapshot_at(run_id, math.inf if t is None else t)
    if t is not None:
        raise ApiError(
            400, f"bad_t_{which}",
            f"run {run_id!r} is not recorded, so only its latest snapshot can be compared: "
            f"leave t_{which} out",
        )  # fmt: skip
    snap = run.snapshot if run is not None else None
    return snap.to_dict() if snap is not None else None


def side(which: str) -> Side:
    """Run ``?a=`` or ``?b=`` at ``?t_a=`` / ``?t_b=`` (default: its latest snapshot)."""
    run_id = request.args.get(which, "")
    if not run_id:
        raise ApiError(400, f"bad_{which}", f"give {which}, the id of a run (GET /api/runs)")
    t = _time(f"t_{which}")
    run = state().runs.get(run_id) if len(run_id) <= MAX_RUN_ID else None
    found = _record(run_id) if len(run_id) <= MAX_RUN_ID else None
    if run is not None:
        started = time.time() - (time.monotonic() - run.created)
        body: dict[str, Any] = {"state": run.state, "language": run.language}
        script = run.script
    elif found is not None:
        started = found.started_at
        body = {"state": found.state, "language": found.language}
        script = found.script
    else:
        raise ApiError(404, "no_such_run", f"there is no run {run_id!r} (it may have expired)")
    title = found.title if found is not None and found.title else title_of(script)
    snap = _snapshot(which, run_id, run, found, t)
    if snap is None:
        raise ApiError(
            409, "no_snapshot",
            f"run {run_id!r} ({title}) has no data yet: wait for its first interval, or "
            "pick a run that has taken a snapshot",
        )  # fmt: skip
    body.update(
        id=run_id, title=title, started_at=iso(found.started_at if found else started),
        t=snap.get("t"),
    )  # fmt: skip
    return Side(body, snap)


def _decorate(result: dict[str, Any], charts: bool) -> None:
    """Labels for the page (plain text), and with ``charts`` an overlaid figure for the keys
    of each distribution that changed most."""
    for agg in result["aggregations"]:
        for n, row in enumerate(agg["rows"]):
            row["label"] = key_label(tuple(row["key"]))
            if "buckets" not in row:
                continue
            for bucket, text in zip(
                row["buckets"], bucket_ranges(row["buckets"], agg["function"]), strict=True
            ):
                bucket["range"] = text
            if charts and n < CHARTED_KEYS:
                row["figure"] = overlay_figure(
                    row["buckets"], agg["function"], f"compare:{agg['name']}:{n}"
                )


@bp.get("/compare")
def compare() -> Response:
    a, b = side("a"), side("b")
    result = compare_snapshots(a.snapshot, b.snapshot, state().settings.max_rows_per_aggregation)
    _decorate(result, request.args.get("charts") in {"1", "true"})
    return jsonify({"a": a.body, "b": b.body, **result})
