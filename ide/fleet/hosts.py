"""The hosts the server has heard of, from their agents' heartbeats, and picking among them.

A host is online while its heartbeats keep coming (within ``fleet_host_lost_s``) and until
it says goodbye.  Hosts are picked for a run by name, by a shell-style pattern (``web-*``),
by tag (``tag:db``) or all at once (``*``); only online hosts are picked.
"""

from __future__ import annotations

import fnmatch
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from .protocol import Heartbeat

TAG_PREFIX = "tag:"
MAX_SELECTORS = 100


class BadHosts(ValueError):
    """A host selection that cannot be read (empty, too long, a pattern of no use)."""


class NoHosts(LookupError):
    """A selection that picks no online host; the message says what is online."""


class HostDirectory:
    def __init__(
        self, *, lost_after: float, max_hosts: int, clock: Callable[[], float] = time.time
    ) -> None:
        self.lost_after = lost_after
        self.max_hosts = max_hosts
        self._clock = clock
        self._hosts: dict[str, tuple[Heartbeat, float, bool]] = {}  # beat, seen, said bye
        self._lock = threading.Lock()
        self.refused = 0  # heartbeats of new hosts past max_hosts

    def heard(self, beat: Heartbeat, now: float | None = None) -> None:
        now = self._clock() if now is None else now
        with self._lock:
            if beat.name not in self._hosts and len(self._hosts) >= self.max_hosts:
                self._forget_offline(now)
                if len(self._hosts) >= self.max_hosts:
                    self.refused += 1
                    return
            self._hosts[beat.name] = (beat, now, False)

    def bye(self, name: str) -> None:
        with self._lock:
            if name in self._hosts:
                beat, seen, _ = self._hosts[name]
                self._hosts[name] = (beat, seen, True)

    def _forget_offline(self, now: float) -> None:
        for name in [n for n, e in self._hosts.items() if not self._online(e, now)]:
            del self._hosts[name]

    def _online(self, entry: tuple[Heartbeat, float, bool], now: float) -> bool:
        _, seen, gone = entry
        return not gone and now - seen <= self.lost_after

    def online(self, name: str, now: float | None = None) -> bool:
        now = self._clock() if now is None else now
        with self._lock:
            entry = self._hosts.get(name)
            return entry is not None and self._online(entry, now)

    def to_list(self, now: float | None = None) -> list[dict[str, Any]]:
        """``GET /api/hosts``'s hosts, by name."""
        now = self._clock() if now is None else now
        with self._lock:
            entries = sorted(self._hosts.items())
        return [
            {
                "name": name,
                "online": self._online(entry, now),
                "last_seen": round(entry[1], 3),
                "os": entry[0].os,
                "version": entry[0].version,
                "backends": [msgspec.to_builtins(b) for b in entry[0].backends],
                "tags": list(entry[0].tags),
                "runs": list(entry[0].runs),
                "allow_destructive": entry[0].allow_destructive,
            }
            for name, entry in entries
        ]

    def pick(self, selectors: str | Sequence[str], now: float | None = None) -> list[str]:
        """The online hosts a selection names, by name.  Raises ``BadHosts``, ``NoHosts``."""
        wanted = [selectors] if isinstance(selectors, str) else list(selectors)
        if not wanted:
            raise BadHosts('hosts must name at least one host, a pattern, "tag:NAME" or "*"')
        if len(wanted) > MAX_SELECTORS:
            raise BadHosts(f"at most {MAX_SELECTORS} host names or patterns in one run")
        for w in wanted:
            if not isinstance(w, str) or not w or len(w) > 128:
                raise BadHosts("each of hosts must be a host name, a pattern or tag:NAME")
        now = self._clock() if now is None else now
        with self._lock:
            online = {n: e[0] for n, e in self._hosts.items() if self._online(e, now)}
        picked = sorted(n for n, beat in online.items() if any(_matches(w, beat) for w in wanted))
        if not picked:
            names = ", ".join(sorted(online)) or "none"
            raise NoHosts(
                f"no online host matches {', '.join(wanted)} (online: {names}); start "
                "`dtrace-ide agent` on the host, or pick another"
            )
        return picked


def _matches(selector: str, beat: Heartbeat) -> bool:
    if selector.startswith(TAG_PREFIX):
        return selector[len(TAG_PREFIX) :] in beat.tags
    # fnmatch compiles the pattern to a regex without backtracking blow-ups ('*' -> '.*'
    # in a single pass over a short name), and names are at most 63 characters.
    return fnmatch.fnmatchcase(beat.name, selector)
