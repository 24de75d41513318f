"""Recursive descent over ``Lexer``'s tokens: D's grammar (dt_grammar.y) for programs,
clauses, statements and C expressions with D's precedence.

Hand-written rather than a parser library: the lexer must change state with the grammar
(probe specifiers at the top, operators inside clauses, the predicate's closing ``/``), every
node needs its exact D span, every error must name its line and column, and the core takes no
dependency for it.  Each token is read once and each rule consumes at least one token or
returns, so parsing is linear in the script.
"""

from __future__ import annotations

from typing import Literal

from . import tree as t
from .lexer import DSyntaxError, Lexer, Token

# Binary operators by precedence, loosest first (dt_grammar.y, from logical_or_expression).
_BINARY_LEVELS: tuple[tuple[str, ...], ...] = (
    ("||",),
    ("^^",),
    ("&&",),
    ("|",),
    ("^",),
    ("&",),
    ("==", "!="),
    ("<", ">", "<=", ">="),
    ("<<", ">>"),
    ("+", "-"),
    ("*", "/", "%"),
)
_PRECEDENCE = {op: level for level, ops in enumerate(_BINARY_LEVELS) for op in ops}
_ASSIGN_OPS = frozenset({"=", "+=", "-=", "*=", "/=", "%=", "&=", "^=", "|=", "<<=", ">>="})
_UNARY_OPS = frozenset({"-", "+", "!", "~", "*", "&", "++", "--"})
TYPE_WORDS = frozenset(
    [
        "char",
        "short",
        "int",
        "long",
        "signed",
        "unsigned",
        "void",
        "string",
        "float",
        "double",
        "const",
        "volatile",
    ]
)
_TAGS = frozenset({"struct", "union", "enum"})
Mode = Literal["top", "expr"]
# Nesting (parentheses, operands, ?: chains) deeper than this is refused rather than left to
# exhaust Python's stack: a parse error, never a crash.
MAX_NESTING = 40


class Parser:
    def __init__(self, text: str) -> None:
        self.lexer = Lexer(text)
        self.tok = self.lexer.next("top")
        self.prev = self.tok
        self.depth = 0

    def nest(self) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.error_here(f"expression nested more than {MAX_NESTING} deep")

    # --- tokens -----------------------------------------------------------------------------

    def advance(self, mode: Mode = "expr") -> Token:
        self.prev = self.tok
        self.tok = self.lexer.next(mode)
        return self.prev

    def is_op(self, *ops: str) -> bool:
        return self.tok.kind == "op" and self.tok.text in ops

    def expect(self, op: str, what: str, mode: Mode = "expr") -> Token:
        if not self.is_op(op):
            raise self.error_here(f'expected "{op}" {what}')
        return self.advance(mode)

    def error_here(self, message: str) -> DSyntaxError:
        tok = self.tok
        if tok.kind == "eof":
            return DSyntaxError(tok.pos, f"syntax error near end of input: {message}")
        return DSyntaxError(tok.pos, f'syntax error near "{tok.text}": {message}')

    def span(self, start: Token) -> t.Pos:
        return start.pos.to(self.prev.pos)

    # --- program ----------------------------------------------------------------------------

    def program(self) -> t.Program:
        items: list[t.Item] = []
        while self.tok.kind != "eof":
            tok = self.tok
            if tok.kind == "pragma":
                self.advance("top")
                words = tuple(tok.text.lstrip(" \t\v\f#").split())
                items.append(t.Pragma(tok.pos, tok.text, words))
            elif tok.kind == "ident":
                items.append(self.declaration())
            elif tok.kind == "pspec":
                items.append(self.clause())
            else:
                raise self.error_here("expected a probe description or a declaration")
        return t.Program(tuple(items))

    def declaration(self) -> t.Declaration:
        """Read to the ``;`` that ends the declaration (braces balanced) and keep its text:
        enough to place a diagnostic on it."""
        start = self.advance("expr")
        depth = 0
        while not (depth == 0 and self.is_op(";")):
            if self.tok.kind == "eof":
                raise self.error_here(f'expected ";" to end the {start.text} declaration')
            if self.is_op("{"):
                depth += 1
            elif self.is_op("}"):
                depth -= 1
            self.advance("expr")
        end = self.advance("top")
        text = self.lexer.text[start.start : end.end]
        return t.Declaration(self.span(start), start.text, text)

    def clause(self) -> t.Clause:
        first = self.tok
        probes = [self.probe_desc()]
        while self.is_op(","):
            self.advance("top")
            if self.tok.kind != "pspec":
                raise self.error_here("expected a probe description after ,")
            probes.append(self.probe_desc())
        predicate = None
        if self.tok.kind in ("op", "epred") and self.tok.text == "/":
            self.advance("expr")
            predicate = self.expression()
            if self.tok.kind != "epred":
                raise self.error_here('expected "/" to close the predicate')
            self.advance("top")
        if not self.is_op("{"):
            raise self.error_here("expected actions { } following the probe description")
        brace = self.advance("expr").pos
        body = self.statements()
        self.expect("}", "to close the clause", mode="top")
        return t.Clause(self.span(first), tuple(probes), predicate, body, brace)

    def probe_desc(self) -> t.ProbeDesc:
        tok = self.advance("top")
        parts = tok.text.split(":")
        if len(parts) > 4:
            raise DSyntaxError(tok.pos, f'invalid probe description "{tok.text}"')
        provider, module, function, name = ["", "", "", *parts][-4:] if parts else [""] * 4
        return t.ProbeDesc(tok.pos, tok.text, provider, module, function, name)

    def statements(self) -> tuple[t.Statement, ...]:
        body: list[t.Statement] = []
        while not self.is_op("}"):
            if self.tok.kind == "eof":
                raise self.error_here('expected "}" to close the clause')
            if self.is_op(";"):
                self.advance()
                continue
            start = self.tok
            expr = self.expression()
            body.append(t.Statement(self.span(start), expr))
            if not self.is_op(";", "}"):
                raise self.error_here('expected ";" or "}" after a statement')
        return tuple(body)

    # --- expressions ------------------------------------------------------------------------

    def expression(self) -> t.Expr:
        start = self.tok
        expr = self.assignment()
        while self.is_op(","):
            self.advance()
            right = self.assignment()
            expr = t.Comma(self.span(start), expr, right)
        return expr

    def assignment(self) -> t.Expr:
        self.nest()
        start = self.tok
        target = self.conditional()
        if self.tok.kind == "op" and self.tok.text in _ASSIGN_OPS:
            op = self.advance().text
            value = self.assignment()
            target = t.Assign(self.span(start), op, target, value)
        self.depth -= 1
        return target

    def conditional(self) -> t.Expr:
        start = self.tok
        cond = self.binary(0)
        if not self.is_op("?"):
            return cond
        self.advance()
        self.nest()
        then = self.expression()
        self.expect(":", "in a ?: expression")
        other = self.conditional()
        self.depth -= 1
        return t.Ternary(self.span(start), cond, then, other)

    def binary(self, level: int) -> t.Expr:
        if level == len(_BINARY_LEVELS):
            return self.unary()
        start = self.tok
        left = self.binary(level + 1)
        while self.tok.kind == "op" and _PRECEDENCE.get(self.tok.text) == level:
            op = self.advance().text
            right = self.binary(level + 1)
            left = t.Binary(self.span(start), op, left, right)
        return left

    def unary(self) -> t.Expr:
        start = self.tok
        if self.tok.kind == "op" and self.tok.text in _UNARY_OPS:
            op = self.advance().text
            return t.Unary(self.span(start), op, self.unary_operand())
        if self.tok.kind == "ident" and self.tok.text in ("sizeof", "stringof"):
            word = self.advance().text
            if word == "sizeof" and self.is_op("(") and self.cast_follows():
                self.advance()
                type_name = self.type_name()
                self.expect(")", "after the type in sizeof")
                return t.SizeofType(self.span(start), type_name)
            return t.Unary(self.span(start), word, self.unary_operand())
        if self.is_op("(") and self.cast_follows():
            self.advance()
            type_name = self.type_name()
            self.expect(")", "after the type in a cast")
            return t.Cast(self.span(start), type_name, self.unary_operand())
        return self.postfix()

    def unary_operand(self) -> t.Expr:
        self.nest()
        operand = self.unary()
        self.depth -= 1
        return operand

    def cast_follows(self) -> bool:
        """At ``(``: does a type name follow?  Peeks one token without consuming it."""
        saved = self.lexer.i
        nxt = self.lexer.next("expr")
        self.lexer.i = saved
        if nxt.kind != "ident":
            return False
        word = nxt.text
        return word in TYPE_WORDS or word in _TAGS or word.endswith("_t")

    def type_name(self) -> str:
        words: list[str] = []
        while self.tok.kind == "ident" and (
            self.tok.text in TYPE_WORDS or self.tok.text in _TAGS or not words
        ):
            words.append(self.advance().text)
            if words[-1] in _TAGS:
                if self.tok.kind != "ident":
                    raise self.error_here(f"expected a {words[-1]} name")
                words.append(self.advance().text)
        while self.is_op("*"):
            self.advance()
            words.append("*")
        if not words:
            raise self.error_here("expected a type name")
        return " ".join(words)

    def postfix(self) -> t.Expr:
        start = self.tok
        expr = self.primary()
        while True:
            if self.is_op("["):
                self.advance()
                args = self.arguments("]")
                expr = t.Index(self.span(start), expr, args)
            elif self.is_op("(") and isinstance(expr, t.Ident):
                self.advance()
                args = self.arguments(")")
                expr = t.Call(self.span(start), expr.name, expr.pos, args)
            elif self.is_op(".", "->"):
                arrow = self.advance().text == "->"
                if self.tok.kind != "ident":
                    raise self.error_here("expected a member name")
                name = self.advance().text
                expr = self.member(start, expr, name, arrow)
            elif self.is_op("++", "--"):
                op = self.advance().text
                expr = t.Postfix(self.span(start), op, expr)
            else:
                return expr

    def member(self, start: Token, base: t.Expr, name: str, arrow: bool) -> t.Expr:
        if arrow and isinstance(base, t.Ident) and base.name in ("self", "this"):
            return t.ClauseVar(self.span(start), base.name, name)
        return t.Member(self.span(start), base, name, arrow)

    def arguments(self, close: str) -> tuple[t.Expr, ...]:
        args: list[t.Expr] = []
        if not self.is_op(close):
            args.append(self.assignment())
            while self.is_op(","):
                self.advance()
                args.append(self.assignment())
        self.expect(close, "to close the argument list")
        return tuple(args)

    def primary(self) -> t.Expr:
        tok = self.tok
        if tok.kind == "int":
            self.advance()
            assert isinstance(tok.value, int)
            return t.IntLit(tok.pos, tok.value, tok.text)
        if tok.kind == "char":
            self.advance()
            assert isinstance(tok.value, int)
            return t.CharLit(tok.pos, tok.value, tok.text)
        if tok.kind == "string":
            self.advance()
            assert isinstance(tok.value, str)
            return t.StrLit(tok.pos, tok.value, tok.text)
        if tok.kind == "agg":
            self.advance()
            return t.AggRef(tok.pos, tok.text)
        if tok.kind == "macro":
            self.advance()
            return t.MacroArg(tok.pos, tok.text)
        if tok.kind == "ident":
            self.advance()
            if tok.text in ("offsetof", "xlate"):
                return self.skipped_call(tok)
            return t.Ident(tok.pos, tok.text)
        if self.is_op("("):
            self.advance()
            inner = self.expression()
            self.expect(")", "to close the parenthesis")
            return inner
        raise self.error_here("expected an expression")

    def skipped_call(self, word: Token) -> t.Expr:
        """``offsetof(type, member)`` and ``xlate<type>(expr)``: their type arguments are read
        over (balanced), enough to refuse them at their position."""
        depth = 0
        while True:
            if self.tok.kind == "eof":
                raise self.error_here(f"unterminated {word.text}")
            if self.is_op("(", "<"):
                depth += 1
            elif self.is_op(")", ">"):
                depth -= 1
                if depth == 0:
                    self.advance()
                    if not (word.text == "xlate" and self.is_op("(")):
                        break
                    continue
            self.advance()
        return t.Call(self.span(word), word.text, word.pos, ())


def parse(text: str) -> t.Program:
    """The tree of a D program; raises ``DSyntaxError`` at the first syntax error."""
    return Parser(text).program()
