"""The reaper's rules: which runs are due to stop at a moment (their duration is up, their
viewers left, their stop was asked for and the grace is over), and when to look again.

``session.RunManager`` runs it in a thread of its own; the rules are functions of the runs
and the time, so they are tested without one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from ..config import Settings

REAPER_MAX_SLEEP_S = 1.0
REAPER_POLL_S = 0.1
REAPER_MIN_SLEEP_S = 0.02


class ReapedRun(Protocol):
    """What the reaper reads of a run and asks of it (``session.Run`` has it)."""

    id: str
    parent: str | None
    duration: float
    attached_at: float | None
    stop_requested_at: float | None
    viewers: list[Any]
    unwatched_since: float
    ever_watched: bool
    keep_running: bool

    @property
    def active(self) -> bool: ...

    def kill(self) -> None: ...

    def request_stop(self, reason: Any) -> None: ...


def reap(runs: Sequence[ReapedRun], settings: Settings, now: float) -> float:
    """End what is due at ``now``; return the seconds until something may next be due.

    A viewer leaving or a stop being asked for does not wake the reaper: it notices at
    its next beat, which comes no later than ``stop_on_disconnect_s`` and
    ``stop_grace_s``, so their deadlines (counted from the event) are still met.
    """
    s = settings
    due = now + min(REAPER_MAX_SLEEP_S, s.stop_on_disconnect_s, s.stop_grace_s)
    watched = watched_through_drilldowns(runs, now)
    for run in runs:
        if not run.active:
            continue
        if run.stop_requested_at is not None:
            if now - run.stop_requested_at >= s.stop_grace_s:
                run.kill()
            due = min(due, run.stop_requested_at + s.stop_grace_s)
            continue
        if run.duration and run.attached_at is None:
            due = min(due, now + REAPER_POLL_S)
        elif run.duration and run.attached_at is not None:
            end = run.attached_at + run.duration
            if now >= end:
                run.request_stop("duration")
                continue
            due = min(due, end)
        if run.viewers:
            continue
        # A drilldown of it on screen keeps the parent going; after the drilldown's last
        # viewer left, the parent has the grace it would have after its own.
        since = max(run.unwatched_since, watched.get(run.id, run.unwatched_since))
        if since >= now:
            continue
        reason: str
        if run.ever_watched and not run.keep_running:
            limit, reason = since + s.stop_on_disconnect_s, "disconnect"
        else:
            limit, reason = since + s.max_unwatched_s, "unwatched"
        if now >= limit:
            run.request_stop(reason)
        else:
            due = min(due, limit)
    return max(REAPER_MIN_SLEEP_S, due - now)


def watched_through_drilldowns(runs: Sequence[ReapedRun], now: float) -> dict[str, float]:
    """For each run an active, watched drilldown descends from: since when none of its
    drilldowns is watched (``now`` while one is)."""
    by_id = {r.id: r for r in runs}
    out: dict[str, float] = {}
    for run in by_id.values():
        if not (run.active and run.ever_watched):
            continue
        since = now if run.viewers else run.unwatched_since
        parent = run.parent
        while parent is not None and parent in by_id and out.get(parent, -1.0) < since:
            out[parent] = since
            parent = by_id[parent].parent
    return out
