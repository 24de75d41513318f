"""The libdtrace backend (the D language): DTrace itself, through its library.

libdtrace never runs inside the server.  Each compile, probe listing and run is a worker
process (``dtrace_worker``) holding one libdtrace handle; it speaks NDJSON on a pipe and this
module turns that into the backend-neutral events of ``model``.  A fault in libdtrace ends a
worker, never the server.  The worker reaches libdtrace through ctypes, for both families
(illumos: SmartOS, FreeBSD, macOS; Oracle's DTrace for Linux) — see docs/backends.md for why
python-dtrace is not used.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..config import Settings
from .backend import BackendStatus, BackendUnavailable, RefusedTracer, RunSpec
from .model import (
    AggregationData,
    Attached,
    CompileResult,
    Diagnostic,
    Exited,
    Language,
    Output,
    Problem,
    Tick,
    TracerEvent,
    aggregation_from_dict,
)
from .policy import (
    place_d_refusals,
    refuse_d_actions,
    refuse_d_calls,
    refuse_d_compile_options,
    refuse_d_options,
)
from .process import signal_process, spawn
from .scriptinfo import declared_aggregations

ENV_LIBRARY = "DTRACE_IDE_LIBDTRACE"  # an explicit path to libdtrace wins over the search
LIBRARY_CANDIDATES = (
    "/usr/local/lib64/libdtrace.so.2",  # dtrace-utils built from source (Linux)
    "/usr/lib64/libdtrace.so.2",  # Oracle Linux's dtrace package
    "/usr/lib/x86_64-linux-gnu/libdtrace.so.2",
    "/usr/lib/aarch64-linux-gnu/libdtrace.so.2",
    "/usr/lib/64/libdtrace.so.1",  # illumos / SmartOS (64-bit)
    "/usr/lib/amd64/libdtrace.so.1",
    "/usr/lib/libdtrace.so.1",
    "/lib/libdtrace.so.2",  # FreeBSD
    "/usr/lib/libdtrace.so.2",
    "/usr/lib/libdtrace.dylib",  # macOS
)
PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
# The worker imports the core only (the package root loads no Flask).
WORKER_BOOT = (
    "import sys; from ide.tracing.dtrace_worker import main; "
    "sys.exit(main(['worker', *sys.argv[1:]]))"
)
MAX_PROTOCOL_LINE = 64 << 20  # one aggregation per line; rows are capped by the worker
STOP_DEADLINE_S = 10.0  # after ``stop``, the final snapshot must come within this
POLL_S = 0.5  # how often a silent worker is looked at
EXIT_WAIT_S = 1.0  # a worker whose output ended is waited for this long, then read in /proc
START_ATTEMPTS = 3  # workers tried for one run when starting fails for a passing reason
START_RETRY_PAUSE_S = 0.5  # between those attempts
# Resolving user addresses makes Oracle's libdtrace grab (ptrace) every traced process and
# plant breakpoints in its run-time linker; it crashed doing so here, which leaves those
# breakpoints behind and kills the traced processes with SIGTRAP.  Refused on that family.
_USER_SYMBOL_WHY = (
    "() makes Oracle's libdtrace attach to every traced process to read its symbols, which "
    "can crash those processes on this system; aggregate on the address (arg1, uregs[R_PC]) "
    "or use sym()/mod() for kernel addresses"
)
ORACLE_USER_SYMBOL_REASONS = {
    word: word + _USER_SYMBOL_WHY for word in ("usym", "umod", "uaddr", "ufunc")
}
CRASH_SIGNALS = {signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT, signal.SIGILL, signal.SIGFPE}
MAX_STDERR_LINES = 200


def install_hint(platform: str | None = None) -> str:
    platform = platform or sys.platform
    if platform.startswith("sunos"):
        return "DTrace is part of illumos/SmartOS: libdtrace should be in /usr/lib/64"
    if platform.startswith("freebsd"):
        return "load DTrace with `kldload dtraceall` (libdtrace is in the base system)"
    if platform == "darwin":
        return "libdtrace ships with macOS; System Integrity Protection must allow DTrace"
    return (
        "on Oracle Linux `dnf install dtrace`; on Debian/Ubuntu build oracle/dtrace-utils "
        f"(see docs/backends.md) or set {ENV_LIBRARY} to libdtrace's path"
    )


def find_library() -> str | None:
    explicit = os.environ.get(ENV_LIBRARY)
    if explicit:
        return explicit if os.path.exists(explicit) else None
    return next((p for p in LIBRARY_CANDIDATES if os.path.exists(p)), None)


def not_found_reason() -> str:
    places = os.environ.get(ENV_LIBRARY) or ", ".join(LIBRARY_CANDIDATES)
    return f"libdtrace was not found (looked for {places}): {install_hint()}"


# --- compile diagnostics -------------------------------------------------------------------

_MESSAGE = re.compile(
    r"^(?:\[(?P<tag>[A-Z0-9_]+)\]\s*)?(?:(?P<file>[^\n]*?),\s*)?line\s+(?P<line>\d+):\s*"
    r"(?P<msg>.*)$",
    re.S,
)
_TAG_ONLY = re.compile(r"^\[(?P<tag>[A-Z0-9_]+)\]\s*(?P<msg>.*)$", re.S)
_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def _find_word(text: str, word: str, start: int = 0) -> int:
    m = re.search(r"(?<![A-Za-z0-9_`])" + re.escape(word) + r"(?![A-Za-z0-9_])", text[start:])
    return -1 if m is None else start + m.start()


def _clean(message: str) -> str:
    return " ".join(part.strip() for part in message.strip().splitlines() if part.strip())


def _span_in_line(message: str, text: str) -> tuple[int, int] | None:
    """0-based [start, end) of what ``message`` is about in the line ``text``."""
    m = re.search(r'near "(.*)"$', message) or re.search(r'near "([^"]*)"', message)
    if m and m.group(1):
        token = m.group(1)
        i = text.find(token)
        return (i, i + len(token)) if i >= 0 else None
    patterns = (
        rf"undefined function name: ({_IDENT})",
        rf"failed to resolve (@?{_IDENT}|@)",
        rf"undefined variable: ({_IDENT})",
        rf"^({_IDENT})\( \) argument",
        rf"^({_IDENT})\( \) ",
        rf"option '({_IDENT})'",
        rf"(?:variable|identifier|aggregation) ({_IDENT}|@{_IDENT}?)",
        rf"\b({_IDENT}) (?:is|was) (?:not|already)",
    )
    for pat in patterns:
        m = re.search(pat, message)
        if m:
            word = m.group(1)
            i = text.find(word) if word.startswith("@") else _find_word(text, word)
            if i >= 0:
                return i, i + len(word)
    m = re.search(r"macro argument (\$+\d+)", message)
    if m:
        i = text.find(m.group(1))
        if i >= 0:
            return i, i + len(m.group(1))
    m = re.search(r"probe description (\S+) does not match", message)
    if m:
        desc = m.group(1)
        i = text.find(desc)
        if i >= 0:
            return i, i + len(desc)
        first = desc.split(":")[0]
        i = _find_word(text, first) if first else -1
        if i >= 0:
            end = i
            while end < len(text) and not text[end].isspace() and text[end] not in "{/,":
                end += 1
            return i, end
    if "before matching */" in message:
        i = text.rfind("/*")
        if i >= 0:
            return i, len(text)
    for quoted in re.findall(r"[\"'`]([^\"'`\n]+)[\"'`]", message):
        i = text.find(quoted)
        if i >= 0:
            return i, i + len(quoted)
    return None


def diagnostic_from_message(message: str, script: str) -> Diagnostic:
    """A libdtrace compiler message as a diagnostic at a line and column of ``script``.

    libdtrace gives a line (when compiling from a FILE*) but no column: the column is that of
    the token the message names (``near ";"``, an undefined name, a probe description...),
    else the first non-blank character of the line, so the editor can underline something.
    """
    lines = script.split("\n")
    m = _MESSAGE.match(message.strip())
    line_no: int | None = None
    if m:
        line_no = int(m["line"])
        text_msg = m["msg"]
    else:
        t = _TAG_ONLY.match(message.strip())
        text_msg = t["msg"] if t else message
        text_msg = re.sub(r"^in [a-z ]+: ", "", text_msg.strip())  # "in action list: ..."
    text_msg = _clean(text_msg)
    if "near end of input" in text_msg or "end of input" in text_msg.split("near")[-1]:
        return _at_end(lines, text_msg)
    if line_no is None:
        # No line: look for the token anywhere in the script.
        for n, text in enumerate(lines, start=1):
            span = _span_in_line(text_msg, text)
            if span:
                return Diagnostic(n, span[0] + 1, n, span[1] + 1, text_msg)
        return _whole_line(lines, 1, text_msg)
    line_no = min(max(line_no, 1), max(len(lines), 1))
    text = lines[line_no - 1] if lines else ""
    span = _span_in_line(text_msg, text)
    if span is None:
        return _whole_line(lines, line_no, text_msg)
    return Diagnostic(line_no, span[0] + 1, line_no, span[1] + 1, text_msg)


def _whole_line(lines: list[str], line_no: int, message: str) -> Diagnostic:
    text = lines[line_no - 1] if 0 < line_no <= len(lines) else ""
    start = len(text) - len(text.lstrip())
    end = len(text.rstrip())
    if end <= start:
        return Diagnostic(line_no, 1, line_no, 1, message)
    return Diagnostic(line_no, start + 1, line_no, end + 1, message)


def _at_end(lines: list[str], message: str) -> Diagnostic:
    """The end of the last non-blank line: where the missing text should have been."""
    n = len(lines)
    while n > 1 and not lines[n - 1].strip():
        n -= 1
    col = len(lines[n - 1].rstrip()) + 1 if lines else 1
    return Diagnostic(n, col, n, col, message)


# --- workers -------------------------------------------------------------------------------


def worker_env() -> dict[str, str]:
    env = dict(os.environ)
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = PACKAGE_ROOT + (os.pathsep + path if path else "")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


class WorkerFailed(Exception):
    pass


class LibdtraceBackend:
    name = "dtrace"
    language: Language = "d"

    def __init__(self, settings: Settings, library: str | None = None) -> None:
        self.settings = settings
        self._library = library
        self._version: dict[str, Any] | None = None
        self._version_error: str | None = None
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, CompileResult] = OrderedDict()

    # --- status -------------------------------------------------------------------------

    def library_path(self) -> str | None:
        return self._library or find_library()

    def unavailable_reason(self) -> str | None:
        path = self.library_path()
        if path is None:
            return not_found_reason()
        if sys.platform.startswith("linux") and os.geteuid() != 0:
            return "DTrace needs root: start dtrace-ide as root (sudo dtrace-ide serve)"
        info = self._version_info(path)
        if info is None:
            return f"libdtrace at {path} cannot be used: {self._version_error}"
        return None

    def _version_info(self, path: str) -> dict[str, Any] | None:
        with self._lock:
            if self._version is None and self._version_error is None:
                try:
                    msgs = self._call("version", {}, timeout=30.0)
                    info = next((m for m in msgs if m.get("type") == "version"), None)
                    if info is None:
                        raise WorkerFailed(_failure(msgs))
                    self._version = info
                except WorkerFailed as exc:
                    self._version_error = str(exc)
            return self._version

    def status(self) -> BackendStatus:
        reason = self.unavailable_reason()
        version = self._version.get("version") if self._version else None
        return BackendStatus(self.name, self.language, reason is None, version, reason)

    def family(self) -> str | None:
        """ "oracle" or "illumos" once the library has been loaded, else None."""
        path = self.library_path()
        info = self._version_info(path) if path is not None else None
        family = info.get("family") if info else None
        return str(family) if family is not None else None

    def _require(self) -> str:
        reason = self.unavailable_reason()
        path = self.library_path()
        if reason is not None or path is None:
            raise BackendUnavailable(reason or not_found_reason())
        return path

    def _spawn(self, mode: str, request: dict[str, Any]) -> subprocess.Popen[bytes]:
        request = {"library": self.library_path(), **request}
        proc = spawn(
            [sys.executable, "-c", WORKER_BOOT, mode],
            env=worker_env(),
            memory_bytes=self.settings.tracer_memory_bytes,
            stdin=subprocess.PIPE,
        )
        assert proc.stdin is not None
        try:
            proc.stdin.write((json.dumps(request) + "\n").encode())
            proc.stdin.flush()
        except BrokenPipeError:
            pass
        return proc

    def _call(self, mode: str, request: dict[str, Any], timeout: float) -> list[dict[str, Any]]:
        """Run a short-lived worker to its end; its messages."""
        proc = self._spawn(mode, request)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise WorkerFailed(f"the libdtrace worker took longer than {timeout:g} s") from None
        msgs = _messages(out)
        if proc.returncode != 0 and not msgs:
            detail = err.decode("utf-8", "replace").strip().splitlines()[-3:]
            raise WorkerFailed(
                _exit_text(proc.returncode) + (": " + " ".join(detail) if detail else "")
            )
        return msgs

    # --- compile ------------------------------------------------------------------------

    def compile(self, script: str) -> CompileResult:
        refused = self.refusals(script)
        if refused:
            return CompileResult(False, refused, declared_aggregations(script, "d"), refused=True)
        if not script.strip():
            return CompileResult(False, (Diagnostic(1, 1, 1, 1, "the script is empty"),))
        self._require()
        with self._lock:
            hit = self._cache.get(script)
            if hit is not None:
                self._cache.move_to_end(script)
                return hit
        result = self._compile_uncached(script)
        with self._lock:
            self._cache[script] = result
            while len(self._cache) > self.settings.compile_cache_entries:
                self._cache.popitem(last=False)
        return result

    def refusals(self, script: str) -> tuple[Diagnostic, ...]:
        """What is refused before libdtrace reads the script: compile-time options (they act
        as the pragma is read, and ``dtrace_getopt`` cannot read them back) and what this
        family of libdtrace cannot do safely.  The rest of the policy is decided on what
        libdtrace compiled (``compiled_refusals``)."""
        found = refuse_d_compile_options(script)
        if self.family() == "oracle":
            # Not a security decision but a guard against a crash: the compiled program's
            # records that name these actions are private to libdtrace, so the calls are
            # found in the code by D's lexical rules.
            found += refuse_d_calls(script, ORACLE_USER_SYMBOL_REASONS)
        return tuple(sorted(found, key=lambda d: (d.line, d.column)))

    def policy(self) -> dict[str, Any]:
        """The server's policy as the worker applies it before it enables anything."""
        return {
            "allow_destructive": self.settings.allow_destructive,
            "max_d_strsize": self.settings.max_d_strsize,
        }

    def compiled_refusals(self, script: str, compiled: dict[str, Any]) -> list[Diagnostic]:
        """The policy on what libdtrace compiled: the options the script changed (numbers,
        as libdtrace stores them) and the program's destructive actions."""
        options = {str(k): int(v) for k, v in dict(compiled.get("options") or {}).items()}
        actions = [str(a) for a in compiled.get("actions") or []]
        refused = refuse_d_options(options, self.settings)
        refused += refuse_d_actions(actions, self.settings)
        return place_d_refusals(script, refused)

    def _compile_uncached(self, script: str) -> CompileResult:
        decls = declared_aggregations(script, "d")
        try:
            msgs = self._call(
                "compile",
                {"script": script, "destructive": self.settings.allow_destructive},
                self.settings.compile_timeout_s,
            )
        except WorkerFailed as exc:
            return CompileResult(False, (Diagnostic(1, 1, 1, 1, f"cannot compile: {exc}"),), decls)
        res = next((m for m in msgs if m.get("type") == "compiled"), None)
        if res is None:
            raise BackendUnavailable(_failure(msgs))
        if res.get("setup"):
            raise BackendUnavailable(str(res.get("error")))
        if res.get("ok"):
            refused = self.compiled_refusals(script, res)
            if refused:
                return CompileResult(False, tuple(refused), decls, refused=True)
            return CompileResult(True, (), decls)
        diag = diagnostic_from_message(str(res.get("error") or "compile failed"), script)
        return CompileResult(False, (diag,), decls)

    # --- run ----------------------------------------------------------------------------

    def start(self, script: str, spec: RunSpec) -> LibdtraceTracer | RefusedTracer:
        refused = self.refusals(script)
        if refused:
            return RefusedTracer(refused[0].message)
        self._require()
        request = {
            "script": script,
            "interval": spec.interval,
            "options": worker_options(spec.options),
            "max_rows": self.settings.max_rows_per_aggregation,
            "max_output_chunk": self.settings.max_line_bytes,
            "destructive": self.settings.allow_destructive,
            "policy": self.policy(),
        }
        return LibdtraceTracer(
            self._spawn("run", request),
            self.settings.stop_grace_s + STOP_DEADLINE_S,
            respawn=lambda: self._spawn("run", request),
        )

    def list_probes(self) -> list[str]:
        self._require()
        try:
            msgs = self._call("probes", {}, timeout=120.0)
        except WorkerFailed as exc:
            raise BackendUnavailable(f"cannot list probes: {exc}") from None
        res = next((m for m in msgs if m.get("type") == "probes"), None)
        if res is None:
            raise BackendUnavailable("cannot list probes: " + _failure(msgs))
        return [str(n) for n in res.get("names", [])]


RATE_OPTIONS = {"aggrate", "switchrate"}
LIBDTRACE_OPTIONS = {"bufsize", "aggsize", "aggrate", "switchrate", "dynvarsize"}


def worker_options(options: Any) -> dict[str, str]:
    """The run's options as libdtrace option strings (rates per second become ``Nhz``)."""
    out: dict[str, str] = {}
    for name, value in dict(options).items():
        if name not in LIBDTRACE_OPTIONS:
            continue
        out[name] = f"{int(value)}hz" if name in RATE_OPTIONS else str(int(value))
    return out


def _messages(out: bytes) -> list[dict[str, Any]]:
    msgs = []
    for raw in out.splitlines():
        try:
            m = json.loads(raw)
        except ValueError:
            continue
        if isinstance(m, dict):
            msgs.append(m)
    return msgs


def _failure(msgs: list[dict[str, Any]]) -> str:
    ex = next((m for m in msgs if m.get("type") == "exited"), None)
    if ex and ex.get("error"):
        return str(ex["error"])
    return "the libdtrace worker ended without an answer"


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


def _exit_text(code: int | None) -> str:
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
        return _exit_text(code) + " before the run ended" + detail


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
        data = msg["aggregation"]
        agg = aggregation_from_dict(data)
        if data.get("total_rows") is not None:  # the worker kept only the heaviest rows
            agg = dataclasses.replace(agg, total_rows=int(data["total_rows"]))
        return AggregationData(agg)
    if kind == "tick":
        return Tick()
    if kind == "problem":
        fix = msg.get("fix")
        return Problem(str(msg.get("message", "")), None if fix is None else str(fix))
    if kind == "exited":
        code = msg.get("code")
        error = msg.get("error")
        return Exited(None if code is None else int(code), None if error is None else str(error))
    return None
