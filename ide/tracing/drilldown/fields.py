"""The fields a drilldown can break an aggregation down by, per language, and which probes
each one means something for.

A field is offered only when it applies to every probe of every clause that updates the
aggregation: ``func`` is not a tracepoint's, a kernel stack is not a uprobe's, nothing about
"the current process" is BEGIN's or a timer's, and a probe field (``probefunc``) is offered
only where it can differ between events (a wildcard, an empty field or several probes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..model import Language
from .views import ProbeName

Applies = Callable[[Sequence[ProbeName]], bool]


@dataclass(frozen=True)
class Field:
    name: str  # what the user picks, and the expression written into the script
    label: str
    applies: Applies
    kind: str = "number"  # "string" | "number" | "stack": how a value of it is compared

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "label": self.label}


D_SPECIAL = frozenset({"BEGIN", "END", "ERROR"})
D_TIMERS = ("tick-",)
D_ONE_MODULE = frozenset({"syscall", "profile", "sched", "proc", "io", "lockstat", "dtrace"})
BPFTRACE_SPECIAL = frozenset({"BEGIN", "END", "interval", "iter"})
BPFTRACE_KERNEL = frozenset(
    {"kprobe", "kretprobe", "tracepoint", "rawtracepoint", "kfunc", "kretfunc", "profile",
     "software", "hardware"}
)  # fmt: skip
BPFTRACE_FUNC = frozenset({"kprobe", "kretprobe", "uprobe", "uretprobe", "kfunc", "kretfunc"})


def _d_special(p: ProbeName) -> bool:
    return (p.provider in ("dtrace", "") and p.name in D_SPECIAL) or p.name.startswith(D_TIMERS)


def _d_user(p: ProbeName) -> bool:
    """pid$target, pid123, a USDT provider like mysql$target: user-level probes."""
    return p.provider.startswith("pid") or "$" in p.provider or p.provider[-1:].isdigit()


def _in_context(probes: Sequence[ProbeName]) -> bool:
    return not any(_d_special(p) for p in probes)


def _varies(field: str) -> Applies:
    """A D probe field that can take several values in these probes."""

    def applies(probes: Sequence[ProbeName]) -> bool:
        if not _in_context(probes):
            return False
        values = {getattr(p, field) for p in probes}
        return len(values) > 1 or any(v == "" or any(c in v for c in "*?[") for v in values)

    return applies


def _syscall_name(probes: Sequence[ProbeName]) -> bool:
    return all(p.provider == "syscall" for p in probes) and _varies("function")(probes)


def _d_kernel(probes: Sequence[ProbeName]) -> bool:
    return _in_context(probes) and not any(_d_user(p) for p in probes)


def _illumos(probes: Sequence[ProbeName]) -> bool:
    return _in_context(probes)


def _bpftrace_context(probes: Sequence[ProbeName]) -> bool:
    return not any(p.provider in BPFTRACE_SPECIAL for p in probes)


def _bpftrace_kernel(probes: Sequence[ProbeName]) -> bool:
    return _bpftrace_context(probes) and all(p.provider in BPFTRACE_KERNEL for p in probes)


def _bpftrace_func(probes: Sequence[ProbeName]) -> bool:
    return all(p.provider in BPFTRACE_FUNC for p in probes) and (
        len(probes) > 1 or any("*" in p.function or "?" in p.function for p in probes)
    )


def _bpftrace_probe(probes: Sequence[ProbeName]) -> bool:
    return _bpftrace_context(probes) and (
        len(probes) > 1 or any(any(c in p.text for c in "*?") for p in probes)
    )


def _raw_syscalls(probes: Sequence[ProbeName]) -> bool:
    return all(p.provider == "tracepoint" and p.module == "raw_syscalls" for p in probes)


D_FIELDS: tuple[Field, ...] = (
    Field("execname", "process name (execname)", _in_context, "string"),
    Field("pid", "process ID (pid)", _in_context),
    Field("tid", "thread ID (tid)", _in_context),
    Field("uid", "user ID (uid)", _in_context),
    Field("cpu", "CPU (cpu)", _in_context),
    Field("probefunc", "syscall (probefunc)", _syscall_name, "string"),
    Field(
        "probefunc",
        "probe function (probefunc)",
        lambda ps: _varies("function")(ps) and not _syscall_name(ps),
        "string",
    ),
    Field("probename", "probe name (probename)", _varies("name"), "string"),
    Field(
        "probemod",
        "probe module (probemod)",
        lambda ps: _varies("module")(ps) and not all(p.provider in D_ONE_MODULE for p in ps),
        "string",
    ),
    Field("probeprov", "provider (probeprov)", _varies("provider"), "string"),
    Field("stack()", "kernel stack (stack())", _d_kernel, "stack"),
    Field("ustack()", "user stack (ustack())", _in_context, "stack"),
)
D_ILLUMOS_FIELDS: tuple[Field, ...] = (Field("zonename", "zone (zonename)", _illumos, "string"),)
BPFTRACE_FIELDS: tuple[Field, ...] = (
    Field("comm", "process name (comm)", _bpftrace_context, "string"),
    Field("pid", "process ID (pid)", _bpftrace_context),
    Field("tid", "thread ID (tid)", _bpftrace_context),
    Field("uid", "user ID (uid)", _bpftrace_context),
    Field("cpu", "CPU (cpu)", _bpftrace_context),
    Field("args->id", "syscall number (args->id)", _raw_syscalls),
    Field("probe", "probe (probe)", _bpftrace_probe, "string"),
    Field("func", "function (func)", _bpftrace_func, "string"),
    Field("kstack", "kernel stack (kstack)", _bpftrace_kernel, "stack"),
    Field("ustack", "user stack (ustack)", _bpftrace_context, "stack"),
    Field("cgroup", "cgroup ID (cgroup)", _bpftrace_context),
)


def fields_for(
    language: Language, probes: Sequence[ProbeName], *, illumos: bool = False
) -> list[Field]:
    """The fields that apply to every one of ``probes``, in the order a menu shows them."""
    if language == "d":
        vocabulary = D_FIELDS + (D_ILLUMOS_FIELDS if illumos else ())
    else:
        vocabulary = BPFTRACE_FIELDS
    if not probes:
        return []
    return [f for f in vocabulary if f.applies(probes)]
