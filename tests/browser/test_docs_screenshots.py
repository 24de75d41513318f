"""The pictures in docs/screenshots/: each step, the key x bucket heatmap with log colour, the
flame graph (merged frames, search, reset) and a full-screen panel, at 1280x800 and
1920x1080, on a server of its own whose library holds a few realistically named snippets.

The pictures are written to test-artifacts/docs-screenshots/ on every run; with
DTRACE_IDE_UPDATE_SCREENSHOTS=1 they are also copied into docs/screenshots/ (then look at
them and commit the ones that changed for the better)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.test_wizard import (
    PIE,
    RUN_TIMEOUT_MS,
    plotted,
    start_run,
    wait_compiles,
    wait_state,
)
from tests.conftest import (
    ARTIFACTS,
    ROOT,
    LiveServer,
    start_server,
    stop_server,
    tracer_ready,
)

pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(tracer_ready() is not None, reason=str(tracer_ready())),
]

OUT = ARTIFACTS / "docs-screenshots"
DOCS = ROOT / "docs" / "screenshots"
SIZES = [(1280, 800), (1920, 1080)]

SNIPPETS = [
    ("Syscalls by process", "Which processes make the most system calls.", ["syscalls"],
     "tracepoint:raw_syscalls:sys_enter { @calls[comm] = count(); }"),
    ("Read sizes by process", "Bytes asked of read(2), per process, 0 to 64 KiB.", ["io"],
     "tracepoint:syscalls:sys_exit_read /args->ret > 0/\n"
     "{\n    @bytes[comm] = lhist(args->ret, 0, 65536, 4096);\n}"),
    ("Kernel on-CPU stacks", "Where the kernel spends CPU, sampled at 99 Hz.", ["cpu"],
     "profile:hz:99 { @stacks[kstack] = count(); }"),
]  # fmt: skip

OUTPUT_SCRIPT = (
    "// Syscalls by process, and the latency of read(2) per process\n"
    "tracepoint:raw_syscalls:sys_enter { @calls[comm] = count(); }\n\n"
    "tracepoint:syscalls:sys_enter_read { @start[tid] = nsecs; }\n"
    "tracepoint:syscalls:sys_exit_read /@start[tid]/\n"
    "{\n"
    "    @read_us[comm] = lhist((nsecs - @start[tid]) / 1000, 0, 200, 10);\n"
    "    delete(@start[tid]);\n"
    "}\n"
)
FLAME_SCRIPT = "profile:hz:199 { @stacks[kstack] = count(); }"


@pytest.fixture(scope="module")
def tour_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(tmp_path_factory.mktemp("docs-server"))
    for title, description, tags, script in SNIPPETS:
        body = {"title": title, "description": description, "tags": tags}
        status, made = server.request(
            "POST", "/api/snippets", {**body, "language": "bpftrace", "script": script}
        )
        assert status == 201, made
    yield server
    stop_server(server)


def shot(page: Any, name: str, size: tuple[int, int]) -> Path:
    page.mouse.move(0, 0)
    page.wait_for_timeout(300)
    out = OUT / f"{name}-{size[0]}x{size[1]}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out))
    if os.environ.get("DTRACE_IDE_UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copy(out, DOCS / out.name)
    return out


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_tour_of_the_docs_screenshots(
    browser: Any, tour_server: LiveServer, size: tuple[int, int]
) -> None:
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    try:
        page = context.new_page()
        page.goto(tour_server.url)
        page.wait_for_selector("#compile-status.ok", timeout=RUN_TIMEOUT_MS)
        page.click("#library .lib-item-main:has-text('Syscalls by process')")
        page.wait_for_function(
            "() => document.querySelector('#library .lib-current-title').textContent"
            " === 'Syscalls by process'",
            timeout=RUN_TIMEOUT_MS,
        )
        wait_compiles(page)
        assert "@calls[comm]" in page.inner_text("#editor")
        shot(page, "step-1-write", size)

        page.click("#next-write")
        page.wait_for_selector("#step-run:not([hidden])")
        page.click('#duration-presets label:has(input[value="10"])')
        shot(page, "step-2-run", size)

        page.click("#tab-write")
        start_run(page, OUTPUT_SCRIPT, "0")
        wait_state(page, "running")
        heatmap = 'article.panel[data-name="@read_us"][data-mode="heatmap"] .chart .main-svg'
        page.wait_for_selector(PIE.replace("@num", "@calls"), timeout=RUN_TIMEOUT_MS)
        page.wait_for_selector(heatmap, timeout=RUN_TIMEOUT_MS)
        page.wait_for_function(
            "() => +document.querySelector('#step-output').dataset.snapshots >= 4",
            timeout=RUN_TIMEOUT_MS,
        )
        assert plotted(page, "@read_us", "gd.data[0].type") == "heatmap"
        shot(page, "step-3-output", size)

        # The latency over time as a heatmap, in log colour (the default for latency).
        page.click('article.panel[data-name="@read_us"] button[data-mode="series"]')
        page.wait_for_selector('article.panel[data-name="@read_us"][data-mode="series"] .main-svg')
        assert plotted(page, "@read_us", "gd.data[0].meta.colour") == "log"
        page.locator('article.panel[data-name="@read_us"]').scroll_into_view_if_needed()
        shot(page, "heatmap-log-colour", size)

        # A panel full screen.
        page.click('article.panel[data-name="@read_us"] .panel-full-btn')
        page.wait_for_selector('article.panel[data-name="@read_us"].panel-full')
        box = page.locator('article.panel[data-name="@read_us"]').bounding_box()
        assert box["width"] > size[0] * 0.9 and box["height"] > size[1] * 0.8
        shot(page, "panel-full-screen", size)
        page.keyboard.press("Escape")
        page.click("#stop-run")
        wait_state(page, "stopped")

        # The flame graph: frames merged by function, a search, then the zoom reset.
        page.click("#edit-script")
        start_run(page, FLAME_SCRIPT, "2")
        assert wait_state(page, "finished", "failed") == "finished"
        card = 'article.panel[data-name="@stacks"]'
        page.wait_for_selector(f"{card}[data-kind='flame'] .chart .main-svg")
        labels: list[str] = plotted(page, "@stacks", "Array.from(gd.data[0].labels)")
        frame = next((f for f in labels if "syscall" in f or "sched" in f), labels[-1])
        page.fill(f"{card} .panel-search", frame[:8])
        page.wait_for_function(
            f"""() => document.querySelector('{card} .chart').data[0].marker.colors
                       .includes('hsl(300, 60%, 62%)')""",
            timeout=RUN_TIMEOUT_MS,
        )
        page.locator(card).scroll_into_view_if_needed()
        shot(page, "flame-graph-search", size)
    finally:
        context.close()
