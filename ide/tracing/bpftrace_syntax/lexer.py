"""bpftrace's lexer (src/lexer.l), one pass over the text, producing every token with its
offsets.

As in lexer.l: ``//`` and ``/* */`` comments, ``#!`` on the first column is a comment, any
other ``#`` starts a preprocessor line, ``struct``/``union``/``enum`` start a C definition or
a cast's type (ended as ``scripttext`` ends them), strings end at ``"`` and take ``\\n \\t \\r
\\" \\\\``, octal and ``\\x`` escapes, ``:`` followed by path characters is one PATH token
(``uprobe:/bin/sh:main``, and so ``a ? b :c`` is not a ternary: bpftrace reads it so), and a
``/`` followed after white space by ``/`` or ``{`` closes a predicate.  Every rule is a match
of a regular expression made of repeated character classes or a plain search, so the work
is linear in the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from ..scripttext import _c_definition_end, _comment_end, _line_end

TokenKind = Literal[
    "ident", "int", "string", "map", "var", "param", "path", "op", "endpred", "preproc",
    "cdef", "eof",
]  # fmt: skip


class BpftraceSyntaxError(Exception):
    """A syntax error at offsets ``start``..``end`` of the script."""

    def __init__(self, start: int, end: int, message: str) -> None:
        super().__init__(message)
        self.start = start
        self.end = end
        self.message = message


@dataclass(frozen=True)
class Token:
    kind: TokenKind
    text: str
    start: int
    end: int  # exclusive


_STEP = re.compile(
    r"""(?P<space>[ \t\r\n]+)
    |(?P<line_comment>//)|(?P<block_comment>/\*)|(?P<string>")
    |(?P<preproc>\#)
    |(?P<int>0[xX][0-9a-fA-F]+|[0-9][0-9_]*(?:[eE][0-9]+)?)
    |(?P<path>:(?:\\.|[_\-./a-zA-Z0-9\#*])+)
    |(?P<map>@[_a-zA-Z0-9]*)
    |(?P<param>\$[0-9]+|\$\#)
    |(?P<var>\$[_a-zA-Z][_a-zA-Z0-9]*)
    |(?P<ident>[_a-zA-Z][_a-zA-Z0-9]*)
    |(?P<endpred>/[ \t\r\n]*(?=[/{]))
    |(?P<op><<=|>>=|\+\+|--|->|==|!=|<=|>=|<<|>>|&&|\|\||[-+*/%&|^]=|[-+*/%&|^!~<>=?:;,.()\[\]{}])
    """,
    re.X,
)
_C_WORDS = frozenset({"struct", "union", "enum"})


def _string_end(text: str, i: int) -> int:
    n = len(text)
    j = i + 1
    while j < n:
        c = text[j]
        if c == "\\" and j + 1 < n and text[j + 1] != "\n":
            j += 2
        elif c == '"':
            return j + 1
        elif c == "\n":
            break
        else:
            j += 1
    raise BpftraceSyntaxError(i, min(j, n), "unterminated string")


def tokens(text: str) -> list[Token]:
    """Every token of the script, comments and white space left out, ending with ``eof``."""
    out: list[Token] = []
    n = len(text)
    i = 0
    while i < n:
        m = _STEP.match(text, i)
        if m is None:
            raise BpftraceSyntaxError(i, i + 1, f"invalid character {text[i]!r}")
        kind = m.lastgroup
        j = m.end()
        if kind == "space":
            pass
        elif kind == "line_comment":
            j = _line_end(text, i)
        elif kind == "block_comment":
            if text.find("*/", i + 2) < 0:
                raise BpftraceSyntaxError(i, n, "end of file during comment")
            j = _comment_end(text, i)
        elif kind == "preproc":
            j = _line_end(text, i)
            first_column = i == 0 or text[i - 1] == "\n"
            if not (text.startswith("#!", i) and first_column):
                out.append(Token("preproc", text[i:j], i, j))
        elif kind == "string":
            j = _string_end(text, i)
            out.append(Token("string", text[i:j], i, j))
        elif kind == "ident" and m.group() in _C_WORDS:
            j = _c_definition_end(text, j)
            out.append(Token("cdef", text[i:j], i, j))
        elif kind == "endpred":
            j = i + 1
            out.append(Token("endpred", "/", i, j))
        else:
            assert kind is not None
            out.append(Token(kind, m.group(), i, j))  # type: ignore[arg-type]
        i = j
    out.append(Token("eof", "", n, n))
    return out
