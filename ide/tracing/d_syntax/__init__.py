"""D's syntax: a linear lexer (dt_lex.l's rules) and a recursive-descent parser
(dt_grammar.y's) giving a typed tree with exact 1-based spans.  See ``parser`` for why it is
hand-written."""

from __future__ import annotations

from ..model import Diagnostic
from . import tree
from .lexer import DSyntaxError
from .parser import parse

__all__ = ["DSyntaxError", "parse", "parse_diagnostic", "tree"]


def parse_diagnostic(text: str) -> tree.Program | Diagnostic:
    """The program, or the syntax error as a ``Diagnostic`` at its D position."""
    try:
        return parse(text)
    except DSyntaxError as exc:
        p = exc.pos
        return Diagnostic(p.line, p.column, p.end_line, p.end_column, exc.message)
