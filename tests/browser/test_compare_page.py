"""Two real bpftrace runs compared in the page: one while a dd makes system calls as fast as
it can, one without; /compare?a=&b= shows the difference table sorted by the largest change
(dd first, new in B, B-A up) and the two runs' syscall distributions overlaid; runs with no
aggregation in common, and an unknown run, say what to do; file names crafted as markup show
as text."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from tests.browser.test_drilldown_page import dd, doc_shot  # noqa: F401 (dd: a fixture)
from tests.browser.test_traced_text import NAMES, Opener
from tests.conftest import LiveServer, screenshot, tracer_ready

pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(tracer_ready() is not None, reason=str(tracer_ready())),
]

SCRIPT = (
    "// title: Syscalls by process\n"
    "tracepoint:raw_syscalls:sys_enter\n{\n    @num[comm] = count();\n"
    "    @ids = lhist(args->id, 0, 320, 20);\n}\n"
)
OTHER = "tracepoint:raw_syscalls:sys_enter { @other[comm] = count(); }\n"
TABLE = 'article.compare-agg[data-name="@num"] table.compare-table'
TIMEOUT_MS = 30_000


def traced(server: LiveServer, script: str, duration: float) -> str:
    """A run of ``script`` for ``duration`` seconds, waited for until it ended."""
    status, body = server.request(
        "POST",
        "/api/runs",
        {"language": "bpftrace", "script": script, "duration": duration, "interval": 0.5},
    )
    assert status == 201, body
    run_id = str(body["id"])
    ended = server.wait_run(run_id, lambda b: b["state"] != "running", timeout=40)
    assert ended["state"] == "finished", ended
    return run_id


def table_rows(page: Any) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = page.eval_on_selector_all(
        f"{TABLE} tr.compare-row",
        """(trs) => trs.map((tr) => ({
          key: tr.cells[0].textContent, a: tr.cells[1].textContent,
          b: tr.cells[2].textContent, delta: tr.cells[3].textContent,
          ratio: tr.cells[4].textContent, change: tr.dataset.change }))""",
    )
    return rows


def test_two_runs_show_their_difference_sorted_by_the_largest_change(
    page: Any, live_server: LiveServer, request: pytest.FixtureRequest
) -> None:
    before = traced(live_server, SCRIPT, 2)
    proc: subprocess.Popen[bytes] = request.getfixturevalue("dd")
    after = traced(live_server, SCRIPT, 2)
    proc.kill()

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.base}/compare?a={before}&b={after}")
    page.wait_for_selector(f"{TABLE} tr.compare-row", timeout=TIMEOUT_MS)
    assert page.inner_text('.compare-side[data-side="a"] .compare-side-title') == (
        "Syscalls by process"
    )
    assert page.get_attribute('.compare-side[data-side="b"]', "data-run-id") == after

    _, body = live_server.request("GET", f"/api/compare?a={before}&b={after}")
    [num] = [agg for agg in body["aggregations"] if agg["name"] == "@num"]
    changes = [abs(r["delta"]) for r in num["rows"]]
    assert changes == sorted(changes, reverse=True)  # the largest change first
    rows = table_rows(page)
    assert [r["key"] for r in rows] == [r["label"] for r in num["rows"][: len(rows)]]
    top = rows[0]
    assert top["key"] == "dd", rows[:5]  # it ran only while B was traced
    assert top["change"] == "up" and top["delta"].lstrip("▲").startswith("+")
    assert top["ratio"] == "new" or top["ratio"].endswith("\N{MULTIPLICATION SIGN}")

    # The syscall-number distributions of A and B, overlaid.
    chart = 'article.compare-agg[data-name="@ids"] .compare-chart[data-drawn]'
    page.wait_for_selector(chart, timeout=TIMEOUT_MS)
    names = page.eval_on_selector(f"{chart} .compare-plot", "(gd) => gd.data.map((t) => t.name)")
    assert names == ["A", "B"]
    page.set_viewport_size({"width": 1280, "height": 1240})  # the tables and the chart
    page.mouse.move(0, 0)
    page.wait_for_timeout(500)
    doc_shot(page, "compare")


def test_runs_with_nothing_in_common_and_unknown_runs_say_what_to_do(
    page: Any, live_server: LiveServer
) -> None:
    a = traced(live_server, SCRIPT, 1)
    b = traced(live_server, OTHER, 1)
    page.goto(f"{live_server.base}/compare?a={a}&b={b}")
    page.wait_for_selector(".compare-message", timeout=TIMEOUT_MS)
    text = page.inner_text("#compare-status")
    assert "no aggregation in common" in text and "Only in B: @other" in text
    screenshot(page, "compare-nothing-in-common")
    page.goto(f"{live_server.base}/compare?a={a}&b=nope")
    page.wait_for_selector(".compare-error", timeout=TIMEOUT_MS)
    assert "there is no run 'nope'" in page.inner_text("#compare-status")
    page.goto(f"{live_server.base}/compare")
    page.wait_for_selector(".compare-message", timeout=TIMEOUT_MS)
    assert "Pick two runs" in page.inner_text("#compare-status")
    # The chooser lists the runs; picking two compares them.
    page.wait_for_selector("#compare-pick[data-filled]", timeout=TIMEOUT_MS)
    page.select_option("#pick-a", a)
    page.select_option("#pick-b", a)
    page.click("#pick-go")
    page.wait_for_selector(f"{TABLE} tr.compare-row", timeout=TIMEOUT_MS)
    assert f"a={a}" in page.url


def test_crafted_keys_show_as_text_in_the_tables_and_the_chart(
    page: Any, live_server: LiveServer
) -> None:
    with Opener() as opener:
        name = "str(args->filename)"
        script = (
            f"tracepoint:syscalls:sys_enter_openat /tid == {opener.tid}/ {{\n"
            f"    @opens[{name}] = count();\n    @flags[{name}] = hist(args->flags);\n}}\n"
        )
        a = traced(live_server, script, 1)
        b = traced(live_server, script, 1)
    page.goto(f"{live_server.base}/compare?a={a}&b={b}")
    opens = 'article.compare-agg[data-name="@opens"] table.compare-table'
    page.wait_for_selector(f"{opens} tr.compare-row", timeout=TIMEOUT_MS)
    keys = page.eval_on_selector_all(
        f"{opens} tr.compare-row td.compare-key", "(tds) => tds.map((td) => td.textContent)"
    )
    assert sorted(keys) == sorted(NAMES)
    chart = 'article.compare-agg[data-name="@flags"] .compare-chart'
    page.wait_for_selector(f"{chart}[data-drawn]", timeout=TIMEOUT_MS)
    options = page.eval_on_selector_all(
        f"{chart} select option", "(os) => os.map((o) => o.textContent)"
    )
    assert sorted(options) == sorted(NAMES)
    assert page.eval_on_selector_all(".compare-main a, .compare-main b", "(n) => n.length") == 0
    title = page.inner_text('article.compare-agg[data-name="@flags"] .compare-buckets-title')
    assert title.removeprefix("Buckets of ") in NAMES
    screenshot(page, "compare-crafted-keys")
