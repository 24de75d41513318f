"""Traced text in Chromium: file names a local user crafts show as text in every chart, in
tables and in the CSV export, never as markup, links or formulas.

A thread of this test opens files whose names are HTML, plotly template syntax and
spreadsheet formulas; the real bpftrace traces its openat() calls (and only its own) into
maps of every chart kind, and the real server and page draw them.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ide.charts.text import plotly_text
from tests.browser.test_wizard import panel_screenshot, plotted, start_run, wait_state
from tests.conftest import tracer_ready

pytest.importorskip("playwright.sync_api")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.tracer,
    pytest.mark.skipif(tracer_ready() is not None, reason=str(tracer_ready())),
]

LINK = '<a href="http://x">x</a>'
BIG = '<b style="font-size:400px">big</b>'
NAMES = [LINK, BIG, "&lt;", "%{x}", '=HYPERLINK("http://x","y")']
WORD_JOINER = "\u2060"
CARD = 'article.panel[data-name="{}"]'


class Opener:
    """A thread that keeps opening the files called ``NAMES`` in a fresh directory."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="dtrace-ide-names-"))
        for name in NAMES:  # a "/" in a name is a directory on the way to the file
            path = self.dir / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("")
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.tid = 0

    def run(self) -> None:
        self.tid = threading.get_native_id()
        self.ready.set()
        fd = os.open(self.dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            while not self.stop.wait(0.02):
                for name in NAMES:  # openat(fd, name): the name as traced is exactly NAME
                    os.close(os.open(name, os.O_RDONLY, dir_fd=fd))
        finally:
            os.close(fd)

    def __enter__(self) -> Opener:
        self.thread.start()
        self.ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)


@pytest.fixture
def opener() -> Iterator[Opener]:
    with Opener() as o:
        yield o


def script_for(tid: int) -> str:
    name = "str(args->filename)"
    return (
        f"tracepoint:syscalls:sys_enter_openat /tid == {tid}/ {{\n"
        f"    @opens[{name}] = count();\n"
        f"    @neg[{name}] = sum(-1);\n"
        f"    @flags[{name}] = hist(args->flags);\n"
        f"    @lin[{name}] = lhist(args->flags & 3, 0, 4, 1);\n"
        f"    @last[{name}] = {name};\n"
        "}\n"
    )


def in_chart(page: Any, name: str, expr: str) -> Any:
    """Evaluate ``expr`` with ``chart`` bound to the chart element of aggregation ``name``."""
    selector = CARD.format(name) + " .chart"
    return page.evaluate(
        f"() => {{ const chart = document.querySelector('{selector}'); return {expr}; }}"
    )


def assert_inert(page: Any, name: str) -> None:
    """No link, no styled text and no text larger than the figures' own in chart ``name``."""
    assert in_chart(page, name, "chart.querySelectorAll('svg a').length") == 0
    styles = in_chart(
        page,
        name,
        "[...chart.querySelectorAll('svg tspan[style]')].map((t) => t.getAttribute('style'))",
    )
    assert not [s for s in styles if "font-size" in s or "bold" in s], styles
    largest = in_chart(
        page,
        name,
        "Math.max(0, ...[...chart.querySelectorAll('svg text, svg tspan')]"
        ".map((t) => parseFloat(getComputedStyle(t).fontSize)))",
    )
    assert 0 < largest <= 14  # the figures' fonts are 10 to 12 px


def texts(page: Any, name: str, selector: str) -> list[str]:
    found: list[str] = in_chart(
        page, name, f"[...chart.querySelectorAll('{selector}')].map((t) => t.textContent)"
    )
    return found


def test_crafted_file_names_show_as_text_in_every_chart_table_and_export(
    page: Any, opener: Opener
) -> None:
    start_run(page, script_for(opener.tid), "0")
    wait_state(page, "running")
    page.wait_for_function(
        "() => +document.querySelector('#step-output').dataset.snapshots >= 3", timeout=30_000
    )
    page.click("#stop-run")
    wait_state(page, "stopped", "finished")
    for name in ("@opens", "@neg", "@flags"):
        page.wait_for_selector(CARD.format(name) + " .chart .main-svg")

    # Pie: legend entries are the names, literally, and nothing in the chart is markup.
    assert sorted(texts(page, "@opens", ".legendtext")) == sorted(NAMES)
    assert_inert(page, "@opens")
    panel_screenshot(page, "traced-text-pie", "@opens")

    # Bars: tick labels are the names; hovering each bar shows its name (and "%{x}" stays).
    assert sorted(texts(page, "@neg", ".ytick text")) == sorted(NAMES)
    assert_inert(page, "@neg")
    hovered = []
    for bar in page.locator(CARD.format("@neg") + " .barlayer .point path").all():
        box = bar.bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.wait_for_timeout(150)
        hovered += texts(page, "@neg", ".hoverlayer .hovertext text.nums")
        assert in_chart(page, "@neg", "chart.querySelectorAll('svg a').length") == 0
    for name in NAMES:
        assert any(t.startswith(name) for t in hovered), (name, hovered)
    page.mouse.move(0, 0)
    panel_screenshot(page, "traced-text-bars", "@neg")

    # Histogram: one trace a name, named in the legend.
    assert sorted(texts(page, "@flags", ".legendtext")) == sorted(NAMES)
    assert_inert(page, "@flags")

    # The keyed heatmap first: its row labels are the names as text.
    page.wait_for_selector(CARD.format("@lin") + " .chart .main-svg")
    rows = plotted(page, "@lin", "Array.from(gd._fullLayout.yaxis._categories)")
    assert sorted(rows) == sorted(plotly_text(n) for n in NAMES)
    assert_inert(page, "@lin")
    # 3D bars: the scene's tick labels are drawn in WebGL; they hold the names with no tag.
    page.click(CARD.format("@lin") + ' button[data-mode="chart"]')
    page.wait_for_selector(CARD.format("@lin") + " .chart .gl-container canvas", state="attached")
    ticks = plotted(page, "@lin", "gd._fullLayout.scene.yaxis.ticktext")
    assert sorted(t.replace(WORD_JOINER, "") for t in ticks) == sorted(NAMES)
    assert not [t for t in ticks if "<" in t.replace("<" + WORD_JOINER, "")]
    panel_screenshot(page, "traced-text-bars3d", "@lin")

    # Over time: the stacked areas' legend names the keys.
    page.click(CARD.format("@opens") + ' button[data-mode="series"]')
    page.wait_for_selector(CARD.format("@opens") + '[data-mode="series"] .chart .legendtext')
    legend = texts(page, "@opens", ".legendtext")
    assert set(NAMES) <= set(legend), legend
    assert_inert(page, "@opens")

    # A map of strings is a table: keys and values as traced, no element made of them.
    page.wait_for_selector(CARD.format("@last") + '[data-mode="table"] tbody td')
    cells = page.locator(CARD.format("@last") + " tbody td").all_inner_texts()
    assert sorted(cells) == sorted(NAMES * 2)
    assert page.locator("#panels b, #panels .chart svg a, #panels table a").count() == 0

    # CSV: no cell of any column is a formula; negative sums stay numbers.
    page.click("#export-menu summary")
    with page.expect_download() as info:
        page.click('#export-menu button[data-export="csv"]')
    rows = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text(), newline="")))
    last = [r for r in rows if r["aggregation"] == "'@last"]
    assert sorted(r["value"] for r in last) == sorted(
        "'" + n if n.startswith("=") else n for n in NAMES
    )
    assert all(r["key"] == r["value"] for r in last)
    negative = [r for r in rows if r["aggregation"] == "'@neg"]
    assert len(negative) == len(NAMES) and all(int(r["value"]) < 0 for r in negative)
    for row in rows:
        for column, cell in row.items():
            if cell[:1] in ("=", "+", "-", "@"):
                assert column in ("value", "bucket_low", "bucket_high"), (column, cell)
                float(cell)
