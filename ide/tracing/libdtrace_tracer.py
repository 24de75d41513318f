"""The server's side of one libdtrace run: the worker's NDJSON as tracer events.

A killed worker's pipe reaches end-of-file only once the kernel has detached its probes
(tens of seconds), so the tracer also watches /proc for the worker exiting; a start that
failed for a passing reason (another consumer closing) is tried again in a fresh worker.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from .model import (
    AggregationData,
    Attached,
    Exited,
    Output,
    Problem,
    Tick,
    TracerEvent,
    aggregation_from_dict,
)
from .process import signal_process

MAX_PROTOCOL_LINE = 64 << 20  # one aggregation per line; rows are capped by the worker
STOP_DEADLINE_S = 10.0  # after ``stop``, the final snapshot must come within this
POLL_S = 0.5  # how often a silent worker is looked at
EXIT_WAIT_S = 1.0  # a worker whose output ended is waited for this long, then read in /proc
START_ATTEMPTS = 3  # workers tried for one run when starting fails for a passing reason
START_RETRY_PAUSE_S = 0.5  # between those attempts
CRASH_SIGNALS = {signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT, signal.SIGILL, signal.SIGFPE}
MAX_STDERR_LINES = 200


PF_EXITING = 0x4


def exiting_status(pid: int, proc_root: str = "/proc") -> int | None:
    """A process's status as ``Popen.returncode`` would give it, read while it is still
    exiting (Linux: /proc/PID/stat's flags and exit_code); None when it is not exiting."""
    try:
        with open(f"{proc_root}/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()
    # After the command: state is field 3, flags field 9, exit_code field 52 (Linux >= 3.5).
    if len(fields) < 50 or not int(fields[6]) & PF_EXITING:
        return None
    status = int(fields[49])
    return -(status & 0x7F) if status & 0x7F else (status >> 8) & 0xFF


def exit_text(code: int | None) -> str:
    if code is not None and -code in CRASH_SIGNALS:
        return f"libdtrace crashed ({signal.Signals(-code).name}); the server is unaffected"
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the libdtrace worker was killed by {name}"
    return f"the libdtrace worker exited with status {code}"


class LibdtraceTracer:
    """The server's side of one run's worker process."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        stop_deadline_s: float,
        respawn: Callable[[], subprocess.Popen[bytes]] | None = None,
    ) -> None:
        self.proc = proc
        self.stop_deadline_s = stop_deadline_s
        self.stderr_tail: deque[str] = deque(maxlen=MAX_STDERR_LINES)
        self._respawn = respawn
        self._starts_left = START_ATTEMPTS - 1 if respawn is not None else 0
        self._lock = threading.Lock()  # stop() against a new worker taking the old one's place
        self._stopping = False
        self._killed = False
        self._overdue = False
        self._exited = threading.Event()
        self._stderr_thread = self._read_stderr_of(proc)

    def _read_stderr_of(self, proc: subprocess.Popen[bytes]) -> threading.Thread:
        thread = threading.Thread(
            target=self._read_stderr, args=(proc,), name=f"libdtrace-stderr-{proc.pid}",
            daemon=True,
        )  # fmt: skip
        thread.start()
        return thread

    @property
    def pid(self) -> int | None:
        return self.proc.pid

    def _read_stderr(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stderr is not None
        for raw in iter(proc.stderr.readline, b""):
            line = raw[:4096].decode("utf-8", "replace").rstrip("\n")
            if line.strip():
                self.stderr_tail.append(line)

    def stop(self) -> None:
        with self._lock:
            if self._stopping or self._exited.is_set():
                return
            self._stopping = True
            self._ask_to_stop(self.proc)
        timer = threading.Timer(self.stop_deadline_s, self._stop_overdue)
        timer.daemon = True
        timer.start()

    @staticmethod
    def _ask_to_stop(proc: subprocess.Popen[bytes]) -> None:
        try:
            assert proc.stdin is not None
            proc.stdin.write(b"stop\n")
            proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            signal_process(proc, signal.SIGTERM)

    def _start_again(self, msg: Any) -> bool:
        """After a worker failed to start for a reason that another attempt avoids (see
        ``dtrace_worker.TRANSIENT_START_ERRORS``), put a fresh worker in its place."""
        if not (isinstance(msg, dict) and msg.get("type") == "exited" and msg.get("retry")):
            return False
        if self._respawn is None or self._starts_left <= 0 or self._stopping:
            return False
        self._starts_left -= 1
        old = self.proc
        self._reap_in_background(old)
        time.sleep(START_RETRY_PAUSE_S)
        with self._lock:
            if self._stopping:
                return False
            self.proc = self._respawn()
            self._stderr_thread = self._read_stderr_of(self.proc)
        return True

    def _stop_overdue(self) -> None:
        if not self._exited.is_set():
            self._overdue = True
            self.kill()

    def kill(self) -> None:
        with self._lock:  # never the worker that a fresh one is replacing
            self._stopping = True
            self._killed = True
            signal_process(self.proc, signal.SIGKILL)

    def events(self) -> Iterator[TracerEvent]:
        try:
            for raw in self._lines():
                if raw is None:
                    yield Problem("a message from the libdtrace worker was too long; dropped")
                    continue
                try:
                    msg = json.loads(raw)
                except ValueError:
                    yield Problem("unreadable message from the libdtrace worker")
                    continue
                if self._start_again(msg):
                    continue
                event = translate(msg)
                if event is None:
                    continue
                if isinstance(event, Exited):
                    self._finish_in_background()
                    yield event
                    return
                yield event
            code = self._exit_code()
            self._stderr_thread.join(timeout=0.5)
            self._exited.set()
            yield Exited(code, self._error(code))
        finally:
            self._exited.set()

    def _lines(self) -> Iterator[bytes | None]:
        """The worker's lines (None for one past MAX_PROTOCOL_LINE), until its output ends
        or the worker is seen exiting.

        A killed worker's pipe reaches end-of-file only once the kernel has detached its
        probes (tens of seconds): while nothing comes, look whether it is exiting.
        """
        proc = self.proc
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        buf = bytearray()
        skipping = False
        while True:
            if self.proc is not proc:  # a fresh worker took the place of one that failed
                proc = self.proc
                assert proc.stdout is not None
                fd = proc.stdout.fileno()
                buf.clear()
                skipping = False
            ready, _, _ = select.select([fd], [], [], POLL_S)
            if not ready:
                if self.proc.poll() is not None or exiting_status(self.proc.pid) is not None:
                    return
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return
            buf += chunk
            while self.proc is proc:
                end = buf.find(b"\n")
                if end < 0:
                    break
                line = bytes(buf[: end + 1])
                del buf[: end + 1]
                if skipping:
                    skipping = False
                    yield None
                else:
                    yield line
            if len(buf) > MAX_PROTOCOL_LINE:
                buf.clear()
                skipping = True

    def _exit_code(self) -> int | None:
        """The worker's exit status, without waiting for libdtrace's probes to detach.

        A worker killed while tracing stays in the kernel's exit path until its probes are
        detached (~30 s for every syscall probe); the status it will report is already in
        /proc/PID/stat, so read it there and reap the process in the background.
        """
        code = self.proc.poll()
        if code is None:
            code = exiting_status(self.proc.pid)
            if code is None:
                try:
                    return self.proc.wait(timeout=EXIT_WAIT_S)
                except subprocess.TimeoutExpired:
                    code = exiting_status(self.proc.pid)
            self._finish_in_background()
        return code

    def _finish_in_background(self) -> None:
        """The run is over; the worker may still be detaching probes.  Reap it when done."""
        self._exited.set()
        self._reap_in_background(self.proc)

    @staticmethod
    def _reap_in_background(proc: subprocess.Popen[bytes]) -> None:
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        threading.Thread(target=proc.wait, name=f"libdtrace-reap-{proc.pid}", daemon=True).start()

    def _error(self, code: int | None) -> str | None:
        if self._overdue:
            return (
                f"libdtrace did not finish within {self.stop_deadline_s:g} s of the stop "
                "request; its worker was killed"
            )
        if self._killed:
            return None
        if code is None:
            return "the libdtrace worker stopped reporting before the run ended"
        tail = [ln for ln in self.stderr_tail if ln.strip()][-3:]
        detail = (": " + " ".join(tail)) if tail else ""
        return exit_text(code) + " before the run ended" + detail


def translate(msg: Any) -> TracerEvent | None:
    """One worker message as a tracer event (None for messages the server ignores)."""
    if not isinstance(msg, dict):
        return None
    kind = msg.get("type")
    if kind == "attached":
        return Attached(int(msg.get("probes", 0)))
    if kind == "output":
        return Output(str(msg.get("text", "")))
    if kind == "aggregation":
        return AggregationData(aggregation_from_dict(msg["aggregation"]))
    if kind == "tick":
        return Tick()
    if kind == "problem":
        fix = msg.get("fix")
        lost = msg.get("lost", 0)
        return Problem(
            str(msg.get("message", "")),
            None if fix is None else str(fix),
            lost=lost if isinstance(lost, int) else 0,
        )
    if kind == "exited":
        code = msg.get("code")
        error = msg.get("error")
        return Exited(None if code is None else int(code), None if error is None else str(error))
    return None
