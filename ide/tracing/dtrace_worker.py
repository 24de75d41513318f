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

import codecs
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

from ..config import Settings
from .dtrace_records import (
    ACT_DIFEXPR,
    ACT_MOD,
    ACT_STACK,
    ACT_SYM,
    AGGREGATING_ACTIONS,
    AggregationStore,
    Family,
    RawKey,
    RawRecord,
    RecordError,
    decode_record,
    stack_frames,
)
from .policy import (
    D_RUNTIME_OPTIONS,
    DESTRUCTIVE_ACTION_KINDS,
    DRefusal,
    refuse_d_actions,
    refuse_d_compile_options,
    refuse_d_options,
)

DTRACE_VERSION = 3
DTRACE_C_ETAGS = 0x0100
DTRACE_C_ZDEFS = 0x0004
CONSUME_THIS = 0
CONSUME_NEXT = 1
CONSUME_ABORT = 3
HANDLE_OK = 0
WORKSTATUS_ERROR = -1
WORKSTATUS_DONE = 1
ACT_EXIT = 2
AGGWALK_NEXT = 0
AGGWALK_ABORT = 1
HANDLE_ABORT = -1
CLAUSE_DESTRUCTIVE = 32  # Oracle's DT_CLSFLAG_DESTRUCT in dtsd_clauseflags
PR_SET_PDEATHSIG = 1

# libdtrace's drop kinds: what was dropped, and the option that makes it rarer.
DROP_NAMES = {
    0: "principal buffer",
    1: "aggregation",
    2: "dynamic variable",
    3: "dynamic variable (rinsing)",
    4: "dynamic variable (dirty)",
    5: "speculation",
    6: "speculation (busy)",
    7: "speculation (unavailable)",
    8: "stack string table",
    9: "ERROR probe",
}
# dtrace_go failures that another consumer's teardown causes and that a new attempt avoids.
TRANSIENT_START_ERRORS = frozenset({"Failed to enable probe"})
MAX_ERROR_KINDS = 20  # distinct probe-error messages reported per snapshot
DROP_FIXES = {
    0: "increase bufsize (or switchrate)",
    1: "increase aggsize (or aggrate)",
    2: "increase dynvarsize",
    3: "increase dynvarsize (or cleanrate)",
    4: "increase dynvarsize (or cleanrate)",
    5: "increase specsize",
    6: "increase nspec",
    7: "increase nspec",
    8: "increase strsize or the stack depth",
    9: None,
}

# --- struct layouts ------------------------------------------------------------------------


class OracleRecDesc(ctypes.Structure):
    _fields_ = [
        ("action", ctypes.c_uint16),
        ("size", ctypes.c_uint32),
        ("offset", ctypes.c_uint32),
        ("alignment", ctypes.c_uint16),
        ("format", ctypes.c_void_p),
        ("arg", ctypes.c_uint64),
        ("uarg", ctypes.c_uint64),
    ]


class IllumosRecDesc(ctypes.Structure):
    _fields_ = [
        ("action", ctypes.c_uint16),
        ("size", ctypes.c_uint32),
        ("offset", ctypes.c_uint32),
        ("alignment", ctypes.c_uint16),
        ("format", ctypes.c_uint16),
        ("arg", ctypes.c_uint64),
        ("uarg", ctypes.c_uint64),
    ]


class OracleAggDesc(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("varid", ctypes.c_uint32),
        ("flags", ctypes.c_int),
        ("sig", ctypes.c_uint64),
        ("normal", ctypes.c_uint64),
        ("ksize", ctypes.c_uint32),
        ("dsize", ctypes.c_uint32),
        ("nkrecs", ctypes.c_uint),
        ("keyidx", ctypes.c_uint),
        ("krecs", ctypes.POINTER(OracleRecDesc)),
        ("drecs", ctypes.POINTER(OracleRecDesc)),
    ]


class IllumosAggDesc(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("varid", ctypes.c_int64),
        ("flags", ctypes.c_int),
        ("id", ctypes.c_uint32),
        ("epid", ctypes.c_uint32),
        ("size", ctypes.c_uint32),
        ("nrecs", ctypes.c_int),
        ("pad", ctypes.c_uint32),
        ("rec", IllumosRecDesc * 1),  # really dtagd_nrecs of them
    ]


class OracleAggData(ctypes.Structure):
    _fields_ = [
        ("handle", ctypes.c_void_p),
        ("desc", ctypes.POINTER(OracleAggDesc)),
        ("key", ctypes.c_void_p),
        ("data", ctypes.c_void_p),
        ("percpu", ctypes.c_void_p),
    ]


class IllumosAggData(ctypes.Structure):
    _fields_ = [
        ("handle", ctypes.c_void_p),
        ("desc", ctypes.POINTER(IllumosAggDesc)),
        ("edesc", ctypes.c_void_p),
        ("pdesc", ctypes.c_void_p),
        ("data", ctypes.c_void_p),
        ("normal", ctypes.c_uint64),
        ("size", ctypes.c_size_t),
    ]


class ProbeData(ctypes.Structure):  # only the leading fields we read, same in both families
    _fields_ = [("handle", ctypes.c_void_p), ("id", ctypes.c_uint32)]


class ErrData(ctypes.Structure):
    _fields_ = [
        ("handle", ctypes.c_void_p),
        ("ddesc", ctypes.c_void_p),
        ("pdesc", ctypes.c_void_p),
        ("cpu", ctypes.c_int),
        ("action", ctypes.c_int),
        ("offset", ctypes.c_int),
        ("fault", ctypes.c_int),
        ("addr", ctypes.c_uint64),
        ("msg", ctypes.c_char_p),
    ]


class DropData(ctypes.Structure):
    _fields_ = [
        ("handle", ctypes.c_void_p),
        ("cpu", ctypes.c_int),
        ("kind", ctypes.c_int),
        ("drops", ctypes.c_uint64),
        ("total", ctypes.c_uint64),
        ("msg", ctypes.c_char_p),
    ]


class BufData(ctypes.Structure):
    _fields_ = [
        ("handle", ctypes.c_void_p),
        ("buffered", ctypes.c_char_p),
        ("probe", ctypes.c_void_p),
        ("recdesc", ctypes.c_void_p),
        ("aggdata", ctypes.c_void_p),
        ("flags", ctypes.c_uint32),
    ]


class OracleProbeDesc(ctypes.Structure):
    _fields_ = [
        ("id", ctypes.c_uint32),
        ("prv", ctypes.c_char_p),
        ("mod", ctypes.c_char_p),
        ("fun", ctypes.c_char_p),
        ("prb", ctypes.c_char_p),
    ]


class IllumosProbeDesc(ctypes.Structure):
    _fields_ = [
        ("id", ctypes.c_uint32),
        ("prv", ctypes.c_char * 64),
        ("mod", ctypes.c_char * 64),
        ("fun", ctypes.c_char * 192),
        ("prb", ctypes.c_char * 64),
    ]


class ProgInfo(ctypes.Structure):
    _fields_ = [
        ("descattr", ctypes.c_uint32),
        ("stmtattr", ctypes.c_uint32),
        ("aggregates", ctypes.c_uint),
        ("recgens", ctypes.c_uint),
        ("matches", ctypes.c_uint),
        ("speculations", ctypes.c_uint),
    ]


class OracleStmtDesc(ctypes.Structure):
    """Oracle's dtrace_stmtdesc_t: actions are compiled to BPF, the clause flags say what
    kinds of action the clause holds."""

    _fields_ = [
        ("ecbdesc", ctypes.c_void_p),
        ("clause", ctypes.c_void_p),
        ("fmtdata", ctypes.c_void_p),
        ("descattr", ctypes.c_uint8 * 3),
        ("stmtattr", ctypes.c_uint8 * 3),
        ("clauseflags", ctypes.c_int),
        ("id", ctypes.c_int),
    ]


class IllumosDifo(ctypes.Structure):  # the leading fields of dtrace_difo_t
    _fields_ = [
        ("buf", ctypes.c_void_p),
        ("inttab", ctypes.c_void_p),
        ("strtab", ctypes.c_void_p),
        ("vartab", ctypes.c_void_p),
        ("len", ctypes.c_uint),
        ("intlen", ctypes.c_uint),
        ("strlen", ctypes.c_uint),
        ("varlen", ctypes.c_uint),
        ("rtype", ctypes.c_uint8 * 8),
        ("refcnt", ctypes.c_uint),
        ("destructive", ctypes.c_uint),  # copyout()/copyoutstr() in this DIF object
    ]


class IllumosActDesc(ctypes.Structure):
    pass


IllumosActDesc._fields_ = [
    ("difo", ctypes.POINTER(IllumosDifo)),
    ("next", ctypes.POINTER(IllumosActDesc)),
    ("kind", ctypes.c_uint16),
    ("ntuple", ctypes.c_uint32),
    ("arg", ctypes.c_uint64),
    ("uarg", ctypes.c_uint64),
    ("refcnt", ctypes.c_int),
]


class IllumosStmtDesc(ctypes.Structure):  # the leading fields of dtrace_stmtdesc_t
    _fields_ = [
        ("ecbdesc", ctypes.c_void_p),
        ("action", ctypes.POINTER(IllumosActDesc)),
        ("action_last", ctypes.POINTER(IllumosActDesc)),
    ]


class SetoptData(ctypes.Structure):  # dtrace_setoptdata_t, the same in both families
    _fields_ = [
        ("handle", ctypes.c_void_p),
        ("probe", ctypes.c_void_p),
        ("option", ctypes.c_char_p),
        ("oldval", ctypes.c_int64),
        ("newval", ctypes.c_int64),
    ]


CONSUME_PROBE = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
CONSUME_REC = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)
HANDLER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
AGG_WALK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
PROBE_ITER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)
STMT_ITER = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p
)


class DTraceError(Exception):
    pass


class Library:
    """libdtrace loaded with ctypes, its family detected from the symbols it exports."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lib = ctypes.CDLL(path, use_errno=True)
        self.libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        self.family: Family = detect_family(self.lib)
        self.version = ctypes.c_char_p.in_dll(self.lib, "_dtrace_version").value or b""
        lib = self.lib
        vp, cp, i = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
        lib.dtrace_open.restype = vp
        lib.dtrace_open.argtypes = [i, i, ctypes.POINTER(i)]
        lib.dtrace_errno.argtypes = [vp]
        lib.dtrace_errmsg.restype = cp
        lib.dtrace_errmsg.argtypes = [vp, i]
        lib.dtrace_setopt.argtypes = [vp, cp, cp]
        lib.dtrace_getopt.argtypes = [vp, cp, ctypes.POINTER(ctypes.c_int64)]
        lib.dtrace_stmt_iter.argtypes = [vp, vp, STMT_ITER, vp]
        lib.dtrace_handle_setopt.argtypes = [vp, HANDLER, vp]
        lib.dtrace_program_fcompile.restype = vp
        lib.dtrace_program_fcompile.argtypes = [vp, vp, ctypes.c_uint, i, vp]
        lib.dtrace_program_exec.argtypes = [vp, vp, ctypes.POINTER(ProgInfo)]
        lib.dtrace_stop.argtypes = [vp]
        lib.dtrace_close.argtypes = [vp]
        lib.dtrace_work.argtypes = [vp, vp, CONSUME_PROBE, CONSUME_REC, vp]
        lib.dtrace_aggregate_snap.argtypes = [vp]
        lib.dtrace_aggregate_walk.argtypes = [vp, AGG_WALK, vp]
        lib.dtrace_handle_buffered.argtypes = [vp, HANDLER, vp]
        lib.dtrace_handle_err.argtypes = [vp, HANDLER, vp]
        lib.dtrace_handle_drop.argtypes = [vp, HANDLER, vp]
        lib.dtrace_probe_iter.argtypes = [vp, vp, PROBE_ITER, vp]
        lib.dtrace_addr2str.argtypes = [vp, ctypes.c_uint64, ctypes.c_char_p, i]
        if self.family == "oracle":
            lib.dtrace_go.argtypes = [vp, ctypes.c_uint]
            lib.dtrace_init.argtypes = [vp]
        else:
            lib.dtrace_go.argtypes = [vp]
            lib.dtrace_sleep.argtypes = [vp]
        self.libc.fmemopen.restype = vp
        self.libc.fmemopen.argtypes = [ctypes.c_void_p, ctypes.c_size_t, cp]
        self.libc.fopen.restype = vp
        self.libc.fopen.argtypes = [cp, cp]
        self.libc.fclose.argtypes = [vp]
        self.libc.open_memstream.restype = vp
        self.libc.open_memstream.argtypes = [vp, vp]
        self.libc.free.argtypes = [vp]
        self.libc.fputs.argtypes = [cp, vp]
        self.libc.fflush.argtypes = [vp]

    def errmsg(self, handle: int | None, err: int | None = None) -> str:
        if err is None:
            err = self.lib.dtrace_errno(handle) if handle else 0
        msg = self.lib.dtrace_errmsg(handle, err)
        return (msg or b"unknown libdtrace error").decode("utf-8", "replace")


def detect_family(lib: ctypes.CDLL) -> Family:
    """Oracle's libdtrace has ``dtrace_init`` and no ``dtrace_sleep``; illumos the reverse."""
    try:
        lib.dtrace_sleep  # noqa: B018 - probing for the symbol
    except AttributeError:
        return "oracle"
    return "illumos"


class Handle:
    """One open libdtrace handle, with the options of the job applied."""

    def __init__(self, library: Library, options: dict[str, str | None]) -> None:
        self.library = library
        lib = library.lib
        err = ctypes.c_int(0)
        h = lib.dtrace_open(DTRACE_VERSION, 0, ctypes.byref(err))
        if not h:
            raise DTraceError(
                "cannot open libdtrace: " + library.errmsg(None, err.value) + _privilege_hint()
            )
        self.h: int = h
        for name, value in options.items():
            raw = None if value is None else value.encode()
            if lib.dtrace_setopt(h, name.encode(), raw) != 0:
                raise DTraceError(f"cannot set option {name}={value}: {library.errmsg(h)}")
        # Oracle's handle is set up only after its options: compiling before this crashes.
        if library.family == "oracle" and lib.dtrace_init(h) != 0:
            raise DTraceError("cannot initialise libdtrace: " + library.errmsg(h))
        # What the server set: a script's pragmas are what differs from this after compiling.
        self.options_set = self.read_options()

    def read_options(self) -> dict[str, int]:
        """Every run-time option libdtrace knows, as it stores it (``dtrace_getopt`` reads
        no compile-time option; a name this family does not have is skipped)."""
        val = ctypes.c_int64()
        found = {}
        for name in D_RUNTIME_OPTIONS:
            if self.library.lib.dtrace_getopt(self.h, name.encode(), ctypes.byref(val)) == 0:
                found[name] = int(val.value)
        return found

    def changed_options(self) -> dict[str, int]:
        """The options the compiled script set (its ``#pragma D option`` lines)."""
        now = self.read_options()
        return {k: v for k, v in now.items() if self.options_set.get(k) != v}

    def destructive_actions(self, prog: int) -> list[str]:
        """The destructive actions in the compiled program, from its statements."""
        found: list[str] = []

        def each(_h: int, _prog: int, sdp: int, _arg: int) -> int:
            try:
                if self.library.family == "oracle":
                    found.extend(oracle_destructive(sdp))
                else:
                    found.extend(illumos_destructive(sdp))
            except Exception as exc:  # never unwind through libdtrace
                found.append(f"unreadable statement ({type(exc).__name__})")
            return 0

        cb = STMT_ITER(each)
        if self.library.lib.dtrace_stmt_iter(self.h, prog, cb, None) != 0:
            raise DTraceError("cannot read the compiled program: " + self.library.errmsg(self.h))
        return sorted(set(found))

    def refusals(self, prog: int, request: dict[str, Any]) -> list[DRefusal]:
        """What the server's policy refuses in the compiled program (see ``policy``)."""
        policy = request_policy(request)
        return refuse_d_options(self.changed_options(), policy) + refuse_d_actions(
            self.destructive_actions(prog), policy
        )

    def compile(self, script: str) -> int:
        """Compile through a FILE* so that libdtrace's messages carry line numbers."""
        # Compile-time options act as libdtrace reads them: never let it read a refused one.
        early = refuse_d_compile_options(script)
        if early:
            d = early[0]
            raise DTraceError(f"line {d.line}: {d.message}")
        lib, libc = self.library.lib, self.library.libc
        data = script.encode("utf-8")
        buf = ctypes.create_string_buffer(data, len(data) + 1)
        fp = libc.fmemopen(buf, max(len(data), 1), b"r")
        if not fp:
            raise DTraceError("fmemopen failed")
        try:
            prog = lib.dtrace_program_fcompile(self.h, fp, DTRACE_C_ETAGS, 0, None)
        finally:
            libc.fclose(fp)
        if not prog:  # a NULL pointer: the message says why
            raise DTraceError(self.library.errmsg(self.h))
        return int(prog)


def oracle_destructive(sdp: int) -> list[str]:
    """Oracle's compiler marks a clause holding a destructive action or subroutine
    (system, raise, stop, freopen, copyout, copyoutstr, panic, breakpoint, chill); it does
    not keep which one."""
    sd = ctypes.cast(sdp, ctypes.POINTER(OracleStmtDesc)).contents
    return ["destructive"] if sd.clauseflags & CLAUSE_DESTRUCTIVE else []


def illumos_destructive(sdp: int) -> list[str]:
    """illumos keeps each action's kind; copyout()/copyoutstr() mark their DIF object."""
    sd = ctypes.cast(sdp, ctypes.POINTER(IllumosStmtDesc)).contents
    found = []
    ap = sd.action
    last = ctypes.addressof(sd.action_last.contents) if sd.action_last else 0
    for _ in range(1 << 16):
        if not ap:
            break
        act = ap.contents
        if act.kind & 0xFF00 in (0x200, 0x500):
            found.append(DESTRUCTIVE_ACTION_KINDS.get(act.kind, f"action {act.kind:#x}"))
        if act.difo and act.difo.contents.destructive:
            found.append("copyout")
        if ctypes.addressof(act) == last:
            break
        ap = act.next
    return found


def request_policy(request: dict[str, Any]) -> Settings:
    """The server's policy as the request carries it; without one, the strictest."""
    policy = request.get("policy") or {}
    return Settings(
        token="-",
        allow_destructive=bool(policy.get("allow_destructive", False)),
        max_d_strsize=int(policy.get("max_d_strsize", Settings.max_d_strsize)),
    )


def refusal_fields(refused: list[DRefusal]) -> dict[str, Any]:
    return {"refused": [r.to_dict() for r in refused]}


def _privilege_hint() -> str:
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        return " (DTrace needs root)"
    return ""


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
            handle = Handle(self.library, self._options())
            self.h = handle.h
            prog = handle.compile(self.script)
            # Nothing is enabled before the compiled program passes the server's policy.
            refused = handle.refusals(prog, self.request)
        except DTraceError as exc:
            self.emit("exited", code=1, error=str(exc))
            return 1
        if refused:
            self.emit("exited", code=1, error=refused[0].message, **refusal_fields(refused))
            return 1
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
        chew, chewrec, buffered, errh, droph, setopth, self._walk_cb = cbs
        info = ProgInfo()
        if lib.dtrace_program_exec(self.h, prog, ctypes.byref(info)) != 0:
            self.emit("exited", code=1, error="cannot enable the probes: " + self._err())
            return 1
        for register, cb in (
            (lib.dtrace_handle_err, errh),
            (lib.dtrace_handle_drop, droph),
            (lib.dtrace_handle_buffered, buffered),
            (lib.dtrace_handle_setopt, setopth),
        ):
            if register(self.h, cb, None) != 0:
                self.emit("exited", code=1, error="cannot set a libdtrace handler: " + self._err())
                return 1
        if self.library.family == "oracle":
            started = lib.dtrace_go(self.h, 0)
        else:
            started = lib.dtrace_go(self.h)
        if started != 0:
            why = self._err()
            # Oracle's BEGIN/END uprobes are shared by every consumer on the box; one that is
            # closing deletes them under a starting one.  Nothing was traced yet: the server
            # may start the run again in a fresh worker.
            retry = self.library.family == "oracle" and why in TRANSIENT_START_ERRORS
            self.emit("exited", code=1, error="cannot start tracing: " + why, retry=retry)
            return 1
        self.emit("attached", probes=int(info.matches))
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
                status = lib.dtrace_work(self.h, sink.fp, chew, chewrec, None)
                self._collect(sink)
                if self.setopt_refused:
                    error = self.setopt_refused[0].message
                    break
                if status == WORKSTATUS_ERROR:
                    err = lib.dtrace_errno(self.h)
                    if err != 4:  # EINTR
                        error = "processing aborted: " + self.library.errmsg(self.h, err)
                        break
                if status == WORKSTATUS_DONE or stopping:
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
        code = self.exit_status if self.exit_status is not None else (1 if error else 0)
        if self.setopt_refused:
            self.emit("exited", code=1, error=error, **refusal_fields(self.setopt_refused))
            return 1
        self.emit("exited", code=code, error=error)
        return code

    def _err(self) -> str:
        return self.library.errmsg(self.h)


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
            emit("problem", message=f"{count} {name} drops", fix=DROP_FIXES.get(kind))
        for message, n in self.errors.items():
            emit("problem", message=message + (f" ({n} times)" if n > 1 else ""), fix=None)
        if self.more_errors:
            emit("problem", message=f"{self.more_errors} more probe errors", fix=None)
        self.clear()


class MemoryStream:
    """A FILE* writing to memory (open_memstream); ``take`` returns what is new."""

    LIMIT = 1 << 20  # start a fresh stream once this much has been read

    def __init__(self, libc: ctypes.CDLL) -> None:
        self.libc = libc
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.fp = 0
        self._open()

    def _open(self) -> None:
        self.ptr = ctypes.c_void_p()
        self.size = ctypes.c_size_t()
        self.read = 0
        self.fp = self.libc.open_memstream(ctypes.byref(self.ptr), ctypes.byref(self.size))
        if not self.fp:
            raise DTraceError("open_memstream failed")

    def take(self) -> str:
        if not self.fp:
            return ""
        self.libc.fflush(self.fp)
        size = self.size.value
        new = b""
        if size > self.read and self.ptr.value:
            new = ctypes.string_at(self.ptr.value + self.read, size - self.read)
            self.read = size
        if self.read >= self.LIMIT:
            self.close()
            self._open()
        return self.decoder.decode(new)

    def close(self) -> None:
        if self.fp:
            self.libc.fclose(self.fp)
            self.libc.free(self.ptr)
            self.fp = 0


def oracle_raw_record(aggdata: int) -> RawRecord | None:
    agd = ctypes.cast(aggdata, ctypes.POINTER(OracleAggData)).contents
    desc = agd.desc.contents
    drec = desc.drecs[1]  # DT_AGGDATA_RECORD: record 0 is the data generation
    if drec.action not in AGGREGATING_ACTIONS["oracle"]:
        return None
    keys = []
    for i in range(1, desc.nkrecs):  # key record 0 is the aggregation's id
        k = desc.krecs[i]
        keys.append(RawKey(k.action, k.size, ctypes.string_at(agd.key + k.offset, k.size)))
    data = ctypes.string_at(agd.data + drec.offset, drec.size)
    return RawRecord(
        "oracle",
        (desc.name or b"").decode("utf-8", "replace"),
        drec.action,
        desc.sig,
        tuple(keys),
        data,
        int(desc.normal) or 1,
        int(desc.varid),
    )


def illumos_raw_record(aggdata: int) -> RawRecord | None:
    agd = ctypes.cast(aggdata, ctypes.POINTER(IllumosAggData)).contents
    desc = agd.desc.contents
    nrecs = desc.nrecs
    recs = ctypes.cast(
        ctypes.addressof(desc) + IllumosAggDesc.rec.offset, ctypes.POINTER(IllumosRecDesc)
    )
    arec = recs[nrecs - 1]  # the last record is the aggregating action
    if arec.action not in AGGREGATING_ACTIONS["illumos"]:
        return None
    keys = []
    for i in range(1, nrecs - 1):  # record 0 is the variable id
        k = recs[i]
        keys.append(RawKey(k.action, k.size, ctypes.string_at(agd.data + k.offset, k.size)))
    data = ctypes.string_at(agd.data + arec.offset, arec.size)
    return RawRecord(
        "illumos",
        (desc.name or b"").decode("utf-8", "replace"),
        arec.action,
        int(arec.arg),
        tuple(keys),
        data,
        int(agd.normal) or 1,
        int(desc.varid),
    )


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
