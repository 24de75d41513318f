"""What bounds the server's own resources per client: wrong-token counts, sign-in sessions
and live streams.  Plain objects, held in the app's state (``state.AppState``)."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass


class BadTokenThrottle:
    """Wrong tokens over the last minute, per remote address and from all addresses.

    Past either limit, wrong tokens are answered 429 (with Retry-After) instead of 401.
    Memory is bounded: ``limit + 1`` times per address, ``MAX_ADDRESSES`` addresses.
    """

    WINDOW_S = 60.0
    MAX_ADDRESSES = 10_000

    def __init__(self, limit: int, limit_all: int | None = None) -> None:
        self.limit = limit
        self.limit_all = limit_all if limit_all is not None else limit * 6
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._all: deque[float] = deque()
        self._lock = threading.Lock()

    def failed(self, address: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            times = self._failures.pop(address, None) or deque()
            times.append(now)
            while len(times) > self.limit + 1:
                times.popleft()
            self._failures[address] = times
            while len(self._failures) > self.MAX_ADDRESSES:
                self._failures.popitem(last=False)
            self._all.append(now)
            while len(self._all) > self.limit_all + 1:
                self._all.popleft()

    def retry_after(self, address: str, now: float | None = None) -> float:
        """Seconds until a wrong token from ``address`` is answered 401 again (0: now)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            wait = self._wait(self._all, self.limit_all, now)
            times = self._failures.get(address)
            if times is not None:
                wait = max(wait, self._wait(times, self.limit, now))
                if not times:
                    del self._failures[address]
            return wait

    def _wait(self, times: deque[float], limit: int, now: float) -> float:
        while times and now - times[0] >= self.WINDOW_S:
            times.popleft()
        if len(times) < limit:
            return 0.0
        return self.WINDOW_S - (now - times[-limit])


@dataclass
class Session:
    """One sign-in: its CSRF token, and when it was last used."""

    key: str  # SHA-256 of the cookie's secret; the secret itself is not kept
    csrf: str
    last_used: float


class Sessions:
    """Sign-ins, each a random secret in the browser's cookie; bounded and expiring.

    Nothing in a session is derived from the token: signing out (or the idle timeout)
    ends it for good, and a cookie seen by another program says nothing about the token.
    """

    def __init__(self, idle_s: float, max_sessions: int) -> None:
        self.idle_s = idle_s
        self.max_sessions = max_sessions
        self._by_key: OrderedDict[str, Session] = OrderedDict()  # least recently used first
        self._lock = threading.Lock()

    @staticmethod
    def _key(secret: str) -> str:
        return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()

    def create(self, now: float | None = None) -> tuple[str, Session]:
        """A new session and the secret that goes in its cookie."""
        now = time.monotonic() if now is None else now
        secret = secrets.token_urlsafe(32)
        session = Session(self._key(secret), secrets.token_urlsafe(32), now)
        with self._lock:
            self._by_key[session.key] = session
            while len(self._by_key) > self.max_sessions:
                self._by_key.popitem(last=False)
        return secret, session

    def get(self, secret: str | None, now: float | None = None) -> Session | None:
        """The live session of a cookie's secret (and mark it used), or None."""
        if not secret:
            return None
        now = time.monotonic() if now is None else now
        key = self._key(secret)
        with self._lock:
            session = self._by_key.get(key)
            if session is None:
                return None
            if now - session.last_used > self.idle_s:
                del self._by_key[key]
                return None
            session.last_used = now
            self._by_key.move_to_end(key)
            return session

    def drop(self, secret: str | None) -> bool:
        if not secret:
            return False
        with self._lock:
            return self._by_key.pop(self._key(secret), None) is not None

    def __len__(self) -> int:
        return len(self._by_key)


class StreamSlots:
    """Live streams per run and in all: each holds a thread of the server's pool."""

    def __init__(self, per_run: int, total: int) -> None:
        self.per_run = per_run
        self.total = total
        self._by_run: dict[str, int] = {}
        self._count = 0
        self._lock = threading.Lock()

    def take(self, run_id: str) -> str | None:
        """Take a slot; None when granted, else why not."""
        with self._lock:
            if self._count >= self.total:
                return (
                    f"{self._count} live streams are open, the server's cap (max_websockets); "
                    "close another tab or viewer first"
                )
            mine = self._by_run.get(run_id, 0)
            if mine >= self.per_run:
                return (
                    f"{mine} viewers are watching this run, its cap (max_websockets_per_run, "
                    "viewer links included); close another tab or viewer first"
                )
            self._by_run[run_id] = mine + 1
            self._count += 1
            return None

    def give_back(self, run_id: str) -> None:
        with self._lock:
            left = self._by_run.get(run_id, 0) - 1
            if left < 0:
                return
            if left:
                self._by_run[run_id] = left
            else:
                del self._by_run[run_id]
            self._count -= 1

    def open(self, run_id: str | None = None) -> int:
        with self._lock:
            return self._count if run_id is None else self._by_run.get(run_id, 0)
