"""Throughput of the DTrace lexer against Pygments' own C lexer on the same text.

The text is about 1 MB: the D sample scripts of tests/fixtures/scripts, concatenated over and
over.  Prints MB/s for each lexer (best of several runs) and the ratio of their times; the
target is a DTrace lexer within 1.5x of the C lexer's time.

    .venv/bin/python bench/bench_lexer.py [--megabytes 1] [--runs 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import deque
from pathlib import Path

from pygments.lexer import Lexer
from pygments.lexers.c_cpp import CLexer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dtrace_lexer import BpftraceLexer, DTraceLexer  # noqa: E402

SCRIPTS = ROOT / "tests" / "fixtures" / "scripts"
TARGET_RATIO = 1.5


def corpus(suffix: str, megabytes: float) -> str:
    """Every sample script with this suffix, repeated until the text reaches the size."""
    pieces = [p.read_text(encoding="utf-8") for p in sorted(SCRIPTS.glob(f"*{suffix}"))]
    if not pieces:
        raise SystemExit(f"no *{suffix} scripts in {SCRIPTS}")
    block = "\n".join(pieces) + "\n"
    copies = max(1, int(megabytes * 1_000_000 / len(block)) + 1)
    return block * copies


def seconds_to_lex(lexer: Lexer, text: str, runs: int) -> float:
    """The best CPU time, over several runs, to produce every token of the text.

    CPU time of this process rather than wall time: the figure should not depend on what
    else the machine is running.
    """
    best = float("inf")
    for _ in range(runs):
        start = time.process_time()
        deque(lexer.get_tokens_unprocessed(text), maxlen=0)
        best = min(best, time.process_time() - start)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    d_text = corpus(".d", args.megabytes)
    bt_text = corpus(".bt", args.megabytes)
    megabytes = len(d_text.encode()) / 1_000_000
    print(f"D text: {megabytes:.2f} MB; best of {args.runs} runs")

    c_time = seconds_to_lex(CLexer(), d_text, args.runs)
    d_time = seconds_to_lex(DTraceLexer(), d_text, args.runs)
    bt_time = seconds_to_lex(BpftraceLexer(), bt_text, args.runs)
    bt_megabytes = len(bt_text.encode()) / 1_000_000

    print(f"C lexer        {megabytes / c_time:7.2f} MB/s  ({c_time:.3f} s)")
    print(f"DTrace lexer   {megabytes / d_time:7.2f} MB/s  ({d_time:.3f} s)")
    print(f"bpftrace lexer {bt_megabytes / bt_time:7.2f} MB/s  ({bt_time:.3f} s, .bt text)")
    ratio = d_time / c_time
    verdict = "within" if ratio <= TARGET_RATIO else "OVER"
    print(f"DTrace time / C time = {ratio:.2f} ({verdict} the {TARGET_RATIO}x target)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
