"""What every benchmark shares: the real server, /proc readings, figures and the table.

Figures are ratios to a baseline measured in the same run, because absolute times on a
shared two-core machine mean little; the absolute numbers travel with them.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
SYSCALL_COUNT = "tracepoint:raw_syscalls:sys_enter { @num[comm] = count(); }"


# --- /proc ---------------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str]:
    """/proc/PID/stat after the command name (which may hold spaces and parentheses)."""
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    return text[text.rindex(")") + 2 :].split()


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of one live process (all its threads)."""
    try:
        fields = _stat_fields(pid)
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    # After the name: state(3) ppid(4) ... utime(14) stime(15), so index 11 and 12 here.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def descendants(pid: int) -> list[int]:
    """``pid`` and every live process below it."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            ppid = int(_stat_fields(int(entry))[1])
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(parents.get(p, []))
    return out


def run_seconds(pid: int) -> float:
    """CPU time of one live process to the nanosecond: the sum of its threads' schedstat.

    utime and stime in /proc/PID/stat tick at 100 Hz, too coarse for a process that uses a
    few milliseconds a second.  A thread that exits takes its time with it here, so this is
    for processes whose threads live through the measurement (a tracer, a server at work).
    """
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return 0.0
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total / 1e9


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of ``pid`` and its live descendants (the server and its tracers)."""
    return sum(run_seconds(p) for p in descendants(pid))


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def machine() -> dict[str, Any]:
    model = ""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except (OSError, subprocess.TimeoutExpired):
        pass
    bpftrace = ""
    if shutil.which("bpftrace"):
        bpftrace = subprocess.run(
            ["bpftrace", "--version"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        timeout=10,
    ).stdout.strip()
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "kernel": platform.release(),
        "bpftrace": bpftrace,
        "python": platform.python_version(),
        "commit": commit,
        "loadavg": os.getloadavg()[0],
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def tracer_problem() -> str | None:
    """Why the real bpftrace cannot run here, or None when it can."""
    if shutil.which("bpftrace") is None:
        return "bpftrace is not installed (apt-get install bpftrace)"
    if os.geteuid() != 0:
        return "bpftrace needs root"
    if not os.path.isdir("/sys/kernel/tracing/events"):
        return "tracefs is not mounted (mount -t tracefs nodev /sys/kernel/tracing)"
    return None


# --- statistics and figures ----------------------------------------------------------------


def p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def spread(values: Sequence[float]) -> float:
    """(max - min) / median: how far apart repeated measurements of one thing were."""
    if not values:
        return 0.0
    mid = statistics.median(values)
    return (max(values) - min(values)) / mid if mid else 0.0


@dataclass
class Figure:
    """One line of the table: a measured value, its baseline and their ratio."""

    bench: str
    name: str
    value: float
    unit: str
    baseline: float | None = None
    ratio: float | None = None
    target: str = ""  # "<= 1.10", ">= 0.97", "<= 250" ...
    spread: float | None = None
    note: str = ""
    samples: list[float] = field(default_factory=list)

    @property
    def met(self) -> bool | None:
        if not self.target:
            return None
        op, _, bound = self.target.partition(" ")
        subject = self.ratio if self.ratio is not None else self.value
        limit = float(bound)
        return subject <= limit if op == "<=" else subject >= limit

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["met"] = self.met
        return d


def _num(x: float | None, unit: str = "") -> str:
    if x is None:
        return "-"
    text = f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"
    return f"{text} {unit}".strip()


def table(figures: Iterable[Figure], markdown: bool = False) -> str:
    figures = list(figures)
    head = ["bench", "figure", "value", "baseline", "ratio", "target", "met", "spread"]
    rows = []
    for f in figures:
        met = {True: "yes", False: "NO", None: ""}[f.met]
        rows.append(
            [
                f.bench,
                f.name,
                _num(f.value, f.unit),
                _num(f.baseline, f.unit),
                _num(f.ratio),
                f.target,
                met,
                f"{f.spread * 100:.0f}%" if f.spread is not None else "",
            ]
        )
    notes = [f"{f.bench}: {f.name}: {f.note}" for f in figures if f.note]
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        lines += ["", *(f"- {n}" for n in notes)] if notes else []
        return "\n".join(lines)
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)
    ]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [fmt.format(*head), fmt.format(*("-" * w for w in widths))]
    out += [fmt.format(*r) for r in rows]
    out += ["", "notes:", *(f"  {n}" for n in notes)] if notes else []
    return "\n".join(out)


def write_json(path: str, figures: Sequence[Figure], extra: dict[str, Any] | None = None) -> None:
    doc = {"machine": machine(), "figures": [f.to_dict() for f in figures], **(extra or {})}
    Path(path).write_text(json.dumps(doc, indent=2) + "\n")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- the real server -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    """``python -m ide.cli serve`` in a subprocess, as a user would start it."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.token = "bench-" + os.urandom(8).hex()
        self.base = f"http://127.0.0.1:{self.port}"
        data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = data_dir / "server.log"
        full_env = dict(os.environ)
        full_env.update(
            {
                "DTRACE_IDE_TOKEN": self.token,
                "DTRACE_IDE_DATA": str(data_dir / "data"),
                "PYTHONPATH": str(ROOT),
                "PYTHONUNBUFFERED": "1",
            }
        )
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ide.cli", "serve", "--port", str(self.port)],
            stdout=self.log_path.open("wb"),
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=ROOT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited:\n" + self.log_path.read_text())
            try:
                if self.request("GET", "/api/health")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("server did not start:\n" + self.log_path.read_text())

    @property
    def pid(self) -> int:
        return self.proc.pid

    def worker_pid(self) -> int:
        """The process that holds the runs: the worker under the master, else the server."""
        kids = [p for p in descendants(self.pid) if p != self.pid]
        for p in kids:
            try:
                with open(f"/proc/{p}/comm") as f:
                    if "bpftrace" not in f.read():
                        return p
            except FileNotFoundError:
                continue
        return self.pid

    def request(
        self, method: str, path: str, body: Any = None, timeout: float = 60
    ) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def start_run(self, script: str, duration: float = 0, interval: float = 1.0) -> str:
        status, body = self.request(
            "POST",
            "/api/runs",
            {"language": "bpftrace", "script": script, "duration": duration, "interval": interval},
        )
        if status != 201:
            raise RuntimeError(f"POST /api/runs: {status} {body}")
        run_id: str = body["id"]
        return run_id

    def wait_attached(self, run_id: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            _, body = self.request("GET", f"/api/runs/{run_id}")
            if body.get("state") != "running":
                raise RuntimeError(f"run ended before attaching: {body}")
            if body.get("attached"):
                return
            time.sleep(0.05)
        raise RuntimeError("the run did not attach in time")

    def stop_run(self, run_id: str) -> dict[str, Any]:
        _, body = self.request("DELETE", f"/api/runs/{run_id}")
        return dict(body)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Viewer:
    """A browser-equivalent websocket client: reads every message on its own thread."""

    def __init__(self, server: Server, run_id: str, per_interval: bool = False) -> None:
        import websocket  # websocket-client, from the test extra

        self.ws = websocket.create_connection(
            f"ws://127.0.0.1:{server.port}/api/runs/{run_id}/stream",
            header=[f"Authorization: Bearer {server.token}"],
            origin=server.base,
            timeout=30,
        )
        if per_interval:
            self.send_view(per_interval=True)
        self.snapshots = 0
        self.messages = 0
        self.bytes = 0
        self.last_state: str | None = None
        self.errors: list[str] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def send_view(self, **view: Any) -> None:
        self.ws.send(json.dumps({"type": "view", **view}))

    def _read(self) -> None:
        try:
            while True:
                raw = self.ws.recv()
                if not raw:
                    break
                self.messages += 1
                self.bytes += len(raw)
                msg = json.loads(raw)
                if msg["type"] == "snapshot":
                    self.snapshots += 1
                elif msg["type"] == "state":
                    self.last_state = msg["state"]
                elif msg["type"] == "error":
                    self.errors.append(str(msg.get("message")))
        except Exception:  # the socket closed: the stream is over
            return

    def close(self) -> None:
        try:
            self.ws.close()
        finally:
            self._thread.join(5)
