"""Text for keys, stacks and bucket ranges, and numbers as tables and charts take them."""

from __future__ import annotations

import math
from typing import Any

from ide.tracing.model import Bucket, Key, KeyPart

from .kinds import POWER_OF_TWO

Span = tuple[int | None, int | None]  # a bucket's lo, hi


def is_stack(part: KeyPart) -> bool:
    """A stack key part (bpftrace kstack/ustack, D stack()/ustack()) has one frame a line."""
    return isinstance(part, str) and "\n" in part


def stack_frames(part: str) -> list[str]:
    """Frames as printed: the innermost (leaf) first."""
    return [line.strip() for line in part.splitlines() if line.strip()]


def key_label(key: Key, *, full: bool = False) -> str:
    """``("bash", 1234)`` -> ``"bash, 1234"``; a stack shows its leaf frames unless ``full``."""
    if not key:
        return "(no key)"
    parts = []
    for part in key:
        if is_stack(part):
            frames = stack_frames(str(part))
            if full:
                parts.append("\n".join(frames))
            elif len(frames) > 2:
                parts.append(" ← ".join(frames[:2]) + " ← …")
            else:
                parts.append(" ← ".join(frames) or "(empty stack)")
        else:
            parts.append(str(part))
    return ", ".join(parts)


_BINARY = (
    (1 << 60, "E"),
    (1 << 50, "P"),
    (1 << 40, "T"),
    (1 << 30, "G"),
    (1 << 20, "M"),
    (1 << 10, "K"),
)
_DECIMAL = ((10**18, "E"), (10**15, "P"), (10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "k"))


def _short(n: int, units: tuple[tuple[int, str], ...]) -> str:
    for size, suffix in units:
        if n and abs(n) >= size and n % size == 0:
            return f"{n // size}{suffix}"
    return str(n)


def bucket_label(bucket: Bucket, function: str) -> str:
    """A bucket's range as bpftrace prints it: ``[0]``, ``[2, 4)``, ``[1K, 2K)``, ``[100, …)``.

    Power-of-two histograms (quantize, hist) use 1024-based suffixes; llquantize 1000-based
    ones; linear histograms print plain numbers.
    """
    units: tuple[tuple[int, str], ...] = ()
    if function in POWER_OF_TWO:
        units = _BINARY
    elif function == "llquantize":
        units = _DECIMAL
    lo, hi = bucket.lo, bucket.hi
    if lo is None and hi is None:
        return "(…, …)"
    if lo is None:
        assert hi is not None
        return f"(…, {_short(hi + 1, units)})"
    if hi is None:
        return f"[{_short(lo, units)}, …)"
    if lo == hi:
        return f"[{_short(lo, units)}]"
    return f"[{_short(lo, units)}, {_short(hi + 1, units)})"


def bucket_order(span: Span) -> tuple[float, float]:
    lo, hi = span
    return (-math.inf if lo is None else lo, math.inf if hi is None else hi)


def span_label(span: Span, function: str) -> str:
    return bucket_label(Bucket(span[0], span[1], 0), function)


def plain(value: Any) -> Any:
    """A JSON-safe table cell: NaN and infinities (which JSON cannot carry) become None."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return round(value, 3)
    return value


def numeric(value: object) -> float:
    """A number a chart can draw: anything else (None, text, NaN, infinity) counts as 0."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    value = float(value)
    return value if math.isfinite(value) else 0.0
