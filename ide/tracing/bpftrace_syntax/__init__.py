"""bpftrace's syntax: a linear lexer (lexer.l's rules) and a recursive-descent parser
(parser.yy's) giving a tree whose every node knows its offsets in the script.

What a script *does* is still read from bpftrace's own parse (``bpftrace_ast``); this tree is
for rewriting a script where it stands (drilldown), which needs positions bpftrace's
``-d`` output does not give.
"""

from __future__ import annotations

from ..model import Diagnostic
from ..scripttext import Positions
from .lexer import BpftraceSyntaxError
from .parser import AttachPoint, Node, Probe, Program, parse

__all__ = [
    "AttachPoint",
    "BpftraceSyntaxError",
    "Node",
    "Probe",
    "Program",
    "parse",
    "parse_diagnostic",
]


def parse_diagnostic(text: str) -> Program | Diagnostic:
    """The program, or the syntax error as a ``Diagnostic`` at its position."""
    try:
        return parse(text)
    except BpftraceSyntaxError as exc:
        where = Positions(text)
        line, column = where.at(exc.start)
        end_line, end_column = where.at(max(exc.end, exc.start))
        return Diagnostic(line, column, end_line, end_column, exc.message)
