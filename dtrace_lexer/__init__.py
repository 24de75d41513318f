"""Pygments lexers for D (DTrace) and bpftrace, and the one vocabulary both share.

``highlight_html`` and ``style_css`` are what the web server uses to show a script as HTML:
the markup uses CSS classes only (no inline styles), and ``style_css`` is their stylesheet.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from pygments.formatters import HtmlFormatter
    from pygments.lexer import Lexer

    from dtrace_lexer.lexers import BpftraceLexer, DTraceLexer

# Pygments loads on first use, so that the vocabulary alone (what the server's core and the
# libdtrace worker read) imports nothing else.

__all__ = [
    "CSS_CLASS",
    "TOKEN_CLASS_PREFIX",
    "BpftraceLexer",
    "DTraceLexer",
    "Language",
    "highlight_html",
    "highlight_tokens",
    "lexer_for",
    "style_css",
]

Language = Literal["d", "bpftrace"]

#: The class of the ``<div>`` that wraps highlighted code.
CSS_CLASS = "dtrace-highlight"
#: Prefix of every token's CSS class (``tok-k`` for a keyword), so they clash with nothing.
TOKEN_CLASS_PREFIX = "tok-"
#: The Pygments style the stylesheet is made from.
STYLE = "default"


def __getattr__(name: str) -> object:
    # The lexers load on first use, so that `python -m dtrace_lexer.vocabulary` (and the
    # editor build that runs it) does not import them and their regexes.
    if name in {"DTraceLexer", "BpftraceLexer"}:
        from dtrace_lexer import lexers

        return getattr(lexers, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def lexer_for(language: Language) -> Lexer:
    """A lexer for ``"d"`` or ``"bpftrace"``; a ``ValueError`` names any other language.

    Leading and trailing newlines are kept, so line numbers match the script's.
    """
    from dtrace_lexer.lexers import BpftraceLexer, DTraceLexer

    if language == "d":
        return DTraceLexer(stripnl=False)
    if language == "bpftrace":
        return BpftraceLexer(stripnl=False)
    raise ValueError(f"unknown language {language!r}; expected 'd' or 'bpftrace'")


def _formatter() -> HtmlFormatter[str]:
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(
        cssclass=CSS_CLASS, classprefix=TOKEN_CLASS_PREFIX, nowrap=False, style=STYLE
    )


def highlight_html(script: str, language: Language) -> str:
    """The script as an HTML fragment: ``<div class="dtrace-highlight"><pre>…</pre></div>``.

    All of the script's text is escaped; only Pygments' own ``<span>`` markup is added.
    """
    from pygments import highlight

    return highlight(script, lexer_for(language), _formatter())


def highlight_tokens(script: str, language: Language) -> list[tuple[str, str]]:
    """The script as ``(css_class, text)`` runs, the classes those of :func:`highlight_html`.

    A page builds its markup from these with text nodes only, so nothing traced or typed is
    ever parsed as HTML. ``css_class`` is ``""`` for plain text; the texts join back to the
    script, and adjacent runs of one class are merged.
    """
    from pygments.token import STANDARD_TYPES

    runs: list[tuple[str, str]] = []
    for ttype, text in lexer_for(language).get_tokens(script):
        while ttype not in STANDARD_TYPES and ttype.parent is not None:
            ttype = ttype.parent
        short = STANDARD_TYPES.get(ttype, "")
        css = TOKEN_CLASS_PREFIX + short if short else ""
        if runs and runs[-1][0] == css:
            runs[-1] = (css, runs[-1][1] + text)
        else:
            runs.append((css, text))
    # Pygments ends its last token with a newline the script may not have.
    if runs and not script.endswith("\n") and runs[-1][1].endswith("\n"):
        css, text = runs.pop()
        if text[:-1]:
            runs.append((css, text[:-1]))
    return runs


def style_css() -> str:
    """The stylesheet for :func:`highlight_html`'s markup, scoped to ``.dtrace-highlight``."""
    formatter = _formatter()
    # Not get_style_defs(): it adds unscoped rules for every <pre> on the page.
    parts: list[Callable[[str], list[str]]] = [
        formatter.get_background_style_defs,
        formatter.get_token_style_defs,
    ]
    return "\n".join(line for part in parts for line in part(f".{CSS_CLASS}")) + "\n"
