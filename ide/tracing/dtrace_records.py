"""libdtrace's aggregation records, decoded without libdtrace.

The worker process (``dtrace_worker``) copies each record that ``dtrace_aggregate_walk`` hands
it into a plain ``RawRecord`` (action numbers, the aggregation's signature, key and data
bytes); everything here turns those into the backend-neutral ``Row`` and ``Aggregation``.  It
runs anywhere, so recorded callbacks (tests/fixtures/libdtrace/) replay through it in CI.

Two families of libdtrace exist and they differ exactly where this module looks:

* illumos (SmartOS, FreeBSD, macOS): aggregating actions are ``0x700 + n`` with COUNT=1 ...
  LLQUANTIZE=9; keys and value share one buffer; lquantize/llquantize keep their parameters
  in the first 64-bit word of the data and in the action's argument.
* Oracle's DTrace for Linux (dtrace-utils 2.x): actions are numbered alphabetically (AVG=0x700,
  COUNT=0x701 ... SUM=0x708); keys and data sit in separate buffers; the parameters are in
  the aggregation's signature; its llquantize (factor, low and high magnitude, steps) also
  counts negative values.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from .model import Aggregation, Bucket, Key, KeyPart, Row

Family = Literal["illumos", "oracle"]
FAMILIES: tuple[Family, ...] = ("illumos", "oracle")

AGGREGATION_CLASS = 0x0700
AGGREGATING_ACTIONS: dict[Family, dict[int, str]] = {
    "illumos": {
        0x701: "count",
        0x702: "min",
        0x703: "max",
        0x704: "avg",
        0x705: "sum",
        0x706: "stddev",
        0x707: "quantize",
        0x708: "lquantize",
        0x709: "llquantize",
    },
    "oracle": {
        0x700: "avg",
        0x701: "count",
        0x702: "llquantize",
        0x703: "lquantize",
        0x704: "max",
        0x705: "min",
        0x706: "quantize",
        0x707: "stddev",
        0x708: "sum",
    },
}

# Key record actions (the same numbers in both families).
ACT_DIFEXPR = 0x0001
ACT_USTACK = 0x0101
ACT_JSTACK = 0x0102
ACT_USYM = 0x0103
ACT_UMOD = 0x0104
ACT_UADDR = 0x0105
ACT_STACK = 0x0401
ACT_SYM = 0x0402
ACT_MOD = 0x0403
USER_ADDRESS_ACTIONS = {ACT_USYM, ACT_UMOD, ACT_UADDR}
KERNEL_ADDRESS_ACTIONS = {ACT_SYM, ACT_MOD}
STACK_ACTIONS = {ACT_STACK, ACT_USTACK, ACT_JSTACK}

QUANTIZE_ZERO = 63  # index of the [0, 0] bucket among quantize's 127
QUANTIZE_BUCKETS = 127


@dataclass(frozen=True)
class RawKey:
    action: int
    size: int
    data: bytes
    text: str | None = None  # set by the worker for symbols and stacks it could resolve

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"action": self.action, "size": self.size, "hex": self.data.hex()}
        if self.text is not None:
            d["text"] = self.text
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RawKey:
        return cls(int(d["action"]), int(d["size"]), bytes.fromhex(d["hex"]), d.get("text"))


@dataclass(frozen=True)
class RawRecord:
    """One element of an aggregation walk, as libdtrace handed it over."""

    family: Family
    name: str  # libdtrace's name, without the "@"
    action: int  # the aggregating action
    arg: int  # lquantize/llquantize parameters (signature or action argument)
    keys: tuple[RawKey, ...]
    data: bytes  # the aggregating record's bytes
    normal: int = 1
    varid: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "name": self.name,
            "varid": self.varid,
            "action": self.action,
            "arg": self.arg,
            "normal": self.normal,
            "keys": [k.to_dict() for k in self.keys],
            "data": self.data.hex(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RawRecord:
        family = d["family"]
        if family not in FAMILIES:
            raise ValueError(f"unknown libdtrace family {family!r}")
        return cls(
            family,
            str(d["name"]),
            int(d["action"]),
            int(d["arg"]),
            tuple(RawKey.from_dict(k) for k in d["keys"]),
            bytes.fromhex(d["data"]),
            int(d.get("normal", 1)),
            int(d.get("varid", 0)),
        )


class RecordError(ValueError):
    """A record whose shape does not match its aggregating function."""


def function_of(family: Family, action: int) -> str:
    try:
        return AGGREGATING_ACTIONS[family][action]
    except KeyError:
        raise RecordError(f"unknown aggregating action {action:#x} ({family})") from None


def aggregation_name(raw_name: str) -> str:
    """``@name`` as the user wrote it; D's anonymous aggregation ``@`` is named ``_``."""
    if raw_name.startswith("@"):
        return raw_name
    return "@" + ("" if raw_name == "_" else raw_name)


def _words(data: bytes) -> list[int]:
    n = len(data) // 8
    return list(struct.unpack(f"<{n}q", data[: n * 8]))


def _uwords(data: bytes) -> list[int]:
    n = len(data) // 8
    return list(struct.unpack(f"<{n}Q", data[: n * 8]))


# --- keys ----------------------------------------------------------------------------------


def decode_key_part(key: RawKey) -> KeyPart:
    """An integer key as a signed integer, a string key as text, an address as hex."""
    if key.text is not None:
        return key.text
    if key.action in STACK_ACTIONS:
        return "\n".join(f"{pc:#x}" for pc in stack_frames(key))
    if key.action in USER_ADDRESS_ACTIONS and key.size == 16:
        return f"{_uwords(key.data)[1]:#x}"
    if key.action in KERNEL_ADDRESS_ACTIONS and key.size == 8:
        return f"{_uwords(key.data)[0]:#x}"
    if key.size in (1, 2, 4, 8) and len(key.data) >= key.size:
        fmt = {1: "<b", 2: "<h", 4: "<i", 8: "<q"}[key.size]
        return int(struct.unpack(fmt, key.data[: key.size])[0])
    end = key.data.find(b"\0")
    text = key.data if end < 0 else key.data[:end]
    return text.decode("utf-8", "replace")


def stack_frames(key: RawKey) -> list[int]:
    """The program counters of a stack key; a user stack's first word is its process id."""
    words = _uwords(key.data)
    if key.action != ACT_STACK:
        words = words[1:]
    return [pc for pc in words if pc]


def decode_key(keys: Iterable[RawKey]) -> Key:
    return tuple(decode_key_part(k) for k in keys)


# --- values --------------------------------------------------------------------------------


def lquantize_params(arg: int) -> tuple[int, int, int]:
    """(base, step, levels) from lquantize's packed argument (the same in both families)."""
    step = (arg >> 48) & 0xFFFF
    levels = (arg >> 32) & 0xFFFF
    base = arg & 0xFFFFFFFF
    if base >= 1 << 31:
        base -= 1 << 32
    return base, step, levels


def _trim(buckets: list[Bucket]) -> tuple[Bucket, ...]:
    """From the first to the last non-empty bucket (empty ones in between are kept)."""
    nonzero = [i for i, b in enumerate(buckets) if b.count]
    if not nonzero:
        return ()
    return tuple(buckets[nonzero[0] : nonzero[-1] + 1])


def quantize_buckets(counts: list[int]) -> tuple[Bucket, ...]:
    """quantize(): powers of two, [0,0] in the middle, negative side mirrored."""
    if len(counts) != QUANTIZE_BUCKETS:
        raise RecordError(f"quantize() record has {len(counts)} buckets, expected 127")
    out: list[Bucket] = []
    for i, count in enumerate(counts):
        if i == QUANTIZE_ZERO:
            lo: int | None = 0
            hi: int | None = 0
        elif i > QUANTIZE_ZERO:
            p = i - QUANTIZE_ZERO - 1
            lo = 1 << p
            hi = (1 << (p + 1)) - 1 if i < QUANTIZE_BUCKETS - 1 else None
        else:
            p = QUANTIZE_ZERO - 1 - i
            hi = -(1 << p)
            lo = -((1 << (p + 1)) - 1) if i > 0 else None
        out.append(Bucket(lo, hi, count))
    return _trim(out)


def lquantize_buckets(base: int, step: int, levels: int, counts: list[int]) -> tuple[Bucket, ...]:
    """lquantize(): an underflow bucket, ``levels`` buckets of ``step``, an overflow bucket."""
    if len(counts) != levels + 2:
        raise RecordError(f"lquantize() record has {len(counts)} buckets, expected {levels + 2}")
    out = [Bucket(None, base - 1, counts[0])]
    for i in range(levels):
        lo = base + i * step
        out.append(Bucket(lo, lo + step - 1, counts[i + 1]))
    out.append(Bucket(base + levels * step, None, counts[levels + 1]))
    return _trim(out)


def llquantize_illumos_params(arg: int) -> dict[str, int]:
    return {
        "factor": (arg >> 48) & 0xFFFF,
        "low": (arg >> 32) & 0xFFFF,
        "high": (arg >> 16) & 0xFFFF,
        "nsteps": arg & 0xFFFF,
    }


def llquantize_illumos_buckets(params: dict[str, int], counts: list[int]) -> tuple[Bucket, ...]:
    """illumos llquantize(): [0, factor^low), then ``nsteps`` linear steps per magnitude."""
    factor, low, high, nsteps = (params[k] for k in ("factor", "low", "high", "nsteps"))
    if factor < 2 or nsteps < 1:
        raise RecordError("llquantize() record with a bad signature")
    value = factor**low
    # Everything below factor^low, negative values included, is counted in the first bucket.
    bounds: list[tuple[int | None, int | None]] = [(None, value - 1)]
    order = low
    nxt = value * factor
    step = nxt // nsteps if nxt > nsteps else 1
    while order <= high:
        bounds.append((value, value + step - 1))
        value += step
        if value == nxt:
            nxt = value * factor
            step = nxt // nsteps if nxt > nsteps else 1
            order += 1
    bounds.append((value, None))
    if len(bounds) != len(counts):
        raise RecordError(f"llquantize() record has {len(counts)} buckets, expected {len(bounds)}")
    return _trim([Bucket(lo, hi, c) for (lo, hi), c in zip(bounds, counts, strict=True)])


def llquantize_oracle_params(sig: int) -> dict[str, int]:
    return {
        "factor": sig & 0xFFFF,
        "low": (sig >> 16) & 0xFFFF,
        "high": (sig >> 32) & 0xFFFF,
        "nsteps": (sig >> 48) & 0xFFFF,
    }


def llquantize_oracle_buckets(params: dict[str, int], counts: list[int]) -> tuple[Bucket, ...]:
    """Oracle's llquantize(): positive and negative sides around an ``abs() < factor^low``
    bucket, each with (high-low+1) magnitudes of (steps - steps/factor) buckets, and an
    overflow bucket at each end.  With low == 0 some of the first magnitude's buckets can
    never be hit (only 1..factor-1 exist there); their counts join the bucket below them.
    """
    factor, lmag, hmag, steps = (params[k] for k in ("factor", "low", "high", "nsteps"))
    if factor < 2 or steps < 1 or hmag < lmag:
        raise RecordError("llquantize() record with a bad signature")
    steps_factor = steps // factor
    per_side = (hmag - lmag + 1) * (steps - steps_factor)
    nbins = per_side * 2 + 3
    if len(counts) != nbins:
        raise RecordError(f"llquantize() record has {len(counts)} buckets, expected {nbins}")
    bin0 = 1 + per_side
    # Lower bound of each labelled positive bin, by offset from bin0.
    lower: dict[int, int] = {1: factor**lmag}
    i = 1
    mag = lmag
    if lmag == 0 and steps > factor:
        for step in range(2, factor + 1):
            i += steps_factor
            lower[i] = step
        mag = 1
    scale = factor ** (mag + 1) // steps
    while mag <= hmag:
        for step in range(steps_factor + 1, steps + 1):
            i += 1
            lower[i] = step * scale
        scale *= factor
        mag += 1
    top = factor ** (hmag + 1)
    # The last step of the top magnitude is factor^(high+1): that is the overflow bin.
    labelled = sorted(off for off in lower if off <= per_side)
    pos: list[Bucket] = []
    neg: list[Bucket] = []
    for n, off in enumerate(labelled):
        end_off = labelled[n + 1] if n + 1 < len(labelled) else per_side + 1
        lo = lower[off]
        hi = (lower[labelled[n + 1]] - 1) if n + 1 < len(labelled) else top - 1
        pcount = sum(counts[bin0 + k] for k in range(off, end_off))
        ncount = sum(counts[bin0 - k] for k in range(off, end_off))
        pos.append(Bucket(lo, hi, pcount))
        neg.append(Bucket(-hi, -lo, ncount))
    under = factor**lmag - 1
    middle = Bucket(-under, under, counts[bin0])
    out = [Bucket(None, -top, counts[0]), *reversed(neg), middle, *pos]
    out.append(Bucket(top, None, counts[nbins - 1]))
    return _trim(out)


def stddev_value(words: list[int]) -> int:
    """DTrace's integer standard deviation: sqrt(E[x^2] - E[x]^2), truncated as libdtrace."""
    count, total = words[0], words[1]
    if count == 0:
        return 0
    sumsq = (words[2] & 0xFFFFFFFFFFFFFFFF) | ((words[3] & 0xFFFFFFFFFFFFFFFF) << 64)
    avg_of_squares = sumsq // count
    avg = abs(int(total / count)) if abs(total) < 1 << 52 else abs(total) // count
    diff = avg_of_squares - avg * avg
    return math.isqrt(diff) if diff > 0 else 0


def _avg(count: int, total: int) -> int:
    if count == 0:
        return 0
    q = abs(total) // abs(count)
    return q if (total >= 0) == (count >= 0) else -q


@dataclass(frozen=True)
class DecodedRecord:
    name: str
    function: str
    params: dict[str, int]
    row: Row


def decode_record(
    raw: RawRecord, symbolize: Callable[[RawKey], str | None] | None = None
) -> DecodedRecord:
    """One walked element as (aggregation name, function, params, row)."""
    function = function_of(raw.family, raw.action)
    keys = raw.keys
    if symbolize is not None:
        keys = tuple(
            RawKey(k.action, k.size, k.data, symbolize(k)) if k.text is None else k for k in keys
        )
    key = decode_key(keys)
    words = _words(raw.data)
    normal = raw.normal or 1
    params: dict[str, int] = {}
    row: Row
    if function in {"count", "sum", "min", "max"}:
        if not words:
            raise RecordError(f"{function}() record is empty")
        row = Row(key, value=words[0] // normal if normal != 1 else words[0])
    elif function == "avg":
        if len(words) < 2:
            raise RecordError("avg() record is too short")
        row = Row(key, value=_avg(words[0], words[1]) // normal)
    elif function == "stddev":
        if len(words) < 4:
            raise RecordError("stddev() record is too short")
        row = Row(key, value=stddev_value(words))
    elif function == "quantize":
        row = Row(key, buckets=quantize_buckets(words))
    elif function == "lquantize":
        arg = raw.arg
        if raw.family == "illumos":
            arg, words = words[0] & 0xFFFFFFFFFFFFFFFF, words[1:]
        base, step, levels = lquantize_params(arg)
        params = {"lo": base, "hi": base + levels * step, "step": step}
        row = Row(key, buckets=lquantize_buckets(base, step, levels, words))
    elif function == "llquantize":
        if raw.family == "illumos":
            arg, words = words[0] & 0xFFFFFFFFFFFFFFFF, words[1:]
            params = llquantize_illumos_params(arg)
            row = Row(key, buckets=llquantize_illumos_buckets(params, words))
        else:
            params = llquantize_oracle_params(raw.arg)
            row = Row(key, buckets=llquantize_oracle_buckets(params, words))
    else:  # pragma: no cover - function_of knows only the functions above
        raise RecordError(f"unsupported aggregating function {function}")
    return DecodedRecord(aggregation_name(raw.name), function, params, row)


# --- one snapshot's worth of walked records ------------------------------------------------


@dataclass
class _AggState:
    function: str
    params: dict[str, int]
    rows: dict[Key, Row] = field(default_factory=dict)


class AggregationStore:
    """What the worker knows of every aggregation, cumulative since the run started.

    The walk does not remove what it reads, so each element libdtrace hands over already holds
    the total since the start (illumos sums the kernel's buffer snapshots into its own table;
    Oracle's snapshot reads the BPF maps, which are never cleared).  A walk therefore replaces
    what was known of each key.  A key that a walk no longer reports (after ``trunc()`` or
    ``clear()`` in the script) disappears from the next snapshot.
    """

    def __init__(self) -> None:
        self._aggs: dict[str, _AggState] = {}
        self._walk: dict[str, _AggState] | None = None

    def begin(self) -> None:
        self._walk = {}

    def add(self, decoded: DecodedRecord) -> None:
        if self._walk is None:
            self.begin()
        assert self._walk is not None
        state = self._walk.get(decoded.name)
        if state is None:
            state = self._walk[decoded.name] = _AggState(decoded.function, dict(decoded.params))
        state.rows[decoded.row.key] = decoded.row

    def end(self) -> tuple[Aggregation, ...]:
        """Close the walk; return every aggregation seen so far with its current rows."""
        walked = self._walk or {}
        self._walk = None
        for name, state in self._aggs.items():
            if name not in walked:
                walked[name] = _AggState(state.function, state.params)
        # Keep the order in which aggregations first appeared.
        ordered = {name: walked[name] for name in self._aggs}
        ordered.update({n: s for n, s in walked.items() if n not in ordered})
        self._aggs = ordered
        return tuple(
            Aggregation(name, s.function, tuple(s.rows.values()), dict(s.params))
            for name, s in self._aggs.items()
        )
