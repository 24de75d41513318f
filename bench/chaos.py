"""Start / disconnect / stop / kill runs in a loop against the real server and bpftrace.

Prints the tracer processes left behind (must be 0), the time from an event (the last viewer
disconnecting, a stop, a kill) to the tracer process being gone, and the server worker's
memory at start and end.  Needs root and bpftrace.

    .venv/bin/python bench/chaos.py --cycles 1000
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import websocket

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = [
    "interval:s:100 { exit(); }",
    "tracepoint:raw_syscalls:sys_enter { @n[comm] = count(); }",
    'profile:hz:99 { @s[cpu] = count(); printf("tick\\n"); }',
]
KINDS = ("disconnect", "stop", "stop_watched", "kill_tracer", "hang_then_stop")


class Server:
    def __init__(self, log: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.token = "chaos-" + os.urandom(8).hex()
        env = dict(os.environ, DTRACE_IDE_TOKEN=self.token, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ide.cli", "serve", "--port", str(self.port)],
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ROOT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if self.request("GET", "/api/health")[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the server did not start; see " + str(log))

    def request(
        self, method: str, path: str, body: Any = None, source: str | None = None
    ) -> tuple[int, Any]:
        conn = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=60, source_address=(source, 0) if source else None
        )
        headers = {"Authorization": f"Bearer {self.token}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read() or b"null")
        finally:
            conn.close()

    def watch(self, run_id: str) -> websocket.WebSocket:
        ws = websocket.create_connection(
            f"ws://127.0.0.1:{self.port}/api/runs/{run_id}/stream",
            header=[f"Authorization: Bearer {self.token}"],
            origin=f"http://127.0.0.1:{self.port}",
            timeout=10,
        )
        ws.recv()
        return ws


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def gone_after(pid: int, t0: float, limit: float = 10.0) -> float | None:
    while time.monotonic() - t0 < limit:
        if not alive(pid):
            return time.monotonic() - t0
        time.sleep(0.005)
    return None


class Chaos:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.times: dict[str, list[float]] = defaultdict(list)
        self.stuck: list[int] = []
        self.pids: set[int] = set()
        self.errors: list[str] = []
        self.lock = threading.Lock()

    def start(self, source: str, keep: bool = False) -> tuple[str, int]:
        script = random.choice(SCRIPTS)
        status, body = self.server.request(
            "POST",
            "/api/runs",
            {"language": "bpftrace", "script": script, "interval": 0.2, "keep_running": keep},
            source=source,
        )
        if status != 201:
            raise RuntimeError(f"start: {status} {body}")
        run_id = body["id"]
        deadline = time.monotonic() + 20
        while True:
            _, got = self.server.request("GET", f"/api/runs/{run_id}")
            if got["attached"] or got["state"] != "running":
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"run {run_id} did not attach")
            time.sleep(0.02)
        pid = int(body["pid"])
        with self.lock:
            self.pids.add(pid)
        return run_id, pid

    def cycle(self, kind: str, source: str) -> None:
        run_id, pid = self.start(source)
        t0 = time.monotonic()
        if kind == "disconnect":
            ws = self.server.watch(run_id)
            time.sleep(random.uniform(0, 0.3))
            t0 = time.monotonic()
            ws.close()
        elif kind == "stop":
            t0 = time.monotonic()
            self.server.request("DELETE", f"/api/runs/{run_id}")
        elif kind == "stop_watched":
            ws = self.server.watch(run_id)
            t0 = time.monotonic()
            self.server.request("DELETE", f"/api/runs/{run_id}")
            ws.close()
        elif kind == "kill_tracer":
            t0 = time.monotonic()
            os.kill(pid, signal.SIGKILL)
        elif kind == "hang_then_stop":
            os.kill(pid, signal.SIGSTOP)
            t0 = time.monotonic()
            self.server.request("DELETE", f"/api/runs/{run_id}")
        took = gone_after(pid, t0)
        with self.lock:
            if took is None:
                self.stuck.append(pid)
            else:
                self.times[kind].append(took)
        if kind in {"kill_tracer", "disconnect"}:
            deadline = time.monotonic() + 10
            while self.server.request("GET", f"/api/runs/{run_id}")[1]["state"] == "running":
                if time.monotonic() > deadline:
                    self.errors.append(f"run {run_id} still running after its tracer ended")
                    break
                time.sleep(0.02)


def p(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cycles", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2, help="cycles run side by side")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    random.seed(args.seed)
    log = Path("/tmp") / f"dtrace-ide-chaos-{os.getpid()}.log"
    server = Server(log)
    chaos = Chaos(server)
    # Warm up, and find the worker process that owns the tracers.
    run_id, pid = chaos.start("127.0.0.1")
    worker = parent_of(pid)
    server.request("DELETE", f"/api/runs/{run_id}")
    rss_start = rss_kib(worker)
    t_start = time.monotonic()
    done = 0
    done_lock = threading.Lock()

    def work(index: int) -> None:
        nonlocal done
        source = f"127.0.1.{index + 1}"
        while True:
            with done_lock:
                if done >= args.cycles:
                    return
                n = done
                done += 1
            kind = KINDS[n % len(KINDS)]
            try:
                chaos.cycle(kind, source)
            except Exception as exc:
                chaos.errors.append(f"cycle {n} ({kind}): {exc}")
            if (n + 1) % 100 == 0:
                print(f"  {n + 1} cycles, {time.monotonic() - t_start:.0f} s", flush=True)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(args.workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rss_end = rss_kib(worker)
    _, listed = server.request("GET", "/api/runs")
    still_running = [r["id"] for r in listed["runs"] if r["state"] == "running"]
    server.proc.send_signal(signal.SIGTERM)
    server.proc.wait(15)
    time.sleep(0.5)
    orphans = sorted(p for p in chaos.pids if alive(p))

    print(
        f"cycles: {args.cycles} ({args.workers} side by side) in {time.monotonic() - t_start:.0f} s"
    )
    print(f"tracer processes started: {len(chaos.pids)}")
    print(f"orphaned tracer processes after the server stopped: {len(orphans)} {orphans}")
    print(f"tracers not gone within 10 s of their cycle's event: {len(chaos.stuck)}")
    print(f"runs still running before shutdown: {len(still_running)}")
    for kind in KINDS:
        values = chaos.times[kind]
        if values:
            print(
                f"{kind:>15}: n={len(values):4d}  p50={p(values, 0.5):.3f} s  "
                f"p99={p(values, 0.99):.3f} s  max={max(values):.3f} s  "
                f"mean={statistics.fmean(values):.3f} s"
            )
    print(f"disconnect -> tracer gone, p99: {p(chaos.times['disconnect'], 0.99):.3f} s")
    print(f"server worker RSS: start {rss_start / 1024:.1f} MiB, end {rss_end / 1024:.1f} MiB")
    print(f"errors: {len(chaos.errors)}")
    for e in chaos.errors[:10]:
        print("  " + e)
    print(f"server log: {log}")
    return 0 if not orphans and not chaos.stuck else 1


if __name__ == "__main__":
    sys.exit(main())
