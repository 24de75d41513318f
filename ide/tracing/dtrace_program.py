"""One libdtrace handle in the worker: options applied, a script compiled, and what the
compiled program does read back for the server's policy.

The policy is decided on libdtrace's own account of the program: the options after
compiling (which the script's pragmas set) and the statements' destructive actions.
"""

from __future__ import annotations

import ctypes
import os
from typing import Any

from ..config import Settings
from .dtrace_abi import (
    DTRACE_C_ETAGS,
    DTRACE_VERSION,
    STMT_ITER,
    DTraceError,
    Library,
    illumos_destructive,
    oracle_destructive,
)
from .policy import (
    D_RUNTIME_OPTIONS,
    DRefusal,
    refuse_d_actions,
    refuse_d_compile_options,
    refuse_d_options,
)


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
