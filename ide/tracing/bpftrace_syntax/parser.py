"""Recursive descent over bpftrace's tokens, after its grammar (src/parser.yy): C definitions,
probes (attach points, predicate, block), statements (assignments, ``if``/``else``,
``unroll``, ``while``, jumps) and expressions with bpftrace's precedence.

Every node keeps its offsets in the script, so a rewrite can replace exactly the text a node
came from and nothing in a comment or a string.  Each rule consumes a token or returns, so
parsing is linear; nesting deeper than ``MAX_NESTING`` is a syntax error, never a crash.
"""

from __future__ import annotations

from dataclasses import dataclass

from .lexer import BpftraceSyntaxError, Token, tokens

_BINARY_LEVELS: tuple[tuple[str, ...], ...] = (
    ("||",),
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
_ASSIGN_OPS = frozenset({"=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>="})
_UNARY_OPS = frozenset({"-", "+", "!", "~", "*", "&", "++", "--"})
_STARTS_OPERAND = frozenset({"ident", "int", "string", "map", "var", "param", "cdef"})
MAX_NESTING = 60


@dataclass(frozen=True)
class Node:
    """An expression or statement.  ``kind`` is one of: int string ident map var param call
    binary unary postfix field index cast tuple ternary type | expr assign if block unroll
    while jump.  ``name`` is the identifier, operator, map name or field; a map's children
    are its keys, a call's its arguments."""

    kind: str
    start: int
    end: int
    name: str = ""
    children: tuple[Node, ...] = ()


@dataclass(frozen=True)
class AttachPoint:
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Probe:
    """One probe clause: ``attach_points /predicate/ { statements }``."""

    start: int
    end: int
    attach_points: tuple[AttachPoint, ...]
    predicate: Node | None
    block_start: int  # the offset of "{"
    statements: tuple[Node, ...]


@dataclass(frozen=True)
class Program:
    definitions: tuple[Token, ...]  # #include/#define lines and C definitions
    probes: tuple[Probe, ...]


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = tokens(text)
        self.i = 0
        self.depth = 0

    # --- tokens -------------------------------------------------------------------------

    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def peek(self, k: int = 1) -> Token:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def at(self, text: str) -> bool:
        return self.tok.kind == "op" and self.tok.text == text

    def take(self) -> Token:
        t = self.tok
        if t.kind != "eof":
            self.i += 1
        return t

    def expect(self, text: str) -> Token:
        if not self.at(text):
            raise self.unexpected(f'"{text}"')
        return self.take()

    def unexpected(self, wanted: str) -> BpftraceSyntaxError:
        t = self.tok
        found = "end of file" if t.kind == "eof" else f'"{t.text}"'
        return BpftraceSyntaxError(
            t.start, max(t.end, t.start + 1), f"unexpected {found}, expecting {wanted}"
        )

    def nest(self) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            t = self.tok
            raise BpftraceSyntaxError(t.start, t.end, "the script nests too deeply")

    # --- program ------------------------------------------------------------------------

    def program(self) -> Program:
        definitions = []
        while self.tok.kind in ("preproc", "cdef"):
            definitions.append(self.take())
            if self.at(";"):
                self.take()
        probes = []
        while self.tok.kind != "eof":
            probes.append(self.probe())
        if not probes:
            raise self.unexpected("a probe")
        return Program(tuple(definitions), tuple(probes))

    def probe(self) -> Probe:
        start = self.tok.start
        points = [self.attach_point()]
        while self.at(","):
            self.take()
            points.append(self.attach_point())
        predicate = None
        if self.at("/"):
            self.take()
            predicate = self.expr()
            if self.tok.kind != "endpred":
                raise self.unexpected('"/" closing the predicate')
            self.take()
        if not self.at("{"):
            raise self.unexpected('"{"')
        block_start = self.tok.start
        block = self.block()
        return Probe(start, block.end, tuple(points), predicate, block_start, block.children)

    def attach_point(self) -> AttachPoint:
        """Tokens that touch one another: ``tracepoint`` ``:syscalls`` ``:sys_enter_*``."""
        first = self.tok
        if first.kind not in ("ident", "path", "string", "int", "param") and not (
            first.kind == "op" and first.text in ("*", ":")
        ):
            raise self.unexpected("a probe")
        end = self.take().end
        while self.tok.start == end and (
            self.tok.kind in ("ident", "path", "string", "int", "param")
            or (self.tok.kind == "op" and self.tok.text in (":", ".", "+", "*", "[", "]"))
        ):
            end = self.take().end
        return AttachPoint(self.text[first.start : end], first.start, end)

    # --- statements ---------------------------------------------------------------------

    def block(self) -> Node:
        start = self.expect("{").start
        self.nest()
        body = []
        while not self.at("}"):
            if self.tok.kind == "eof":
                raise self.unexpected('"}"')
            if self.at(";"):
                self.take()
                continue
            stmt = self.statement()
            body.append(stmt)
            if stmt.kind not in ("if", "unroll", "while") and not self.at("}"):
                self.expect(";")
        self.depth -= 1
        end = self.expect("}").end
        return Node("block", start, end, children=tuple(body))

    def statement(self) -> Node:
        t = self.tok
        if t.kind == "ident" and t.text == "if":
            return self.if_statement()
        if t.kind == "ident" and t.text in ("unroll", "while"):
            self.take()
            self.expect("(")
            head = self.expr()
            self.expect(")")
            body = self.block()
            return Node(t.text, t.start, body.end, children=(head, body))
        if t.kind == "ident" and t.text in ("return", "break", "continue"):
            self.take()
            return Node("jump", t.start, t.end, t.text)
        if t.kind in ("map", "var"):
            after = self.i
            target = self.postfix()
            if self.tok.kind == "op" and self.tok.text in _ASSIGN_OPS:
                op = self.take().text
                value = self.expr()
                return Node("assign", t.start, value.end, op, (target, value))
            self.i = after  # not an assignment: read it again as an expression
        e = self.expr()
        return Node("expr", e.start, e.end, children=(e,))

    def if_statement(self) -> Node:
        start = self.take().start
        self.expect("(")
        cond = self.expr()
        self.expect(")")
        then = self.block()
        parts = [cond, then]
        if self.tok.kind == "ident" and self.tok.text == "else":
            self.take()
            other = self.if_statement() if self.tok.text == "if" else self.block()
            parts.append(other)
        return Node("if", start, parts[-1].end, children=tuple(parts))

    # --- expressions --------------------------------------------------------------------

    def expr(self) -> Node:
        self.nest()
        cond = self.binary(0)
        if self.at("?"):
            self.take()
            then = self.expr()
            self.expect(":")
            other = self.expr()
            cond = Node("ternary", cond.start, other.end, children=(cond, then, other))
        self.depth -= 1
        return cond

    def binary(self, level: int) -> Node:
        if level == len(_BINARY_LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while self.tok.kind == "op" and _PRECEDENCE.get(self.tok.text) == level:
            op = self.take().text
            right = self.binary(level + 1)
            left = Node("binary", left.start, right.end, op, (left, right))
        return left

    def unary(self) -> Node:
        t = self.tok
        if t.kind == "op" and t.text in _UNARY_OPS:
            self.take()
            self.nest()
            operand = self.unary()
            self.depth -= 1
            return Node("unary", t.start, operand.end, t.text, (operand,))
        if t.kind == "op" and t.text == "(" and self._is_cast():
            self.take()
            type_start = self.tok.start
            while not self.at(")"):
                self.take()
            type_text = self.text[type_start : self.tok.start].strip()
            self.take()
            self.nest()
            operand = self.unary()
            self.depth -= 1
            return Node("cast", t.start, operand.end, type_text, (operand,))
        return self.postfix()

    def _is_cast(self) -> bool:
        """``(struct x *)``, ``(uint8 *)`` or ``(uint32)`` followed by an operand."""
        first = self.peek()
        if first.kind == "cdef":
            return True
        if first.kind != "ident":
            return False
        k = 2
        while self.peek(k).kind == "op" and self.peek(k).text == "*":
            k += 1
        if not (self.peek(k).kind == "op" and self.peek(k).text == ")"):
            return False
        after = self.peek(k + 1)
        return k > 2 or after.kind in _STARTS_OPERAND or (after.kind == "op" and after.text == "(")

    def postfix(self) -> Node:
        node = self.primary()
        while True:
            t = self.tok
            if t.kind == "op" and t.text in (".", "->"):
                self.take()
                name = self.take()
                if name.kind not in ("ident", "int"):
                    raise BpftraceSyntaxError(name.start, name.end, "expecting a field name")
                node = Node("field", node.start, name.end, name.text, (node,))
            elif t.kind == "op" and t.text == "[":
                self.take()
                index = self.expr()
                end = self.expect("]").end
                node = Node("index", node.start, end, children=(node, index))
            elif t.kind == "op" and t.text in ("++", "--") and node.kind in ("map", "var"):
                self.take()
                node = Node("postfix", node.start, t.end, t.text, (node,))
            else:
                return node

    def arguments(self, close: str) -> tuple[list[Node], int]:
        args: list[Node] = []
        while not self.at(close):
            args.append(self.expr())
            if not self.at(close):
                self.expect(",")
        return args, self.take().end

    def primary(self) -> Node:
        t = self.tok
        if t.kind in ("int", "string", "var", "param"):
            self.take()
            return Node(t.kind, t.start, t.end, t.text)
        if t.kind == "cdef":
            self.take()
            return Node("type", t.start, t.end, t.text.strip())
        if t.kind == "map":
            self.take()
            if self.at("["):
                self.take()
                keys, end = self.arguments("]")
                return Node("map", t.start, end, t.text, tuple(keys))
            return Node("map", t.start, t.end, t.text)
        if t.kind == "ident":
            self.take()
            if self.at("("):
                self.take()
                args, end = self.arguments(")")
                return Node("call", t.start, end, t.text, tuple(args))
            return Node("ident", t.start, t.end, t.text)
        if t.kind == "op" and t.text == "(":
            self.take()
            self.nest()
            first = self.expr()
            if self.at(","):
                self.take()
                rest, end = self.arguments(")")
                self.depth -= 1
                return Node("tuple", t.start, end, children=(first, *rest))
            self.expect(")")
            self.depth -= 1
            return first
        raise self.unexpected("an expression")


def parse(text: str) -> Program:
    """The program; raises ``BpftraceSyntaxError`` at the offending offsets."""
    return _Parser(text).program()
