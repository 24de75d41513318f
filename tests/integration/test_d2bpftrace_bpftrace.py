"""Translated D against the real bpftrace: every script of the corpus compiles (a rejection
is a translator bug, reported at the D position bpftrace's complaint maps back to), and the
2012 IDE's two examples run and give maps of the shape D's would have."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from ide.tracing.d2bpftrace import translate
from ide.tracing.model import Diagnostic
from ide.tracing.translation import Translation
from tests.conftest import tracer_ready
from tests.integration.d_corpus import D_CORPUS

pytestmark = pytest.mark.skipif(tracer_ready() is not None, reason=str(tracer_ready()))

_BPFTRACE_ERROR = re.compile(r"^stdin:(\d+):(\d+)(?:-(\d+))?: ERROR: (.*)$", re.M)


def translated(script: str) -> Translation:
    result = translate(script.replace("{PID}", str(os.getpid())))
    assert result.ok, result.diagnostics
    return result


def compile_errors(result: Translation) -> list[str]:
    """bpftrace's compile errors for the emitted script, each placed on the D text."""
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            ["bpftrace", "--emit-elf", str(Path(tmp) / "out.elf"), "-"],
            input=result.script, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    if proc.returncode == 0:
        return []
    found = []
    for m in _BPFTRACE_ERROR.finditer(proc.stderr):
        line, column = int(m.group(1)), int(m.group(2))
        d = result.d_diagnostic(Diagnostic(line, column, line, column + 1, m.group(4)))
        found.append(f"translator bug at D {d.line}:{d.column}: {m.group(4)}")
    return found or [f"translator bug (bpftrace exit {proc.returncode}): {proc.stderr[-500:]}"]


@pytest.mark.parametrize("name", sorted(D_CORPUS))
def test_the_translation_compiles_with_bpftrace(name: str) -> None:
    result = translated(D_CORPUS[name])
    assert compile_errors(result) == [], result.script


def test_a_rejected_emitted_script_is_reported_at_the_d_position() -> None:
    # A D string key and an integer key on one map: D refuses it too; here it shows that a
    # bpftrace rejection comes back as a D position.
    result = translated('BEGIN { @m[1] = count(); }\nEND { @m["a"] = count(); }')
    (error,) = compile_errors(result)
    assert error.startswith("translator bug at D 2:7:"), error


def run_json(result: Translation, seconds: float) -> list[dict[str, Any]]:
    """Run the translation for ``seconds`` after its probes attach (however long bpftrace
    takes to start on a loaded machine), reading a file meanwhile so that even an idle
    machine makes system calls, then SIGINT it; its JSON events."""
    proc = subprocess.Popen(
        ["bpftrace", "-f", "json", "-e", result.script],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    timer = threading.Timer(120, proc.kill)  # a bpftrace that never attaches
    timer.start()
    lines: list[str] = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if '"attached_probes"' in line:
                threading.Thread(target=_read_for, args=(seconds,), daemon=True).start()
                threading.Timer(seconds, proc.send_signal, (signal.SIGINT,)).start()
        proc.wait()
    finally:
        timer.cancel()
    return [json.loads(line) for line in lines if line.strip()]


def _read_for(seconds: float) -> None:
    deadline = time.monotonic() + seconds
    fd = os.open("/dev/zero", os.O_RDONLY)
    try:
        while time.monotonic() < deadline:
            os.read(fd, 64)
            time.sleep(0.001)
    finally:
        os.close(fd)


def test_the_lquantize_example_runs_and_gives_process_names_with_d_buckets() -> None:
    result = translated("syscall::read:entry { @dist[execname] = lquantize(arg0, 0, 12, 2); }")
    events = run_json(result, 2)
    (hist,) = [e["data"]["@dist"] for e in events if e["type"] == "hist"]
    assert hist, events
    origin = result.map_origin("@dist")
    assert origin is not None and origin.params == {"lo": 0, "hi": 12, "step": 2}
    for buckets in hist.values():
        for b in buckets:
            # D's buckets: below 0, [0,2) ... [10,12), and 12 and above.
            if "min" not in b:
                assert b["max"] == -1
            elif "max" not in b:
                assert b["min"] == 12
            else:
                assert b["min"] % 2 == 0 and b["max"] == b["min"] + 1


def test_the_count_example_runs_and_keys_by_system_call_name() -> None:
    result = translated("syscall:::entry { @num[probefunc] = count(); }")
    events = run_json(result, 2)
    maps = [e["data"] for e in events if e["type"] == "map"]
    counts = next(m["@num"] for m in maps if "@num" in m)
    assert counts and all(isinstance(v, int) and v > 0 for v in counts.values())
    assert set(counts) & {"read", "write", "futex", "epoll_wait", "ioctl", "openat"}
    assert not any("@__syscall_name" in m and m["@__syscall_name"] for m in maps)
