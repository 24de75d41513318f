"""Compile latency: POST /api/compile against ``bpftrace -d`` run by hand.

    .venv/bin/python bench/bench_compile.py [--quick] [--reps N] [--json out.json]

The editor compiles as the user types, so this is the latency a user feels.  Scripts: a few
written here (one with a mistake, so the diagnostics path is timed too) and the shipped
examples under ide/examples/bpftrace.  The server caches results by script text, so each
script is timed three ways back to back:

  direct  ``bpftrace -d -`` with the script on stdin, as the server runs it;
  cold    /api/compile with a text the server has never seen (a counter in a comment);
  cached  /api/compile with that same text again.

Requests go over one keep-alive connection with the bearer token, as the page sends them.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, Figure, Server, log, p95, spread, table, tracer_problem, write_json

SCRIPTS: dict[str, str] = {
    "syscalls by process": "tracepoint:raw_syscalls:sys_enter { @num[comm] = count(); }",
    "read sizes by process": (
        "tracepoint:syscalls:sys_exit_read /args->ret > 0/\n"
        "{\n  @bytes[comm] = hist(args->ret);\n  @total[comm] = sum(args->ret);\n}\n"
    ),
    "open latency": (
        "tracepoint:syscalls:sys_enter_openat { @start[tid] = nsecs; }\n"
        "tracepoint:syscalls:sys_exit_openat /@start[tid]/\n"
        "{\n  @us[comm] = lhist((nsecs - @start[tid]) / 1000, 0, 1000, 10);\n"
        "  delete(@start[tid]);\n}\n"
    ),
    "profile user stacks": "profile:hz:99 /pid > 0/ { @[comm, ustack(5)] = count(); }",
    "with a mistake": "tracepoint:raw_syscalls:sys_enter { @num[comm] = cont(); }",
}


def example_scripts() -> dict[str, str]:
    folder = ROOT / "ide" / "examples" / "bpftrace"
    return {f"example {p.stem}": p.read_text() for p in sorted(folder.glob("*.bt"))}


def direct(script: str) -> tuple[float, bool]:
    fd, elf = tempfile.mkstemp(prefix="dtrace-ide-bench-", suffix=".elf")
    os.close(fd)
    try:
        start = time.perf_counter()
        res = subprocess.run(["bpftrace", "-d", "-"], input=script.encode(), capture_output=True)
        return time.perf_counter() - start, res.returncode == 0
    finally:
        os.unlink(elf)


class Client:
    """One keep-alive connection to the server, as a browser tab keeps one."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)

    def compile(self, script: str) -> tuple[float, bool]:
        body = json.dumps({"language": "bpftrace", "script": script})
        headers = {
            "Authorization": f"Bearer {self.server.token}",
            "Content-Type": "application/json",
        }
        start = time.perf_counter()
        self.conn.request("POST", "/api/compile", body, headers)
        resp = self.conn.getresponse()
        payload = json.loads(resp.read())
        elapsed = time.perf_counter() - start
        if resp.status != 200:
            raise RuntimeError(f"/api/compile: {resp.status} {payload}")
        return elapsed, bool(payload["ok"])


def measure(scripts: dict[str, str], reps: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"direct": [], "cold": [], "cached": []}
    paired: list[float] = []
    counter = 0
    with tempfile.TemporaryDirectory(prefix="dtrace-ide-bench-") as tmp, Server(Path(tmp)) as srv:
        client = Client(srv)
        client.compile(SCRIPTS["syscalls by process"])  # the first request imports the app
        direct(SCRIPTS["syscalls by process"])
        for rep in range(reps):
            for name, script in scripts.items():
                counter += 1
                text = f"{script.rstrip()}\n// bench {os.getpid()} {counter}\n"
                # Alternate which goes first, so neither always meets a warm page cache.
                if counter % 2:
                    d, d_ok = direct(text)
                    c, c_ok = client.compile(text)
                else:
                    c, c_ok = client.compile(text)
                    d, d_ok = direct(text)
                h, h_ok = client.compile(text)
                if not (d_ok == c_ok == h_ok):
                    raise RuntimeError(f"{name}: bpftrace says ok={d_ok}, the server ok={c_ok}")
                times["direct"].append(d)
                times["cold"].append(c)
                times["cached"].append(h)
                paired.append(c / d)
            log(f"compile rep {rep + 1}/{reps}: {len(scripts)} scripts")
    times["paired"] = paired
    return times


def figures(times: dict[str, list[float]], scripts: int) -> list[Figure]:
    ms = {k: [v * 1000 for v in vs] for k, vs in times.items() if k != "paired"}
    d50, d95 = statistics.median(ms["direct"]), p95(ms["direct"])
    out = []
    for kind, target in (("cold", "<= 1.2"), ("cached", "")):
        v50, v95 = statistics.median(ms[kind]), p95(ms[kind])
        out.append(
            Figure(
                "compile",
                f"/api/compile {kind} p50",
                v50,
                "ms",
                d50,
                v50 / d50,
                target,
                note=f"{len(ms[kind])} compiles of {scripts} scripts",
            )
        )
        out.append(Figure("compile", f"/api/compile {kind} p95", v95, "ms", d95, v95 / d95, target))
    paired = times["paired"]
    out.append(
        Figure(
            "compile",
            "cold / direct, same script",
            statistics.median(paired),
            "x",
            target="<= 1.2",
            spread=spread(paired),
            note="median of per-compile ratios, each pair timed back to back",
            samples=paired,
        )
    )
    return out


def run(quick: bool, reps: int | None = None) -> list[Figure]:
    problem = tracer_problem()
    if problem:
        raise SystemExit(f"bench_compile: {problem}")
    scripts = dict(SCRIPTS)
    examples = example_scripts()
    if quick:
        examples = dict(list(examples.items())[:: max(1, len(examples) // 8)])
    scripts.update(examples)
    reps = reps or (2 if quick else 5)
    return figures(measure(scripts, reps), len(scripts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a sample of examples, 2 reps")
    parser.add_argument("--reps", type=int)
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args()
    figs = run(args.quick, args.reps)
    print(table(figs))
    if args.json:
        write_json(args.json, figs)


if __name__ == "__main__":
    main()
