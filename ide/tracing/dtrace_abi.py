"""libdtrace's binary interface for both families: constants, struct layouts, callbacks, and
the library loaded through ctypes.

illumos (SmartOS, FreeBSD, macOS) and Oracle's DTrace for Linux lay out their records,
statements and probe descriptions differently; ``detect_family`` tells them apart by the
symbols the library exports.  Only the worker process (``dtrace_worker``) loads libdtrace.
"""

from __future__ import annotations

import codecs
import ctypes
import ctypes.util

from .dtrace_records import AGGREGATING_ACTIONS, Family, RawKey, RawRecord
from .policy import DESTRUCTIVE_ACTION_KINDS

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
