"""The Output step's viewer-link row against the real server: a new link with an expiry says
when it expires and the old link stops working; Revoke says so, and the revoked link's page
says to ask for a new one."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.test_wizard import COUNT_SCRIPT, screenshot, start_run, wait_state
from tests.conftest import LiveServer, tracer_ready

pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(tracer_ready() is not None, reason=str(tracer_ready())),
]


def opens(browser: Any, url: str) -> tuple[int, str]:
    """What a browser without the session cookie gets at ``url``: status and text."""
    other = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        viewer = other.new_page()
        response = viewer.goto(url)
        return response.status, viewer.inner_text("main")
    finally:
        other.close()


def test_a_new_link_expires_and_a_revoked_one_opens_nothing(
    page: Any, browser: Any, live_server: LiveServer
) -> None:
    run_id = start_run(page, COUNT_SCRIPT, "0")
    wait_state(page, "running")
    page.wait_for_function("() => document.querySelector('#viewer-link').value.includes('key=')")
    first = page.input_value("#viewer-link")
    assert page.inner_text("#viewer-link-status") == "never expires"

    page.select_option("#viewer-link-expiry", "3600")
    page.click("#new-viewer-link")
    page.wait_for_function(
        f"() => document.querySelector('#viewer-link').value !== {first!r}"
        " && /expires in/.test(document.querySelector('#viewer-link-status').textContent)"
    )
    second = page.input_value("#viewer-link")
    assert page.inner_text("#viewer-link-status") in {"expires in 1 h", "expires in 59 min"}
    screenshot(page, "output-viewer-link-expires")
    assert opens(browser, first)[0] == 404
    status, text = opens(browser, second)
    assert status == 200
    _, run = live_server.request("GET", f"/api/runs/{run_id}")
    assert run["viewer_expires_in"] > 3500 and run["viewer_revoked"] is False

    page.click("#revoke-viewer-link")
    page.wait_for_function(
        "() => /revoked/.test(document.querySelector('#viewer-link-status').textContent)"
    )
    assert page.input_value("#viewer-link") == "" and page.is_disabled("#copy-viewer-link")
    assert page.is_disabled("#revoke-viewer-link") and page.is_enabled("#new-viewer-link")
    status, text = opens(browser, second)
    assert status == 404 and "revoked" in text and "ask whoever shared it for a new link" in text

    # A new link works again, and a reload shows the link as the server has it.
    page.select_option("#viewer-link-expiry", "")
    page.click("#new-viewer-link")
    page.wait_for_function("() => document.querySelector('#viewer-link').value.includes('key=')")
    third = page.input_value("#viewer-link")
    page.reload()
    page.wait_for_function(
        f"() => document.querySelector('#viewer-link').value === {third!r}", timeout=30_000
    )
    assert page.inner_text("#viewer-link-status") == "never expires"
    assert opens(browser, third)[0] == 200
    live_server.request("DELETE", f"/api/runs/{run_id}")
