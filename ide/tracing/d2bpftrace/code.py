"""Emitted text that remembers where it came from: ``Piece``s joined into lines, each marked
range carrying the D span it was emitted for, and a ``Writer`` that turns them into the
script, its ``Span``s and its line map."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..d_syntax.tree import Pos
from ..translation import Span

Mark = tuple[int, int, Pos]  # start, end (offsets in the piece's text), the D span


@dataclass(frozen=True)
class Piece:
    text: str
    marks: tuple[Mark, ...] = ()

    def __add__(self, other: Piece | str) -> Piece:
        other = as_piece(other)
        shift = len(self.text)
        moved = tuple((s + shift, e + shift, p) for s, e, p in other.marks)
        return Piece(self.text + other.text, self.marks + moved)

    def __radd__(self, other: str) -> Piece:
        return as_piece(other) + self

    def marked(self, pos: Pos) -> Piece:
        """The same text, all of it marked as coming from ``pos`` (inner marks kept)."""
        return Piece(self.text, ((0, len(self.text), pos), *self.marks))


def as_piece(part: Piece | str) -> Piece:
    return part if isinstance(part, Piece) else Piece(part)


def join(parts: Iterable[Piece | str], sep: str = "") -> Piece:
    out = Piece("")
    for i, part in enumerate(parts):
        out = out + (sep if i else "") + part
    return out


class Writer:
    """Lines of the emitted script with their spans and (d_line, bt_line) pairs."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.spans: list[Span] = []
        self.line_map: list[tuple[int, int]] = []

    def line(self, piece: Piece | str, d_line: int | None, indent: int = 0) -> None:
        piece = as_piece(piece)
        pad = " " * (4 * indent)
        self.lines.append(pad + piece.text)
        bt_line = len(self.lines)
        if d_line is not None:
            self.line_map.append((d_line, bt_line))
        for start, end, p in piece.marks:
            self.spans.append(
                Span(
                    bt_line,
                    len(pad) + start + 1,
                    len(pad) + end + 1,
                    p.line,
                    p.column,
                    p.end_line,
                    p.end_column,
                )
            )

    def text(self) -> str:
        return "\n".join(self.lines) + "\n" if self.lines else ""
