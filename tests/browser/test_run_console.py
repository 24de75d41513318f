"""The console's count of dropped lines is the server's running total (docs/protocol.md,
``output``): each message restates it, so the page shows it rather than adding it up."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser]

DRIVE = """async () => {
  const { RunConsole } = await import('/static/js/run/console.js');
  const parts = {};
  for (const [name, tag] of [['console', 'pre'], ['consoleCount', 'span'],
       ['consoleDropped', 'span'], ['consoleWrap', 'input'], ['consoleClear', 'button']]) {
    parts[name] = document.createElement(tag);
  }
  const c = new RunConsole(parts);
  const seen = [];
  c.append(['one', '<b>two</b>'], 0);
  const p = parts;
  seen.push([p.consoleDropped.hidden, p.console.textContent, p.consoleCount.textContent]);
  c.append(['three'], 5);
  c.append([], 12);
  c.append(['four'], 12);
  seen.push([p.consoleDropped.hidden, p.consoleDropped.textContent, p.consoleCount.textContent]);
  c.clear();
  seen.push([parts.consoleDropped.hidden, parts.console.children.length]);
  return seen;
}"""


def test_dropped_lines_are_the_servers_running_total_and_lines_stay_text(page: Any) -> None:
    first, later, cleared = page.evaluate(DRIVE)
    assert first == [True, "one\n<b>two</b>\n", "2 lines"]
    assert later == [False, "12 lines dropped (too fast)", "4 lines"]
    assert cleared == [True, 1]  # the "Nothing printed yet" note
