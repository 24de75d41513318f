"""The Runs place in Chromium, on a server of its own with the real bpftrace: every run with
its title and state, search, pin (it survives a reload), delete (gone from the list and the
API), a running run's record that cannot be deleted, two runs picked to compare, and a past
run opened again in the Output step with its chart.  The picture docs/screenshots/runs.png
is taken on the way (copied there with DTRACE_IDE_UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.test_drilldown_page import doc_shot
from tests.browser.test_library import editor_text
from tests.browser.test_wizard import PIE, RUN_TIMEOUT_MS, wait_state
from tests.conftest import LiveServer, set_script, start_server, stop_server, tracer_ready

pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.tracer,
    pytest.mark.skipif(tracer_ready() is not None, reason=str(tracer_ready())),
]

SYSCALLS = (
    "// title: Syscalls by process\ntracepoint:raw_syscalls:sys_enter { @num[comm] = count(); }\n"
)
READ_LATENCY = (
    "// title: Read latency by disk\n"
    "tracepoint:block:block_rq_issue { @start[args->dev, args->sector] = nsecs; }\n"
    "tracepoint:block:block_rq_complete /@start[args->dev, args->sector]/\n"
    "{\n"
    "    @usecs[args->dev] = hist((nsecs - @start[args->dev, args->sector]) / 1000);\n"
    "    delete(@start[args->dev, args->sector]);\n"
    "}\n"
)
READ_SIZES = (
    "// title: Read sizes by process\n"
    "tracepoint:syscalls:sys_exit_read /args->ret > 0/ { @bytes[comm] = hist(args->ret); }\n"
)
BY_PID = (
    "// title: Syscalls of bash, by pid\n"
    'tracepoint:raw_syscalls:sys_enter /comm == "bash"/ { @num[pid] = count(); }\n'
)
# A typo in the function's name: the probe does not attach, and the run fails.
TYPO = "// title: Opens by process\nkprobe:do_sys_opn { @opens[comm] = count(); }\n"
ROWS = "#runs-body tr.runs-row"


@pytest.fixture(scope="module")
def runs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(tmp_path_factory.mktemp("runs-server"))
    yield server
    stop_server(server)


@pytest.fixture
def runs_page(browser: Any, runs_server: LiveServer) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(runs_server.url)
    yield page
    context.close()


def run(server: LiveServer, script: str, duration: float = 1.5, **extra: Any) -> str:
    """A run started through the API (as another tab would); returns its id."""
    body = {"language": "bpftrace", "script": script, "duration": duration, "interval": 0.5}
    status, made = server.request("POST", "/api/runs", {**body, **extra})
    assert status == 201, made
    return str(made["id"])


def ended(server: LiveServer, run_id: str) -> dict[str, Any]:
    return server.wait_run(run_id, lambda b: b["state"] in {"finished", "stopped", "failed"}, 30)


def listed(server: LiveServer) -> dict[str, dict[str, Any]]:
    status, body = server.request("GET", "/api/runs")
    assert status == 200, body
    return {r["id"]: r for r in body["runs"]}


def raw(server: LiveServer, method: str, path: str, data: bytes | None = None) -> bytes:
    req = urllib.request.Request(server.base + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {server.token}")
    with urllib.request.urlopen(req, timeout=60) as resp:
        body: bytes = resp.read()
        return body


def from_another_box(server: LiveServer, run_id: str, host: str, days_ago: float) -> str:
    """The run exported, as if recorded on ``host`` days ago, imported again: its new id."""
    first, rest = raw(server, "GET", f"/api/runs/{run_id}/export").split(b"\n", 1)
    head = json.loads(first)
    started = time.time() - days_ago * 86400
    head["run"].update(host=host, started_at=str(started), ended_at=str(started + 60), elapsed=60.0)
    made = json.loads(
        raw(server, "POST", "/api/runs/import", json.dumps(head).encode() + b"\n" + rest)
    )
    return str(made["id"])


def row(run_id: str) -> str:
    return f'{ROWS}[data-run-id="{run_id}"]'


def open_runs(page: Any) -> None:
    page.wait_for_selector("#runs-q", state="attached", timeout=RUN_TIMEOUT_MS)  # mounted
    page.click("#tab-runs")
    page.wait_for_selector("#step-runs:not([hidden])")


def wait_rows(page: Any, count: int) -> None:
    page.wait_for_function(
        "([sel, n]) => document.querySelectorAll(sel).length === n",
        arg=[ROWS, count],
        timeout=RUN_TIMEOUT_MS,
    )


def titles(page: Any) -> list[str]:
    found: list[str] = page.locator(f"{ROWS} .runs-title").all_inner_texts()
    return found


def test_the_runs_place_lists_searches_pins_deletes_compares_and_opens_runs(
    runs_page: Any, runs_server: LiveServer
) -> None:
    page, server = runs_page, runs_server
    syscalls = run(server, SYSCALLS)
    latency = run(server, READ_LATENCY, duration=1.0)
    assert ended(server, syscalls)["state"] == "finished"
    assert ended(server, latency)["state"] == "finished"

    # The tab sits with the steps: the arrows reach it, and it shows the runs, newest first.
    page.focus("#tab-write")
    page.keyboard.press("ArrowLeft")
    assert page.evaluate("document.activeElement.id") == "tab-runs"
    page.keyboard.press("Enter")
    page.wait_for_selector("#step-runs:not([hidden])")
    assert page.get_attribute("#tab-runs", "aria-selected") == "true"
    assert page.is_hidden("#step-write")
    wait_rows(page, 2)
    assert titles(page) == ["Read latency by disk", "Syscalls by process"]
    assert page.inner_text(f"{row(syscalls)} .runs-state") == "Finished"
    assert page.inner_text(f"{row(syscalls)} .runs-lang") == "bpftrace"
    assert page.inner_text(f"{row(syscalls)} .runs-col-size").endswith("B")
    started = page.locator(f"{row(syscalls)} time.runs-started")
    assert "ago" in started.inner_text() or started.inner_text() == "just now"
    assert started.get_attribute("title")  # the local date and time on hover

    # Search narrows the list (debounced), and clearing it brings both back.
    page.fill("#runs-q", "latency")
    wait_rows(page, 1)
    assert titles(page) == ["Read latency by disk"]
    page.fill("#runs-q", "no such run anywhere")
    page.wait_for_selector("#runs-empty:not([hidden])", timeout=RUN_TIMEOUT_MS)
    assert "No run matches" in page.inner_text("#runs-empty")
    page.click("#runs-empty button")
    wait_rows(page, 2)
    page.select_option("#runs-language", "d")
    wait_rows(page, 0)
    page.select_option("#runs-language", "")
    wait_rows(page, 2)

    # Pin one: the mark shows, the record says so, and a reload keeps it.
    page.click(f'{row(syscalls)} button[data-action="pin"]')
    page.wait_for_selector(f"{row(syscalls)} .runs-pin-mark:not([hidden])")
    assert page.inner_text(f'{row(syscalls)} button[data-action="pin"]') == "Unpin"
    assert listed(server)[syscalls]["pinned"] is True
    page.reload()
    open_runs(page)
    wait_rows(page, 2)
    assert page.is_visible(f"{row(syscalls)} .runs-pin-mark")
    assert page.is_hidden(f"{row(latency)} .runs-pin-mark")

    # A run that goes on appears without a reload; its record cannot be deleted yet.
    going = run(server, READ_SIZES, duration=0)
    page.wait_for_selector(f'{row(going)}[data-state="running"]', timeout=RUN_TIMEOUT_MS)
    delete_going = page.locator(f'{row(going)} button[data-action="delete"]')
    assert delete_going.get_attribute("aria-disabled") == "true"
    assert "stop it first" in (delete_going.get_attribute("title") or "")
    delete_going.click(force=True)  # blocked, not disabled: it says why, and does nothing
    assert page.locator(f"{row(going)} .runs-confirm").count() == 0
    child = run(server, BY_PID, duration=1.0, parent=syscalls,
                drill={"aggregation": "@num", "key": ["bash"], "by": "pid"})  # fmt: skip
    page.wait_for_selector(f"{row(child)} .runs-drill:not([hidden])", timeout=RUN_TIMEOUT_MS)
    assert page.inner_text(f"{row(child)} .runs-drill") == "↳ drilldown of Syscalls by process"
    ended(server, child)
    typo = run(server, TYPO, duration=1.0)
    assert ended(server, typo)["state"] == "failed"
    pill = page.locator(f"{row(typo)} .runs-state")
    page.wait_for_selector(f'{row(typo)}[data-state="failed"]', timeout=RUN_TIMEOUT_MS)
    assert pill.inner_text() == "Failed" and "do_sys_opn" in (pill.get_attribute("title") or "")
    elsewhere = from_another_box(server, syscalls, "db-02", days_ago=2.1)
    page.wait_for_selector(row(elsewhere), timeout=RUN_TIMEOUT_MS)
    assert page.inner_text(f"{row(elsewhere)} .runs-started") == "2 days ago"
    assert page.inner_text(f"{row(elsewhere)} .runs-col-host") == "db-02"
    assert page.inner_text(f"{row(elsewhere)} .runs-col-duration") == "1 min 00 s"

    # Two runs picked: Compare links to /compare, the older one as "a".
    compare = page.locator("#runs-compare")
    assert compare.get_attribute("aria-disabled") == "true"
    page.check(f"{row(latency)} .runs-check")
    page.check(f"{row(syscalls)} .runs-check")
    assert compare.get_attribute("href") == f"/compare?a={syscalls}&b={latency}"
    assert page.is_disabled(f"{row(going)} .runs-check")  # two at most
    page.wait_for_selector(f'{row(child)}[data-state="finished"]', timeout=RUN_TIMEOUT_MS)
    page.mouse.move(0, 0)
    page.evaluate("document.activeElement.blur()")
    doc_shot(page, "runs")
    page.uncheck(f"{row(latency)} .runs-check")
    assert compare.get_attribute("aria-disabled") == "true"
    assert compare.get_attribute("href") is None

    # Delete a record: asked first, then gone from the list and from the API.
    page.click(f'{row(latency)} button[data-action="delete"]')
    page.click(f"{row(latency)} .runs-confirm-yes")
    page.wait_for_selector(row(latency), state="detached", timeout=RUN_TIMEOUT_MS)
    assert latency not in listed(server)
    assert "Deleted the record" in page.inner_text("#runs-status")

    # The one still going ends: the list follows.
    assert server.request("DELETE", f"/api/runs/{going}")[0] == 200
    page.wait_for_selector(f'{row(going)}[data-state="stopped"]', timeout=RUN_TIMEOUT_MS)
    assert page.get_attribute(f'{row(going)} button[data-action="delete"]', "aria-disabled") is None

    # Open the pinned one: the Output step shows it, ended, with its chart.
    page.click(f'{row(syscalls)} button[data-action="open"]')
    page.wait_for_selector("#step-output:not([hidden])")
    assert page.get_attribute("#step-output", "data-run-id") == syscalls
    assert wait_state(page, "finished") == "finished"
    page.wait_for_selector(PIE, timeout=RUN_TIMEOUT_MS)
    assert page.get_attribute("#tab-runs", "aria-selected") == "false"

    # One the server never ran (imported) is opened from its record, with its chart too.
    page.click("#tab-runs")
    page.click(f'{row(elsewhere)} button[data-action="open"]')
    shows(page, elsewhere)
    assert wait_state(page, "finished") == "finished"
    page.wait_for_selector(PIE, timeout=RUN_TIMEOUT_MS)


def shows(page: Any, run_id: str) -> None:
    """Wait until the Output step shows run ``run_id``."""
    page.wait_for_function(
        "(id) => document.querySelector('#step-output').dataset.runId === id",
        arg=run_id,
        timeout=RUN_TIMEOUT_MS,
    )


def test_run_again_on_a_past_run_runs_its_script_and_edit_script_shows_it(
    runs_page: Any, runs_server: LiveServer
) -> None:
    page, server = runs_page, runs_server
    past = run(server, READ_SIZES, duration=1.0)
    assert ended(server, past)["state"] == "finished"
    # The editor holds another script, not saved.
    page.wait_for_selector("#editor .cm-content", timeout=RUN_TIMEOUT_MS)
    set_script(page, SYSCALLS)
    page.wait_for_selector(".lib-dirty:not([hidden])", timeout=RUN_TIMEOUT_MS)
    open_runs(page)
    page.click(f'{row(past)} button[data-action="open"]')
    shows(page, past)
    assert wait_state(page, "finished") == "finished"
    assert "tracepoint:syscalls:sys_exit_read" in page.inner_text("#run-script")

    # Keeping the unsaved changes starts nothing and leaves the editor as it was.
    asked: list[str] = []

    def keep(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", keep)
    page.click("#run-again")
    assert asked and "unsaved changes" in asked[0]
    assert page.get_attribute("#step-output", "data-run-id") == past
    assert editor_text(page).strip() == SYSCALLS.strip()

    # Discarding them runs the past run's script, as it ran, and the editor holds it.
    page.once("dialog", lambda d: d.accept())
    page.click("#run-again")
    page.wait_for_function(
        "(id) => ![id, undefined].includes(document.querySelector('#step-output').dataset.runId)",
        arg=past,
        timeout=RUN_TIMEOUT_MS,
    )
    again = page.get_attribute("#step-output", "data-run-id")
    status, body = server.request("GET", f"/api/runs/{again}")
    assert status == 200, body
    assert (body["script"], body["interval"], body["duration"]) == (READ_SIZES, 0.5, 1.0)
    assert wait_state(page, "finished") == "finished"
    assert editor_text(page).strip() == READ_SIZES.strip()
    assert page.inner_text(".lib-current-title") == "Read sizes by process"
    assert page.is_hidden(".lib-dirty")

    # Edit script from a past run shows that run's script in the editor.
    open_runs(page)
    other = run(server, BY_PID, duration=1.0)
    ended(server, other)
    page.click(f'{row(other)} button[data-action="open"]', timeout=RUN_TIMEOUT_MS)
    shows(page, other)
    page.click("#edit-script")  # no unsaved changes: nothing is asked
    page.wait_for_selector("#step-write:not([hidden])")
    assert editor_text(page).strip() == BY_PID.strip()


def test_a_run_is_renamed_in_its_row_and_escape_leaves_the_title_as_it_was(
    runs_page: Any, runs_server: LiveServer
) -> None:
    page, server = runs_page, runs_server
    made = run(server, SYSCALLS, duration=0.5)
    ended(server, made)
    open_runs(page)
    page.wait_for_selector(row(made))
    page.click(f'{row(made)} button[data-action="rename"]')
    page.fill(f"{row(made)} .runs-rename-input", "")
    page.keyboard.press("Enter")
    assert "cannot be empty" in page.inner_text(f"{row(made)} .runs-rename-error")
    page.fill(f"{row(made)} .runs-rename-input", "Before the fix <b>")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"{row(made)} .runs-rename", state="detached")
    assert page.inner_text(f"{row(made)} .runs-title") == "Before the fix <b>"  # text, not HTML
    assert listed(server)[made]["title"] == "Before the fix <b>"
    page.click(f'{row(made)} button[data-action="rename"]')
    page.fill(f"{row(made)} .runs-rename-input", "never saved")
    page.keyboard.press("Escape")
    assert page.inner_text(f"{row(made)} .runs-title") == "Before the fix <b>"
    assert page.evaluate("document.activeElement.dataset.action") == "rename"


def test_an_exported_run_imports_as_a_new_row(
    runs_page: Any, runs_server: LiveServer, tmp_path: Any
) -> None:
    page, server = runs_page, runs_server
    made = run(server, SYSCALLS, duration=0.5)
    ended(server, made)
    open_runs(page)
    page.wait_for_selector(row(made))
    with page.expect_download() as got:
        page.click(f'{row(made)} a[data-action="export"]')
    path = tmp_path / got.value.suggested_filename
    got.value.save_as(path)
    assert path.name.endswith(".ndjson.gz") and path.read_bytes()[:2] == b"\x1f\x8b"
    before = set(listed(server))
    page.set_input_files("#runs-import-file", str(path))
    page.wait_for_function(
        "() => /Imported/.test(document.querySelector('#runs-status').textContent)",
        timeout=RUN_TIMEOUT_MS,
    )
    [new] = set(listed(server)) - before
    page.wait_for_selector(row(new))
    page.set_input_files("#runs-import-file", files=[
        {"name": "notes.ndjson", "mimeType": "application/x-ndjson", "buffer": b"{}\n"}
    ])  # fmt: skip
    page.wait_for_function(
        "() => /not imported/.test(document.querySelector('#runs-status').textContent)",
        timeout=RUN_TIMEOUT_MS,
    )


def test_with_no_runs_the_place_says_what_to_do(
    browser: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    server = start_server(tmp_path_factory.mktemp("no-runs"))
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.goto(server.url)
        open_runs(page)
        page.wait_for_selector("#runs-empty:not([hidden])", timeout=RUN_TIMEOUT_MS)
        text = page.inner_text("#runs-empty")
        assert "No runs yet: write a script and press Run" in text
        assert "every run is kept here for 30 days" in text
        assert page.evaluate("document.activeElement.id") == "runs-q"
        stop_server(server)  # the next refresh cannot reach it: the place says what to check
        page.wait_for_selector(".runs-banners .banner-error", timeout=RUN_TIMEOUT_MS)
        banner = page.inner_text(".runs-banners .banner-error")
        assert "The server cannot be reached" in banner and "still running" in banner
    finally:
        context.close()
        stop_server(server)


def test_a_server_that_records_no_runs_says_so_and_blocks_what_needs_a_record(
    browser: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    server = start_server(
        tmp_path_factory.mktemp("unrecorded"), env={"DTRACE_IDE_RECORD_RUNS": "0"}
    )
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        made = run(server, SYSCALLS, duration=0.5)
        ended(server, made)
        page = context.new_page()
        page.goto(server.url)
        open_runs(page)
        page.wait_for_selector(row(made), timeout=RUN_TIMEOUT_MS)
        assert "does not record runs" in page.inner_text("#step-runs .runs-note")
        for action in ("pin", "rename", "export", "delete"):
            tool = page.locator(f'{row(made)} [data-action="{action}"]')
            assert tool.get_attribute("aria-disabled") == "true", action
            assert "not recorded on this server (record_runs)" in (
                tool.get_attribute("title") or ""
            )
        page.click(f'{row(made)} button[data-action="open"]')  # what is in memory still opens
        assert wait_state(page, "finished") == "finished"
    finally:
        context.close()
        stop_server(server)


def test_the_formats_of_the_runs_place(runs_page: Any) -> None:
    found = runs_page.evaluate(
        """async () => {
          const f = await import('/static/js/runs/format.js');
          const now = Date.parse("2026-12-04T12:00:00Z");
          return {
            bytes: [0, 1023, 48213, 3.5 * 1024 * 1024].map(f.formatBytes),
            durations: [0.84, 12.4, 185, 3725].map(f.formatDuration),
            ago: ["2026-12-04T11:59:55Z", "2026-12-04T11:55:00Z", "2026-12-03T11:00:00Z"]
              .map((t) => f.relativeTime(t, now)),
            running: f.durationText({ state: "running", elapsed: 4, duration: 0 }),
            kept: [30 * 86400, 7200].map(f.keptFor),
            untitled: f.runTitle({ title: "  " }),
          };
        }"""
    )
    assert found == {
        "bytes": ["0 B", "1023 B", "47.1 KiB", "3.50 MiB"],
        "durations": ["0.8 s", "12 s", "3 min 05 s", "1 h 02 min"],
        "ago": ["just now", "5 min ago", "yesterday"],
        "running": "4.0 s, until stopped",
        "kept": ["30 days", "2 hours"],
        "untitled": "Untitled run",
    }
