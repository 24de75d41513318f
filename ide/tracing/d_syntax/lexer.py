"""D's lexer (dt_lex.l), one pass over the text, tokens produced on the parser's demand.

D's lexer has states, and which one applies is the grammar's business: at the top of a
program (flex's S2) ``syscall::read*:entry`` is one probe specifier, inside a clause (S0)
``*`` is an operator.  So the parser asks for the next token *in a mode* (``"top"`` or
``"expr"``) and the lexer scans only that token.  Every rule is a plain scan or a regular
expression made of one character class repeated, so the work is linear in the text.

As in dt_lex.l: ``/* */`` comments (a ``/*`` inside one is an error), a ``#`` line at a line
start is a control line (``#pragma``), strings and character constants end at their quote and
a newline inside them is an error, ``$1``/``$$1``/``$target`` are macro arguments, identifiers
may hold backquotes (``vmlinux`jiffies``), and a ``/`` followed (after white space) by ``;``,
``{``, ``/`` or the end closes a predicate.  ``//`` comments are accepted too, because the
policy's splitter (``scripttext.d_tokens``) and dtrace's C preprocessor read them so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from ..scripttext import Positions
from .tree import Pos

TokenKind = Literal[
    "ident", "int", "string", "char", "agg", "macro", "op", "epred", "pragma", "pspec", "eof"
]


class DSyntaxError(Exception):
    """A D syntax error at an exact position (``pos``); ``message`` is D-like."""

    def __init__(self, pos: Pos, message: str) -> None:
        super().__init__(f"{pos.line}:{pos.column}: {message}")
        self.pos = pos
        self.message = message


@dataclass(frozen=True)
class Token:
    kind: TokenKind
    text: str
    pos: Pos
    start: int  # offsets in the script, end exclusive
    end: int
    value: int | str | None = None  # an integer's or character's value, a string's text


# S2's probe specifier (RGX_PSPEC) and the S2 words that start a declaration instead.
_PSPEC = re.compile(r"[-$:a-zA-Z_.?*\\\[\]!][-$:0-9a-zA-Z_.`?*\\\[\]!]*")
DECLARATION_WORDS = frozenset(
    [
        "auto",
        "char",
        "const",
        "counter",
        "double",
        "enum",
        "extern",
        "float",
        "import",
        "inline",
        "int",
        "long",
        "provider",
        "register",
        "restrict",
        "self",
        "short",
        "signed",
        "static",
        "string",
        "struct",
        "this",
        "translator",
        "typedef",
        "union",
        "unsigned",
        "void",
        "volatile",
    ]
)
_IDENT = re.compile(r"[a-zA-Z_`][0-9a-zA-Z_`]*")
_DIGITS = re.compile(r"0[xX][0-9A-Fa-f]*|[0-9]+")
_SUFFIX = re.compile(r"[uU]?[lL]?[lL]?")
_WORD_TAIL = re.compile(r"[0-9a-zA-Z_.]*")
_AGG = re.compile(r"@[a-zA-Z_][0-9a-zA-Z_]*")
_MACRO = re.compile(r"\$\$?[0-9]+|\$[a-zA-Z_][0-9a-zA-Z_]*")
_OPERATORS = (
    "<<=", ">>=", "...", "->", "++", "--", "<<", ">>", "<=", ">=", "==", "!=", "&&", "||",
    "^^", "+=", "-=", "*=", "/=", "%=", "&=", "^=", "|=",
)  # fmt: skip
_SINGLE = frozenset("+-*/%&|^!~<>=?:;,.()[]{}")
_ESCAPES = {"n": 10, "t": 9, "r": 13, "a": 7, "b": 8, "f": 12, "v": 11, "\\": 92, '"': 34}
_ESCAPES |= {"'": 39}  # D keeps "\\?" as it stands (dt_lex.l's stresc2chr)
_BLANKS = " \t\r\n\v\f"


class Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self._positions = Positions(text)

    def pos(self, start: int, end: int) -> Pos:
        line, column = self._positions.at(start)
        end_line, end_column = self._positions.at(end)
        return Pos(line, column, end_line, end_column)

    def error(self, start: int, end: int, message: str) -> DSyntaxError:
        return DSyntaxError(self.pos(start, max(end, start)), message)

    def _token(
        self, kind: TokenKind, start: int, end: int, value: int | str | None = None
    ) -> Token:
        return Token(kind, self.text[start:end], self.pos(start, end), start, end, value)

    def _at_line_start(self, i: int) -> bool:
        j = i - 1
        while j >= 0 and self.text[j] in " \t\v\f":
            j -= 1
        return j < 0 or self.text[j] == "\n"

    def _skip_blank(self) -> None:
        """White space, comments and line continuations before the next token."""
        text, n = self.text, len(self.text)
        i = self.i
        while i < n:
            c = text[i]
            if c in _BLANKS:
                i += 1
            elif c == "\\" and text.startswith("\n", i + 1):
                i += 2
            elif text.startswith("/*", i):
                end = text.find("*/", i + 2)
                stop = n if end < 0 else end
                nested = text.find("/*", i + 2, stop)
                if nested >= 0:
                    raise self.error(nested, nested + 2, "/* encountered inside a comment")
                if end < 0:
                    raise self.error(i, i + 2, "end-of-file encountered before matching */")
                i = end + 2
            elif text.startswith("//", i):
                end = text.find("\n", i)
                i = n if end < 0 else end
            else:
                break
        self.i = i

    def next(self, mode: Literal["top", "expr"]) -> Token:
        self._skip_blank()
        text, i = self.text, self.i
        if i >= len(text):
            return self._token("eof", i, i)
        c = text[i]
        if c == "#" and self._at_line_start(i):
            end = text.find("\n", i)
            tok = self._token("pragma", i, len(text) if end < 0 else end)
        elif mode == "top" and c == "/":
            tok = self._token("op", i, i + 1)  # a predicate opens
        elif mode == "top" and (m := _PSPEC.match(text, i)) is not None:
            word = m.group()
            tok = self._token("ident" if word in DECLARATION_WORDS else "pspec", i, m.end())
        else:
            tok = self._expression_token(i, c)
        self.i = tok.end
        return tok

    def _expression_token(self, i: int, c: str) -> Token:
        text = self.text
        if c.isdigit():
            return self._number(i)
        if c == '"' or c == "'":
            return self._quoted(i, c)
        if c == "@":
            m = _AGG.match(text, i)
            return self._token("agg", i, m.end() if m else i + 1)
        if c == "$":
            m = _MACRO.match(text, i)
            if m is None:
                raise self.error(i, i + 1, 'syntax error near "$"')
            return self._token("macro", i, m.end())
        m = _IDENT.match(text, i)
        if m is not None:
            return self._token("ident", i, m.end())
        for op in _OPERATORS:
            if text.startswith(op, i):
                return self._token("op", i, i + len(op))
        if c == "/":
            return self._slash(i)
        if c in _SINGLE:
            return self._token("op", i, i + 1)
        raise self.error(i, i + 1, f'syntax error near "{c}"')

    def _slash(self, i: int) -> Token:
        """dt_lex.l's look-ahead: this ``/`` closes a predicate when the next non-blank
        character is ``;``, ``{``, ``/`` or the end of the text."""
        text, n = self.text, len(self.text)
        j = i + 1
        while j < n and text[j] in _BLANKS:
            j += 1
        closes = j >= n or text[j] in ";{/"
        return self._token("epred" if closes else "op", i, i + 1)

    def _number(self, i: int) -> Token:
        text = self.text
        m = _DIGITS.match(text, i)
        assert m is not None
        digits = m.group()
        j = _SUFFIX.match(text, m.end()).end()  # type: ignore[union-attr]
        tail = _WORD_TAIL.match(text, j).end()  # type: ignore[union-attr]
        if tail > j:
            if "." in text[j:tail] or text[j:tail][:1] in "eE":
                raise self.error(i, tail, "floating-point constants are not permitted")
            raise self.error(i, tail, f'invalid digit or suffix in "{text[i:tail]}"')
        if digits[:2] in ("0x", "0X"):
            if len(digits) == 2:
                raise self.error(i, j, f'invalid hexadecimal constant "{text[i:j]}"')
            value = int(digits[2:], 16)
        elif len(digits) > 1 and digits[0] == "0":
            if any(d in "89" for d in digits):
                raise self.error(i, j, f'invalid digit in octal constant "{text[i:j]}"')
            value = int(digits, 8)
        else:
            value = int(digits)
        return self._token("int", i, j, value)

    def _quoted(self, i: int, quote: str) -> Token:
        text, n = self.text, len(self.text)
        what = "string literal" if quote == '"' else "character constant"
        chars: list[int] = []
        j = i + 1
        while True:
            if j >= n:
                raise self.error(i, j, f"end-of-file encountered in {what}")
            c = text[j]
            if c == "\n":
                raise self.error(i, j, f"newline encountered in {what}")
            if c == quote:
                break
            if c == "\\" and j + 1 < n and text[j + 1] != "\n":
                code, j = self._escape(j + 1)
                chars.append(code)
                continue
            chars.append(ord(c))
            j += 1
        end = j + 1
        if quote == '"':
            return self._token("string", i, end, "".join(map(chr, chars)))
        if not chars:
            raise self.error(i, end, "empty character constant")
        value = 0
        for code in chars[:8]:
            value = (value << 8) | (code & 0xFF)
        return self._token("char", i, end, value)

    def _escape(self, j: int) -> tuple[int, int]:
        """``j`` is after a backslash: the escaped character's code and where it ends."""
        text = self.text
        c = text[j]
        if c in _ESCAPES:
            return _ESCAPES[c], j + 1
        if c in "01234567":
            k = j
            while k < j + 3 and k < len(text) and text[k] in "01234567":
                k += 1
            return int(text[j:k], 8) & 0xFF, k
        if c == "x":
            k = j + 1
            while k < j + 3 and k < len(text) and text[k] in "0123456789abcdefABCDEF":
                k += 1
            return (int(text[j + 1 : k], 16) if k > j + 1 else 0), k
        return 92, j  # an unknown escape keeps its backslash, as D prints "\\?"
