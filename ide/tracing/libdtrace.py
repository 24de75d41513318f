"""The libdtrace backend (the D language): DTrace itself, through its library.

libdtrace never runs inside the server.  Each compile, probe listing and run is a worker
process (``dtrace_worker``) holding one libdtrace handle; it speaks NDJSON on a pipe and this
module turns that into the backend-neutral events of ``model``.  A fault in libdtrace ends a
worker, never the server.  The worker reaches libdtrace through ctypes, for both families
(illumos: SmartOS, FreeBSD, macOS; Oracle's DTrace for Linux) — see docs/backends.md for why
python-dtrace is not used.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from ..config import Settings
from .backend import BackendStatus, BackendUnavailable, RefusedTracer, RunSpec
from .dtrace_messages import diagnostic_from_message
from .libdtrace_tracer import STOP_DEADLINE_S, LibdtraceTracer, exit_text
from .model import (
    CompileResult,
    Diagnostic,
    Language,
)
from .policy import (
    place_d_refusals,
    refuse_d_actions,
    refuse_d_calls,
    refuse_d_compile_options,
    refuse_d_options,
)
from .process import spawn
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
                exit_text(proc.returncode) + (": " + " ".join(detail) if detail else "")
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
