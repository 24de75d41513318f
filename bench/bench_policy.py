"""Server CPU for one compile of an adversarial script at the size cap (256 KiB).

    .venv/bin/python bench/bench_policy.py [--json out.json]

Every scan of a script on the server is linear; this shows it at the cap.  For each script
the figure is the server's own CPU (the worker process, not bpftrace's) for one
POST /api/compile, beside a baseline measured in the same run: an ordinary script of the
same size (the same probe written again and again).  Target: at most 1 s of server CPU.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, Figure, Server, cpu_seconds, log, table, tracer_problem, write_json

N = 256 * 1024
ORDINARY = "tracepoint:raw_syscalls:sys_enter { @num[comm] = count(); }  // a counter\n"
ADVERSARIAL = {
    "config block of 256 KiB": "config = {" + "a" * (N - 10),
    "unclosed maps @[@[...": "@[" * (N // 2),
    "nested aggregating calls": ("BEGIN { @a = sum(" * (N // 17))[:N],
    "a line of #": "#" * N,
    "an unclosed comment": "/*" + "*" * (N - 2),
    "an unclosed struct": "struct a {" + "{" * (N - 10),
    "many #defines": ("#define X 1\n" * (N // 12))[:N],
}


def compile_cpu(server: Server, script: str, salt: int) -> float:
    pid = server.worker_pid()
    before = cpu_seconds(pid)
    status, _ = server.request(
        "POST",
        "/api/compile",
        {"language": "bpftrace", "script": script[: N - 8] + f"//{salt:06d}"},
    )
    assert status == 200, status
    return cpu_seconds(pid) - before


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json")
    args = parser.parse_args()
    problem = tracer_problem()
    if problem:
        log(f"skipped: {problem}")
        return 0
    figures = []
    with Server(ROOT / "bench-artifacts" / "policy") as server:
        ordinary = (ORDINARY * (N // len(ORDINARY) + 1))[: N - 8]
        baseline = min(compile_cpu(server, ordinary, i) for i in range(3))
        for name, script in ADVERSARIAL.items():
            cpu = min(compile_cpu(server, script, i) for i in range(3))
            figures.append(
                Figure(
                    "policy",
                    f"server CPU, one compile: {name}",
                    cpu,
                    "s",
                    baseline,
                    cpu / baseline if baseline else None,
                )
            )
    print(table(figures))
    print("target: at most 1 s of server CPU each; baseline: an ordinary script of that size")
    if args.json:
        write_json(args.json, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
