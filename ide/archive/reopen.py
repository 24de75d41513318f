"""A recorded run opened again: rebuilt as an ended ``Run`` in the server's memory from its
record, so its viewer link, its stream and its charts work after a restart as before."""

from __future__ import annotations

from typing import Any, cast

from ..tracing.model import snapshot_from_json
from ..tracing.session import Run, RunManager, State
from .store import NoRecord, RunArchive


def recorded_output(
    messages: list[tuple[float, dict[str, Any]]],
) -> tuple[list[str], list[dict[str, Any]]]:
    """The lines a run printed and the problems it had, from its recorded messages."""
    output: list[str] = []
    problems: list[dict[str, Any]] = []
    for _, m in messages:
        if m.get("type") == "output":
            output.extend(str(line) for line in m.get("lines", []))
        elif m.get("type") == "error" and isinstance(m.get("message"), str):
            problems.append({k: m.get(k) for k in ("message", "fix", "count", "severity")})
    return output, problems


def reopen(manager: RunManager, archive: RunArchive, run_id: str) -> Run | None:
    """The run ``run_id`` from its record, or None when there is none."""
    try:
        found = archive.get(run_id)
    except NoRecord:
        return None
    settings = manager.settings
    run = Run(
        settings, cast(Any, found.language), found.script, found.duration, found.interval,
        found.options, False, "", renderer=manager.renderer,
    )  # fmt: skip
    run.id, run.viewer_key, run.via = found.id, found.viewer_key, found.via
    run.parent, run.drill = found.parent, found.drill
    run.meter.seen.update(found.cost or {})  # the figures last measured while it went
    run.viewer_expires_at, run.viewer_revoked_at = found.viewer_expires_at, found.viewer_revoked_at
    snapshots = [
        snapshot_from_json(data)
        for data in archive.last_snapshots(run_id, settings.max_history_snapshots)
    ]
    output, problems = recorded_output(archive.messages(run_id))
    state = found.state if found.state in {"finished", "stopped", "failed"} else "failed"
    run.restore(snapshots, output[-settings.max_output_lines :], problems, cast(State, state),
                found.error, found.elapsed)  # fmt: skip
    return manager.adopt(run)
