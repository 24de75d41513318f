"""D scripts of a D test suite, translated to bpftrace, run, and compared with D's output.

    sudo .venv/bin/python bench/bench_d2bpftrace_corpus.py DTRACE_UTILS_DIR [--json out.json]

``DTRACE_UTILS_DIR`` is a checkout of Oracle's dtrace-utils.  Its ``test/unittest`` holds
``tst.*.d`` scripts with the exact output Oracle D gives in ``tst.*.r``; the suite compares
that output after sorting the lines (unless the script says ``@@nosort``).  This bench takes
the scripts that need nothing but the script (no trigger program, arguments, post-processor
or expected tracer error) and run quietly, translates each with dtrace-ide's translator,
runs the translation with bpftrace, and prints D's output from what bpftrace reported: the
script's own output as it is, and every aggregation the way dtrace(1) prints it (its
default layout, distributions with their ``@`` bars), then compares with the ``.r`` as the
suite does.  Nothing of the suite is copied anywhere; only the figures are kept.

Figures, per reason: scripts selected, outside the translation (the translator refuses a
construct, reported by the first words of its diagnostic), translated, compiled by
bpftrace, and passed — exactly (sorted lines, byte for byte) and with white space
normalised (runs of spaces as one; D's column widths are not the point of the comparison).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ide.tracing.translation import MapOrigin, Translation

RUN_TIMEOUT_S = 12.0
NEEDS_MORE = ("@@trigger", "@@runtest-opts", "$target", "$1", "@@skip", "@@xfail", "$$")


@dataclass
class Case:
    path: Path
    expected: str
    nosort: bool


@dataclass
class Tally:
    selected: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    translated: int = 0
    compiled: int = 0
    exact: int = 0
    normalised: int = 0
    failures: list[str] = field(default_factory=list)


def select(root: Path, tally: Tally) -> Iterator[Case]:
    for script in sorted((root / "test" / "unittest").rglob("tst.*.d")):
        base = script.with_name(script.name[: -len(".d")])
        expected = sibling(base, ".r")
        if not expected.exists():
            continue
        text = script.read_text(errors="replace")
        reason = skip_reason(base, text)
        if reason:
            tally.skipped[reason] += 1
            continue
        out, _, err = expected.read_text(errors="replace").partition("-- @@stderr --")
        if err.strip():
            tally.skipped["expects output on stderr (an error)"] += 1
            continue
        tally.selected += 1
        yield Case(script, out, "@@nosort" in text)


def sibling(base: Path, suffix: str) -> Path:
    return base.with_name(base.name + suffix)


def skip_reason(base: Path, text: str) -> str | None:
    if sibling(base, ".x").exists():
        return "the suite decides at run time whether to run it (.x)"
    if any(sibling(base, s).exists() for s in (".t", ".r.p", ".sh")):
        return "needs a trigger or post-processor"
    if any(word in text for word in NEEDS_MORE):
        return "needs a trigger, arguments or a target process"
    if not re.search(r"#pragma\s+D\s+option\s+quiet", text):
        return "not quiet (D prints probe headers)"
    return None


# --- D's printing of what bpftrace reported ---------------------------------------------


def d_key(key: str, arity: int) -> list[str]:
    """bpftrace joins a multi-key map's key with commas; D prints the parts apart."""
    return key.split(",", max(arity - 1, 0)) if arity > 1 else [key]


def scalar_block(origin: MapOrigin, data: Any) -> list[str]:
    if not isinstance(data, dict):
        return ["", f"{value_of(data):>17}"]
    rows = sorted(data.items(), key=lambda kv: (value_of(kv[1]), kv[0]))
    lines = [""]
    for key, value in rows:
        parts = d_key(key, origin.key_arity)
        lines.append("  " + " ".join(f"{p:<16}" for p in parts) + f" {value_of(value):>16}")
    return lines


def value_of(value: Any) -> int:
    if isinstance(value, dict):  # avg arrives as stats in some versions
        return int(value["average"] if "average" in value else value.get("total", 0))
    return int(value)


def bucket_label(bucket: dict[str, Any], origin: MapOrigin) -> str:
    if "min" not in bucket:
        return f"< {origin.params.get('lo', 0)}"
    if "max" not in bucket and origin.d_function == "lquantize":
        return f">= {origin.params.get('hi', 0)}"
    return str(bucket["min"])


def distribution_block(
    origin: MapOrigin, key: str | None, buckets: list[dict[str, Any]]
) -> list[str]:
    total = sum(int(b["count"]) for b in buckets)
    lines = [""]
    if key is not None:
        lines.append("  " + " ".join(d_key(key, origin.key_arity)))
    lines.append(f"{'value':>16}  ------------- Distribution ------------- count    ")
    for b in with_neighbours(buckets, origin):
        count = int(b["count"])
        depth = int(count * 40 / total + 0.5) if total else 0
        bar = "@" * depth + " " * (40 - depth)
        lines.append(f"{bucket_label(b, origin):>16} |{bar} {count:<9}")
    return lines


def with_neighbours(buckets: list[dict[str, Any]], origin: MapOrigin) -> list[dict[str, Any]]:
    """D prints one empty bucket on each side of the used ones (where the range has one)."""
    used = [b for b in buckets if int(b["count"])]
    if not used:
        return []
    first, last = used[0], used[-1]
    before = neighbour(first, origin, -1)
    after = neighbour(last, origin, +1)
    inner = buckets[buckets.index(first) : buckets.index(last) + 1]
    return ([before] if before else []) + inner + ([after] if after else [])


def neighbour(bucket: dict[str, Any], origin: MapOrigin, side: int) -> dict[str, Any] | None:
    if origin.d_function == "quantize":
        low = int(bucket.get("min", 0))
        if side < 0:
            return {"min": low - 1 if low <= 1 else low // 2, "count": 0}
        return {"min": 1 if low == 0 else low * 2, "count": 0}
    lo, hi, step = (origin.params.get(k, 0) for k in ("lo", "hi", "step"))
    if "min" not in bucket:
        return None if side < 0 else {"min": lo, "count": 0}
    low = int(bucket["min"])
    if "max" not in bucket:
        return None if side > 0 else {"min": hi - step, "count": 0}
    nxt = low + side * step
    if nxt < lo:
        return {"count": 0}
    if nxt >= hi:
        return {"min": hi, "count": 0}
    return {"min": nxt, "max": nxt + step - 1, "count": 0}


def d_output(events: list[dict[str, Any]], translation: Translation) -> str:
    """What dtrace(1) would have printed: output as it came, each aggregation as printed
    with ``printa`` when the script printed it, and every other one once at the end."""
    explicit = {m.name for m in translation.maps if f"print({m.name}" in translation.script}
    last_seen: dict[str, int] = {}
    for i, ev in enumerate(events):
        for name in map_names(ev):
            last_seen[name] = i
    out: list[str] = []
    for i, ev in enumerate(events):
        if ev.get("type") == "printf":
            out.append(str(ev["data"]))
            continue
        for name in map_names(ev):
            origin = translation.map_origin(name)
            at_exit = last_seen[name] == i
            if origin is None or (name in explicit and at_exit):
                continue
            if name not in explicit and not at_exit:
                continue
            out.extend(line + "\n" for line in block(origin, ev["data"][name]))
    return "".join(out)


def map_names(ev: dict[str, Any]) -> list[str]:
    if ev.get("type") in {"map", "hist", "stats"} and isinstance(ev.get("data"), dict):
        return list(ev["data"])
    return []


def block(origin: MapOrigin, data: Any) -> list[str]:
    if origin.d_function in {"quantize", "lquantize", "llquantize"}:
        if isinstance(data, list):
            return distribution_block(origin, None, data)
        lines: list[str] = []
        ranked = sorted(data.items(), key=lambda kv: (sum(int(b["count"]) for b in kv[1]), kv[0]))
        for key, buckets in ranked:
            lines.extend(distribution_block(origin, key, buckets))
        return lines
    if isinstance(data, dict) and not data:
        return []
    return scalar_block(origin, data)


# --- running and comparing ---------------------------------------------------------------


def run_bpftrace(script: str) -> tuple[bool, list[dict[str, Any]], str]:
    try:
        proc = subprocess.run(
            ["bpftrace", "-f", "json", "-"],
            input=script,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        return False, [], "timed out"
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.strip().startswith("{")]
    errors = [ln for ln in proc.stderr.splitlines() if "ERROR" in ln and "RLIMIT_MEMLOCK" not in ln]
    compiled = not any(ln.startswith("stdin:") for ln in errors)
    return compiled, events, "\n".join(errors)


def same(expected: str, got: str, nosort: bool, normalise: bool) -> bool:
    def lines(text: str) -> list[str]:
        rows = text.splitlines()
        if normalise:
            rows = [" ".join(r.split()) for r in rows]
            rows = [r for r in rows if r]
        return rows if nosort else sorted(rows)

    return lines(expected) == lines(got)


def measure(root: Path, verbose: bool) -> Tally:
    from ide.tracing.d2bpftrace import translate

    tally = Tally()
    for case in select(root, tally):
        translation = translate(case.path.read_text(errors="replace"))
        if not translation.ok:
            first = translation.diagnostics[0].message if translation.diagnostics else "?"
            tally.refused[" ".join(first.split()[:4])] += 1
            continue
        tally.translated += 1
        compiled, events, errors = run_bpftrace(translation.script)
        if not compiled:
            tally.failures.append(f"{case.path}: bpftrace rejects the translation: {errors[:200]}")
            continue
        tally.compiled += 1
        got = d_output(events, translation)
        if same(case.expected, got, case.nosort, normalise=False):
            tally.exact += 1
        if same(case.expected, got, case.nosort, normalise=True):
            tally.normalised += 1
        else:
            tally.failures.append(f"{case.path}: output differs")
            if verbose:
                print(f"--- {case.path}\nexpected:\n{case.expected}\ngot:\n{got}", file=sys.stderr)
    return tally


def report(tally: Tally) -> dict[str, Any]:
    refused = sum(tally.refused.values())
    figures = {
        "selected": tally.selected,
        "outside the translation": refused,
        "translated": tally.translated,
        "compiled by bpftrace": tally.compiled,
        "passed, exact": tally.exact,
        "passed, white space normalised": tally.normalised,
        "pass rate of translated": round(tally.normalised / max(tally.translated, 1), 3),
        "pass rate of selected": round(tally.normalised / max(tally.selected, 1), 3),
    }
    for name, value in figures.items():
        print(f"{name:>34}: {value}")
    print("\nnot selected:")
    for reason, n in tally.skipped.most_common():
        print(f"  {n:4}  {reason}")
    print("\nrefused by the translator (first words of the diagnostic):")
    for reason, n in tally.refused.most_common(25):
        print(f"  {n:4}  {reason}")
    print("\nfailures:")
    for line in tally.failures:
        print("  " + line)
    return {**figures, "skipped": dict(tally.skipped), "refused": dict(tally.refused)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dtrace_utils", type=Path)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--verbose", action="store_true", help="show each differing output")
    args = parser.parse_args()
    figures = report(measure(args.dtrace_utils, args.verbose))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
