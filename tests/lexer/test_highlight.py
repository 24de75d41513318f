"""The HTML helpers the web server uses for GET /api/highlight."""

from __future__ import annotations

import re
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dtrace_lexer import (
    CSS_CLASS,
    TOKEN_CLASS_PREFIX,
    Language,
    highlight_html,
    highlight_tokens,
    style_css,
)


def test_highlight_d_marks_tokens_with_prefixed_classes() -> None:
    html = highlight_html("syscall:::entry { @num[probefunc] = count(); }", "d")
    assert html.startswith(f'<div class="{CSS_CLASS}"><pre>')
    assert f'<span class="{TOKEN_CLASS_PREFIX}nb">probefunc</span>' in html
    assert f'<span class="{TOKEN_CLASS_PREFIX}nn">syscall</span>' in html


def test_highlight_bpftrace_uses_the_bpftrace_lexer() -> None:
    html = highlight_html("kprobe:vfs_read { @[comm] = hist(retval); }", "bpftrace")
    assert f'<span class="{TOKEN_CLASS_PREFIX}nb">comm</span>' in html
    assert f'<span class="{TOKEN_CLASS_PREFIX}fm">hist</span>' in html


def test_highlight_escapes_untrusted_text() -> None:
    html = highlight_html('BEGIN { printf("<script>alert(1)</script>"); } // <img src=x>', "d")
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;" in html and "&lt;img src=x&gt;" in html


def test_highlight_keeps_leading_blank_lines() -> None:
    html = highlight_html("\n\nBEGIN { }\n", "d")
    text = re.sub(r"<[^>]+>", "", html)
    assert text.startswith("\n\nBEGIN")


def test_highlight_rejects_unknown_languages() -> None:
    with pytest.raises(ValueError, match="unknown language"):
        highlight_html("BEGIN { }", "python")  # type: ignore[arg-type]


def test_style_css_is_scoped_to_the_highlight_class() -> None:
    css = style_css()
    assert f".{CSS_CLASS} .{TOKEN_CLASS_PREFIX}nb" in css
    rules = [line for line in css.splitlines() if line.strip()]
    assert rules
    assert all(line.startswith(f".{CSS_CLASS}") for line in rules), rules


@pytest.mark.parametrize("language", ["d", "bpftrace"])
def test_highlight_tokens_carry_the_classes_of_the_html(language: Language) -> None:
    script = 'BEGIN { printf("<b>%d</b>\\n", 1); }\n@num[probefunc] = count();'
    runs = highlight_tokens(script, language)
    assert "".join(text for _, text in runs) == script
    classes = {css for css, _ in runs if css}
    assert classes <= set(re.findall(r'class="([^"]+)"', highlight_html(script, language)))
    assert all(a[0] != b[0] for a, b in pairwise(runs))


@pytest.mark.parametrize("language", ["d", "bpftrace"])
@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.characters(blacklist_characters="\r")))
def test_highlight_tokens_join_back_to_the_script(language: Language, text: str) -> None:
    assert "".join(part for _, part in highlight_tokens(text, language)) == text
