"""The page is the one owner of compile diagnostics: a script is compiled once, after the
last edit, and the editor shows what that one compile found.  Start reuses the answer; the
server's own compile at POST /api/runs is the gate.

Every /api/compile request the page sends is counted with Playwright's request events.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from tests.conftest import LiveServer, tracer_ready

pytest.importorskip("playwright.sync_api")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.tracer,
    pytest.mark.skipif(tracer_ready() is not None, reason=str(tracer_ready())),
]

TIMEOUT_MS = 30_000
TYPED = "tracepoint:raw_syscalls:sys_enter { @calls[comm] = count(); }"
BROKEN = "tracepoint:raw_syscalls:sys_enter { @calls[comm] = cont(); }"


def count_compiles(page: Any) -> Counter[str]:
    """A counter, filled as the page runs, of the scripts it sends to /api/compile."""
    sent: Counter[str] = Counter()

    def on_request(request: Any) -> None:
        if request.method == "POST" and request.url.endswith("/api/compile"):
            sent[json.loads(request.post_data)["script"]] += 1

    page.on("request", on_request)
    return sent


def count_runs(page: Any) -> list[str]:
    started: list[str] = []
    page.on(
        "request",
        lambda r: (
            started.append(json.loads(r.post_data)["script"])
            if r.method == "POST" and r.url.endswith("/api/runs")
            else None
        ),
    )
    return started


def fresh_page(browser: Any, live_server: LiveServer) -> tuple[Any, Any, Counter[str], list[str]]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    compiles = count_compiles(page)
    runs = count_runs(page)
    page.goto(live_server.url)
    page.wait_for_selector("#editor .cm-content", timeout=TIMEOUT_MS)
    page.wait_for_selector("#compile-status.ok", timeout=TIMEOUT_MS)
    return context, page, compiles, runs


def type_script(page: Any, text: str) -> None:
    page.locator("#editor .cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    page.keyboard.type(text, delay=15)


def test_typing_then_next_and_start_compiles_each_distinct_text_once(
    browser: Any, live_server: LiveServer
) -> None:
    context, page, compiles, runs = fresh_page(browser, live_server)
    try:
        assert sum(compiles.values()) == 1, compiles  # the starter script, on load
        type_script(page, TYPED)
        page.wait_for_selector("#compile-status.ok", timeout=TIMEOUT_MS)
        page.wait_for_timeout(1500)  # longer than any debounce: nothing else is sent
        page.click("#next-write")
        page.wait_for_selector("#step-run:not([hidden])")
        page.click('#duration-presets label:has(input[value="2"])')
        page.click("#start-run")
        page.wait_for_selector("#step-output:not([hidden])")
        page.wait_for_selector('#step-output[data-state="finished"]', timeout=TIMEOUT_MS)
        # Typing sent nothing while the keys came faster than the debounce.
        assert TYPED in compiles
        assert all(n == 1 for n in compiles.values()), compiles
        assert sum(compiles.values()) == 2, compiles
        assert runs == [TYPED]
        # Run again reuses the same answer: the text has not changed.
        page.click("#run-again")
        page.wait_for_function(
            "document.querySelector('#step-output').dataset.state !== 'finished'"
        )
        page.wait_for_selector('#step-output[data-state="finished"]', timeout=TIMEOUT_MS)
        assert compiles[TYPED] == 1, compiles
        assert runs == [TYPED, TYPED]
    finally:
        context.close()


def test_the_editor_underlines_what_the_pages_one_compile_found(
    browser: Any, live_server: LiveServer
) -> None:
    context, page, compiles, _ = fresh_page(browser, live_server)
    try:
        type_script(page, BROKEN)
        page.wait_for_selector("#diagnostics .diag.error", timeout=TIMEOUT_MS)
        page.wait_for_selector(".cm-lintRange-error", timeout=TIMEOUT_MS)
        marked = page.eval_on_selector_all(
            ".cm-lintRange-error", "els => els.map(e => e.textContent).join('')"
        )
        assert marked == "cont"
        page.wait_for_timeout(1500)
        assert compiles[BROKEN] == 1, compiles
        assert page.is_disabled("#next-write")
        # Ctrl+Enter on a script that does not compile asks nothing more of the server.
        page.keyboard.press("Control+Enter")
        page.wait_for_timeout(500)
        assert compiles[BROKEN] == 1, compiles
        assert page.is_visible("#step-write")
    finally:
        context.close()


def test_a_short_pause_in_typing_compiles_nothing_until_the_last_edit(
    browser: Any, live_server: LiveServer
) -> None:
    context, page, compiles, _ = fresh_page(browser, live_server)
    try:
        half = len(TYPED) // 2
        type_script(page, TYPED[:half])
        page.wait_for_timeout(450)  # a pause to think, shorter than the page's debounce
        page.keyboard.type(TYPED[half:], delay=15)
        page.wait_for_selector("#compile-status.ok", timeout=TIMEOUT_MS)
        page.wait_for_timeout(1500)
        assert TYPED[:half] not in compiles, compiles
        assert compiles[TYPED] == 1, compiles
        assert sum(compiles.values()) == 2, compiles
    finally:
        context.close()
