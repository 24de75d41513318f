"""Oracle's D test suite through the D to bpftrace translator and the real bpftrace.

    .venv/bin/python bench/bench_d2bpftrace_corpus.py DTRACE_UTILS_DIR [--timeout S] [--limit N]

Walks ``test/unittest/**/tst.*.d`` that have an expected-output ``.r``, leaves out the ones
the suite itself runs specially (a trigger program, runtest options, a ``.r.p`` output
filter, xfail/skip, D's default probe-firing lines), translates the rest, runs each with
``bpftrace -f json`` (SIGINT after ``--timeout`` seconds; the scripts mostly ``exit(0)``)
and compares its output with the ``.r``: lines as multisets, white space normalized,
histogram rows as (bucket, count) with zero rows dropped.  Prints the counts by reason and
the pass rate.  Reads the suite in place; writes nothing.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ide.tracing.d2bpftrace import translate

_SPECIAL_TAGS = ("@@trigger", "@@runtest-opts", "@@xfail", "@@skip", "@@reinvoke")
_ROW = re.compile(r"^\s*(<\s*-?\d+|>=\s*-?\d+|-?\d+)\s+[@ ]*\|[@ ]*(-?\d+)\s*$")
_HEADER = re.compile(r"^\s*value\s+-+ Distribution -+ count\s*$")


def d_lines(text: str) -> Counter[str]:
    """D's expected output as comparable lines."""
    out: Counter[str] = Counter()
    for line in text.splitlines():
        if not line.strip() or _HEADER.match(line):
            continue
        m = _ROW.match(line)
        if m:
            if int(m.group(2)) != 0:
                out[f"row {m.group(1).replace(' ', '')} {int(m.group(2))}"] += 1
            continue
        out[" ".join(line.split())] += 1
    return out


def _bucket_label(b: dict[str, int]) -> str:
    if "min" not in b:
        return f"<{b['max'] + 1}"
    if "max" not in b:
        return f">={b['min']}"
    return str(b["min"])


def _text_lines(text: str, out: Counter[str]) -> None:
    for line in text.splitlines():
        if line.strip():
            out[" ".join(line.split())] += 1


def _map_lines(kind: str, data: dict[str, object], out: Counter[str]) -> None:
    for value in data.values():
        if kind == "hist":
            keyed = value.items() if isinstance(value, dict) else [("", value)]
            for key, buckets in keyed:
                if key:
                    out[" ".join(key.split(","))] += 1
                for b in buckets:
                    if b.get("count"):
                        out[f"row {_bucket_label(b)} {b['count']}"] += 1
        elif isinstance(value, dict):
            for key, v in value.items():
                out[" ".join([*key.split(","), str(v)])] += 1
        else:
            out[str(value)] += 1


def bpftrace_lines(stdout: str) -> Counter[str]:
    """bpftrace's JSON output as lines comparable with ``d_lines``: printf and print text
    joined as one stream (a printf need not end its line), maps line by line."""
    out: Counter[str] = Counter()
    text = ""
    for raw in stdout.splitlines():
        try:
            event = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError:
            continue
        kind, data = event.get("type"), event.get("data")
        if kind == "printf":
            text += str(data)
        elif kind == "value":
            text += f"{data}\n"
        elif kind in ("map", "stats", "hist") and isinstance(data, dict):
            _text_lines(text, out)
            text = ""
            _map_lines(kind, data, out)
    _text_lines(text, out)
    return out


def classify(script: Path) -> str | None:
    """Why the suite runs this script specially (then it is left out), or None."""
    text = script.read_text(errors="replace")
    if any(tag in text for tag in _SPECIAL_TAGS):
        return "run specially by the suite (trigger, options, xfail)"
    if Path(str(script)[:-2] + ".r.p").exists():
        return "output filtered by a .r.p script"
    expected = Path(str(script)[:-2] + ".r").read_text(errors="replace")
    if "FUNCTION:NAME" in expected:
        return "expects D's default probe-firing lines"
    return None


def run(script: str, timeout: float) -> str:
    try:
        proc = subprocess.run(
            ["timeout", "-s", "INT", str(timeout), "bpftrace", "-f", "json", "-"],
            input=script, capture_output=True, text=True, timeout=timeout + 30,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return ""
    return proc.stdout


def _reason(message: str) -> str:
    """A refusal's construct, for counting: the words before the first ": "."""
    return message.split(": ", 1)[0][:60]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("dtrace_utils")
    ap.add_argument("--timeout", type=float, default=5)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--show-failures", action="store_true")
    args = ap.parse_args()
    root = Path(args.dtrace_utils) / "test" / "unittest"
    scripts = sorted(p for p in root.rglob("tst.*.d") if Path(str(p)[:-2] + ".r").exists())
    if args.limit:
        scripts = scripts[: args.limit]
    left_out: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    translated = passed = 0
    for script in scripts:
        why = classify(script)
        if why:
            left_out[why] += 1
            continue
        result = translate(script.read_text(errors="replace"))
        if not result.ok:
            first = next(d for d in result.diagnostics if d.severity == "error")
            refused[_reason(first.message)] += 1
            continue
        translated += 1
        expected = d_lines(Path(str(script)[:-2] + ".r").read_text(errors="replace"))
        got = bpftrace_lines(run(result.script, args.timeout))
        if got == expected:
            passed += 1
        elif args.show_failures:
            print(f"FAIL {script.relative_to(root)}: -{expected - got} +{got - expected}")
    in_suite = len(scripts) - sum(left_out.values())
    print(f"scripts with a .r: {len(scripts)}")
    for why, n in left_out.most_common():
        print(f"  left out, {why}: {n}")
    print(f"compared (run normally by the suite): {in_suite}")
    print(f"  refused by the translator: {sum(refused.values())}")
    for why, n in refused.most_common(25):
        print(f"    {n:4d}  {why}")
    print(f"  translated: {translated}")
    print(f"  passed (output equals the .r): {passed}")
    if translated:
        print(f"pass rate of translated: {100 * passed / translated:.1f}%")
    if in_suite:
        print(f"pass rate of all compared: {100 * passed / in_suite:.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
