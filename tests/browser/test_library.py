"""The script library sidebar in Chromium against the real server.

Each test drives the sidebar as a person does and checks the result through the API.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LiveServer, libdtrace_ready, screenshot, set_script, tracer_ready

pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.browser

TIMEOUT_MS = 30_000


def unique(word: str) -> str:
    return f"{word}{os.urandom(4).hex()}"


def editor_text(page: Any) -> str:
    editor = page.locator("#editor .cm-content")
    if editor.count():
        lines = page.locator("#editor .cm-content .cm-line").all_inner_texts()
        return "\n".join(lines)
    value: str = page.input_value("#editor textarea")
    return value


def wait_chart_fills_its_card(page: Any, chart: str) -> None:
    """Wait until the chart's drawing is as wide as its place in the card (a chart drawn
    before its card took a whole row is resized to it)."""
    page.wait_for_function(
        """sel => { const div = document.querySelector(sel);
                    const svg = div && div.querySelector('.main-svg');
                    return svg && Math.abs(svg.getBoundingClientRect().width - div.clientWidth) < 2
                        && div.clientWidth > 800; }""",
        arg=chart,
        timeout=TIMEOUT_MS,
    )


def ready(page: Any) -> None:
    page.wait_for_selector("#library .lib-tabs", timeout=TIMEOUT_MS)
    page.wait_for_selector("#editor .cm-content, #editor textarea", timeout=TIMEOUT_MS)


def wait_current_title(page: Any, title: str, *, exact: bool = True) -> None:
    """Wait until the sidebar names ``title`` as the open script."""
    test = "t === w" if exact else "t.includes(w)"
    page.wait_for_function(
        f"w => {{ const t = document.querySelector('#library .lib-current-title').textContent;"
        f" return {test}; }}",
        arg=title,
        timeout=TIMEOUT_MS,
    )


@pytest.fixture(autouse=True)
def no_page_errors(page: Any) -> Any:
    """Every test also fails on an uncaught script error in the page."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield
    assert errors == []


def open_new_snippet(page: Any, server: LiveServer, title: str, script: str) -> dict[str, Any]:
    """Save a bpftrace snippet through the API and open its link, as a shared link is used."""
    status, made = server.request(
        "POST", "/api/snippets", {"title": title, "language": "bpftrace", "script": script}
    )
    assert status == 201
    page.goto(f"{server.base}/?snippet={made['id']}")
    ready(page)
    wait_current_title(page, title)
    snippet: dict[str, Any] = made
    return snippet


def find(server: LiveServer, q: str) -> list[dict[str, Any]]:
    status, body = server.request("GET", "/api/snippets?q=" + q)
    assert status == 200
    found: list[dict[str, Any]] = body["snippets"]
    return found


def search(page: Any, text: str) -> None:
    page.click("#library .lib-tab[data-tab=saved]")
    page.fill("#library .lib-search-input", text)


def test_save_reload_find_open_change_and_restore(page: Any, live_server: LiveServer) -> None:
    ready(page)
    word = unique("marmot")
    title = f"<b>{word}</b> & co"
    first = f"// {word}\ntracepoint:raw_syscalls:sys_enter {{ @calls[comm] = count(); }}\n"
    set_script(page, first)
    page.locator("#editor .cm-content, #editor textarea").first.press("Control+s")
    page.fill("#library .lib-title-input", title)
    page.press("#library .lib-title-input", "Enter")
    page.wait_for_selector("#library .lib-form", state="hidden")
    [saved] = find(live_server, word)
    assert saved["title"] == title and saved["rev"] == 1
    assert page.locator("#library .lib-current-title").inner_text() == title
    assert page.locator("#library .lib-dirty").is_hidden()
    assert f"snippet={saved['id']}" in page.url

    page.goto(live_server.base + "/")  # a fresh load, without ?snippet=
    ready(page)
    page.click("#library .lib-actions button:has-text('New')")
    assert word not in editor_text(page)
    search(page, word)  # a word from the script's body
    item = page.locator(f"#library .lib-item[data-id='{saved['id']}']")
    item.wait_for(timeout=TIMEOUT_MS)
    assert page.locator("#library .lib-items .lib-item").count() == 1
    assert item.locator(".lib-item-title").inner_text() == title  # text, not markup
    assert page.locator("#library b").count() == 0
    item.locator(".lib-item-main").click()
    wait_current_title(page, word, exact=False)
    assert word in editor_text(page)
    assert "count()" in editor_text(page)

    set_script(page, f"// {word} changed\nBEGIN {{ @n = count(); exit(); }}\n")
    page.wait_for_selector("#library .lib-dirty:not([hidden])")
    page.keyboard.press("Control+s")
    page.wait_for_selector("#library .lib-dirty", state="hidden")
    now = live_server.request("GET", f"/api/snippets/{saved['id']}")[1]
    assert now["rev"] == 2 and "changed" in now["script"]

    item.locator("button:has-text('History')").click()
    page.click("#library .lib-rev[data-rev='1'] .lib-rev-main")
    assert "raw_syscalls" in page.locator("#library .lib-rev-script").inner_text()
    screenshot(page, "library-revisions")
    page.click("#library .lib-restore")
    page.wait_for_function(
        "() => document.querySelector('#library .lib-current-state').textContent === 'rev 3'"
    )
    now = live_server.request("GET", f"/api/snippets/{saved['id']}")[1]
    assert now["rev"] == 3 and now["script"] == first
    assert "raw_syscalls" in editor_text(page) and "changed" not in editor_text(page)
    assert page.locator("#library .lib-dirty").is_hidden()


def test_a_snippet_link_opens_it_and_edits_survive_a_reload(
    page: Any, live_server: LiveServer
) -> None:
    word = unique("heron")
    open_new_snippet(page, live_server, word, f"// {word}\nBEGIN {{ exit(); }}\n")
    assert word in editor_text(page)
    set_script(page, f"// {word} draft\nBEGIN {{ exit(); }}\n")
    page.wait_for_selector("#library .lib-dirty:not([hidden])")
    page.reload()
    ready(page)
    page.wait_for_selector("#library .lib-dirty:not([hidden])")
    assert f"{word} draft" in editor_text(page)
    assert page.locator("#library .lib-current-title").inner_text() == word


def ask_to_delete_a_new_snippet(
    page: Any, live_server: LiveServer, word: str
) -> tuple[dict[str, Any], Any]:
    """Save a snippet through the API, find it in the sidebar and press its Delete."""
    title = unique(word)
    status, made = live_server.request(
        "POST", "/api/snippets", {"title": title, "language": "d", "script": "BEGIN { exit(0); }"}
    )
    assert status == 201
    ready(page)
    search(page, title)
    item = page.locator(f"#library .lib-item[data-id='{made['id']}']")
    item.wait_for(timeout=TIMEOUT_MS)
    item.locator("button:has-text('Delete')").click()
    return dict(made), item


def test_delete_asks_first_and_can_be_undone(page: Any, live_server: LiveServer) -> None:
    made, item = ask_to_delete_a_new_snippet(page, live_server, "otter")
    assert live_server.request("GET", f"/api/snippets/{made['id']}")[0] == 200  # asked first
    item.locator(".lib-confirm-yes").click()
    item.wait_for(state="detached")
    # The list drops the item as the DELETE goes out; the server answers a moment later.
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while live_server.request("GET", f"/api/snippets/{made['id']}")[0] != 404:
        assert time.monotonic() < deadline, "the snippet was not deleted"
        time.sleep(0.05)
    page.click("#library .lib-toast-action:has-text('Undo')")
    item.wait_for(timeout=TIMEOUT_MS)
    assert live_server.request("GET", f"/api/snippets/{made['id']}")[0] == 200


def test_a_pending_delete_confirmation_survives_a_refresh_of_the_list(
    page: Any, live_server: LiveServer
) -> None:
    made, item = ask_to_delete_a_new_snippet(page, live_server, "vole")
    word = made["title"]
    old = item.element_handle()
    page.fill("#library .lib-search-input", word + " ")  # the list is fetched and drawn anew
    page.wait_for_function("el => !el.isConnected", arg=old, timeout=TIMEOUT_MS)
    item.locator(".lib-confirm-yes").wait_for(timeout=TIMEOUT_MS)
    assert live_server.request("GET", f"/api/snippets/{made['id']}")[0] == 200


def test_import_a_script_file_and_export_all(
    page: Any, live_server: LiveServer, tmp_path: Path
) -> None:
    word = unique("badger")
    script = tmp_path / f"{word}.bt"
    script.write_text(f"// {word}\nprofile:hz:99 {{ @[kstack] = count(); }}\n")
    ready(page)
    page.set_input_files("#library input[type=file]", str(script))
    wait_current_title(page, word)
    [made] = find(live_server, word)
    assert made["language"] == "bpftrace"
    assert "kstack" in editor_text(page)

    with page.expect_download() as info:
        page.click("#library button:has-text('Export all')")
    exported = json.loads(Path(info.value.path()).read_text())
    assert exported["format"] == "dtrace-ide-snippets"
    assert word in [s["title"] for s in exported["snippets"]]

    with page.expect_download() as info:
        page.click("#library button:has-text('Export script')")
    assert info.value.suggested_filename == f"{word}.bt"
    assert word in Path(info.value.path()).read_text()


@pytest.mark.parametrize("script_bytes", [20, 200_000])
def test_dropping_an_exported_json_file_imports_every_snippet(
    page: Any, live_server: LiveServer, script_bytes: int
) -> None:
    """Also when the file is bigger than one request may be (max_request_bytes)."""
    word = unique("lynx")
    body = "// " + "x" * script_bytes + "\nBEGIN { exit(); }\n"
    bundle = {
        "format": "dtrace-ide-snippets",
        "version": 1,
        "snippets": [
            {"title": f"{word} {i}", "language": "bpftrace", "script": body} for i in range(5)
        ],
    }
    ready(page)
    page.evaluate(
        """([name, text]) => {
            const dt = new DataTransfer();
            dt.items.add(new File([text], name, { type: "application/json" }));
            const target = document.getElementById("library");
            const init = { dataTransfer: dt, bubbles: true, cancelable: true };
            target.dispatchEvent(new DragEvent("dragover", init));
            target.dispatchEvent(new DragEvent("drop", init));
        }""",
        [f"{word}.json", json.dumps(bundle)],
    )
    page.wait_for_selector("#library .lib-toast:has-text('Imported 5 snippets')")
    assert sorted(s["title"] for s in find(live_server, word)) == [f"{word} {i}" for i in range(5)]


@pytest.mark.tracer
@pytest.mark.skipif(tracer_ready() is not None, reason=str(tracer_ready()))
def test_an_example_runs_straight_to_its_chart(page: Any) -> None:
    ready(page)
    page.click("#library .lib-tab[data-tab=examples]")
    page.wait_for_selector("#library .lib-example")
    if not page.locator("#library .lib-filter input").is_checked():
        page.check("#library .lib-filter input")
    example = page.locator("#library .lib-example[data-example='bpftrace/syscalls_by_process']")
    assert "System calls by process" in example.inner_text()
    example.locator(".lib-run").click()
    page.wait_for_selector("#step-output:not([hidden])", timeout=TIMEOUT_MS)
    page.wait_for_selector('article.panel[data-name="@calls"] .chart .main-svg', timeout=TIMEOUT_MS)
    card = 'article.panel[data-name="@calls"]'
    wait_chart_fills_its_card(page, card + " .chart")
    assert "@calls[comm] = count()" in editor_text(page)
    screenshot(page, "library-example-chart")
    # Once no snapshot comes to redraw it, a chart whose card changes width still fits it.
    page.click("#stop-run")
    page.wait_for_selector('#step-output[data-state="stopped"]', timeout=TIMEOUT_MS)
    page.eval_on_selector(card, "node => node.classList.remove('panel-span')")
    page.wait_for_function(
        """sel => { const div = document.querySelector(sel);
                    const svg = div.querySelector('.main-svg');
                    return div.clientWidth < 800
                        && Math.abs(svg.getBoundingClientRect().width - div.clientWidth) < 2; }""",
        arg=card + " .chart",
        timeout=TIMEOUT_MS,
    )


@pytest.mark.tracer
@pytest.mark.skipif(libdtrace_ready() is not None, reason=str(libdtrace_ready()))
@pytest.mark.parametrize(
    ("example", "aggregation", "line", "drawn"),
    [
        ("d/syscalls_by_process", "@calls", "@calls[execname] = count();", ".pielayer"),
        ("d/read_sizes", "@bytes", "@bytes[execname] = quantize(arg0);", ".barlayer"),
    ],
)
def test_a_d_example_runs_through_libdtrace_to_its_chart(
    page: Any, example: str, aggregation: str, line: str, drawn: str
) -> None:
    ready(page)
    page.click("#library .lib-tab[data-tab=examples]")
    page.wait_for_selector("#library .lib-example")
    if not page.locator("#library .lib-filter input").is_checked():
        page.check("#library .lib-filter input")
    page.locator(f"#library .lib-example[data-example='{example}'] .lib-run").click()
    page.wait_for_selector("#step-output:not([hidden])", timeout=TIMEOUT_MS)
    chart = f'article.panel[data-name="{aggregation}"] .chart'
    page.wait_for_selector(f"{chart} {drawn}", timeout=60_000)
    wait_chart_fills_its_card(page, chart)
    assert line in editor_text(page)
    assert page.locator(f"{chart} {drawn} path").count() > 0
    screenshot(page, "library-d-example-" + example.split("/")[1])


def test_rename_and_save_as_a_copy(page: Any, live_server: LiveServer) -> None:
    word = unique("vole")
    made = open_new_snippet(page, live_server, word, "BEGIN {}")
    search(page, word)
    item = page.locator(f"#library .lib-item[data-id='{made['id']}']")
    item.locator("button:has-text('Rename')").click()
    page.fill("#library .lib-title-input", "")
    page.press("#library .lib-title-input", "Enter")
    assert page.locator("#library .lib-form-error").inner_text() == "A title is required."
    page.fill("#library .lib-title-input", f"{word} renamed")
    page.fill("#library .lib-description-input", "<i>what</i> it shows")
    page.fill("#library .lib-tags-input", "io, <b>, io")
    page.press("#library .lib-title-input", "Enter")
    wait_current_title(page, f"{word} renamed")
    got = live_server.request("GET", f"/api/snippets/{made['id']}")[1]
    assert (got["description"], got["tags"]) == ("<i>what</i> it shows", ["io", "<b>"])
    item.locator(".lib-item-desc:has-text('<i>what</i> it shows')").wait_for()
    assert item.locator(".lib-tag").all_inner_texts() == ["io", "<b>"]
    assert page.locator("#library i, #library b").count() == 0
    assert (
        live_server.request("GET", f"/api/snippets/{made['id']}")[1]["title"] == f"{word} renamed"
    )

    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    item.locator("button:has-text('Link')").click()
    page.wait_for_selector(f"#library .lib-toast:has-text('{word} renamed')")
    link = page.evaluate("() => navigator.clipboard.readText()")
    assert link == f"{live_server.base}/?snippet={made['id']}"

    page.click("#library .lib-actions button:has-text('Save as')")
    assert page.input_value("#library .lib-title-input") == f"{word} renamed (copy)"
    page.press("#library .lib-title-input", "Enter")
    wait_current_title(page, f"{word} renamed (copy)")
    titles = sorted(s["title"] for s in find(live_server, word))
    assert titles == [f"{word} renamed", f"{word} renamed (copy)"]


def test_saving_over_a_newer_version_asks_first(page: Any, live_server: LiveServer) -> None:
    word = unique("stoat")
    made = open_new_snippet(page, live_server, word, "BEGIN {}")
    live_server.request("PUT", f"/api/snippets/{made['id']}", {"script": "// elsewhere\n"})
    set_script(page, f"// {word} here\nBEGIN {{ exit(); }}\n")
    page.once("dialog", lambda dialog: dialog.accept())
    page.keyboard.press("Control+s")
    page.wait_for_selector("#library .lib-dirty", state="hidden")
    now = live_server.request("GET", f"/api/snippets/{made['id']}")[1]
    assert now["rev"] == 3 and f"{word} here" in now["script"]
    revs = live_server.request("GET", f"/api/snippets/{made['id']}/revisions")[1]["revisions"]
    assert [r["rev"] for r in revs] == [3, 2, 1]


def test_the_search_box_filters_the_examples_too(page: Any) -> None:
    ready(page)
    page.click("#library .lib-tab[data-tab=examples]")
    page.check("#library .lib-filter input")
    page.fill("#library .lib-search-input", "kstack")
    page.wait_for_function(
        "() => document.querySelectorAll('#library .lib-example').length === 1", timeout=TIMEOUT_MS
    )
    assert page.locator("#library .lib-example").get_attribute("data-example") == (
        "bpftrace/profile_kernel_stacks"
    )
    page.fill("#library .lib-search-input", "no-such-word-anywhere")
    page.wait_for_selector("#library .lib-empty:has-text('No example matches.')")


def test_ctrl_s_outside_the_editor_saves_too(page: Any, live_server: LiveServer) -> None:
    ready(page)
    page.click("#library .lib-actions button:has-text('New')")
    word = unique("shrew")
    set_script(page, f"// {word}\nBEGIN {{ exit(); }}\n")
    page.wait_for_selector("#library .lib-dirty:not([hidden])")
    page.focus("#library .lib-search-input")
    page.keyboard.press("Control+s")
    page.fill("#library .lib-title-input", word)
    page.press("#library .lib-title-input", "Enter")
    wait_current_title(page, word)
    [saved] = find(live_server, word)
    assert saved["rev"] == 1
    assert page.locator("#library .lib-dirty").is_hidden()


def test_an_example_is_previewed_before_it_replaces_unsaved_changes(page: Any) -> None:
    ready(page)
    word = unique("stoat")
    set_script(page, f"// {word}\nBEGIN {{ exit(); }}\n")
    page.wait_for_selector("#library .lib-dirty:not([hidden])")
    native: list[str] = []

    def answer(dialog: Any) -> None:
        native.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", answer)
    page.click("#library .lib-tab[data-tab=examples]")
    item = "#library .lib-example[data-example='bpftrace/syscalls_by_process']"
    page.click(f"{item} .lib-item-main")
    preview = page.wait_for_selector("dialog.lib-preview[open]")
    assert "@calls[comm] = count()" in preview.inner_text()
    assert "unsaved changes" in preview.inner_text()
    screenshot(page, "library-example-preview")
    page.click("dialog.lib-preview button:has-text('Cancel')")
    assert word in editor_text(page)  # nothing replaced
    page.click(f"{item} .lib-run")  # Run with unsaved changes previews too
    page.click("dialog.lib-preview button:has-text('Open in the editor')")
    wait_current_title(page, "System calls by process", exact=False)
    assert "@calls[comm] = count()" in editor_text(page)
    assert native == []  # no browser confirm box


def test_an_example_rewritten_into_another_script_is_a_new_draft(page: Any) -> None:
    ready(page)
    page.click("#library .lib-tab[data-tab=examples]")
    page.wait_for_selector("#library .lib-example")
    page.click("#library .lib-example[data-example='bpftrace/syscalls_by_process'] .lib-item-main")
    page.click("dialog.lib-preview button:has-text('Open in the editor')")
    wait_current_title(page, "System calls by process", exact=False)
    set_script(page, editor_text(page) + "\n// a comment added to the example\n")
    page.keyboard.press("Control+s")
    assert page.input_value("#library .lib-title-input") == "System calls by process"
    page.keyboard.press("Escape")
    word = unique("vole")
    set_script(
        page, f"// {word} opens\ntracepoint:syscalls:sys_enter_openat {{ @[comm] = count(); }}\n"
    )
    wait_current_title(page, "Unsaved script")
    page.keyboard.press("Control+s")
    assert page.input_value("#library .lib-title-input") == f"{word} opens"
    assert page.input_value("#library .lib-description-input") == ""
    page.keyboard.press("Escape")


def test_new_gives_an_empty_editor_that_is_not_an_error(page: Any) -> None:
    ready(page)
    page.click("#library .lib-actions button:has-text('New')")
    page.wait_for_selector("#compile-status.idle", timeout=TIMEOUT_MS)
    assert "write a probe" in page.inner_text("#compile-status")
    assert page.locator("#diagnostics .diag.error").count() == 0
    assert page.is_disabled("#next-write")


def test_a_typed_draft_is_unsaved_and_new_asks_before_dropping_it(page: Any) -> None:
    ready(page)
    assert page.locator("#library .lib-dirty").is_hidden()  # the starter script is no change
    word = unique("mole")
    set_script(page, f"// {word}\nBEGIN {{ exit(); }}\n")
    page.wait_for_selector("#library .lib-dirty:not([hidden])")
    asked: list[str] = []

    def answer(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", answer)
    page.click("#library .lib-actions button:has-text('New')")
    assert asked and "unsaved changes" in asked[0]
    assert word in editor_text(page)
    page.reload()
    ready(page)
    page.wait_for_selector("#library .lib-dirty:not([hidden])")  # still unsaved after a reload
    assert word in editor_text(page)


def test_a_link_to_a_missing_snippet_says_so_and_leaves_the_draft(
    page: Any, live_server: LiveServer
) -> None:
    page.goto(f"{live_server.base}/?snippet=987654321")
    ready(page)
    page.wait_for_selector("#library .lib-toast:has-text('987654321 does not exist')")
    assert "snippet=" not in page.url
    assert page.locator("#library .lib-current-title").inner_text() == "Unsaved script"
