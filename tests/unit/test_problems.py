"""A run's problems merge by kind, keep running totals and are sent at a bounded rate."""

from __future__ import annotations

import time

from ide.tracing.problems import SEND_EVERY_S, ProblemLog, problem_kind


def test_problems_that_differ_in_their_number_are_one_kind_with_a_running_total() -> None:
    log = ProblemLog()
    first = log.record("36 events were lost", "raise bufsize", "error")
    assert first is not None and first["message"] == "36 events were lost"
    for n in (21, 21, 1200):
        log.record(f"{n} events were lost", "raise bufsize", "error")
    [entry] = log.entries.values()
    assert entry["message"] == "1,278 events were lost"
    assert entry["count"] == 4 and entry["total"] == 1278
    assert problem_kind("1,278 events were lost") == "# events were lost"


def test_a_flood_of_reports_is_sent_at_most_every_quarter_second_and_flushed_later() -> None:
    log = ProblemLog()
    sent = [log.record(f"{i} events were lost", None, "error") for i in range(1, 10_001)]
    assert sum(1 for e in sent if e is not None) <= 2  # the first, maybe one more
    [held] = log.held()
    assert held["count"] == 10_000 and held["total"] == sum(range(1, 10_001))
    assert log.held() == []  # nothing new since
    time.sleep(SEND_EVERY_S)
    assert log.record("1 events were lost", None, "error") is not None


def test_messages_with_two_numbers_are_counted_not_added_up() -> None:
    log = ProblemLog()
    log.record("probe 3 failed on CPU 2", None, "error")
    log.record("probe 4 failed on CPU 1", None, "error")
    [entry] = log.entries.values()
    assert entry["count"] == 2 and "total" not in entry
    assert entry["message"] == "probe 4 failed on CPU 1"
