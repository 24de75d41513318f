"""The command line: check and run, with the real bpftrace."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, tracer_ready

pytestmark = pytest.mark.skipif(tracer_ready() is not None, reason=str(tracer_ready()))


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ide.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_check_prints_gcc_style_diagnostics_and_exits_1(tmp_path: Path) -> None:
    script = tmp_path / "bad.bt"
    script.write_text("BEGIN {\n  @num[comm] = cont();\n}\n")
    res = cli("check", str(script))
    assert res.returncode == 1
    assert (
        res.stdout.strip()
        == f"{script}:2:16: error: Unknown function: cont (did you mean count()?)"
    )


def test_check_json_gives_the_api_shape_and_exits_0_when_it_compiles(tmp_path: Path) -> None:
    script = tmp_path / "good.txt"
    script.write_text("tracepoint:raw_syscalls:sys_enter { @num[comm] = count(); }\n")
    res = cli("check", "--language", "bpftrace", "--json", str(script))
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == {
        "ok": True,
        "diagnostics": [],
        "aggregations": [{"name": "@num", "function": "count"}],
        "refused": False,
    }


def test_check_needs_a_language_for_unknown_extensions(tmp_path: Path) -> None:
    script = tmp_path / "x.txt"
    script.write_text("BEGIN {}")
    res = cli("check", str(script))
    assert res.returncode == 2
    assert "--language" in res.stderr


def test_run_json_prints_ndjson_snapshots(tmp_path: Path) -> None:
    script = tmp_path / "count.bt"
    script.write_text("tracepoint:raw_syscalls:sys_enter { @num[comm] = count(); }\n")
    res = cli("run", str(script), "--duration", "1.5", "--interval", "0.5", "--json")
    assert res.returncode == 0, res.stderr
    messages = [json.loads(line) for line in res.stdout.splitlines()]
    snapshots = [m["snapshot"] for m in messages if m["type"] == "snapshot"]
    assert len(snapshots) >= 2
    assert snapshots[-1]["aggregations"][0]["name"] == "@num"
    assert messages[-1] == {**messages[-1], "type": "state", "state": "finished"}


def test_run_prints_a_table_and_ctrl_c_stops_cleanly(tmp_path: Path) -> None:
    script = tmp_path / "count.bt"
    script.write_text(
        'tracepoint:raw_syscalls:sys_enter { @num[comm] = count(); }\nBEGIN { printf("go\\n"); }\n'
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "ide.cli", "run", str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "go\n"
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert out.startswith("@num  count()")
    assert "bpftrace" in out


@pytest.mark.parametrize(
    "script",
    [
        "#define Q '/*'\nBEGIN {{ cat(\"{secret}\"); exit(); }}\n// '*/'\n",
        '#include "{secret}"\nBEGIN {{ exit(); }}\n',
    ],
)
def test_the_command_line_refuses_what_the_api_refuses(
    tmp_path: Path, live_server: Any, script: str
) -> None:
    """check and run go through the server's own pipeline: the same refusal, at the same
    place, and nothing is run."""
    secret = tmp_path / "secret.txt"
    secret.write_text("cli-canary-words\n")
    secret.chmod(0o600)
    text = script.format(secret=secret)
    path = tmp_path / "refused.bt"
    path.write_text(text)
    status, api = live_server.request(
        "POST", "/api/compile", {"language": "bpftrace", "script": text}
    )
    assert status == 200 and api["refused"] is True
    checked = cli("check", "--json", str(path))
    assert checked.returncode == 1
    assert json.loads(checked.stdout)["diagnostics"] == api["diagnostics"]
    ran = cli("run", str(path), "--duration", "1")
    assert ran.returncode == 1
    assert "cli-canary-words" not in ran.stdout + ran.stderr
    d = api["diagnostics"][0]
    assert f"{path}:{d['line']}:{d['column']}: error:" in ran.stderr
