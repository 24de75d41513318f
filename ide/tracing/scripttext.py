"""Linear lexers for D and bpftrace that split a script the way each tracer's own lexer does.

These are for *where* things are (a refusal's line and column, what a preprocessor will see),
never for *what* a script does: that comes from the tracer's own parse (``bpftrace_ast`` and
the libdtrace worker).  Each function makes one pass over the text, so a script at the size
cap costs the same as any other of its length.

bpftrace's rules follow its lexer (src/lexer.l of 0.17): ``//`` and ``/* */`` comments,
strings that end at ``"`` or at the end of the line, ``#`` (not ``#!``) starting a
preprocessor token that runs to the end of the line *wherever it stands*, ``struct``/``union``
/``enum`` starting a C definition that runs to its closing brace (no comments or strings
inside), and probe paths (``uprobe:/bin/sh:main``) in which ``#`` is an ordinary character.
Everything in a preprocessor token or a C definition is handed to clang.

D's rules follow dt_lex.l: comments, strings, character constants (``'/*'`` is a character
constant, not a comment), and ``#`` lines.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

TokenKind = Literal["comment", "string", "char", "preproc", "cdef", "word", "path"]


@dataclass(frozen=True)
class Token:
    kind: TokenKind
    start: int
    end: int  # exclusive


class Positions:
    """Offsets of one text as 1-based (line, column); a bisect over the line starts."""

    def __init__(self, text: str) -> None:
        self._starts = [0]
        i = text.find("\n")
        while i >= 0:
            self._starts.append(i + 1)
            i = text.find("\n", i + 1)

    def at(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self._starts, offset)
        return line, offset - self._starts[line - 1] + 1

    def offset(self, line: int, column: int) -> int:
        """The offset of a 1-based (line, column): the inverse of ``at``."""
        return self._starts[line - 1] + column - 1


_C_DEFINITION_WORDS = frozenset({"struct", "union", "enum"})


def _line_end(text: str, i: int) -> int:
    j = text.find("\n", i)
    return len(text) if j < 0 else j


def _comment_end(text: str, i: int) -> int:
    """``i`` is at ``/*``; the offset after the closing ``*/`` (or the end of the text)."""
    j = text.find("*/", i + 2)
    return len(text) if j < 0 else j + 2


def _quoted_end(text: str, i: int, quote: str) -> int:
    """``i`` is at an opening quote; the offset after the closing one.  A newline ends an
    unterminated literal (both tracers report it there)."""
    n = len(text)
    j = i + 1
    while j < n:
        c = text[j]
        if c == "\\" and j + 1 < n and text[j + 1] != "\n":
            j += 2
            continue
        if c == quote:
            return j + 1
        if c == "\n":
            return j
        j += 1
    return n


def _c_definition_end(text: str, i: int) -> int:
    """bpftrace's STRUCT/BRACE states: from ``struct`` to the brace that closes its body, or
    to a ``*``/``)`` before any brace (a cast: ``(struct task_struct *)``)."""
    n = len(text)
    depth = 0
    j = i
    while j < n:
        c = text[j]
        if depth == 0 and c in "*)":
            return j
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return j + 2 if text.startswith("};", j) else j + 1
        j += 1
    return n


# One step of each lexer: the regular expression finds where the next token starts and what
# kind it is; comments, strings and C definitions are then ended by plain searches.  Runs of
# characters that matter to neither lexer are skipped in one match.
_BPFTRACE_STEP = re.compile(
    r"""(?P<space>[ \t\r]+)|(?P<newline>\n+)
    |(?P<line_comment>//)|(?P<block_comment>/\*)|(?P<string>")
    |(?P<shebang>\#!)|(?P<preproc>\#)|(?P<param_count>\$\#)
    |(?P<path>:(?:\\.|[A-Za-z0-9_./\#*-])+)
    |(?P<word>[A-Za-z_][A-Za-z0-9_]*|[@$][A-Za-z0-9_]*)
    |(?P<other>[^ \t\r\n/"\#$:A-Za-z_@]+|.)""",
    re.X | re.S,
)
_D_STEP = re.compile(
    r"""(?P<space>[ \t\r\v\f]+)|(?P<newline>\n+)
    |(?P<line_comment>//)|(?P<block_comment>/\*)|(?P<string>")|(?P<char>')
    |(?P<preproc>\#)
    |(?P<word>[A-Za-z_][A-Za-z0-9_]*|[@$`][A-Za-z0-9_]*)
    |(?P<other>[^ \t\r\v\f\n/"'\#$`A-Za-z_@]+|.)""",
    re.X | re.S,
)


def _lex(text: str, step: re.Pattern[str], bpftrace: bool) -> Iterator[Token]:
    n = len(text)
    i = 0
    line_start = True
    while i < n:
        m = step.match(text, i)
        assert m is not None  # the last alternative matches any character
        kind = m.lastgroup
        j = m.end()
        if kind == "space":
            i = j
            continue
        if kind == "newline":
            line_start = True
            i = j
            continue
        at_line_start, line_start = line_start, False
        if kind == "line_comment" or (kind == "shebang" and at_line_start):
            j = _line_end(text, i)
            yield Token("comment", i, j)
        elif kind == "block_comment":
            j = _comment_end(text, i)
            yield Token("comment", i, j)
        elif kind == "string" or kind == "char":
            j = _quoted_end(text, i, text[i])
            yield Token("string" if kind == "string" else "char", i, j)
        elif kind == "preproc" and (bpftrace or at_line_start):
            # bpftrace: a "#" anywhere starts one (lexer.l's "#"[^!].*); D: at a line start.
            j = _line_end(text, i)
            yield Token("preproc", i, j)
        elif kind == "path":
            yield Token("path", i, j)
        elif kind == "word":
            if bpftrace and text[i:j] in _C_DEFINITION_WORDS:
                j = _c_definition_end(text, j)
                yield Token("cdef", i, j)
            else:
                yield Token("word", i, j)
        i = j


def bpftrace_tokens(text: str) -> Iterator[Token]:
    """The script's comments, strings, preprocessor tokens, C definitions, words and probe
    paths, in order; white space and other characters are not reported."""
    return _lex(text, _BPFTRACE_STEP, bpftrace=True)


def d_tokens(text: str) -> Iterator[Token]:
    """A D script's comments, strings, character constants, ``#`` lines and words (with a
    leading ``@``, ``$`` or backquote joined), in order."""
    return _lex(text, _D_STEP, bpftrace=False)


def tokens(text: str, language: str) -> Iterator[Token]:
    return d_tokens(text) if language == "d" else bpftrace_tokens(text)


def code_only(text: str, language: str) -> str:
    """The text with comments and the insides of strings and character constants blanked to
    spaces (quotes, newlines and offsets kept), as each tracer's lexer divides it."""
    out = list(text)
    for tok in tokens(text, language):
        start, end = tok.start, tok.end
        if tok.kind in ("string", "char"):
            start += 1  # keep the quotes: "x,y" stays one key part
            end -= 1 if end - start >= 1 and text[end - 1] == text[tok.start] else 0
        if tok.kind in ("comment", "string", "char"):
            for k in range(start, end):
                if out[k] != "\n":
                    out[k] = " "
    return "".join(out)


def calls(text: str, language: str, names: frozenset[str] | set[str]) -> Iterator[Token]:
    """Every word in ``names`` that stands as a function call (followed by ``(``), outside
    comments, strings and (bpftrace) preprocessor tokens and C definitions."""
    n = len(text)
    for tok in tokens(text, language):
        if tok.kind != "word" or text[tok.start : tok.end] not in names:
            continue
        j = tok.end
        while j < n and text[j] in " \t\r\n\v\f":
            j += 1
        if j < n and text[j] == "(":
            yield tok
