"""``dtrace-ide translate FILE.d``: the bpftrace script on stdout, or the D errors as
``FILE:LINE:COL`` and exit 1.  No tracer needed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ide.cli", *args],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip


def test_translate_prints_the_bpftrace_script(tmp_path: Path) -> None:
    script = tmp_path / "dist.d"
    script.write_text("syscall::read:entry { @dist[execname] = lquantize(arg0, 0, 12, 2); }\n")
    res = cli("translate", str(script))
    assert res.returncode == 0, res.stderr
    assert res.stdout == (
        "tracepoint:syscalls:sys_enter_read\n{\n    @dist[comm] = lhist(args->fd, 0, 12, 2);\n}\n"
    )


def test_translate_prints_errors_at_the_d_line_and_column_and_exits_1(tmp_path: Path) -> None:
    script = tmp_path / "bad.d"
    script.write_text("BEGIN\n{\n    @num[execname] = cont();\n}\n")
    res = cli("translate", str(script))
    assert res.returncode == 1
    assert res.stdout.startswith(f"{script}:3:22: error: cont()")


def test_translate_refuses_destructive_actions_unless_allowed(tmp_path: Path) -> None:
    script = tmp_path / "sys.d"
    script.write_text('BEGIN { system("true"); }\n')
    refused = cli("translate", str(script))
    assert refused.returncode == 1 and "refuses destructive actions" in refused.stdout
    allowed = cli("translate", "--allow-destructive", str(script))
    assert allowed.returncode == 0 and 'system("true");' in allowed.stdout
