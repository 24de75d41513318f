"""Warnings about scripts that work against dtrace-ide's own snapshots.

A run prints every live map each interval (``bpftrace.snapshot_program``).  A script that
also prints a map itself and then clears it (``interval:s:1 { print(@n); clear(@n); }``,
the bpftrace idiom for per-interval numbers) hands the IDE a map emptied a moment ago at
each snapshot: its chart shows whatever built up since, and the numbers the script printed
are charted as snapshots, not shown as text.  The Output step's "Per interval" view gives
the same per-interval numbers without the script doing either.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from .bpftrace_ast import ProgramFacts
from .model import Diagnostic
from .scripttext import Positions, calls

_ARGUMENT = re.compile(r"[ \t\r\n]*\([ \t\r\n]*(@[A-Za-z0-9_]*)")


def self_printed_warnings(script: str, facts: ProgramFacts) -> list[Diagnostic]:
    """A warning at each ``print``/``clear``/``zero`` of a map the script both prints and
    clears itself."""
    fighting = {m.name for m in facts.maps.values() if m.printed and m.cleared}
    if not fighting:
        return []
    positions = Positions(script)
    out = []
    for name, start, end in _map_calls(script):
        if name in fighting:
            line, col = positions.at(start)
            end_line, end_col = positions.at(end)
            out.append(Diagnostic(line, col, end_line, end_col, _advice(name), "warning"))
    return out


def _map_calls(script: str) -> Iterator[tuple[str, int, int]]:
    for tok in calls(script, "bpftrace", {"print", "clear", "zero"}):
        m = _ARGUMENT.match(script, tok.end, min(len(script), tok.end + 256))
        if m:
            yield m.group(1), tok.start, m.end()


def _advice(name: str) -> str:
    return (
        f"{name} is printed and cleared by the script while dtrace-ide also takes a snapshot "
        "of it every interval: its chart shows what is left at each snapshot, and what the "
        "script prints is charted, not shown as text. For per-interval numbers, drop the "
        'print() and clear() and choose "Per interval" in the Output step.'
    )
