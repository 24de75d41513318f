"""Drilldown in the page, on real bpftrace: a click on a pie slice opens the menu, "by pid"
shows the derived script beside the run's, the child run's chart holds only that process's
pids and the breadcrumb leads back to the parent, which kept running; a table row opens the
same menu from the keyboard."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.test_wizard import PIE, RUN_TIMEOUT_MS, start_run, wait_state
from tests.conftest import ARTIFACTS, ROOT, LiveServer, tracer_ready

pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(tracer_ready() is not None, reason=str(tracer_ready())),
]

SCRIPT = (
    "// title: Syscalls by process\n"
    "tracepoint:raw_syscalls:sys_enter\n{\n    @num[comm] = count();\n}\n"
)
MENU = ".drill-menu"
CRUMB = "dd \N{SINGLE RIGHT-POINTING ANGLE QUOTATION MARK} by pid"


def doc_shot(page: Any, name: str) -> None:
    """A picture for docs/screenshots/ (copied there with DTRACE_IDE_UPDATE_SCREENSHOTS=1)."""
    out = ARTIFACTS / "docs-screenshots" / f"{name}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out))
    if os.environ.get("DTRACE_IDE_UPDATE_SCREENSHOTS") == "1":
        shutil.copy(out, ROOT / "docs" / "screenshots" / out.name)


@pytest.fixture
def dd() -> Iterator[subprocess.Popen[bytes]]:
    """A process called dd making system calls as fast as it can."""
    proc = subprocess.Popen(
        ["dd", "if=/dev/zero", "of=/dev/null", "bs=1"], stderr=subprocess.DEVNULL
    )
    yield proc
    proc.kill()
    proc.wait(10)


def click_slice(page: Any, label: str) -> None:
    """A real click in the middle of the pie's slice for ``label``."""
    page.wait_for_function(
        """(label) => {
          const gd = document.querySelector('article.panel[data-name="@num"] .chart');
          return gd && gd.calcdata && gd.calcdata[0].some((p) => p.label === label);
        }""",
        arg=label,
        timeout=RUN_TIMEOUT_MS,
    )
    page.wait_for_timeout(300)  # the chart settles after its last redraw
    at = page.evaluate(
        """(label) => {
          const gd = document.querySelector('article.panel[data-name="@num"] .chart');
          const cd = gd.calcdata[0];
          const p = cd.find((q) => q.label === label);
          const box = gd.querySelector('.main-svg').getBoundingClientRect();
          const size = gd._fullLayout._size;
          const cx = cd[0].cx ?? size.l + size.w / 2, cy = cd[0].cy ?? size.t + size.h / 2;
          return { x: box.left + cx + 0.8 * p.pxmid[0], y: box.top + cy + 0.8 * p.pxmid[1] };
        }""",
        label,
    )
    page.mouse.click(at["x"], at["y"])


def test_a_pie_slice_drills_down_by_pid_into_a_child_run_and_the_breadcrumb_leads_back(
    page: Any, live_server: LiveServer, dd: subprocess.Popen[bytes]
) -> None:
    page.set_viewport_size({"width": 1280, "height": 800})
    parent = start_run(page, SCRIPT, "0")
    wait_state(page, "running")
    page.wait_for_selector(PIE, timeout=RUN_TIMEOUT_MS)
    click_slice(page, "dd")
    page.wait_for_selector(f"{MENU} .drill-item[data-by='pid']", timeout=RUN_TIMEOUT_MS)
    assert page.inner_text(f"{MENU} .drill-key") == "dd"
    assert page.locator(f"{MENU} .drill-item[data-mode='exclude']").is_visible()
    # sys_enter has its sys_exit to time against
    latency = page.locator(f"{MENU} .drill-item[data-mode='latency']")
    assert latency.get_attribute("aria-disabled") is None
    doc_shot(page, "drilldown-menu")

    page.click(f"{MENU} .drill-item[data-by='pid']")
    page.wait_for_selector("#drill-dialog[open]", timeout=RUN_TIMEOUT_MS)
    added = page.locator("#drill-dialog .diff-added").all_inner_texts()
    removed = page.locator("#drill-dialog .diff-removed").all_inner_texts()
    assert '/comm == "dd"/' in added and "    @num[pid] = count();" in added, added
    assert any("@num[comm]" in line for line in removed), removed
    doc_shot(page, "drilldown-diff")

    page.click("#drill-dialog button.btn-primary")
    page.wait_for_function(
        f"() => document.querySelector('#step-output').dataset.runId !== '{parent}'",
        timeout=RUN_TIMEOUT_MS,
    )
    child = page.get_attribute("#step-output", "data-run-id")
    wait_state(page, "running")
    page.wait_for_selector(PIE, timeout=RUN_TIMEOUT_MS)
    page.wait_for_function(
        """(pid) => {
          const gd = document.querySelector('article.panel[data-name="@num"] .chart');
          return gd && gd.calcdata && gd.calcdata[0].some((p) => p.label === pid);
        }""",
        arg=str(dd.pid),
        timeout=RUN_TIMEOUT_MS,
    )
    _, body = live_server.request("GET", f"/api/runs/{child}")
    assert body["parent"] == parent and body["drill"]["by"] == "pid"
    [agg] = body["snapshot"]["aggregations"]
    assert {tuple(r["key"]) for r in agg["rows"]} == {(dd.pid,)}
    crumbs = page.locator("#run-crumbs .crumb")
    assert not page.is_hidden("#run-crumbs") and crumbs.count() == 2
    assert crumbs.nth(1).inner_text() == CRUMB
    page.mouse.move(0, 0)
    page.wait_for_timeout(300)
    doc_shot(page, "drilldown-breadcrumb")

    page.click("#run-crumbs .crumb-link")
    page.wait_for_function(
        f"() => document.querySelector('#step-output').dataset.runId === '{parent}'",
        timeout=RUN_TIMEOUT_MS,
    )
    assert wait_state(page, "running") == "running"  # the parent ran on meanwhile
    assert page.locator("#run-crumbs .crumb-link").inner_text() == CRUMB  # forward

    # From the keyboard: a table row of the parent opens the same menu, Escape closes it.
    page.click('article.panel[data-name="@num"] button[data-mode="table"]')
    row = page.locator('article.panel[data-name="@num"] tr.drill-row').first
    row.focus()
    page.keyboard.press("Enter")
    page.wait_for_selector(f"{MENU} .drill-item[data-mode='only']", timeout=RUN_TIMEOUT_MS)
    assert page.evaluate("document.activeElement.classList.contains('drill-item')")
    # The next snapshot draws the table anew under the open menu: Escape still finds the row.
    shown = page.get_attribute("#step-output", "data-snapshots")
    page.wait_for_function(
        f"() => document.querySelector('#step-output').dataset.snapshots !== '{shown}'",
        timeout=RUN_TIMEOUT_MS,
    )
    page.wait_for_timeout(200)
    page.keyboard.press("Escape")
    assert page.locator(MENU).count() == 0
    assert page.evaluate("document.activeElement.classList.contains('drill-row')")
    page.click("#stop-run")
    wait_state(page, "stopped")


def test_the_diff_lays_out_side_by_side(page: Any) -> None:
    rows = page.evaluate(
        """async () => {
          const { sideBySide } = await import('/static/js/run/side-by-side.js');
          const a = "a\\nb\\nc\\nd\\ne\\nf\\ng\\nh\\n", b = "a\\nb\\nc\\nd\\nE\\nf\\ng\\nh\\ni\\n";
          const diff = "--- original\\n+++ drilldown\\n@@ -2,7 +2,8 @@\\n"
            + " b\\n c\\n d\\n-e\\n+E\\n f\\n g\\n h\\n+i\\n";
          const text = (side) => side && side.text;
          return sideBySide(a, b, diff).map((r) => [text(r.left), text(r.right)]);
        }"""
    )
    assert rows == [
        ["a", "a"], ["b", "b"], ["c", "c"], ["d", "d"], ["e", "E"], ["f", "f"], ["g", "g"],
        ["h", "h"], [None, "i"],
    ]  # fmt: skip


def test_a_heatmap_bucket_names_the_keys_in_it_largest_first(page: Any) -> None:
    found = page.evaluate(
        """async () => {
          const { keysInBucket } = await import('/static/js/run/drill.js');
          const agg = { rows: [
            { key: ["sshd"], buckets: [{ lo: 0, hi: 9, count: 2 }, { lo: 10, hi: 19, count: 1 }] },
            { key: ["nginx"], buckets: [{ lo: 10, hi: 19, count: 7 }] },
            { key: ["cron"], buckets: [{ lo: 20, hi: null, count: 4 }] },
          ] };
          return [keysInBucket(agg, 10, 19), keysInBucket(agg, 20, null)];
        }"""
    )
    assert found == [
        [{"key": ["nginx"], "count": 7}, {"key": ["sshd"], "count": 1}],
        [{"key": ["cron"], "count": 4}],
    ]


def test_each_kind_of_click_names_its_key(page: Any) -> None:
    """What plotly's click event gives for each chart, and the key the menu opens for."""
    found = page.evaluate(
        """async () => {
          const { clickTarget } = await import('/static/js/run/drill.js');
          const panel = { name: "@n", keys: [["nginx", 10], ["sshd", null], null] };
          const rows = [{ key: ["cron"], buckets: [{ lo: 0, hi: 9, count: 3 }] }];
          const agg = { name: "@n", rows };
          const view = { runId: "r1", snapshot: { aggregations: [agg] } };
          const at = (pt) => {
            const t = clickTarget(panel, pt, view);
            if (!t) return t;
            return t.bucket ? ["bucket", t.bucket.lo, t.bucket.hi] : t.other ? "other" : t.key;
          };
          return [
            at({ data: { type: "pie" }, customdata: 0 }),
            at({ data: { type: "pie" }, customdata: -1 }),
            at({ data: { type: "bar" }, customdata: 1 }),
            at({ data: { type: "bar" } }),
            at({ data: { type: "heatmap", meta: { ranks: [1, 0] } }, pointNumber: [1, 4] }),
            at({ data: { type: "heatmap", meta: { spans: [[0, 9]] } }, pointNumber: [0, 2] }),
            at({ data: { type: "mesh3d", meta: { cell: 10 } }, y: 19 }),
            at({ data: { type: "icicle", meta: { key_nodes: { 7: [1, 1] } } }, id: "7" }),
            at({ data: { type: "icicle", meta: { key_nodes: {} } }, id: "8" }),
            at({ data: { type: "scatter" } }),
          ];
        }"""
    )
    assert found == [
        ["nginx", 10], "other", ["sshd", None], "other", ["nginx", 10], ["bucket", 0, 9],
        ["sshd", None], ["sshd", None], None, None,
    ]  # fmt: skip
