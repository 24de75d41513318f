"""Scrubbing a run in the page, on real bpftrace: a process that started halfway through a
run is not in the pie at an early moment and is at the end; Play replays the run to its end;
a live run scrubbed back returns to Live."""

from __future__ import annotations

import subprocess
import time
from typing import Any

import pytest

from tests.browser.test_drilldown_page import SCRIPT, doc_shot
from tests.browser.test_wizard import PIE, RUN_TIMEOUT_MS, wait_compiles, wait_state
from tests.conftest import LiveServer, set_script, tracer_ready

pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(tracer_ready() is not None, reason=str(tracer_ready())),
]

RANGE = "#scrub-range"
LATE_S = 2.0  # dd starts this long after the run


def start(page: Any, duration: str, interval: str = "0.5") -> str:
    set_script(page, SCRIPT)
    wait_compiles(page)
    page.click("#next-write")
    page.wait_for_selector("#step-run:not([hidden])")
    page.click('#duration-presets label:has(input[value="custom"])')
    page.fill("#custom-duration", duration)
    page.fill("#interval", interval)
    page.click("#start-run")
    page.wait_for_selector("#step-output:not([hidden])")
    run_id: str = page.get_attribute("#step-output", "data-run-id")
    return run_id


def pie_labels(page: Any) -> list[str]:
    labels: list[str] = page.evaluate(
        """() => {
          const gd = document.querySelector('article.panel[data-name="@num"] .chart');
          return gd && gd.data ? [...gd.data[0].labels] : [];
        }"""
    )
    return labels


def scrub_to(page: Any, t: float) -> None:
    """Drag the scrubber to moment ``t``, as a user's drag sets it."""
    page.eval_on_selector(
        RANGE,
        "(r, t) => { r.value = String(t); r.dispatchEvent(new Event('input', {bubbles: true})); }",
        t,
    )


def shown_moment(page: Any, expected: str) -> None:
    page.wait_for_function(
        "(text) => document.querySelector('#scrub-time').textContent.startsWith(text)",
        arg=expected,
        timeout=RUN_TIMEOUT_MS,
    )


def test_a_finished_run_scrubbed_back_shows_the_pie_of_that_moment_and_plays_to_the_end(
    page: Any, live_server: LiveServer
) -> None:
    page.set_viewport_size({"width": 1280, "height": 860})
    page.goto(live_server.base + "/")
    run_id = start(page, "5")
    time.sleep(LATE_S)
    dd = subprocess.Popen(["dd", "if=/dev/zero", "of=/dev/null", "bs=1"], stderr=subprocess.DEVNULL)
    try:
        wait_state(page, "finished")
    finally:
        dd.kill()
        dd.wait(10)
    page.wait_for_selector(PIE, timeout=RUN_TIMEOUT_MS)
    assert "dd" in pie_labels(page)
    page.wait_for_selector("#scrubber:not([hidden])", timeout=RUN_TIMEOUT_MS)
    assert page.inner_text("#scrub-live") == "End"

    scrub_to(page, 1.0)
    shown_moment(page, "0:01.0")
    page.wait_for_function(
        """() => {
          const gd = document.querySelector('article.panel[data-name="@num"] .chart');
          return gd && gd.data && gd.data[0].labels.length > 0 && !gd.data[0].labels.includes("dd");
        }""",
        timeout=RUN_TIMEOUT_MS,
    )
    assert page.locator("#scrubber.replaying").count() == 1
    _, snaps = live_server.request("GET", f"/api/runs/{run_id}/snapshots/at?t=1.0")
    early = {str(r["key"][0]) for a in snaps["aggregations"] for r in a["rows"]}
    keys = {label for label in pie_labels(page) if not label.startswith("other (")}
    assert keys and keys <= early, (pie_labels(page), early)
    page.mouse.move(5, 400)  # no hover label left over from the clicks before
    page.wait_for_timeout(300)
    doc_shot(page, "replay-scrubbed")

    # Play at 16x from here: it runs to the end, where dd is in the pie again.
    page.select_option("#scrub-speed", "16")
    page.click("#scrub-play")
    page.wait_for_function(
        "() => document.querySelector('#scrub-play').textContent === 'Play'",
        timeout=RUN_TIMEOUT_MS,
    )
    page.wait_for_function(
        """() => {
          const gd = document.querySelector('article.panel[data-name="@num"] .chart');
          return gd && gd.data && gd.data[0].labels.includes("dd");
        }""",
        timeout=RUN_TIMEOUT_MS,
    )
    page.click("#scrub-live")
    page.wait_for_selector("#scrubber:not(.replaying)", timeout=RUN_TIMEOUT_MS)
    assert "dd" in pie_labels(page)


def test_a_live_run_scrubbed_back_holds_still_then_returns_to_live(
    page: Any, live_server: LiveServer
) -> None:
    page.goto(live_server.base + "/")
    start(page, "0")
    wait_state(page, "running")
    page.wait_for_selector("#scrubber:not([hidden])", timeout=RUN_TIMEOUT_MS)
    # The run bar says what the tracing costs.
    page.wait_for_selector("#run-cost:not([hidden])", timeout=RUN_TIMEOUT_MS)
    cost = page.inner_text("#run-cost")
    assert "Tracer CPU" in cost and "Lost" in cost and "Snapshot" in cost, cost
    page.wait_for_function(
        "() => Number(document.querySelector('#scrub-range').max) >= 2", timeout=RUN_TIMEOUT_MS
    )
    page.focus(RANGE)
    page.keyboard.press("Home")
    shown_moment(page, "0:00.0")
    held = page.get_attribute("#step-output", "data-snapshots")
    page.wait_for_timeout(1500)
    # No live snapshot replaced the moment shown meanwhile.
    assert page.get_attribute("#step-output", "data-snapshots") == held
    assert page.locator("#scrubber.replaying").count() == 1
    page.keyboard.press("End")
    page.wait_for_function(
        "(n) => Number(document.querySelector('#step-output').dataset.snapshots) > n",
        arg=int(held or "0"),
        timeout=RUN_TIMEOUT_MS,
    )
    assert page.locator("#scrubber.replaying").count() == 0
    page.click("#stop-run")
    wait_state(page, "stopped")
