"""The libdtrace worker: one process holds one libdtrace handle for one job.

``python -m ide.tracing.dtrace_worker MODE`` reads one JSON request line on stdin and writes
NDJSON on stdout.  MODE is ``version``, ``compile``, ``probes`` or ``run``; a run reads further
stdin lines (``stop``) and treats the end of stdin as ``stop``.  libdtrace is reached through
ctypes with the struct layouts of both families (see ``dtrace_records``), detected at load
time.  The server never loads libdtrace itself: a fault in it ends this process only.

Messages (one JSON object per line, ``type`` first):
``version`` {version, family, path} · ``compiled`` {ok, error?} · ``probes`` {names}
``attached`` {probes} · ``output`` {text} · ``aggregation`` {aggregation} · ``tick``
``problem`` {message, fix} · ``record`` {record} (only when recording fixtures) ·
``exited`` {code, error}.  After ``exited`` the worker closes stdout and may take a while to
detach its probes (libdtrace's close); the server does not wait for that.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from .dtrace_abi import (
    ACT_EXIT,
    AGG_WALK,
    AGGWALK_NEXT,
    CONSUME_NEXT,
    CONSUME_PROBE,
    CONSUME_REC,
    CONSUME_THIS,
    DROP_FIXES,
    DROP_NAMES,
    HANDLE_ABORT,
    HANDLE_OK,
    HANDLER,
    PR_SET_PDEATHSIG,
    PROBE_ITER,
    WORKSTATUS_DONE,
    WORKSTATUS_ERROR,
    BufData,
    DropData,
    DTraceError,
    ErrData,
    IllumosProbeDesc,
    IllumosRecDesc,
    Library,
    MemoryStream,
    OracleProbeDesc,
    OracleRecDesc,
    ProgInfo,
    SetoptData,
    illumos_raw_record,
    oracle_raw_record,
)
from .dtrace_program import Handle, refusal_fields, request_policy
from .dtrace_records import (
    ACT_DIFEXPR,
    ACT_MOD,
    ACT_STACK,
    ACT_SYM,
    AggregationStore,
    RawKey,
    RawRecord,
    RecordError,
    decode_record,
    stack_frames,
)
from .policy import (
    DRefusal,
    refuse_d_options,
)

# dtrace_go failures that another consumer's teardown causes and that a new attempt avoids.
TRANSIENT_START_ERRORS = frozenset({"Failed to enable probe"})
MAX_ERROR_KINDS = 20  # distinct probe-error messages reported per snapshot


# --- the jobs ------------------------------------------------------------------------------


class Emitter:
    def __init__(self, out: Any) -> None:
        self.out = out
        self.lock = threading.Lock()

    def __call__(self, kind: str, **fields: Any) -> None:
        line = json.dumps({"type": kind, **fields}, separators=(",", ":"))
        with self.lock:
            self.out.write(line + "\n")
            self.out.flush()


def run_version(library: Library, emit: Emitter) -> int:
    emit(
        "version",
        version=library.version.decode("utf-8", "replace"),
        family=library.family,
        path=library.path,
    )
    return 0


def run_compile(library: Library, request: dict[str, Any], emit: Emitter) -> int:
    try:
        handle = Handle(library, base_options(request))
    except DTraceError as exc:
        emit("compiled", ok=False, error=str(exc), setup=True)
        return 0
    try:
        prog = handle.compile(request["script"])
        options = handle.changed_options()
        actions = handle.destructive_actions(prog)
    except DTraceError as exc:
        emit("compiled", ok=False, error=str(exc))
        return 0
    # The facts go to the server, which decides (policy.refuse_d_options/_actions).
    emit("compiled", ok=True, options=options, actions=actions)
    return 0


def base_options(request: dict[str, Any]) -> dict[str, str | None]:
    """Options every job of the request gets: destructive actions when the server allows."""
    return {"destructive": None} if request.get("destructive") else {}


def run_probes(library: Library, emit: Emitter) -> int:
    handle = Handle(library, {})
    names: list[str] = []
    desc_type = OracleProbeDesc if library.family == "oracle" else IllumosProbeDesc

    def each(_h: int, pdp: int, _arg: int) -> int:
        d = ctypes.cast(pdp, ctypes.POINTER(desc_type)).contents
        parts = [(getattr(d, f) or b"").decode("utf-8", "replace") for f in _PROBE_FIELDS]
        names.append(":".join(parts))
        return 0

    cb = PROBE_ITER(each)
    library.lib.dtrace_probe_iter(handle.h, None, cb, None)
    emit("probes", names=names)
    return 0


_PROBE_FIELDS = ("prv", "mod", "fun", "prb")


class Run:
    """One tracing run: compile, go, consume until stopped, report, leave."""

    def __init__(self, library: Library, request: dict[str, Any], emit: Emitter) -> None:
        self.library = library
        self.lib = library.lib
        self.emit = emit
        self.script: str = request["script"]
        self.request = request
        self.policy = request_policy(request)
        self.setopt_refused: list[DRefusal] = []
        self.interval = max(0.05, float(request.get("interval", 1.0)))
        self.options: dict[str, str | None] = dict(request.get("options", {}))
        self.options.update(base_options(request))
        self.record = bool(request.get("record", False))
        self.max_rows = int(request.get("max_rows", 5000))
        self.max_chunk = max(1024, int(request.get("max_output_chunk", 64 * 1024)))
        self.stop_requested = threading.Event()
        self.exit_status: int | None = None
        self.output: list[str] = []
        self.store = AggregationStore()
        self.callback_error: str | None = None
        self._keep: list[Any] = []
        self.traced = False
        self.sink: MemoryStream | None = None
        self.problems = Problems()
        self._symbols: dict[int, str] = {}

    # callbacks --------------------------------------------------------------------------

    def _chew(self, _data: int, _arg: int) -> int:
        return CONSUME_THIS

    def _chewrec(self, data: int, rec: int, _arg: int) -> int:
        if not rec:
            # End of one probe's records: end the line that trace() left open, as dtrace -q.
            if self.traced and self.sink is not None:
                self.library.libc.fputs(b"\n", self.sink.fp)
            self.traced = False
            return CONSUME_NEXT
        rec_type = OracleRecDesc if self.library.family == "oracle" else IllumosRecDesc
        r = ctypes.cast(rec, ctypes.POINTER(rec_type)).contents
        if r.action == ACT_EXIT:
            base = ctypes.cast(data, ctypes.POINTER(ctypes.c_void_p * 6)).contents
            # dtpda_data: after handle, stid, ddesc, pdesc and cpu in Oracle's probedata,
            # after handle, edesc, pdesc and cpu in illumos'.
            addr = base[5 if self.library.family == "oracle" else 4]
            if addr:
                self.exit_status = ctypes.c_int32.from_address(addr).value
            return CONSUME_NEXT
        if r.action == ACT_DIFEXPR:
            self.traced = True
        return CONSUME_THIS

    def _buffered(self, bufdata: int, _arg: int) -> int:
        b = ctypes.cast(bufdata, ctypes.POINTER(BufData)).contents
        if b.buffered:
            self.output.append(b.buffered.decode("utf-8", "replace"))
        return HANDLE_OK

    def _error(self, errdata: int, _arg: int) -> int:
        e = ctypes.cast(errdata, ctypes.POINTER(ErrData)).contents
        msg = (e.msg or b"error in a probe").decode("utf-8", "replace").strip()
        self.problems.error(msg)
        return HANDLE_OK

    def _drop(self, dropdata: int, _arg: int) -> int:
        d = ctypes.cast(dropdata, ctypes.POINTER(DropData)).contents
        self.problems.drop(d.kind, d.cpu, d.drops)
        return HANDLE_OK

    def _setopt(self, data: int, _arg: int) -> int:
        """A ``setopt()`` action ran: the same caps hold while tracing."""
        d = ctypes.cast(data, ctypes.POINTER(SetoptData)).contents
        name = (d.option or b"").decode("utf-8", "replace")
        refused = refuse_d_options({name: int(d.newval)}, self.policy)
        if not refused:
            return HANDLE_OK
        self.setopt_refused.extend(refused)
        self.stop_requested.set()
        return HANDLE_ABORT

    def _walk(self, aggdata: int, _arg: int) -> int:
        try:
            raw = self._raw_record(aggdata)
            if raw is not None:
                if self.record:
                    self.emit("record", record=raw.to_dict())
                self.store.add(decode_record(raw, self._symbolize))
        except (RecordError, ValueError) as exc:
            self.callback_error = str(exc)
        except Exception as exc:  # never let an exception unwind through libdtrace
            self.callback_error = f"{type(exc).__name__}: {exc}"
        return AGGWALK_NEXT

    def _raw_record(self, aggdata: int) -> RawRecord | None:
        if self.library.family == "oracle":
            return oracle_raw_record(aggdata)
        return illumos_raw_record(aggdata)

    def _symbolize(self, key: RawKey) -> str | None:
        """Kernel addresses as ``module`symbol`` (user addresses stay hexadecimal: resolving
        them makes libdtrace grab the traced processes)."""
        if key.action == ACT_STACK:
            return "\n".join(self._kernel_symbol(pc) for pc in stack_frames(key))
        if key.action not in (ACT_SYM, ACT_MOD) or key.size != 8:
            return None
        text = self._kernel_symbol(int.from_bytes(key.data[:8], "little"))
        if key.action == ACT_MOD:
            return text.split("`", 1)[0]
        return text.split("+", 1)[0]

    def _kernel_symbol(self, addr: int) -> str:
        hit = self._symbols.get(addr)
        if hit is None:
            buf = ctypes.create_string_buffer(256)
            if self.lib.dtrace_addr2str(self.h, addr, buf, 255) < 0:
                hit = f"{addr:#x}"
            else:
                hit = buf.value.decode("utf-8", "replace")
            if len(self._symbols) < 100_000:
                self._symbols[addr] = hit
        return hit

    # the run ----------------------------------------------------------------------------

    def _flush_output(self) -> None:
        if self.output:
            text = "".join(self.output)
            self.output.clear()
            for i in range(0, len(text), self.max_chunk):
                self.emit("output", text=text[i : i + self.max_chunk])

    def _collect(self, sink: MemoryStream) -> None:
        self.output.append(sink.take())
        self._flush_output()

    def _report_aggregations(self) -> None:
        self.store.begin()
        if self.lib.dtrace_aggregate_snap(self.h) != 0:
            self.emit(
                "problem",
                message="cannot read aggregations: " + self.library.errmsg(self.h),
                fix=None,
            )
        self.lib.dtrace_aggregate_walk(self.h, self._walk_cb, None)
        for agg in self.store.end():
            self.emit("aggregation", aggregation=agg.capped(self.max_rows).to_dict())
        if self.callback_error:
            self.emit("problem", message=self.callback_error, fix=None)
            self.callback_error = None
        self.problems.report(self.emit)
        self.emit("tick")

    def _options(self) -> dict[str, str | None]:
        opts = dict(self.options)
        # Aggregations must be read at least as often as snapshots are taken.
        opts.setdefault("aggrate", f"{max(1, round(1 / self.interval))}hz")
        opts.setdefault("switchrate", "10hz")
        # dtrace(1)'s own defaults; libdtrace's are larger than the kernel accepts here.
        opts.setdefault("bufsize", "4m")
        opts.setdefault("aggsize", "4m")
        return opts

    def run(self) -> int:
        try:
            prog = self._compile_checked()
            info = self._enable(prog)
        except StartFailed as exc:
            self.emit("exited", code=1, error=exc.error, **exc.fields)
            return 1
        self.emit("attached", probes=int(info.matches))
        error = self._consume()
        if self.setopt_refused:
            self.emit("exited", code=1, error=error, **refusal_fields(self.setopt_refused))
            return 1
        code = self.exit_status if self.exit_status is not None else (1 if error else 0)
        self.emit("exited", code=code, error=error)
        return code

    def _compile_checked(self) -> int:
        """The compiled program; nothing is enabled before it passes the server's policy."""
        try:
            handle = Handle(self.library, self._options())
            self.h = handle.h
            prog = handle.compile(self.script)
            refused = handle.refusals(prog, self.request)
        except DTraceError as exc:
            raise StartFailed(str(exc)) from None
        if refused:
            raise StartFailed(refused[0].message, **refusal_fields(refused))
        return prog

    def _enable(self, prog: int) -> ProgInfo:
        """Enable the program's probes, set the handlers and go."""
        lib = self.lib
        cbs = (
            CONSUME_PROBE(self._chew),
            CONSUME_REC(self._chewrec),
            HANDLER(self._buffered),
            HANDLER(self._error),
            HANDLER(self._drop),
            HANDLER(self._setopt),
            AGG_WALK(self._walk),
        )
        self._keep.extend(cbs)
        self._chew_cb, self._chewrec_cb, buffered, errh, droph, setopth, self._walk_cb = cbs
        info = ProgInfo()
        if lib.dtrace_program_exec(self.h, prog, ctypes.byref(info)) != 0:
            raise StartFailed("cannot enable the probes: " + self._err())
        for register, cb in (
            (lib.dtrace_handle_err, errh),
            (lib.dtrace_handle_drop, droph),
            (lib.dtrace_handle_buffered, buffered),
            (lib.dtrace_handle_setopt, setopth),
        ):
            if register(self.h, cb, None) != 0:
                raise StartFailed("cannot set a libdtrace handler: " + self._err())
        oracle = self.library.family == "oracle"
        if (lib.dtrace_go(self.h, 0) if oracle else lib.dtrace_go(self.h)) != 0:
            why = self._err()
            # Oracle's BEGIN/END uprobes are shared by every consumer on the box; one that is
            # closing deletes them under a starting one.  Nothing was traced yet: the server
            # may start the run again in a fresh worker.
            retry = oracle and why in TRANSIENT_START_ERRORS
            raise StartFailed("cannot start tracing: " + why, retry=retry)
        return info

    def _consume(self) -> str | None:
        """Consume until stopped or done, reporting aggregations each interval; the error
        that ended it, if any."""
        lib = self.lib
        # printf/trace/printa text goes to the FILE* that dtrace_work is given (Oracle's
        # library never calls the buffered handler when it is NULL): a memory stream.
        sink = self.sink = MemoryStream(self.library.libc)
        error: str | None = None
        next_tick = time.monotonic() + self.interval
        stopping = False
        try:
            while True:
                if self.stop_requested.is_set() and not stopping:
                    stopping = True
                    lib.dtrace_stop(self.h)
                if self.library.family == "illumos" and not stopping:
                    lib.dtrace_sleep(self.h)
                status = lib.dtrace_work(self.h, sink.fp, self._chew_cb, self._chewrec_cb, None)
                self._collect(sink)
                error = self._work_error(status)
                if error is not None or status == WORKSTATUS_DONE or stopping:
                    break
                now = time.monotonic()
                if now >= next_tick:
                    self._report_aggregations()
                    while next_tick <= now:
                        next_tick += self.interval
            if not stopping:
                lib.dtrace_stop(self.h)
            self._collect(sink)
            self._report_aggregations()
        finally:
            self._collect(sink)
            sink.close()
        return error

    def _work_error(self, status: int) -> str | None:
        if self.setopt_refused:
            return self.setopt_refused[0].message
        if status == WORKSTATUS_ERROR:
            err = self.lib.dtrace_errno(self.h)
            if err != 4:  # EINTR
                return "processing aborted: " + self.library.errmsg(self.h, err)
        return None

    def _err(self) -> str:
        return self.library.errmsg(self.h)


class StartFailed(Exception):
    """A run that ends before it traced anything; ``fields`` go into its ``exited``."""

    def __init__(self, error: str, **fields: Any) -> None:
        super().__init__(error)
        self.error = error
        self.fields = fields


class Problems:
    """Drops and probe errors of one snapshot, reported together at its end.

    libdtrace calls the handlers once per drop report or faulting probe firing; a busy probe
    would send thousands of identical messages.  Oracle's library also repeats the same
    aggregation-drop report for every key it reads, so a repeated (kind, CPU, count) counts once.
    """

    def __init__(self) -> None:
        self.drops: dict[int, int] = {}
        self.seen: set[tuple[int, int, int]] = set()
        self.errors: dict[str, int] = {}
        self.more_errors = 0

    def clear(self) -> None:
        self.drops.clear()
        self.seen.clear()
        self.errors.clear()
        self.more_errors = 0

    def drop(self, kind: int, cpu: int, count: int) -> None:
        if (kind, cpu, count) in self.seen:
            return
        self.seen.add((kind, cpu, count))
        self.drops[kind] = self.drops.get(kind, 0) + count

    def error(self, message: str) -> None:
        if message in self.errors or len(self.errors) < MAX_ERROR_KINDS:
            self.errors[message] = self.errors.get(message, 0) + 1
        else:
            self.more_errors += 1

    def report(self, emit: Callable[..., None]) -> None:
        for kind, count in sorted(self.drops.items()):
            name = DROP_NAMES.get(kind, f"kind {kind}")
            emit("problem", message=f"{count} {name} drops", fix=DROP_FIXES.get(kind), lost=count)
        for message, n in self.errors.items():
            emit("problem", message=message + (f" ({n} times)" if n > 1 else ""), fix=None)
        if self.more_errors:
            emit("problem", message=f"{self.more_errors} more probe errors", fix=None)
        self.clear()


# --- process plumbing ----------------------------------------------------------------------


def _die_with_parent() -> None:
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _watch_stdin(run: Run) -> None:
    for line in sys.stdin:
        if line.strip() == "stop":
            break
    run.stop_requested.set()


def _on_signal(run: Run) -> Callable[[int, Any], None]:
    def handler(_sig: int, _frame: Any) -> None:
        run.stop_requested.set()

    return handler


def main(argv: list[str]) -> int:
    mode = argv[1] if len(argv) > 1 else ""
    _die_with_parent()
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    # libdtrace may write to fd 1 itself; keep our protocol stream to ourselves.
    os.dup2(2, 1)
    emit = Emitter(out)
    line = sys.stdin.readline()
    request: dict[str, Any] = json.loads(line) if line.strip() else {}
    path = request.get("library") or os.environ.get("DTRACE_IDE_LIBDTRACE") or ""
    try:
        library = Library(path)
    except (OSError, AttributeError) as exc:
        emit("exited", code=2, error=f"cannot load libdtrace from {path!r}: {exc}")
        return 2
    if mode == "version":
        return run_version(library, emit)
    if mode == "compile":
        return run_compile(library, request, emit)
    if mode == "probes":
        try:
            return run_probes(library, emit)
        except DTraceError as exc:
            emit("exited", code=1, error=str(exc))
            return 1
    if mode == "run":
        run = Run(library, request, emit)
        signal.signal(signal.SIGINT, _on_signal(run))
        signal.signal(signal.SIGTERM, _on_signal(run))
        threading.Thread(target=_watch_stdin, args=(run,), daemon=True).start()
        code = run.run()
        out.close()
        # Closing the handle detaches every probe, which can take many seconds; the
        # exit below lets the kernel do that without holding the server's pipe open.
        os._exit(code if 0 <= code < 256 else 1)
    emit("exited", code=2, error=f"unknown worker mode {mode!r}")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
