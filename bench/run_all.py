"""Every benchmark of dtrace-ide, against the real server and the real bpftrace, in one table.

    .venv/bin/python bench/run_all.py [--quick] [--json out.json] [--markdown out.md]
                                      [--skip NAME ...] [--soak-minutes M]

Each figure is a ratio to a baseline measured in the same run (the machine may be busy;
absolute times alone mean little), printed with the absolute numbers and the spread of
repeated measurements, and written as JSON to compare commits.  Benchmarks:

  overhead  a run through the IDE against bpftrace by hand, under a syscall load
  compile   /api/compile against ``bpftrace -d``, cold and cached
  pipeline  History.add + build_panels + JSON per snapshot, 1k to 100k keys
  lexer     the DTrace lexer against Pygments' C lexer
  soak      a watched run at 100 ms for 10 minutes (1 with --quick): memory and fds
  editor    keystroke to highlight in the browser editor (Chromium; not with --quick)
  page      first-load bytes and snapshot-to-repaint in the page (Chromium; not with --quick)

A benchmark that fails is reported as such and the others still run; the exit status is 1
when any failed or missed its target.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import Figure, log, machine, table  # noqa: E402

ALL = ("overhead", "compile", "pipeline", "lexer", "soak", "editor", "page", "page input")
BROWSER = ("editor", "page", "page input")


def _script(name: str, *args: str, timeout: float = 1800) -> str:
    """Run another benchmark as its own process and return what it printed."""
    res = subprocess.run(
        [sys.executable, str(HERE / name), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=HERE.parent,
    )
    if res.returncode != 0:
        raise RuntimeError(f"{name} exited with {res.returncode}:\n{res.stderr[-2000:]}")
    return res.stdout


# --- the snapshot pipeline and the lexer print tables: read the figures from them -----------

_PIPE_ROW = re.compile(r"^(?P<case>\S.*?)\s{2,}(?P<mode>cumulative|per-interval)\s+(?P<rest>.*)$")
_GROWTH = re.compile(r"^growth (?P<what>\S+) keys:\s+(?P<x>[\d.]+)x")


def parse_pipeline(text: str) -> list[Figure]:
    columns: list[str] = []
    rows: dict[tuple[str, str], dict[str, float]] = {}
    growth: list[tuple[str, float]] = []
    for line in text.splitlines():
        if line.startswith("case"):
            columns = re.split(r"\s{2,}", line.strip())[2:]
        elif m := _PIPE_ROW.match(line):
            values = [float(v) for v in m["rest"].split()]
            rows[(m["case"], m["mode"])] = dict(zip(columns, values, strict=False))
        elif m := _GROWTH.match(line):
            growth.append((m["what"], float(m["x"])))
    if not rows:
        raise RuntimeError("no figures in bench_snapshot_pipeline.py's output:\n" + text)
    base = rows.get(("count 1k keys", "cumulative"), {}).get("p50 ms")
    out = []
    for (case, mode), v in rows.items():
        if mode != "cumulative":
            continue
        p50 = v["p50 ms"]
        per = rows.get((case, "per-interval"), {}).get("p50 ms")
        extras = [f"p95 {v.get('p95 ms', 0):.1f} ms"]
        if "cpu p50" in v:
            extras.append(f"CPU p50 {v['cpu p50']:.1f} ms")
        if "JSON KB" in v:
            extras.append(f"JSON {v['JSON KB']:.0f} KB")
        if per is not None:
            extras.append(f"per-interval p50 {per:.1f} ms")
        is_count = case.startswith("count ") and base is not None
        # The 100k case has a target in milliseconds: its figure carries no ratio.
        target = "<= 250" if case == "count 100k keys" else ""
        if is_count:
            extras.append(f"{p50 / base:.0f}x count 1k keys" if base else "")
        out.append(
            Figure(
                "pipeline",
                f"{case} p50",
                p50,
                "ms",
                base if is_count else None,
                p50 / base if is_count and base and not target else None,
                target,
                note=", ".join(extras),
            )
        )
    for what, x in growth:
        out.append(Figure("pipeline", f"growth {what} keys", x, "x", note="about 10 when linear"))
    # The same growth in CPU time, which other work on the machine disturbs less than wall time.
    cpu = {
        case: v["cpu p50"]
        for (case, mode), v in rows.items()
        if mode == "cumulative" and "cpu p50" in v
    }
    for small, big in (("1k", "10k"), ("10k", "100k")):
        lo, hi = cpu.get(f"count {small} keys"), cpu.get(f"count {big} keys")
        if lo and hi:
            out.append(
                Figure(
                    "pipeline",
                    f"growth {big}/{small} keys, CPU",
                    hi / lo,
                    "x",
                    note="CPU p50 ratio; about 10 when linear",
                )
            )
    return out


_LEX = re.compile(r"^(?P<name>C|DTrace|bpftrace) lexer\s+(?P<mbs>[\d.]+) MB/s\s+\((?P<s>[\d.]+) s")


def parse_lexer(text: str) -> list[Figure]:
    found = {
        m["name"]: (float(m["mbs"]), float(m["s"])) for m in map(_LEX.match, text.splitlines()) if m
    }
    if "C" not in found or "DTrace" not in found:
        raise RuntimeError("no figures in bench_lexer.py's output:\n" + text)
    c_s, d_s = found["C"][1], found["DTrace"][1]
    out = [
        Figure(
            "lexer",
            "DTrace lexer time / C lexer",
            d_s,
            "s",
            c_s,
            d_s / c_s,
            "<= 1.5",
            note=f"DTrace {found['DTrace'][0]:.2f} MB/s, C {found['C'][0]:.2f} MB/s (best CPU)",
        )
    ]
    if "bpftrace" in found:
        out.append(Figure("lexer", "bpftrace lexer throughput", found["bpftrace"][0], "MB/s"))
    return out


def parse_editor(text: str) -> list[Figure]:
    results: dict[str, Any] = json.loads(text)
    return [
        Figure(
            "editor",
            f"keystroke to highlight, {where}, p95",
            float(results[where]["p95_ms"]),
            "ms",
            target="<= 16",
            note=f"p50 {results[where]['p50_ms']} ms, {results.get('lines')} lines",
        )
        for where in ("middle", "end")
        if where in results
    ]


def figures_from_json(path: Path) -> list[Figure]:
    doc = json.loads(path.read_text())
    names = set(Figure.__dataclass_fields__)
    return [Figure(**{k: v for k, v in f.items() if k in names}) for f in doc["figures"]]


# --- the benchmarks ------------------------------------------------------------------------


def bench(name: str, quick: bool, soak_minutes: float | None) -> list[Figure]:
    if name == "overhead":
        import bench_overhead

        return bench_overhead.run(quick)
    if name == "compile":
        import bench_compile

        return bench_compile.run(quick)
    if name == "soak":
        import bench_soak

        return bench_soak.run(soak_minutes or (1.0 if quick else 10.0))
    if name == "pipeline":
        return parse_pipeline(
            _script("bench_snapshot_pipeline.py", *(["--repeats", "3"] if quick else []))
        )
    if name == "lexer":
        return parse_lexer(_script("bench_lexer.py", *(["--runs", "2"] if quick else [])))
    if name == "editor":
        return parse_editor(_script("bench_editor.py", "--json"))
    if name == "page":
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "page.json"
            _script("bench_page.py", "--json", str(out))
            return figures_from_json(out) if out.exists() else []
    if name == "page input":
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "page-input.json"
            _script("bench_page_input.py", "--json", str(out))
            return figures_from_json(out) if out.exists() else []
    raise ValueError(name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="fewer trials, a 1-minute soak, no browser benchmarks"
    )
    parser.add_argument("--json", metavar="FILE", help="write every figure as JSON")
    parser.add_argument(
        "--markdown", metavar="FILE", help="write the table as Markdown, with the machine it ran on"
    )
    parser.add_argument(
        "--skip",
        nargs="*",
        default=[],
        choices=ALL,
        metavar="NAME",
        help=f"benchmarks to leave out: {', '.join(ALL)}",
    )
    parser.add_argument("--only", nargs="*", default=[], choices=ALL, metavar="NAME")
    parser.add_argument("--soak-minutes", type=float)
    args = parser.parse_args()

    names = [n for n in (args.only or ALL) if n not in args.skip]
    if args.quick and not args.only:
        names = [n for n in names if n not in BROWSER]
    figures: list[Figure] = []
    failures: dict[str, str] = {}
    timings: dict[str, float] = {}
    about = machine()
    log(
        f"{about['cpu']} x{about['nproc']}, kernel {about['kernel']}, {about['bpftrace']}, "
        f"load average {about['loadavg']:.1f}"
    )
    for name in names:
        log(f"--- {name}")
        start = time.monotonic()
        try:
            figures += bench(name, args.quick, args.soak_minutes)
        except (Exception, SystemExit) as exc:
            failures[name] = "".join(traceback.format_exception_only(exc)).strip()
            log(f"{name} failed: {failures[name]}")
        timings[name] = round(time.monotonic() - start, 1)

    print(table(figures))
    for name, why in failures.items():
        print(f"FAILED {name}: {why}")
    missed = [f"{f.bench}: {f.name}" for f in figures if f.met is False]
    if missed:
        print("targets missed: " + "; ".join(missed))
    about["loadavg_end"] = machine()["loadavg"]
    if args.json:
        doc = {
            "machine": about,
            "quick": args.quick,
            "seconds": timings,
            "failures": failures,
            "figures": [f.to_dict() for f in figures],
        }
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
    if args.markdown:
        Path(args.markdown).write_text(markdown(figures, about, args.quick, failures))
    return 1 if failures or missed else 0


def markdown(
    figures: list[Figure], about: dict[str, Any], quick: bool, failures: dict[str, str]
) -> str:
    lines = [
        f"Measured {about['date']} at commit {about['commit']}"
        + (" with `--quick`" if quick else "")
        + ".",
        "",
        f"- machine: {about['nproc']} CPUs, {about['cpu']}, kernel {about['kernel']}",
        f"- tracer: {about['bpftrace']}; Python {about['python']}",
        f"- load average {about['loadavg']:.1f} at the start, {about['loadavg_end']:.1f} at "
        "the end (other work shared the machine)",
        "",
        table(figures, markdown=True),
    ]
    lines += [f"- FAILED {n}: {why}" for n, why in failures.items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
