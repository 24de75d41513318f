"""What a translation of one language into another tracer's gives the rest of the core.

The D to bpftrace translator (``d2bpftrace``) returns a ``Translation``: the emitted script,
which emitted spans came from which D spans (to place bpftrace's diagnostics on the D the
user wrote), and per map the D aggregating function it stands for (so a translated run's
snapshots keep D's names, functions and bucket parameters).
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any

from .model import Diagnostic


@dataclass(frozen=True)
class Span:
    """Emitted text ``bt_line:bt_column..bt_end_column`` (one line, 1-based, end exclusive)
    came from the D text ``d_line:d_column..d_end_line:d_end_column``."""

    bt_line: int
    bt_column: int
    bt_end_column: int
    d_line: int
    d_column: int
    d_end_line: int
    d_end_column: int


@dataclass(frozen=True)
class MapOrigin:
    """One map of the emitted script and the D aggregation it stands for."""

    name: str  # "@dist": the same name in both scripts
    d_function: str  # "lquantize", "count", ... (D's name)
    bt_function: str  # "lhist", "count", ... (what bpftrace reports)
    params: dict[str, int] = field(default_factory=dict)  # D's: lo/hi/step, factor/low/...
    key_arity: int = 0


@dataclass(frozen=True)
class Translation:
    ok: bool
    script: str  # the emitted bpftrace ("" when not ok)
    diagnostics: tuple[Diagnostic, ...] = ()  # at D positions
    line_map: tuple[tuple[int, int], ...] = ()  # (d_line, bt_line), by bt_line
    spans: tuple[Span, ...] = ()
    maps: tuple[MapOrigin, ...] = ()
    # Maps the emitted script uses for D variables (globals, self->, tables), not D
    # aggregations: emptied at the end, and not data to show.
    internal_maps: tuple[str, ...] = ()
    # D aggregations a printa() prints: D does not print them again at exit, so the emitted
    # END empties them (their last data is what the script printed before).
    printed_maps: tuple[str, ...] = ()

    def map_origin(self, name: str) -> MapOrigin | None:
        return next((m for m in self.maps if m.name == name), None)

    def d_line(self, bt_line: int) -> int:
        """The D line an emitted line came from (the nearest mapped line before it)."""
        if not self.line_map:
            return 1
        bt_lines = [bt for _, bt in self.line_map]
        i = max(bisect_right(bt_lines, bt_line) - 1, 0)
        return self.line_map[i][0]

    def d_diagnostic(self, diag: Diagnostic) -> Diagnostic:
        """A diagnostic of the emitted script, placed on the D text it came from: the
        narrowest span that holds its start, else the whole D line of its line."""
        holding = [
            s
            for s in self.spans
            if s.bt_line == diag.line
            and s.bt_column <= diag.column < max(s.bt_end_column, s.bt_column + 1)
        ]
        if holding:
            s = min(holding, key=lambda s: s.bt_end_column - s.bt_column)
            return Diagnostic(
                s.d_line, s.d_column, s.d_end_line, s.d_end_column, diag.message, diag.severity
            )
        line = self.d_line(diag.line)
        return Diagnostic(line, 1, line, 1, diag.message, diag.severity)

    def to_dict(self) -> dict[str, Any]:
        return {"script": self.script, "line_map": [list(p) for p in self.line_map]}
