"""The benchmarks' shared parts: /proc readings, targets, the table, reading others' output.

The figures themselves are measured by the scripts in bench/, never here.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import run_all
from _common import (
    Figure,
    descendants,
    open_fds,
    p95,
    rss_kb,
    run_seconds,
    spread,
    table,
    tree_cpu_seconds,
)

PIPELINE_OUTPUT = """\
load average 3.1 on 2 CPUs (wall times suffer when busy)
case                      mode            p50 ms   p95 ms  cpu p50   JSON KB
count 1k keys             cumulative         1.5      2.0      1.2      19.0
count 1k keys             per-interval       1.8      2.1      1.7      19.0
count 10k keys            cumulative        14.0     15.0     12.0      19.1
count 100k keys           cumulative       150.0    180.0    130.0      19.2
lquantize 1k keys x 100   cumulative       120.0    130.0    100.0    1781.0

growth 10k/1k keys:   9.3x
growth 100k/10k keys: 10.7x
"""

LEXER_OUTPUT = """\
D text: 1.00 MB; best of 5 runs
C lexer           0.70 MB/s  (1.420 s)
DTrace lexer      1.70 MB/s  (0.590 s)
bpftrace lexer    2.10 MB/s  (0.480 s, .bt text)
DTrace time / C time = 0.42 (within the 1.5x target)
"""


def test_a_target_is_checked_on_the_ratio_when_there_is_one_else_on_the_value() -> None:
    assert Figure("b", "x", 3.0, "ms", 1.0, 3.0, "<= 1.10").met is False
    assert Figure("b", "x", 3.0, "ms", 3.0, 1.0, "<= 1.10").met is True
    assert Figure("b", "x", 0.9, "x", target=">= 0.97").met is False
    assert Figure("b", "x", 240.0, "ms", target="<= 250").met is True
    assert Figure("b", "x", 240.0, "ms").met is None


def test_spread_and_p95() -> None:
    assert spread([1.0, 2.0, 3.0]) == pytest.approx(1.0)
    assert spread([]) == 0.0
    assert p95([float(i) for i in range(101)]) == 95.0


def test_the_table_shows_every_figure_and_its_notes_in_text_and_markdown() -> None:
    figs = [
        Figure("overhead", "CPU ide / cli", 3.0, "ms/s", 0.2, 15.0, "<= 1.10", 0.3, note="n1"),
        Figure("soak", "fds", 0.0, "fds", target="<= 0"),
    ]
    text = table(figs)
    assert "CPU ide / cli" in text and "NO" in text and "yes" in text and "30%" in text
    assert "overhead: CPU ide / cli: n1" in text
    md = table(figs, markdown=True)
    assert md.splitlines()[0].startswith("| bench |")
    assert "| soak | fds | 0 fds |" in md
    assert "- overhead: CPU ide / cli: n1" in md


def test_the_pipeline_figures_are_read_from_its_table() -> None:
    figs = {f.name: f for f in run_all.parse_pipeline(PIPELINE_OUTPUT)}
    assert figs["count 10k keys p50"].value == 14.0
    assert figs["count 10k keys p50"].ratio == pytest.approx(14.0 / 1.5)
    hundred_k = figs["count 100k keys p50"]
    assert (hundred_k.value, hundred_k.target, hundred_k.met) == (150.0, "<= 250", True)
    assert "per-interval p50 1.8 ms" in figs["count 1k keys p50"].note
    assert figs["growth 100k/10k keys"].value == 10.7
    assert figs["growth 100k/10k keys, CPU"].value == pytest.approx(130.0 / 12.0)
    assert figs["lquantize 1k keys x 100 p50"].baseline is None


def test_unreadable_output_of_another_benchmark_is_an_error_not_an_empty_table() -> None:
    with pytest.raises(RuntimeError):
        run_all.parse_pipeline("Traceback (most recent call last):\n")
    with pytest.raises(RuntimeError):
        run_all.parse_lexer("nothing here\n")


def test_the_lexer_figures_are_read_from_its_output() -> None:
    lex, bt = run_all.parse_lexer(LEXER_OUTPUT)
    assert (lex.value, lex.baseline) == (0.59, 1.42)
    assert lex.ratio == pytest.approx(0.59 / 1.42) and lex.met is True
    assert bt.value == 2.10


def test_cpu_time_of_a_process_tree_counts_its_children() -> None:
    child = (
        "import time\nend = time.process_time() + 0.4\n"
        "while time.process_time() < end: pass\ntime.sleep(30)"
    )
    parent_code = (
        f"import subprocess, sys, time\nsubprocess.Popen([sys.executable, '-c', {child!r}])\n"
        "time.sleep(30)"
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code], start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while tree_cpu_seconds(parent.pid) < 0.4:
            assert time.monotonic() < deadline, "the child's CPU time was not counted"
            time.sleep(0.05)
        assert len(descendants(parent.pid)) == 2
        assert run_seconds(parent.pid) < 0.3  # the parent only waits: the time is the child's
    finally:
        os.killpg(parent.pid, signal.SIGKILL)
        parent.wait()


def test_memory_and_descriptors_of_this_process_are_read_from_proc() -> None:
    before = open_fds(os.getpid())
    r, w = os.pipe()
    try:
        assert open_fds(os.getpid()) == before + 2
    finally:
        os.close(r)
        os.close(w)
    assert rss_kb(os.getpid()) > 1000
