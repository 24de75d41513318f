"""D through bpftrace in the page: the chooser (where libdtrace is here too), the badge, the
translation pane linked to the D lines, a D error underlined at its D position, and the
2012 IDE's two examples charted as a pie and 3D bars with D's names."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.test_wizard import (
    PIE,
    RUN_TIMEOUT_MS,
    plotted,
    screenshot,
    set_language,
    show_3d,
    snapshot_keys,
    wait_compiles,
    wait_state,
)
from tests.conftest import LiveServer, set_script, tracer_ready

pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(tracer_ready() is not None, reason=str(tracer_ready())),
]

EXAMPLES_2012 = (
    "syscall:::entry\n{\n  @num[probefunc] = count();\n}\n"
    "syscall::read:entry\n{\n  @dist[execname] = lquantize(arg0, 0, 12, 2);\n}\n"
)


def use_bpftrace(page: Any, server: LiveServer) -> None:
    """D in the editor, run through bpftrace (chosen where libdtrace is also here)."""
    page.wait_for_selector("#compile-status.ok", timeout=RUN_TIMEOUT_MS)
    set_language(page, "d")
    _, health = server.request("GET", "/api/health")
    d = health["languages"]["d"]
    if "bpftrace" not in d["via"]:
        pytest.skip("bpftrace does not serve D here")
    if len(d["via"]) > 1:
        page.wait_for_selector("#d-via-box:not([hidden])")
        page.select_option("#d-via", "bpftrace")


def test_the_2012_examples_run_through_bpftrace_as_a_pie_and_3d_bars(
    page: Any, live_server: LiveServer
) -> None:
    use_bpftrace(page, live_server)
    set_script(page, EXAMPLES_2012)
    wait_compiles(page)
    assert page.inner_text("#via-badge") == "D via bpftrace"
    # The pane shows the bpftrace that runs, each line linked to its D line.
    page.click("#translation summary")
    page.wait_for_selector("#translation-body .dtrace-highlight span")
    code = page.inner_text("#translation-body .translation-code")
    assert "tracepoint:syscalls:sys_enter_read" in code and "lhist(" in code
    links = page.locator("#translation-body .translation-line")
    assert links.count() == len(code.rstrip("\n").split("\n"))
    lhist_line = next(i for i, ln in enumerate(code.split("\n")) if "lhist(" in ln)
    assert links.nth(lhist_line).inner_text().endswith("← 7")
    links.nth(lhist_line).click()
    assert "lquantize" in page.inner_text("#editor .cm-activeLine")
    screenshot(page, "d-via-bpftrace-1-write")

    page.click("#next-write")
    page.wait_for_selector("#step-run:not([hidden])")
    page.click('#duration-presets label:has(input[value="2"])')
    page.click("#start-run")
    page.wait_for_selector("#step-output:not([hidden])")
    run_id = page.get_attribute("#step-output", "data-run-id")
    assert wait_state(page, "finished", "failed") == "finished"
    _, run = live_server.request("GET", f"/api/runs/{run_id}")
    assert run["via"] == "bpftrace" and run["language"] == "d"
    page.wait_for_selector(PIE, timeout=RUN_TIMEOUT_MS)
    labels = [x for x in plotted(page, "@num", "gd.data[0].labels") if not x.startswith("other")]
    assert labels and set(labels) <= set(snapshot_keys(live_server, run_id, "@num"))
    # System call names, as D's probefunc gives them, not numbers.
    assert {"read", "write", "futex", "epoll_wait", "poll", "close", "ioctl"} & set(labels)
    dist = next(a for a in run["snapshot"]["aggregations"] if a["name"] == "@dist")
    assert dist["function"] == "lquantize"
    assert dist["params"] == {"lo": 0, "hi": 12, "step": 2}
    show_3d(page, "@dist")
    rows = plotted(page, "@dist", "new Set(Array.from(gd._fullData[0].y)).size / 2")
    assert rows == len(snapshot_keys(live_server, run_id, "@dist"))
    screenshot(page, "d-via-bpftrace-3-output")


def test_a_d_error_is_underlined_at_its_d_line_and_column(
    page: Any, live_server: LiveServer
) -> None:
    use_bpftrace(page, live_server)
    set_script(page, "syscall:::entry { @num[execname] = cont(); }")
    diagnostic = page.wait_for_selector("#diagnostics .diag.error", timeout=RUN_TIMEOUT_MS)
    assert "cont" in diagnostic.inner_text()
    assert diagnostic.inner_text().split()[1].startswith("1:36")
    underlined = page.wait_for_selector("#editor .cm-lintRange-error")
    assert underlined.inner_text() == "cont"
    assert page.is_disabled("#next-write")
    screenshot(page, "d-via-bpftrace-1-write-error")
