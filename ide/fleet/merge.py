"""The latest snapshot of every host of a fleet run, and the one snapshot the server shows.

A ``FleetMerge`` is offered each host's snapshots as they arrive, from any thread, and
keeps only the newest per host: the merge never waits for a slow host, it takes what each
host sent last.  Two views come out of it (docs/fleet.md, "Merging hosts"):

- ``by_host()``: every aggregation's rows with the host prepended to the key,
  ``("web-1", "nginx")``; a keyless ``@x = count()`` becomes ``("web-1",)``.
- ``total()``: the script's own keys, each summed across hosts (``combine`` says how for
  each aggregating function, and which ones stay by host for want of an exact total).

The merged snapshot's ``t`` is the largest ``t`` among the hosts' latest snapshots, lost
hosts' included, so it never goes back: the run has got as far as its furthest host.
Each host's own ``last_t`` is in its ``HostStatus``.

Host states: ``waiting`` (named in the run, nothing heard yet), ``online``, ``lost``
(nothing heard for ``lost_after`` seconds, or the broker said so; its last data stays in
both views), ``returned`` (heard from again after being lost: it stays marked so for the
rest of the run, it is never taken back as if nothing had happened), ``finished`` and
``failed`` (with the error).  Only accepted snapshots and heartbeats count as heard.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Literal

import msgspec

from ide.tracing.model import Aggregation, Snapshot

from .buckets import Columns, Part
from .combine import by_host as by_host_view
from .combine import capped_notes, total

HostState = Literal["waiting", "online", "lost", "returned", "finished", "failed"]
ENDED: frozenset[HostState] = frozenset({"finished", "failed"})
LISTENING: frozenset[HostState] = frozenset({"waiting", "online", "returned"})


class HostStatus(msgspec.Struct, frozen=True):
    """A host of the run as the page shows it (``Run.hosts`` in the issue's API)."""

    state: HostState
    last_seen: float | None = None  # the clock's time of the last snapshot or heartbeat
    last_t: float | None = None  # ``t`` of its latest snapshot
    error: str | None = None


class MergedSnapshot(msgspec.Struct, frozen=True):
    """One view of the fleet: the snapshot to chart and what the page marks beside it."""

    snapshot: Snapshot
    hosts: dict[str, HostStatus]
    lost: tuple[str, ...]  # hosts whose data is their last before they were lost
    notes: dict[str, str]  # aggregation name -> what its merged numbers are not


class _Host:
    __slots__ = ("error", "last_seen", "order", "snapshot", "state")

    def __init__(self) -> None:
        self.state: HostState = "waiting"
        self.last_seen: float | None = None
        self.snapshot: Snapshot | None = None
        self.order: tuple[int, float] = (-1, float("-inf"))  # (sequence, t) of the latest
        self.error: str | None = None

    def status(self) -> HostStatus:
        last_t = self.snapshot.t if self.snapshot is not None else None
        return HostStatus(self.state, self.last_seen, last_t, self.error)


Views = dict[bool, tuple[Snapshot, dict[str, str]]]


class FleetMerge:
    """Latest snapshot per host of one fleet run, merged on demand (cached until the next
    accepted snapshot).  ``clock`` gives ``last_seen`` (wall time by default, for the page)."""

    def __init__(
        self,
        hosts: Iterable[str],
        *,
        lost_after: float = 10.0,
        max_rows: int = 5000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.lost_after = lost_after
        self.max_rows = max_rows  # ``Settings.max_rows_per_aggregation``
        self._clock = clock
        self._started = clock()
        self._hosts = {name: _Host() for name in sorted(hosts)}
        self._lock = threading.Lock()
        self._version = 0  # bumped by every accepted snapshot
        self._views: Views = {}
        self._views_version = -1
        self._columns = Columns()

    # --- what the hosts say -----------------------------------------------------------

    def offer(
        self, host: str, snapshot: Snapshot, seq: int | None = None, now: float | None = None
    ) -> bool:
        """Keep ``snapshot`` if it is the host's newest (by ``seq`` when the host numbers
        its snapshots, else by ``t``); an older or repeated one, or one from a host not in
        the run, is ignored and changes nothing.  True when kept."""
        order = (seq if seq is not None else -1, snapshot.t)
        with self._lock:
            h = self._hosts.get(host)
            if h is None or order <= h.order:
                return False
            h.snapshot, h.order = snapshot, order
            self._heard(h, now)
            self._version += 1
        # Read its distributions now, while the objects just decoded are in the CPU's cache.
        self._columns.prepare(snapshot.aggregations)
        return True

    def heard(self, host: str, now: float | None = None) -> None:
        """A heartbeat: the host is there, with nothing new to chart."""
        with self._lock:
            h = self._hosts.get(host)
            if h is not None:
                self._heard(h, now)

    def _heard(self, h: _Host, now: float | None) -> None:
        h.last_seen = self._clock() if now is None else now
        if h.state == "waiting":
            h.state = "online"
        elif h.state == "lost":
            h.state = "returned"

    def mark_lost(self, host: str) -> None:
        """The broker says the host is gone (its connection closed, its queue dropped)."""
        with self._lock:
            h = self._hosts.get(host)
            if h is not None and h.state not in ENDED:
                h.state = "lost"

    def finish(self, host: str, error: str | None = None) -> None:
        """The host's run ended: ``failed`` with ``error``, else ``finished``; data stays."""
        with self._lock:
            h = self._hosts.get(host)
            if h is not None:
                h.state, h.error = ("failed", error) if error is not None else ("finished", None)

    def expire(self, now: float | None = None) -> list[str]:
        """Mark lost the hosts not heard from for ``lost_after`` seconds (a host never heard
        from, since the merge began); the names newly lost."""
        newly = []
        with self._lock:
            now = self._clock() if now is None else now
            for name, h in self._hosts.items():
                seen = h.last_seen if h.last_seen is not None else self._started
                if h.state in LISTENING and now - seen > self.lost_after:
                    h.state = "lost"
                    newly.append(name)
        return newly

    # --- what the page is shown -------------------------------------------------------

    @property
    def version(self) -> int:
        """Bumped by every accepted snapshot: unchanged, the merged views are too."""
        return self._version

    def state(self, host: str) -> HostState | None:
        """One host's state (None for a host not in the run), without the others'."""
        with self._lock:
            h = self._hosts.get(host)
            return h.state if h is not None else None

    def hosts(self) -> dict[str, HostStatus]:
        with self._lock:
            return {name: h.status() for name, h in self._hosts.items()}

    def running(self) -> bool:
        """Whether any host is still sending: waiting, online or returned."""
        with self._lock:
            return any(h.state in LISTENING for h in self._hosts.values())

    def by_host(self) -> MergedSnapshot:
        return self.view(by_host=True)

    def total(self) -> MergedSnapshot:
        return self.view(by_host=False)

    def view(self, *, by_host: bool) -> MergedSnapshot:
        """The merged snapshot of either view, with the hosts' states beside it."""
        with self._lock:
            version = self._version
            cached = self._views.get(by_host) if self._views_version == version else None
            latest = [(n, h.snapshot) for n, h in self._hosts.items() if h.snapshot is not None]
            hosts = {name: h.status() for name, h in self._hosts.items()}
        if cached is None:  # merged outside the lock: offers go on meanwhile
            cached = merge_snapshots(latest, self.max_rows, by_host=by_host, columns=self._columns)
            self._columns.keep(a for _, snap in latest for a in snap.aggregations)
            with self._lock:
                if self._views_version != version:
                    self._views, self._views_version = {}, version
                if self._version == version:
                    self._views[by_host] = cached
        lost = tuple(name for name, s in hosts.items() if s.state == "lost")
        return MergedSnapshot(cached[0], hosts, lost, cached[1])


def merge_snapshots(
    latest: Iterable[tuple[str, Snapshot]],
    max_rows: int,
    *,
    by_host: bool,
    columns: Columns | None = None,
) -> tuple[Snapshot, dict[str, str]]:
    """One snapshot of the hosts' snapshots, and the notes of its aggregations.

    Aggregations come in the order the hosts (by name) first show them; ``t`` is the
    largest of the hosts'.
    """
    parts: dict[str, list[Part]] = {}
    columns = columns or Columns()
    t = 0.0
    for host, snap in latest:
        t = max(t, snap.t)
        for agg in snap.aggregations:
            parts.setdefault(agg.name, []).append((host, agg))
    aggs: list[Aggregation] = []
    notes: dict[str, str] = {}
    for name, of_name in parts.items():
        if by_host:
            agg, why = by_host_view(name, of_name, max_rows, columns), capped_notes(of_name)
        else:
            agg, why = total(name, of_name, max_rows, columns)
        aggs.append(agg)
        if why:
            notes[name] = "; ".join(why)
    return Snapshot(t, tuple(aggs)), notes
