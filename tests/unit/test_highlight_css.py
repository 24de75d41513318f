"""The page's highlight stylesheet is the lexer package's, regenerated when it changes."""

from __future__ import annotations

from pathlib import Path

from dtrace_lexer import style_css

CSS = Path(__file__).resolve().parents[2] / "static" / "css" / "highlight.css"
HEADER = (
    "/* Generated from dtrace_lexer.style_css(); tests/unit/test_highlight_css.py checks it. */\n"
)


def test_the_highlight_stylesheet_is_generated_from_the_lexer_package() -> None:
    assert CSS.read_text() == HEADER + style_css(), (
        "regenerate static/css/highlight.css from dtrace_lexer.style_css()"
    )
