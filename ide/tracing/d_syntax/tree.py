"""The typed tree of a D program: every node knows the exact D text it came from.

Positions are 1-based lines and columns; ``end_column`` is one past the last character (as
in ``Diagnostic``), so a node's span can be underlined as it stands.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pos:
    line: int
    column: int
    end_line: int
    end_column: int

    def to(self, other: Pos) -> Pos:
        """The span from this one's start to ``other``'s end."""
        return Pos(self.line, self.column, other.end_line, other.end_column)


# --- expressions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class IntLit:
    pos: Pos
    value: int
    text: str  # as written: 0x1f, 017, 10UL


@dataclass(frozen=True)
class StrLit:
    pos: Pos
    value: str  # escapes resolved
    text: str  # as written, quotes included


@dataclass(frozen=True)
class CharLit:
    pos: Pos
    value: int
    text: str


@dataclass(frozen=True)
class Ident:
    pos: Pos
    name: str  # execname, x, vmlinux`jiffies


@dataclass(frozen=True)
class MacroArg:
    pos: Pos
    name: str  # "$1", "$$1", "$target", "$pid"


@dataclass(frozen=True)
class AggRef:
    pos: Pos
    name: str  # "@num", or "@" for the anonymous aggregation


@dataclass(frozen=True)
class ClauseVar:
    """``self->name`` (scope "self") or ``this->name`` (scope "this")."""

    pos: Pos
    scope: str
    name: str


@dataclass(frozen=True)
class Unary:
    pos: Pos
    op: str  # - + ! ~ * & ++ -- sizeof
    operand: Expr


@dataclass(frozen=True)
class Postfix:
    pos: Pos
    op: str  # ++ --
    operand: Expr


@dataclass(frozen=True)
class Binary:
    pos: Pos
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Ternary:
    pos: Pos
    cond: Expr
    then: Expr
    other: Expr


@dataclass(frozen=True)
class Assign:
    pos: Pos
    op: str  # = += -= ...
    target: Expr
    value: Expr


@dataclass(frozen=True)
class Cast:
    pos: Pos
    type_name: str  # "unsigned long", "struct task_struct *"
    operand: Expr


@dataclass(frozen=True)
class SizeofType:
    pos: Pos
    type_name: str


@dataclass(frozen=True)
class Call:
    pos: Pos
    name: str
    name_pos: Pos
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Index:
    """``base[args]``: an associative array, ``args[N]`` or an aggregation's keys."""

    pos: Pos
    base: Expr
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Member:
    pos: Pos
    base: Expr
    name: str
    arrow: bool  # -> rather than .


@dataclass(frozen=True)
class Comma:
    pos: Pos
    left: Expr
    right: Expr


Expr = (
    IntLit
    | StrLit
    | CharLit
    | Ident
    | MacroArg
    | AggRef
    | ClauseVar
    | Unary
    | Postfix
    | Binary
    | Ternary
    | Assign
    | Cast
    | SizeofType
    | Call
    | Index
    | Member
    | Comma
)


# --- program --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProbeDesc:
    """``provider:module:function:name`` as written; fewer parts fill from the right."""

    pos: Pos
    text: str
    provider: str
    module: str
    function: str
    name: str


@dataclass(frozen=True)
class Statement:
    pos: Pos
    expr: Expr


@dataclass(frozen=True)
class Clause:
    pos: Pos
    probes: tuple[ProbeDesc, ...]
    predicate: Expr | None
    body: tuple[Statement, ...]
    brace: Pos  # the opening {


@dataclass(frozen=True)
class Pragma:
    """A ``#`` control line: ``#pragma D option quiet`` has words ("pragma", "D", ...)."""

    pos: Pos
    text: str
    words: tuple[str, ...]


@dataclass(frozen=True)
class Declaration:
    """A top-level declaration: ``inline``, ``translator``, ``struct``, a variable's type."""

    pos: Pos
    keyword: str  # the word it starts with
    text: str


Item = Clause | Pragma | Declaration


@dataclass(frozen=True)
class Program:
    items: tuple[Item, ...]

    @property
    def clauses(self) -> tuple[Clause, ...]:
        return tuple(i for i in self.items if isinstance(i, Clause))
