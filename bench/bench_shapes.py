"""Snapshot model to and from JSON: hand-written dicts against msgspec and pydantic v2.

    .venv/bin/pip install ".[bench]"   # pydantic, for the comparison only
    .venv/bin/python bench/bench_shapes.py [--repeats N] [--json out.json]

The snapshot path's two JSON steps, timed on one snapshot of count rows and one of quantize
rows (12 buckets each, both ends unbounded), at 1k and 100k keys:

- encode: model -> JSON text (what a run's GET and the libdtrace worker send);
- decode: JSON text -> model (the libdtrace worker's aggregations reach the parent so).

The baseline, measured in the same run, is the model as it was before the library: frozen
dataclasses, hand-written ``to_dict`` + ``json.dumps`` and ``json.loads`` +
``aggregation_from_dict`` (a copy of them is kept here, so the baseline does not move when
the model does).  Candidates: msgspec Structs (``msgspec.json`` encode/decode, and
``msgspec.convert`` from the dicts ``json.loads`` gives), and pydantic v2's ``TypeAdapter``
over the same dataclasses.  Each figure is the median CPU milliseconds of ``--repeats``
runs; the ratio is candidate / baseline (below 1 is faster).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import pydantic

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Figure, table, write_json

NAMES = ["bash", "sshd", "systemd", "postgres", "nginx", "python3", "java", "node", "cron"]
BUCKETS_PER_ROW = 12

# --- the baseline: the model before the library (a copy of ide/tracing/model.py then) -----


@dataclass(frozen=True)
class DcBucket:
    lo: int | None
    hi: int | None
    count: int

    def to_dict(self) -> dict[str, Any]:
        return {"lo": self.lo, "hi": self.hi, "count": self.count}


@dataclass(frozen=True)
class DcRow:
    key: tuple[int | str, ...]
    value: int | float | str | None = None
    buckets: tuple[DcBucket, ...] | None = None
    stats: dict[str, int | float] | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"key": list(self.key)}
        if self.buckets is not None:
            d["buckets"] = [b.to_dict() for b in self.buckets]
        else:
            d["value"] = self.value
        if self.stats is not None:
            d["stats"] = dict(self.stats)
        return d


@dataclass(frozen=True)
class DcAggregation:
    name: str
    function: str
    rows: tuple[DcRow, ...]
    params: dict[str, int] = field(default_factory=dict)
    total_rows: int | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.name,
            "function": self.function,
            "params": dict(self.params),
            "rows": [r.to_dict() for r in self.rows],
        }
        if self.total_rows is not None:
            d["total_rows"] = self.total_rows
        return d


@dataclass(frozen=True)
class DcSnapshot:
    t: float
    aggregations: tuple[DcAggregation, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"t": round(self.t, 3), "aggregations": [a.to_dict() for a in self.aggregations]}


def dc_aggregation_from_dict(d: dict[str, Any]) -> DcAggregation:
    rows = []
    for r in d["rows"]:
        buckets = None
        if "buckets" in r:
            buckets = tuple(DcBucket(b["lo"], b["hi"], int(b["count"])) for b in r["buckets"])
        rows.append(DcRow(tuple(r["key"]), r.get("value"), buckets, r.get("stats")))
    return DcAggregation(d["name"], d["function"], tuple(rows), dict(d.get("params", {})))


# --- msgspec: the same shapes as Structs -------------------------------------------------


class MsBucket(msgspec.Struct, frozen=True):
    lo: int | None
    hi: int | None
    count: int


class MsRow(msgspec.Struct, frozen=True, omit_defaults=True):
    key: tuple[int | str, ...]
    value: int | float | str | None = None
    buckets: tuple[MsBucket, ...] | None = None
    stats: dict[str, int | float] | None = None


class MsAggregation(msgspec.Struct, frozen=True, omit_defaults=True):
    name: str
    function: str
    rows: tuple[MsRow, ...]
    params: dict[str, int] = msgspec.field(default_factory=dict)
    total_rows: int | None = None


class MsSnapshot(msgspec.Struct, frozen=True):
    t: float
    aggregations: tuple[MsAggregation, ...]


# --- the data ------------------------------------------------------------------------------


def _key(i: int) -> tuple[str, int]:
    return (NAMES[i % len(NAMES)], 1000 + i)


def snapshot(kind: str, keys: int, bucket: Any, row: Any, agg: Any, snap: Any) -> Any:
    rows = []
    for i in range(keys):
        if kind == "count":
            rows.append(row(_key(i), value=1 + 100_000 // (i + 1)))
        else:
            bs = [bucket(None, -1, 0)]
            bs += [bucket(1 << b, (2 << b) - 1, (i + b) % 7) for b in range(BUCKETS_PER_ROW - 2)]
            bs.append(bucket(1 << BUCKETS_PER_ROW, None, i % 2))
            rows.append(row(_key(i), buckets=tuple(bs)))
    name, function = ("@calls", "count") if kind == "count" else ("@size", "quantize")
    return snap(12.5, (agg(name, function, tuple(rows)),))


# --- the candidates --------------------------------------------------------------------------

ms_encoder = msgspec.json.Encoder()
ms_decoder = msgspec.json.Decoder(MsAggregation)
pd_snapshot = pydantic.TypeAdapter(DcSnapshot)
pd_aggregation = pydantic.TypeAdapter(DcAggregation)


def _aggregation_json(snap: Any) -> bytes:
    return json.dumps(snap.aggregations[0].to_dict(), separators=(",", ":")).encode()


Step = Callable[[], object]


def steps(kind: str, keys: int) -> dict[str, tuple[Step, Step]]:
    """For each way: (encode the snapshot to JSON, decode an aggregation's JSON)."""
    dc = snapshot(kind, keys, DcBucket, DcRow, DcAggregation, DcSnapshot)
    ms = snapshot(kind, keys, MsBucket, MsRow, MsAggregation, MsSnapshot)
    text = _aggregation_json(dc)
    assert msgspec.json.decode(text) == json.loads(text)
    # Same data, same shape: both decoders must read the baseline's JSON.
    assert ms_decoder.decode(text) == ms.aggregations[0]
    return {
        "hand-written dicts + json (baseline)": (
            lambda: json.dumps(dc.to_dict(), separators=(",", ":")),
            lambda: dc_aggregation_from_dict(json.loads(text)),
        ),
        "msgspec Struct, msgspec.json": (
            lambda: ms_encoder.encode(ms),
            lambda: ms_decoder.decode(text),
        ),
        "msgspec: to_builtins/convert + json": (
            lambda: json.dumps(msgspec.to_builtins(ms), separators=(",", ":")),
            lambda: msgspec.convert(json.loads(text), MsAggregation),
        ),
        "pydantic TypeAdapter, JSON": (
            lambda: pd_snapshot.dump_json(dc),
            lambda: pd_aggregation.validate_json(text),
        ),
        "pydantic TypeAdapter, python + json": (
            lambda: json.dumps(pd_snapshot.dump_python(dc), separators=(",", ":")),
            lambda: pd_aggregation.validate_python(json.loads(text)),
        ),
    }


def cpu_ms(step: Step, repeats: int) -> list[float]:
    step()  # warm-up: first-call costs (schema building) are not the steady state
    out = []
    for _ in range(repeats):
        start = time.process_time()
        step()
        out.append((time.process_time() - start) * 1000)
    return out


def measure(repeats: int) -> list[Figure]:
    figures = []
    for kind in ("count", "quantize"):
        for keys in (1_000, 100_000):
            runs = 10 * repeats if keys == 1_000 else repeats
            case = f"{kind} {keys // 1000}k keys"
            ways = steps(kind, keys)
            for which, index in (("encode", 0), ("decode", 1)):
                base: float | None = None
                for way, pair in ways.items():
                    samples = cpu_ms(pair[index], runs)
                    value = statistics.median(samples)
                    if base is None:
                        base = value
                    figures.append(
                        Figure(
                            "shapes",
                            f"{case} {which}: {way}",
                            value,
                            "ms",
                            base,
                            value / base if base else None,
                            samples=samples,
                        )
                    )
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json")
    args = parser.parse_args()
    print(f"msgspec {msgspec.__version__}, pydantic {pydantic.VERSION}; CPU ms, median")
    figures = measure(args.repeats)
    print(table(figures))
    if args.json:
        write_json(args.json, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
