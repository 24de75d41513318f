"""A run's problems, merged by kind, with running totals, sent at a bounded rate.

A lossy run reports each loss as it happens ("36 events were lost", then "21 events were
lost", thousands of times a second).  Problems that differ only in their number are one
kind: the count of reports and, for a message with one number, the running total of it
("1,278 events were lost").  A kind is sent to viewers at most every ``SEND_EVERY_S``; what
was held back goes with the next snapshot, so the totals on screen are never older than
one interval and the stream is never flooded.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from typing import Any

NUMBER = re.compile(r"\d[\d,]*")
KINDS_KEPT = 50
SEND_EVERY_S = 0.25


def problem_kind(message: str) -> str:
    return NUMBER.sub("#", message)


class ProblemLog:
    def __init__(self) -> None:
        self.entries: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._sent_at: dict[str, float] = {}
        self._held: set[str] = set()

    def record(self, message: str, fix: str | None, severity: str) -> dict[str, Any] | None:
        """Count one report; the entry to send now, or None when it is held back."""
        kind = problem_kind(message)
        entry = self.entries.get(kind)
        numbers = NUMBER.findall(message)
        if entry is None:
            entry = {"message": message, "fix": fix, "count": 0, "severity": severity}
            if len(numbers) == 1:
                entry["total"] = 0
            self.entries[kind] = entry
            while len(self.entries) > KINDS_KEPT:
                old, _ = self.entries.popitem(last=False)
                self._held.discard(old)
                self._sent_at.pop(old, None)
        entry["count"] += 1
        if "total" in entry and len(numbers) == 1:
            entry["total"] += int(numbers[0].replace(",", ""))
            entry["message"] = NUMBER.sub(f"{entry['total']:,}", message)
        else:
            entry["message"] = message  # the newest of its kind
        now = time.monotonic()
        if now - self._sent_at.get(kind, -SEND_EVERY_S) < SEND_EVERY_S:
            self._held.add(kind)
            return None
        self._sent_at[kind] = now
        self._held.discard(kind)
        return entry

    def held(self) -> list[dict[str, Any]]:
        """The entries updated since they were last sent (they are sent now)."""
        out = [self.entries[k] for k in self._held if k in self.entries]
        now = time.monotonic()
        for k in self._held:
            self._sent_at[k] = now
        self._held.clear()
        return out
