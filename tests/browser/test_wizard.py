"""The three-step wizard in Chromium against the real server and the real bpftrace.

Each test drives the page the way a person does (editor, buttons, tabs), then checks what
the page shows against what the server says through the API.  Screenshots of each step go
to test-artifacts/screenshots/.
"""

from __future__ import annotations

import math
import re
import time
from pathlib import Path
from typing import Any

import pytest

from ide.charts import AXIS_LABELS_3D
from ide.charts.text import plotly_text
from tests.conftest import ARTIFACTS, LiveServer, set_script, tracer_ready
from tests.conftest import screenshot as page_screenshot

pytest.importorskip("playwright.sync_api")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.tracer,
    pytest.mark.skipif(tracer_ready() is not None, reason=str(tracer_ready())),
]

COUNT_SCRIPT = "tracepoint:raw_syscalls:sys_enter { @num[comm] = count(); }"
BROKEN_SCRIPT = "tracepoint:raw_syscalls:sys_enter\n{\n    @num[comm] = cont();\n}\n"
LHIST_SCRIPT = "tracepoint:raw_syscalls:sys_enter { @dist[comm] = lhist(args->id, 0, 300, 20); }"
XSS_SCRIPT = 'BEGIN { printf("<img src=x onerror=alert(1)>\\n"); exit(); }'
RUN_TIMEOUT_MS = 30_000
PIE = 'article.panel[data-name="@num"][data-kind="pie"] .chart .main-svg'


def screenshot(page: Any, name: str) -> None:
    """The whole page, with the pointer moved off the charts (no hover labels)."""
    page.mouse.move(0, 0)
    page.wait_for_timeout(100)
    page_screenshot(page, name)


def panel_screenshot(page: Any, name: str, aggregation: str) -> None:
    page.mouse.move(0, 0)
    card = page.locator(f'article.panel[data-name="{aggregation}"]')
    card.evaluate("(node) => node.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(300)
    out = ARTIFACTS / "screenshots" / f"{name}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    card.screenshot(path=str(out))


def set_language(page: Any, language: str) -> None:
    page.click(f'#language-switch label:has(input[value="{language}"])')


def wait_compiles(page: Any) -> None:
    page.wait_for_selector("#compile-status.ok", timeout=RUN_TIMEOUT_MS)
    page.wait_for_selector("#next-write:enabled")


def start_run(page: Any, script: str, duration: str) -> str:
    """Write `script`, go to Run, pick the duration preset, start; returns the run id."""
    set_script(page, script)
    wait_compiles(page)
    page.click("#next-write")
    page.wait_for_selector("#step-run:not([hidden])")
    page.click(f'#duration-presets label:has(input[value="{duration}"])')
    page.click("#start-run")
    page.wait_for_selector("#step-output:not([hidden])")
    run_id: str = page.get_attribute("#step-output", "data-run-id")
    assert run_id
    return run_id


def wait_state(page: Any, *states: str) -> str:
    selector = ", ".join(f'#step-output[data-state="{s}"]' for s in states)
    page.wait_for_selector(selector, timeout=RUN_TIMEOUT_MS)
    state: str = page.get_attribute("#step-output", "data-state")
    return state


def snapshot_keys(server: LiveServer, run_id: str, name: str) -> list[str]:
    status, run = server.request("GET", f"/api/runs/{run_id}")
    assert status == 200, run
    agg = next(a for a in run["snapshot"]["aggregations"] if a["name"] == name)
    return [", ".join(str(k) for k in row["key"]) for row in agg["rows"]]


def plotted(page: Any, name: str, expr: str) -> Any:
    """Evaluate `expr` with `gd` bound to the plotly div of the panel of aggregation `name`."""
    return page.evaluate(
        f"""() => {{
            const gd = document.querySelector('article.panel[data-name="{name}"] .chart');
            return {expr};
        }}"""
    )


def pie_total(page: Any) -> float:
    total: float = plotted(page, "@num", "gd.calcdata[0].reduce((s, c) => s + c.v, 0)")
    return total


def test_the_whole_wizard_shows_a_compile_error_then_runs_to_a_pie_of_process_names(
    page: Any, live_server: LiveServer
) -> None:
    page.wait_for_selector("#compile-status.ok", timeout=RUN_TIMEOUT_MS)
    assert page.get_attribute("#tab-run", "aria-disabled") == "false"
    screenshot(page, "wizard-1-write")

    set_script(page, BROKEN_SCRIPT)
    diagnostic = page.wait_for_selector("#diagnostics .diag.error", timeout=RUN_TIMEOUT_MS)
    assert "cont" in diagnostic.inner_text()
    assert page.is_disabled("#next-write")
    assert page.get_attribute("#tab-run", "aria-disabled") == "true"
    assert "1 error" in page.inner_text("#compile-status")
    assert diagnostic.inner_text().split()[1].startswith("3:")
    screenshot(page, "wizard-1-write-error")
    # The problem list jumps to the line.
    page.keyboard.press("Control+Home")
    diagnostic.click()
    if page.locator("#editor .cm-content").count():
        assert "cont()" in page.inner_text("#editor .cm-activeLine")

    run_id = start_run(page, COUNT_SCRIPT, "2")
    assert wait_state(page, "finished", "failed") == "finished"
    page.wait_for_selector('article.panel[data-name="@num"][data-kind="pie"] .chart .main-svg')
    screenshot(page, "wizard-3-output-pie")

    labels = plotted(page, "@num", "gd.data[0].labels")
    keys = snapshot_keys(live_server, run_id, "@num")
    named = [label for label in labels if not label.startswith("other")]
    assert named and set(named) <= set(keys)
    # This very browser made system calls during the run, so its name is among them.
    assert any(k.lower().startswith("chrom") or "Thread" in k for k in keys), keys
    assert page.inner_text("#run-clock").startswith("0:02")

    # Every panel can become a table of the same rows.
    page.click('article.panel[data-name="@num"] button[data-mode="table"]')
    first_cells = page.locator('article.panel[data-name="@num"] tbody tr td:first-child')
    assert first_cells.count() == len(keys)
    assert set(first_cells.all_inner_texts()) == set(keys)

    # Back to Write keeps the script; Run shows it again.
    page.click("#edit-script")
    page.wait_for_selector("#step-write:not([hidden])")
    page.click("#tab-run")
    page.wait_for_selector("#step-run:not([hidden])")
    assert page.inner_text("#script-preview").strip() == COUNT_SCRIPT
    page.click("#advanced summary")
    assert "max 64 MiB" in page.inner_text("#tracer-options")
    # Only the options bpftrace reads: aggsize is libdtrace's.
    assert "bufsize" in page.inner_text("#tracer-options")
    assert "aggsize" not in page.inner_text("#tracer-options")
    screenshot(page, "wizard-2-run")


def show_3d(page: Any, name: str) -> None:
    """A keyed lhist shows its heatmap first: switch its panel to the 3D bars."""
    card = f'article.panel[data-name="{name}"][data-kind="bars3d"]'
    page.click(f'{card} button[data-mode="chart"]', timeout=RUN_TIMEOUT_MS)
    page.wait_for_selector(f"{card} .chart .gl-container canvas", state="attached")


def test_an_lhist_run_draws_3d_bars_with_one_row_per_process(
    page: Any, live_server: LiveServer
) -> None:
    run_id = start_run(page, LHIST_SCRIPT, "2")
    assert wait_state(page, "finished", "failed") == "finished"
    # First the key x bucket heatmap: a row per process, drawn at once.
    page.wait_for_selector(
        'article.panel[data-name="@dist"][data-mode="heatmap"] .chart .main-svg',
        timeout=RUN_TIMEOUT_MS,
    )
    assert plotted(page, "@dist", "gd.data[0].type") == "heatmap"
    heat_rows = plotted(page, "@dist", "gd.data[0].y.length")
    assert heat_rows == len(snapshot_keys(live_server, run_id, "@dist"))
    panel_screenshot(page, "panel-heatmap-keys-bpftrace-lhist", "@dist")
    show_3d(page, "@dist")
    # A slow 3D draw is redrawn less often: wait until the last snapshot is the one drawn.
    page.wait_for_selector(
        '#step-output:not([data-rendering]) article.panel[data-name="@dist"]:not([data-pending])'
    )
    page.wait_for_timeout(500)
    screenshot(page, "wizard-3-output-bars3d")
    panel_screenshot(page, "panel-bars3d-bpftrace-lhist", "@dist")

    keys = snapshot_keys(live_server, run_id, "@dist")
    assert len(keys) >= 2
    assert plotted(page, "@dist", "gd._fullData[0].type") == "mesh3d"
    # Each box spans [y0, y0 + 8] within its key's row, so a row has two distinct y values.
    rows = plotted(page, "@dist", "new Set(Array.from(gd._fullData[0].y)).size / 2")
    assert rows == len(keys)
    ticks = plotted(page, "@dist", "gd.layout.scene.yaxis.ticktext")
    step = math.ceil(len(keys) / AXIS_LABELS_3D)
    # 3D ticks carry traced text in WebGL's form (a process named "Thread<01>" exists here).
    shown = {plotly_text(k, webgl=True) for k in keys}
    assert set(ticks) <= shown and len(ticks) == math.ceil(len(keys) / step)


def test_a_continuous_run_counts_up_until_stopped_and_keeps_its_last_snapshot(
    page: Any, live_server: LiveServer, browser: Any
) -> None:
    run_id = start_run(page, COUNT_SCRIPT, "0")
    wait_state(page, "running")
    page.wait_for_selector(PIE, timeout=RUN_TIMEOUT_MS)
    assert page.is_hidden("#run-progress")
    assert "continuous" in page.inner_text("#run-clock")
    page.wait_for_function(
        "() => /^0:0[2-9]/.test(document.querySelector('#run-clock').textContent)",
        timeout=RUN_TIMEOUT_MS,
    )
    # The time series of the top keys, then back to the pie.
    page.click('article.panel[data-name="@num"] button[data-mode="series"]')
    page.wait_for_selector('article.panel[data-name="@num"][data-mode="series"] .chart .main-svg')
    page.wait_for_timeout(300)
    series = plotted(page, "@num", "gd.data.map((t) => [t.type, t.name])")
    assert series and all(kind == "scatter" for kind, _ in series)
    screenshot(page, "wizard-3-output-over-time")
    page.click('article.panel[data-name="@num"] button[data-mode="chart"]')
    page.wait_for_selector(PIE)

    viewer_url = page.input_value("#viewer-link")
    assert f"/view/{run_id}?key=" in viewer_url

    # A read-only viewer, in a browser without the session cookie, sees the same run.
    other = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        viewer = other.new_page()
        viewer.goto(viewer_url)
        viewer.wait_for_selector(PIE, timeout=RUN_TIMEOUT_MS)
        assert viewer.locator("#stop-run").count() == 0
        assert viewer.inner_text("#run-state") == "Running"
        screenshot(viewer, "wizard-viewer")
    finally:
        other.close()

    page.click("#stop-run")
    assert wait_state(page, "stopped") == "stopped"
    status, run = live_server.request("GET", f"/api/runs/{run_id}")
    assert status == 200 and run["state"] == "stopped"
    assert page.locator('article.panel[data-name="@num"] .chart .plot-container').count() == 1
    assert page.is_disabled("#stop-run")
    screenshot(page, "wizard-3-output-continuous-stopped")


def clock_seconds(page: Any) -> int:
    text: str = page.inner_text("#run-clock")
    minutes, seconds = text.split(" ")[0].split(":")
    return int(minutes) * 60 + int(seconds)


def test_the_run_clock_keeps_real_time_while_snapshots_arrive(
    page: Any, live_server: LiveServer
) -> None:
    run_id = start_run(page, COUNT_SCRIPT, "0")
    wait_state(page, "running")
    page.wait_for_selector(PIE, timeout=RUN_TIMEOUT_MS)
    live_server.wait_run(run_id, lambda r: r["elapsed"] >= 1)
    started = time.monotonic()
    first = clock_seconds(page)
    page.wait_for_timeout(6000)  # six snapshots at the default 1 s interval
    shown = clock_seconds(page) - first
    passed = time.monotonic() - started
    assert abs(shown - passed) <= 1.5, f"the clock moved {shown} s in {passed:.1f} s"
    page.click("#stop-run")
    wait_state(page, "stopped")
    _, run = live_server.request("GET", f"/api/runs/{run_id}")
    assert abs(clock_seconds(page) - run["elapsed"]) <= 1.0


def test_closing_the_tab_stops_the_tracer_within_two_seconds(
    browser: Any, live_server: LiveServer
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(live_server.url)
    run_id = start_run(page, COUNT_SCRIPT, "0")
    wait_state(page, "running")
    status, run = live_server.request("GET", f"/api/runs/{run_id}")
    assert status == 200 and run["state"] == "running"

    page.close()
    closed = time.monotonic()
    state = "running"
    while time.monotonic() - closed < 5:
        _, run = live_server.request("GET", f"/api/runs/{run_id}")
        state = run["state"]
        if state != "running":
            break
        time.sleep(0.05)
    waited = time.monotonic() - closed
    context.close()
    assert state in {"stopped", "finished"}
    assert waited <= 2.0, f"the tracer ran on for {waited:.2f}s after the tab closed"


def test_trace_output_is_shown_as_text_never_as_html(page: Any) -> None:
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    start_run(page, XSS_SCRIPT, "2")
    wait_state(page, "finished", "stopped", "failed")
    page.wait_for_function(
        "() => document.querySelector('#console').textContent.includes('<img')",
        timeout=RUN_TIMEOUT_MS,
    )
    assert "<img src=x onerror=alert(1)>" in page.inner_text("#console")
    assert page.locator("img").count() == 0
    assert page.locator("#console *").count() == 0
    assert "no aggregations" in page.inner_text("#panels")
    screenshot(page, "wizard-xss-console")
    assert dialogs == []


def test_output_fits_a_1920_by_1080_screen(browser: Any, live_server: LiveServer) -> None:
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    try:
        page = context.new_page()
        page.goto(live_server.url)
        start_run(page, COUNT_SCRIPT + "\n" + LHIST_SCRIPT, "2")
        wait_state(page, "finished")
        page.wait_for_selector('article.panel[data-name="@dist"] .chart .main-svg')
        page.wait_for_selector('article.panel[data-name="@num"] .chart .main-svg')
        show_3d(page, "@dist")
        page.wait_for_timeout(500)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 1920
        screenshot(page, "wizard-3-output-1920")
    finally:
        context.close()


def test_the_steps_are_a_keyboard_tablist(page: Any) -> None:
    page.wait_for_selector("#compile-status.ok", timeout=RUN_TIMEOUT_MS)
    page.focus("#tab-write")
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.id") == "tab-run"
    assert page.is_visible("#step-run") and page.is_hidden("#step-write")
    # Output has no run yet: the arrow stays on Run.
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.id") == "tab-run"
    page.keyboard.press("ArrowLeft")
    assert page.evaluate("document.activeElement.id") == "tab-write"
    assert page.get_attribute("#tab-output", "aria-disabled") == "true"


def test_after_each_step_change_focus_is_on_the_steps_main_control(page: Any) -> None:
    assert "leaves the editor" in page.inner_text("#editor-keys")
    set_script(page, "BEGIN { @n = count(); exit(); }")
    wait_compiles(page)
    page.focus("#next-write")
    page.keyboard.press("Enter")
    page.wait_for_selector("#step-run:not([hidden])")
    assert page.evaluate("document.activeElement.id") == "start-run"
    page.keyboard.press("Enter")
    page.wait_for_selector("#step-output:not([hidden])")
    assert page.evaluate("document.activeElement.id") in {"stop-run", "edit-script"}
    wait_state(page, "finished", "stopped")


def test_switching_the_language_of_a_written_script_says_so_and_offers_the_way_back(
    page: Any,
) -> None:
    set_script(page, COUNT_SCRIPT)
    wait_compiles(page)
    if page.is_disabled('input[name="language"][value="d"]'):
        pytest.skip("D is not available here")
    set_language(page, "d")
    note = page.wait_for_selector("#language-switch-note")
    assert "still holds the bpftrace script" in note.inner_text()
    assert "checked as D" in note.inner_text()
    page.click("#language-switch-note button")
    page.wait_for_selector("#language-switch-note", state="detached")
    assert page.is_checked('input[name="language"][value="bpftrace"]')
    wait_compiles(page)


def test_a_tracer_that_cannot_attach_ends_failed_with_its_error_in_a_banner(page: Any) -> None:
    # This kernel has no kprobes: the script compiles, then the tracer fails to attach.
    start_run(page, "kprobe:do_nanosleep { @x = count(); }", "10")
    assert wait_state(page, "failed") == "failed"
    banner = page.wait_for_selector("#banners .banner-error")
    assert "kprobe:do_nanosleep" in banner.inner_text()
    assert page.inner_text("#run-state") == "Failed"
    assert "before reporting any data" in page.inner_text("#panels")
    assert page.is_disabled("#stop-run")
    screenshot(page, "wizard-3-output-failed")


def test_a_scratch_map_is_a_note_not_an_error_and_gets_no_chart(page: Any) -> None:
    script = (
        "tracepoint:raw_syscalls:sys_enter { @start[tid] = nsecs; }\n"
        "tracepoint:raw_syscalls:sys_exit /@start[tid]/\n"
        "{ @lat = hist(nsecs - @start[tid]); delete(@start[tid]); }\n"
        "END { clear(@start); }\n"
    )
    start_run(page, script, "2")
    assert wait_state(page, "finished") == "finished"
    note = page.wait_for_selector("#banners .banner-warn")
    assert "@start is scratch state (deleted per event), not shown live" in note.inner_text()
    assert "Fix:" not in note.inner_text()
    assert page.locator("#banners .banner-error").count() == 0
    page.wait_for_selector('article.panel[data-name="@lat"]')
    assert page.locator('article.panel[data-name="@start"]').count() == 0


def test_exports_hold_the_snapshot_the_run_and_the_chart(
    page: Any, live_server: LiveServer
) -> None:
    import csv
    import io
    import json

    run_id = start_run(page, COUNT_SCRIPT, "2")
    wait_state(page, "finished")
    page.wait_for_selector(PIE)
    keys = snapshot_keys(live_server, run_id, "@num")

    def export(kind: str) -> bytes:
        page.click("#export-menu summary")
        with page.expect_download() as info:
            page.click(f'#export-menu button[data-export="{kind}"]')
        data: bytes = Path(info.value.path()).read_bytes()
        return data

    snapshot = json.loads(export("json"))
    [agg] = [a for a in snapshot["aggregations"] if a["name"] == "@num"]
    assert sorted(r["key"][0] for r in agg["rows"]) == sorted(keys)

    rows = list(csv.DictReader(io.StringIO(export("csv").decode())))
    assert sorted(r["key"] for r in rows) == sorted(keys)
    # A spreadsheet reads a cell starting with @ as a formula: the map's name is guarded too.
    assert all(r["aggregation"] == "'@num" and int(r["value"]) > 0 for r in rows), rows

    messages = [json.loads(line) for line in export("ndjson").decode().splitlines()]
    assert messages[0]["type"] == "state"
    assert messages[-1] == {**messages[-1], "type": "state", "state": "finished"}
    assert any(m["type"] == "snapshot" for m in messages)

    with page.expect_download() as info:
        page.click('article.panel[data-name="@num"] button:has-text("PNG")')
    assert info.value.suggested_filename.endswith(".png")
    assert Path(info.value.path()).read_bytes().startswith(b"\x89PNG")


def test_plotly_loads_only_for_charts_and_tables_stand_in_without_them(page: Any) -> None:
    page.wait_for_selector("#compile-status.ok", timeout=RUN_TIMEOUT_MS)
    assert page.evaluate("typeof window.Plotly") == "undefined"
    assert page.locator('script[src*="plotly"]').count() == 0

    set_script(page, COUNT_SCRIPT)
    wait_compiles(page)
    page.click("#next-write")
    page.uncheck("#draw-charts")
    page.click('#duration-presets label:has(input[value="2"])')
    page.click("#start-run")
    wait_state(page, "finished")
    table = page.wait_for_selector('article.panel[data-name="@num"] table.data-table')
    assert table.is_visible()
    assert page.locator('article.panel[data-name="@num"] .chart .main-svg').count() == 0
    assert page.locator('article.panel[data-name="@num"] button[data-mode="chart"]').is_hidden()


def test_a_table_sorts_filters_splits_its_keys_and_copies_as_tsv(
    browser: Any, live_server: LiveServer
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    try:
        page.goto(live_server.url)
        script = (
            'BEGIN { @k["bash", 1] = count(); @k["sshd", 2] = count(); @k["sshd", 2] = count();'
            ' @k["cron", 3] = count(); @k["cron", 3] = count(); @k["cron", 3] = count(); exit(); }'
        )
        start_run(page, script, "2")
        wait_state(page, "finished")
        card = 'article.panel[data-name="@k"]'
        page.click(f"{card} button[data-mode='table']")
        heads = page.locator(f"{card} thead th").all_inner_texts()
        assert heads[:3] == ["key 1", "key 2", "count"]

        def first_column() -> list[str]:
            cells: list[str] = page.locator(f"{card} tbody td:first-child").all_inner_texts()
            return cells

        page.click(f"{card} thead th:nth-child(3) button")  # by count, largest first
        assert first_column() == ["cron", "sshd", "bash"]
        page.click(f"{card} thead th:nth-child(3) button")
        assert first_column() == ["bash", "sshd", "cron"]
        assert page.get_attribute(f"{card} thead th:nth-child(3)", "aria-sort") == "ascending"
        page.fill(f"{card} .table-filter", "ss")
        assert first_column() == ["sshd"]
        page.click(f"{card} button[data-tsv]")
        page.wait_for_selector(f"{card} button[data-tsv]:has-text('Copied')")
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied.startswith("key 1\tkey 2\tcount\t%\nsshd\t2\t2\t")
        assert copied.count("\n") == 2  # the header and the one row the filter shows
    finally:
        context.close()


def test_a_panel_goes_full_screen_and_its_chart_follows_a_new_height(page: Any) -> None:
    start_run(page, COUNT_SCRIPT, "2")
    wait_state(page, "finished")
    card = 'article.panel[data-name="@num"]'
    page.wait_for_selector(f"{card} .chart .main-svg", timeout=RUN_TIMEOUT_MS)
    page.click(f"{card} .panel-full-btn")
    page.wait_for_function(
        f"""() => {{ const gd = document.querySelector('{card} .chart');
                     return gd._fullLayout.height > window.innerHeight - 120
                       && gd._fullLayout.width > window.innerWidth - 40; }}""",
        timeout=RUN_TIMEOUT_MS,
    )
    screenshot(page, "panel-full-screen")
    page.keyboard.press("Escape")
    page.wait_for_selector(f"{card}:not(.panel-full)")
    # Dragging the chart's corner changes its height: the chart is laid out again to fit.
    page.eval_on_selector(f"{card} .chart", "(gd) => { gd.style.height = '620px'; }")
    page.wait_for_function(
        f"() => Math.abs(document.querySelector('{card} .chart')._fullLayout.height - 620) < 3",
        timeout=RUN_TIMEOUT_MS,
    )


def test_keys_that_look_like_formulas_or_html_stay_inert_in_tables_and_csv(page: Any) -> None:
    import csv
    import io

    script = 'BEGIN { @k["=HYPERLINK(1)"] = count(); @k["<b>x</b>"] = count(); exit(); }'
    start_run(page, script, "2")
    wait_state(page, "finished")
    page.wait_for_selector('article.panel[data-name="@k"]')
    page.click('article.panel[data-name="@k"] button[data-mode="table"]')
    cells = page.locator('article.panel[data-name="@k"] tbody td:first-child').all_inner_texts()
    assert sorted(cells) == ["<b>x</b>", "=HYPERLINK(1)"]
    assert page.locator("#panels b").count() == 0

    page.click("#export-menu summary")
    with page.expect_download() as info:
        page.click('#export-menu button[data-export="csv"]')
    rows = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text())))
    assert sorted(r["key"] for r in rows) == ["'=HYPERLINK(1)", "<b>x</b>"]


def test_a_tracer_option_over_its_cap_is_refused_before_any_run_starts(
    page: Any, live_server: LiveServer
) -> None:
    set_script(page, COUNT_SCRIPT)
    wait_compiles(page)
    page.click("#next-write")
    page.click("#advanced summary")
    _, limits = live_server.request("GET", "/api/limits")
    cap = next(o["maximum"] for o in limits["tracer_options"] if o["name"] == "bufsize")
    page.fill("#opt-bufsize", str(cap + 1))
    _, before = live_server.request("GET", "/api/runs")
    page.click("#start-run")
    error = page.wait_for_selector("#run-error:not([hidden])")
    assert f"at most {cap:,}" in error.inner_text()
    assert page.is_visible("#step-run")
    # The field is marked and has the focus, not only the message at the bottom.
    assert page.get_attribute("#opt-bufsize", "aria-invalid") == "true"
    assert page.evaluate("document.activeElement.id") == "opt-bufsize"
    _, after = live_server.request("GET", "/api/runs")
    assert len(after["runs"]) == len(before["runs"])
    page.fill("#opt-bufsize", "")
    page.click('#duration-presets label:has(input[value="custom"])')
    page.fill("#custom-duration", "-5")
    page.click("#start-run")
    page.wait_for_selector('#custom-duration[aria-invalid="true"]')
    assert page.get_attribute("#opt-bufsize", "aria-invalid") is None


def test_the_duration_help_speaks_of_the_duration_chosen(page: Any) -> None:
    set_script(page, COUNT_SCRIPT)
    wait_compiles(page)
    page.click("#next-write")
    page.click('#duration-presets label:has(input[value="60"])')
    assert "stops by itself after" in page.inner_text("#duration-help")
    page.click('#duration-presets label:has(input[value="0"])')
    assert "until you press Stop" in page.inner_text("#duration-help")


def test_when_the_tracer_dies_the_last_snapshot_stays_on_screen(
    page: Any, live_server: LiveServer
) -> None:
    import os
    import signal

    run_id = start_run(page, COUNT_SCRIPT, "0")
    wait_state(page, "running")
    page.wait_for_selector(PIE, timeout=RUN_TIMEOUT_MS)
    labels_before = plotted(page, "@num", "gd.data[0].labels")
    _, run = live_server.request("GET", f"/api/runs/{run_id}")
    os.kill(run["pid"], signal.SIGKILL)

    state = wait_state(page, "failed", "finished")
    assert page.inner_text("#run-state") == state.capitalize()
    assert page.locator(PIE).count() >= 1
    assert set(plotted(page, "@num", "gd.data[0].labels")) & set(labels_before)
    if state == "failed":
        assert page.locator("#banners .banner-error").count() >= 1
    assert page.is_disabled("#stop-run")
    screenshot(page, "wizard-3-output-tracer-died")


def d_backend_problem(server: LiveServer) -> str | None:
    _, health = server.request("GET", "/api/health")
    if health["languages"]["d"]["available"]:
        return None
    reasons = [b["reason"] for b in health["backends"] if b["language"] == "d" and b["reason"]]
    return "; ".join(reasons) or "no D backend"


def test_d_scripts_give_a_pie_of_probefunc_and_3d_bars_of_lquantize(
    page: Any, live_server: LiveServer
) -> None:
    problem = d_backend_problem(live_server)
    if problem:
        pytest.skip(f"D is unavailable here: {problem}")
    page.wait_for_selector("#compile-status.ok", timeout=RUN_TIMEOUT_MS)
    set_language(page, "d")
    script = (
        "syscall:::entry { @num[probefunc] = count(); }\n"
        "syscall:::entry { @dist[execname] = lquantize(arg0, 0, 12, 2); }\n"
    )
    run_id = start_run(page, script, "2")
    assert wait_state(page, "finished", "failed") == "finished"
    page.wait_for_selector(PIE)
    show_3d(page, "@dist")
    page.wait_for_selector(
        '#step-output:not([data-rendering]) article.panel[data-name="@dist"]:not([data-pending])'
    )
    # System call names, as DTrace's syscall provider reports them.
    labels = [x for x in plotted(page, "@num", "gd.data[0].labels") if not x.startswith("other")]
    assert set(labels) <= set(snapshot_keys(live_server, run_id, "@num"))
    assert {"read", "write", "futex", "epoll_wait", "poll", "close"} & set(labels)
    rows = plotted(page, "@dist", "new Set(Array.from(gd._fullData[0].y)).size / 2")
    assert rows == len(snapshot_keys(live_server, run_id, "@dist"))
    panel_screenshot(page, "panel-pie-d-probefunc", "@num")
    panel_screenshot(page, "panel-bars3d-d-lquantize", "@dist")


def test_a_language_whose_backend_is_missing_is_greyed_out_with_the_reason(
    browser: Any, live_server: LiveServer
) -> None:
    import json

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        reason = "libdtrace was not found: install DTrace"

        def health(route: Any) -> None:
            _, body = live_server.request("GET", "/api/health")
            for b in body["backends"]:
                if b["language"] == "d":
                    b.update(available=False, version=None, reason=reason)
            body["languages"]["d"].update(available=False, via=[], default=None)
            route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

        page.route("**/api/health", health)
        page.goto(live_server.url)
        page.wait_for_selector("#compile-status.ok", timeout=RUN_TIMEOUT_MS)
        assert page.is_disabled('#language-switch input[value="d"]')
        assert page.is_enabled('#language-switch input[value="bpftrace"]')
        assert reason in page.inner_text("#language-notes")
        assert reason in page.get_attribute('#language-switch label:has(input[value="d"])', "title")
        screenshot(page, "wizard-1-write-d-unavailable")
    finally:
        context.close()


def test_a_run_kept_running_outlives_its_tab(browser: Any, live_server: LiveServer) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(live_server.url)
    set_script(page, COUNT_SCRIPT)
    wait_compiles(page)
    page.click("#next-write")
    page.check("#keep-running")
    page.click('#duration-presets label:has(input[value="0"])')
    page.click("#start-run")
    wait_state(page, "running")
    run_id = page.get_attribute("#step-output", "data-run-id")
    page.close()
    context.close()
    try:
        time.sleep(3)
        _, run = live_server.request("GET", f"/api/runs/{run_id}")
        assert run["state"] == "running" and run["keep_running"] is True
    finally:
        live_server.request("DELETE", f"/api/runs/{run_id}")


def test_the_pie_hover_label_shows_the_new_value_after_an_update(page: Any) -> None:
    start_run(page, COUNT_SCRIPT, "0")
    wait_state(page, "running")
    page.wait_for_selector(PIE, timeout=RUN_TIMEOUT_MS)
    page.wait_for_timeout(1500)
    # Into the biggest slice, well inside it: the middle of its box may be the pie's hole.
    at = plotted(
        page,
        "@num",
        """(() => {
          const cd = gd.calcdata[0];
          const box = gd.querySelector('.main-svg').getBoundingClientRect();
          const size = gd._fullLayout._size;
          const cx = cd[0].cx ?? size.l + size.w / 2, cy = cd[0].cy ?? size.t + size.h / 2;
          const [dx, dy] = cd[0].pxmid;
          return { x: box.left + cx + 0.8 * dx, y: box.top + cy + 0.8 * dy };
        })()""",
    )
    page.mouse.move(at["x"], at["y"])
    page.wait_for_selector(".hoverlayer .hovertext", timeout=RUN_TIMEOUT_MS)
    lines = (
        "() => Array.from(document.querySelectorAll('.hoverlayer .hovertext tspan.line'),"
        " (t) => t.textContent)"
    )
    seen = int(page.evaluate("() => document.querySelector('#step-output').dataset.snapshots"))
    page.wait_for_function(
        f"() => +document.querySelector('#step-output').dataset.snapshots >= {seen + 2}",
        timeout=RUN_TIMEOUT_MS,
    )
    # The slice under the pointer may now be another process (the slices are ordered by
    # value): the label comes to show the new value of whichever it is, once the redraw
    # that follows the update (later on a loaded machine) is done.
    consistent = """() => {
      const lines = Array.from(document.querySelectorAll('.hoverlayer .hovertext tspan.line'),
                               (t) => t.textContent);
      const gd = document.querySelector('article.panel[data-name="@num"] .chart');
      const i = Array.from(gd.data[0].labels).indexOf(lines[0]);
      const value = i < 0 ? null : Number(gd.data[0].values[i]).toLocaleString('en-US');
      return value !== null && lines.join(' ').includes(value) ? [lines, value] : false;
    }"""
    try:
        page.wait_for_function(consistent, timeout=5000)
    except Exception:
        pytest.fail(f"the hover label kept an old value: {page.evaluate(lines)}")
    page.click("#stop-run")
    wait_state(page, "stopped")


def test_hovering_a_moment_over_time_shows_it_in_the_other_time_charts(page: Any) -> None:
    script = (
        "tracepoint:raw_syscalls:sys_enter { @calls[comm] = count(); }\n"
        "tracepoint:raw_syscalls:sys_exit { @exits[comm] = count(); }\n"
    )
    start_run(page, script, "0")
    wait_state(page, "running")
    page.wait_for_function(
        "() => +document.querySelector('#step-output').dataset.snapshots >= 4",
        timeout=RUN_TIMEOUT_MS,
    )
    page.click("#stop-run")
    wait_state(page, "stopped")
    for name in ("@calls", "@exits"):
        page.click(f'article.panel[data-name="{name}"] button[data-mode="series"]')
        page.wait_for_selector(f'article.panel[data-name="{name}"][data-mode="series"] .main-svg')
    page.wait_for_timeout(300)
    box = page.locator('article.panel[data-name="@calls"] .chart .nsewdrag').first.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] / 2)
    page.wait_for_function(
        """() => document.querySelector(
                   'article.panel[data-name="@exits"] .hoverlayer .legend') !== null""",
        timeout=RUN_TIMEOUT_MS,
    )
    page.mouse.move(0, 0)
    page.wait_for_function(
        """() => document.querySelector(
                   'article.panel[data-name="@exits"] .hoverlayer .legend') === null""",
        timeout=RUN_TIMEOUT_MS,
    )


def test_a_running_run_is_reachable_and_stoppable_after_a_reload(
    page: Any, live_server: LiveServer
) -> None:
    run_id = start_run(page, COUNT_SCRIPT, "0")
    wait_state(page, "running")
    page.reload()
    page.wait_for_selector("#run-still-going", timeout=RUN_TIMEOUT_MS)
    assert page.get_attribute("#tab-output", "aria-disabled") != "true"
    page.click("#run-still-going button:has-text('Open Output')")
    page.wait_for_selector(PIE, timeout=RUN_TIMEOUT_MS)
    assert page.get_attribute("#step-output", "data-run-id") == run_id
    page.click("#stop-run")
    assert wait_state(page, "stopped") == "stopped"
    _, run = live_server.request("GET", f"/api/runs/{run_id}")
    assert run["state"] == "stopped"
    page.reload()  # a run that has ended is not offered again
    page.wait_for_selector("#compile-status.ok", timeout=RUN_TIMEOUT_MS)
    page.wait_for_timeout(500)
    assert page.locator("#run-still-going").count() == 0


def test_ctrl_enter_in_the_editor_runs_the_script_at_once(page: Any) -> None:
    set_script(page, COUNT_SCRIPT)
    wait_compiles(page)
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#step-output:not([hidden])")
    assert wait_state(page, "running", "finished") in {"running", "finished"}
    assert page.get_attribute("#tab-output", "aria-selected") == "true"
    page.click("#stop-run")
    wait_state(page, "stopped", "finished")


def test_a_distribution_over_time_is_a_heatmap(page: Any) -> None:
    start_run(page, LHIST_SCRIPT, "0")
    wait_state(page, "running")
    page.wait_for_function(
        "() => +document.querySelector('#step-output').dataset.snapshots >= 4",
        timeout=RUN_TIMEOUT_MS,
    )
    page.click('article.panel[data-name="@dist"] button[data-mode="series"]')
    page.wait_for_selector('article.panel[data-name="@dist"][data-mode="series"] .chart .main-svg')
    page.wait_for_timeout(500)
    assert plotted(page, "@dist", "gd.data[0].type") == "heatmap"
    # Seconds along X: one column per snapshot so far.
    assert len(plotted(page, "@dist", "Array.from(gd._fullData[0].x)")) >= 3
    assert plotted(page, "@dist", "gd.data[0].meta.colour") == "log"
    panel_screenshot(page, "panel-heatmap-over-time", "@dist")
    colour = 'article.panel[data-name="@dist"] select.panel-tool'
    page.select_option(colour, "linear")
    page.wait_for_function(
        """() => { const t = document.querySelector(
                     'article.panel[data-name="@dist"] .chart').data[0];
                   return JSON.stringify(t.z) === JSON.stringify(t.customdata); }""",
        timeout=RUN_TIMEOUT_MS,
    )
    page.select_option(colour, "rank")
    page.wait_for_function(
        """() => { const t = document.querySelector(
                     'article.panel[data-name="@dist"] .chart').data[0];
                   const z = t.z.flat(); return t.zmax === 1 && Math.max(...z) === 1
                     && z.every((v) => v >= 0 && v <= 1); }""",
        timeout=RUN_TIMEOUT_MS,
    )
    # Dragging out a time range zooms to it and says what it holds.
    drag = page.locator('article.panel[data-name="@dist"] .chart .nsewdrag').first.bounding_box()
    y = drag["y"] + drag["height"] / 2
    page.mouse.move(drag["x"] + drag["width"] * 0.05, y)
    page.mouse.down()
    page.mouse.move(drag["x"] + drag["width"] * 0.6, y + 2, steps=8)
    page.mouse.up()
    note = 'article.panel[data-name="@dist"] .panel-note'
    page.wait_for_function(
        f"() => / s: [0-9,]+ events, most in |no events/.test("
        f"document.querySelector('{note}').textContent)",
        timeout=RUN_TIMEOUT_MS,
    )
    panel_screenshot(page, "panel-heatmap-time-range", "@dist")
    page.click("#stop-run")
    wait_state(page, "stopped")


def test_a_latency_histogram_per_key_is_a_chart_with_a_heatmap_a_click_away(page: Any) -> None:
    start_run(page, "tracepoint:raw_syscalls:sys_enter { @calls[comm] = hist(args->id); }", "2")
    assert wait_state(page, "finished", "failed") == "finished"
    card = 'article.panel[data-name="@calls"][data-kind="histogram"]'
    page.wait_for_selector(f'{card}[data-mode="chart"] .chart .main-svg', timeout=RUN_TIMEOUT_MS)
    modes = page.locator(f"{card} .toggle-group .toggle").all_inner_texts()
    assert modes[:2] == ["Chart", "Heatmap"]
    page.click(f'{card} button[data-mode="heatmap"]')
    page.wait_for_selector(f'{card}[data-mode="heatmap"] .chart .main-svg')
    assert plotted(page, "@calls", "gd.data[0].type") == "heatmap"
    assert len(plotted(page, "@calls", "gd.data[0].y")) >= 2
    panel_screenshot(page, "panel-heatmap-keys-bpftrace-hist", "@calls")


def test_an_aggregation_keyed_by_stacks_is_a_flame_graph(page: Any) -> None:
    start_run(page, "profile:hz:199 { @stacks[kstack] = count(); }", "2")
    assert wait_state(page, "finished", "failed") == "finished"
    page.wait_for_selector(
        'article.panel[data-name="@stacks"][data-kind="flame"] .chart .main-svg',
        timeout=RUN_TIMEOUT_MS,
    )
    assert plotted(page, "@stacks", "gd.data[0].type") == "icicle"
    labels: list[str] = plotted(page, "@stacks", "Array.from(gd.data[0].labels)")
    assert not [frame for frame in labels if re.search(r"\+(0x[0-9a-f]+|[0-9]+)$", frame)]
    panel_screenshot(page, "panel-flame-kstack", "@stacks")
    card = 'article.panel[data-name="@stacks"]'
    frameless = "(no frames: sampled in the other mode)"
    if frameless in labels:  # samples taken in user mode: hidden on request
        page.check(f"{card} .panel-check input")
        page.wait_for_function(
            f"""() => !document.querySelector('{card} .chart').data[0].labels
                       .includes({frameless!r})""",
            timeout=RUN_TIMEOUT_MS,
        )
        root = plotted(page, "@stacks", "gd.data[0].values[0]")
        assert root == sum(
            plotted(
                page, "@stacks", "gd.data[0].values.filter((v, i) => gd.data[0].parents[i] === '0')"
            )
        )
    frame = next((f for f in labels[1:] if f != frameless), None)
    if frame is not None:
        page.fill(f"{card} .panel-search", frame[:6])
        page.wait_for_function(
            f"""() => document.querySelector('{card} .chart').data[0].marker.colors
                       .includes('hsl(300, 60%, 62%)')""",
            timeout=RUN_TIMEOUT_MS,
        )
        panel_screenshot(page, "panel-flame-search", "@stacks")
    before = plotted(page, "@stacks", "gd.layout.uirevision")
    page.click(f"{card} button:has-text('Reset zoom')")
    page.wait_for_function(
        f"() => document.querySelector('{card} .chart').layout.uirevision !== {before!r}",
        timeout=RUN_TIMEOUT_MS,
    )


def test_the_draft_survives_a_reload(page: Any) -> None:
    script = '// my draft\nBEGIN { printf("kept\\n"); exit(); }\n'
    set_script(page, script)
    wait_compiles(page)
    page.wait_for_timeout(500)
    page.reload()
    page.wait_for_selector("#compile-status.ok", timeout=RUN_TIMEOUT_MS)
    assert "// my draft" in page.inner_text("#editor")
    assert page.is_checked('#language-switch input[value="bpftrace"]')


def test_without_the_editor_bundle_a_plain_text_area_stands_in(
    browser: Any, live_server: LiveServer
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.route("**/static/vendor/editor.js", lambda route: route.abort())
        page.goto(live_server.url)
        page.wait_for_selector("#editor textarea", timeout=RUN_TIMEOUT_MS)
        assert "code editor could not be loaded" in page.inner_text("#app-banners")
        page.fill("#editor textarea", BROKEN_SCRIPT)
        page.wait_for_selector("#diagnostics .diag.error", timeout=RUN_TIMEOUT_MS)
        page.fill("#editor textarea", COUNT_SCRIPT)
        wait_compiles(page)
    finally:
        context.close()


def test_per_interval_values_show_one_interval_not_the_whole_run(page: Any) -> None:
    # 100 counts a second: after a few seconds the run's total is several intervals' worth.
    start_run(page, 'interval:ms:10 { @num["tick"] = count(); }', "0")
    wait_state(page, "running")
    page.wait_for_function(
        "() => +document.querySelector('#step-output').dataset.snapshots >= 4",
        timeout=RUN_TIMEOUT_MS,
    )
    page.wait_for_timeout(300)
    assert pie_total(page) >= 250
    seen = int(page.get_attribute("#step-output", "data-snapshots"))
    page.click('label:has(input[name="view-mode"][value="interval"])')
    page.wait_for_function(
        f"() => +document.querySelector('#step-output').dataset.snapshots > {seen + 1}",
        timeout=RUN_TIMEOUT_MS,
    )
    page.wait_for_timeout(300)
    assert 50 <= pie_total(page) <= 150
    page.click("#stop-run")
    wait_state(page, "stopped")
