"""The backend-neutral data model: diagnostics, aggregations, snapshots and tracer events.

Every backend produces these objects; everything above the backends (sessions, the API, the
charts) consumes only these.  ``to_dict`` gives the JSON shape documented in docs/api.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec

Language = Literal["d", "bpftrace"]
LANGUAGES: tuple[Language, ...] = ("d", "bpftrace")  # dtrace_lexer.vocabulary's, a test checks
LANGUAGE_CHOICES = " or ".join(f'"{name}"' for name in LANGUAGES)

SCALAR_FUNCTIONS = frozenset({"count", "sum", "min", "max", "avg", "stddev", "stats", "value"})
DISTRIBUTION_FUNCTIONS = frozenset({"quantize", "lquantize", "llquantize", "hist", "lhist"})
FUNCTIONS = SCALAR_FUNCTIONS | DISTRIBUTION_FUNCTIONS

KeyPart = int | str
Key = tuple[KeyPart, ...]


@dataclass(frozen=True)
class Diagnostic:
    """A compiler message at a 1-based position in the user's text.

    ``end_column`` is one past the last character (as in LSP and CodeMirror ranges); an
    empty range (``end == start``) marks a point, such as the end of the file.
    """

    line: int
    column: int
    end_line: int
    end_column: int
    message: str
    severity: Literal["error", "warning"] = "error"

    def to_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
            "severity": self.severity,
            "message": self.message,
        }


@dataclass(frozen=True)
class AggregationDecl:
    """An aggregation the script defines: its name and aggregating function."""

    name: str
    function: str
    params: dict[str, int] = field(default_factory=dict)
    key_arity: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "function": self.function}


@dataclass(frozen=True)
class CompileResult:
    ok: bool
    diagnostics: tuple[Diagnostic, ...] = ()
    aggregations: tuple[AggregationDecl, ...] = ()
    refused: bool = False  # the server's policy refuses part of the script (see policy.py)
    # A D script run through bpftrace: its translation (``translation.Translation``).
    translated: Any = None

    def to_dict(self) -> dict[str, Any]:
        d = {
            "ok": self.ok,
            "diagnostics": [d.to_dict() for d in self.diagnostics],
            "aggregations": [a.to_dict() for a in self.aggregations],
            "refused": self.refused,
        }
        if self.translated is not None and self.translated.ok:
            d["translated"] = self.translated.to_dict()
        return d


class Bucket(msgspec.Struct, frozen=True, gc=False):
    """``lo``..``hi`` inclusive; ``None`` stands for minus or plus infinity."""

    lo: int | None
    hi: int | None
    count: int

    def to_dict(self) -> dict[str, Any]:
        return _as_dict(self)


# Snapshot shapes are msgspec Structs: their JSON is declared by the fields (omitted when
# at their default, so a scalar row has no "buckets" and a distribution row no "value"), and
# reading it back checks every type.  bench/bench_shapes.py measured why this library.
class Row(msgspec.Struct, frozen=True, omit_defaults=True, gc=False):
    key: Key
    value: int | float | str | None = None  # str: a bpftrace map of strings
    buckets: tuple[Bucket, ...] | None = None
    stats: dict[str, int | float] | None = None  # stats(): count, average, total

    @property
    def weight(self) -> float:
        """What the row is ranked by when an aggregation has too many rows."""
        if self.buckets is not None:
            return float(sum(b.count for b in self.buckets))
        if self.stats is not None:
            return float(self.stats.get("count", 0))
        if isinstance(self.value, int | float):
            return abs(float(self.value))
        return 0.0

    def to_dict(self) -> dict[str, Any]:
        return _as_dict(self)


class Aggregation(msgspec.Struct, frozen=True, gc=False):
    name: str
    function: str
    rows: tuple[Row, ...]
    params: dict[str, int] = msgspec.field(default_factory=dict)
    total_rows: int | None = None  # set when rows were cut to the server's cap

    @property
    def is_distribution(self) -> bool:
        return self.function in DISTRIBUTION_FUNCTIONS

    def capped(self, max_rows: int) -> Aggregation:
        """Keep the ``max_rows`` heaviest rows; remember how many there were."""
        if len(self.rows) <= max_rows:
            return self
        rows = sorted(self.rows, key=lambda r: r.weight, reverse=True)[:max_rows]
        return Aggregation(self.name, self.function, tuple(rows), self.params, len(self.rows))

    def to_dict(self) -> dict[str, Any]:
        return _as_dict(self)


class Snapshot(msgspec.Struct, frozen=True, gc=False):
    t: float  # seconds since the probes attached
    aggregations: tuple[Aggregation, ...]

    def to_dict(self) -> dict[str, Any]:
        return _as_dict(self)

    def to_json(self) -> bytes:
        return _encoder.encode(self)


_encoder = msgspec.json.Encoder()


def _as_dict(shape: msgspec.Struct) -> dict[str, Any]:
    """The JSON shape of a snapshot part as plain dicts and lists (docs/api.md)."""
    d: dict[str, Any] = msgspec.to_builtins(shape)
    return d


# --- Events a running tracer reports to its session -------------------------------------


@dataclass(frozen=True)
class Attached:
    probes: int


@dataclass(frozen=True)
class Output:
    """Text the user's script printed (printf, trace, print of a non-map); untrusted."""

    text: str


@dataclass(frozen=True)
class AggregationData:
    """The whole current content of one aggregation (replaces what was known of it)."""

    aggregation: Aggregation


@dataclass(frozen=True)
class Tick:
    """Everything reported before this belongs to one consistent snapshot."""


@dataclass(frozen=True)
class Problem:
    """A non-fatal trouble (drops, errors in probes) with the option that would fix it.

    A ``note`` is no trouble, only something the user should know about what is shown (a
    map that is not charted live, and why).
    """

    message: str
    fix: str | None = None
    severity: Literal["error", "note"] = "error"
    lost: int = 0  # events (or drops) it says were lost, for the run's cost figures


@dataclass(frozen=True)
class Exited:
    """The tracer ended: ``error`` is None for a clean end."""

    code: int | None
    error: str | None = None


TracerEvent = Attached | Output | AggregationData | Tick | Problem | Exited


def aggregation_from_dict(d: Any) -> Aggregation:
    """Inverse of ``Aggregation.to_dict`` (used by worker processes that speak JSON).

    Raises ``msgspec.ValidationError`` for anything not of the aggregation's shape.
    """
    return msgspec.convert(d, Aggregation)


def snapshot_from_json(text: bytes | str) -> Snapshot:
    """Inverse of ``Snapshot.to_json``."""
    return msgspec.json.decode(text, type=Snapshot)
