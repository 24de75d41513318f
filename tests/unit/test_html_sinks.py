"""The page's own scripts never parse text as HTML: traced text (console lines, keys, table
cells, messages) goes into the page through textContent and text nodes only.

tests/browser/test_wizard.py prints markup from a traced program and checks that the console
shows it as text; this keeps any new code from adding a way around that.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SINKS = re.compile(
    r"\.(innerHTML|outerHTML)\b|insertAdjacentHTML|document\.write|createContextualFragment"
    r"|DOMParser|\.srcdoc\b|\.setHTML(Unsafe)?\b|parseHTMLUnsafe"
)


def our_scripts() -> list[Path]:
    return sorted((ROOT / "static" / "js").glob("*.js")) + sorted(
        (ROOT / "templates").glob("*.html")
    )


def test_the_sink_pattern_finds_every_way_to_parse_html() -> None:
    for line in [
        "x.innerHTML = t",
        "el.insertAdjacentHTML('beforeend', t)",
        "document.write(t)",
        "new DOMParser()",
        "frame.srcdoc = t",
        "el.setHTMLUnsafe(t)",
        "a.outerHTML=t",
    ]:
        assert SINKS.search(line), line
    assert not SINKS.search("node.textContent = text; document.createTextNode(text)")


def test_no_script_of_the_page_parses_text_as_html() -> None:
    scripts = our_scripts()
    assert any(p.name == "run-view.js" for p in scripts)
    found = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in scripts
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if SINKS.search(line)
    ]
    assert found == []
