"""Starting tracer processes that cannot outlive the server.

Linux's parent-death signal fires when the *thread* that forked the child exits, not the
process.  Web servers run requests on short-lived threads, so every tracer is forked from one
spawner thread that lives as long as the server process: when the server dies (even by
SIGKILL) the kernel sends SIGKILL to its tracers.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import queue
import resource
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from typing import Any

PR_SET_PDEATHSIG = 1
PR_SET_NAME = 15

_libc: Any = None
if sys.platform.startswith("linux"):
    _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def name_this_thread(name: str) -> None:
    """Give the calling thread a name the system shows (``top -H``, /proc/PID/task/TID/comm):
    at most 15 bytes; nothing where the system has no such name."""
    if _libc is not None:
        _libc.prctl(PR_SET_NAME, name.encode()[:15], 0, 0, 0)


def _child_setup(memory_bytes: int | None) -> Callable[[], None]:
    def setup() -> None:
        if _libc is not None:
            _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if memory_bytes:
            resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))

    return setup


class _Spawner:
    def __init__(self) -> None:
        self._jobs: queue.Queue[tuple[Callable[[], subprocess.Popen[bytes]], Future[Any]]] = (
            queue.Queue()
        )
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def _ensure(self) -> None:
        with self._lock:
            # After a fork (gunicorn workers) the thread is gone: start a new one.
            if self._thread is None or not self._thread.is_alive() or self._pid != os.getpid():
                self._pid = os.getpid()
                self._jobs = queue.Queue()
                self._thread = threading.Thread(
                    target=self._loop, name="dtrace-ide-spawner", daemon=True
                )
                self._thread.start()

    def _loop(self) -> None:
        while True:
            make, fut = self._jobs.get()
            try:
                fut.set_result(make())
            except BaseException as exc:  # handed to the caller
                fut.set_exception(exc)

    def popen(self, make: Callable[[], subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
        self._ensure()
        fut: Future[subprocess.Popen[bytes]] = Future()
        self._jobs.put((make, fut))
        return fut.result()


_spawner = _Spawner()


def spawn(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    memory_bytes: int | None = None,
    stdin: int | None = subprocess.DEVNULL,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` with pipes on stdout/stderr, in its own session, tied to our life."""

    def make() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            list(argv),
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env) if env is not None else None,
            preexec_fn=_child_setup(memory_bytes),
            start_new_session=True,
            close_fds=True,
        )

    return _spawner.popen(make)


def signal_process(proc: subprocess.Popen[bytes], sig: int) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
