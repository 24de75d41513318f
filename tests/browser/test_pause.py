"""Pausing the live view holds the charts and console still while the tracer keeps running;
resuming shows the newest data; a run that ends while paused shows what it ended with."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.test_wizard import (
    COUNT_SCRIPT,
    PIE,
    RUN_TIMEOUT_MS,
    pie_total,
    screenshot,
    start_run,
    wait_state,
)
from tests.conftest import LiveServer, tracer_ready

pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(tracer_ready() is not None, reason=str(tracer_ready())),
]


def server_t(server: LiveServer, run_id: str) -> float:
    _, run = server.request("GET", f"/api/runs/{run_id}")
    assert run["state"] == "running", run
    t: float = run["snapshot"]["t"]
    return t


def test_a_paused_view_holds_still_while_the_tracer_runs_on(
    page: Any, live_server: LiveServer
) -> None:
    run_id = start_run(page, COUNT_SCRIPT, "0")
    wait_state(page, "running")
    page.wait_for_selector(PIE, timeout=RUN_TIMEOUT_MS)
    page.wait_for_selector("#pause-view:enabled")
    page.click("#pause-view")
    assert page.get_attribute("#pause-view", "aria-pressed") == "true"
    assert page.inner_text("#pause-view") == "Resume view"
    page.wait_for_timeout(300)  # a snapshot already on its way lands first
    shown = page.get_attribute("#step-output", "data-snapshots")
    total, t = pie_total(page), server_t(live_server, run_id)
    page.wait_for_function(
        "() => /new data/.test(document.querySelector('#pause-note').textContent)",
        timeout=RUN_TIMEOUT_MS,
    )
    page.wait_for_timeout(1500)
    assert server_t(live_server, run_id) > t  # the tracer ran on
    assert (
        pie_total(page) == total and page.get_attribute("#step-output", "data-snapshots") == shown
    )
    assert "The tracer keeps running" in page.get_attribute("#pause-note", "title")
    screenshot(page, "output-paused")

    page.click("#pause-view")
    page.wait_for_function(
        f"() => document.querySelector('#step-output').dataset.snapshots !== '{shown}'",
        timeout=RUN_TIMEOUT_MS,
    )
    page.wait_for_timeout(300)
    assert pie_total(page) > total
    assert page.is_hidden("#pause-note")

    # Paused again, then stopped: the final snapshot is shown, and pausing is over.
    page.click("#pause-view")
    page.click("#stop-run")
    assert wait_state(page, "stopped") == "stopped"
    assert page.is_hidden("#pause-note") and page.is_disabled("#pause-view")
    assert page.inner_text("#pause-view") == "Pause view"
