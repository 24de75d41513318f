"""A run's read-only viewer link: its key, when it expires and whether it was revoked, and
the one rule that says whether a key opens the run now (the viewer page and the stream both
ask it, through ``ide/web/viewer_links.py``)."""

from __future__ import annotations

import dataclasses
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

# "open": the key opens the run now; otherwise why not. A key that is not the run's current
# one (never was, or a new link replaced it) is "unknown": it says nothing of the real key.
LinkState = Literal["open", "unknown", "revoked", "expired"]
KEY_BYTES = 18

# Wall-clock seconds: an expiry outlives the server, so it cannot be monotonic time.
clock: Callable[[], float] = time.time


class LinkHolder(Protocol):
    """What holds a link: a ``session.Run`` or an ``archive.store.Record``."""

    @property
    def viewer_key(self) -> str: ...

    @property
    def viewer_expires_at(self) -> float | None: ...

    @property
    def viewer_revoked_at(self) -> float | None: ...


@dataclass(frozen=True)
class ViewerLink:
    key: str
    expires_at: float | None = None  # seconds since the epoch; None: it never expires
    revoked_at: float | None = None

    @classmethod
    def of(cls, holder: LinkHolder) -> ViewerLink:
        return cls(holder.viewer_key, holder.viewer_expires_at, holder.viewer_revoked_at)

    @classmethod
    def new(cls, expires_in: float | None, now: float) -> ViewerLink:
        """A link with a fresh key: whatever link the run had stops working."""
        expires_at = None if expires_in is None else now + expires_in
        return cls(secrets.token_urlsafe(KEY_BYTES), expires_at)

    def revoked(self, now: float) -> ViewerLink:
        """This link, revoked (when it first was, if it already is)."""
        return self if self.revoked_at is not None else dataclasses.replace(self, revoked_at=now)

    def state(self, now: float) -> LinkState:
        """Whether the link works at ``now``, for whoever holds its key."""
        if not self.key:
            return "unknown"
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and now >= self.expires_at:
            return "expired"
        return "open"

    def opens(self, key: str, now: float) -> LinkState:
        """The rule: does ``key`` open the run at ``now``? Compared in constant time; only the
        holder of the right key learns that the link was revoked or expired."""
        if not key or not self.key or not hmac.compare_digest(key.encode(), self.key.encode()):
            return "unknown"
        return self.state(now)

    def expires_in(self, now: float) -> int | None:
        """Whole seconds until it expires (0 once it has), None when it never does."""
        return None if self.expires_at is None else max(0, round(self.expires_at - now))
