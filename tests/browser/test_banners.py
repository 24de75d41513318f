"""Tracer problems that differ only in a number are one banner, showing the server's running
total: a lossy run reports each loss as it happens, and one banner per distinct count
buried the charts."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser]

DRIVE = """async () => {
  const { Banners } = await import('/static/js/run/banners.js');
  const box = document.createElement('div');
  const b = new Banners(box);
  let total = 0, count = 0;
  for (const n of [36, 21, 21, 1200]) {
    total += n; count += 1;
    b.show('error', `${total.toLocaleString('en-US')} events were lost`, 'raise bufsize', count);
  }
  b.show('error', 'a probe failed 9 times', null);
  b.show('error', 'a probe failed 12 times', null);
  b.show('error', 'probe 3 failed on CPU 2', null);
  b.show('error', '<img src=x onerror=alert(1)> 5 times', null);
  b.show('connection', 'Lost the connection', null);
  b.show('connection', 'Lost the connection again', null);
  return [...box.children].map((n) => [
    n.querySelector('.banner-message').textContent,
    n.querySelector('.banner-count').textContent,
    n.querySelectorAll('img').length,
  ]);
}"""


def test_problems_differing_only_in_a_number_are_one_banner_with_their_total(
    page: Any,
) -> None:
    banners = page.evaluate(DRIVE)
    assert banners == [
        ["1,278 events were lost", "\u00d74", 0],
        ["a probe failed 12 times", "\u00d72", 0],
        ["probe 3 failed on CPU 2", "", 0],
        ["<img src=x onerror=alert(1)> 5 times", "", 0],
        ["Lost the connection again", "", 0],
    ]
