"""D probe descriptions to bpftrace probes: which bpftrace probe fires where the D probe
would, and what D's probe-dependent built-ins (``arg0``, ``probefunc``, ...) become there."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from pathlib import Path

from ..d_syntax.tree import Pos, ProbeDesc
from .syscall_args import SYSCALL_ARGS

TRACEFS_SYSCALLS = Path("/sys/kernel/tracing/events/syscalls")
SYSCALL_NAME_MAP = "@__syscall_name"  # raw_syscalls' id -> name, filled in BEGIN


class Refused(Exception):
    """A D construct with no faithful bpftrace translation, at its D position."""

    def __init__(self, pos: Pos, message: str) -> None:
        super().__init__(message)
        self.pos = pos
        self.message = message


@dataclass(frozen=True)
class ProbeTarget:
    """Where a D probe fires in bpftrace and what its context built-ins are there.

    ``args`` names ``arg0..N`` (``None``: bpftrace's own ``argN``); ``builtins`` overrides
    D variables (bpftrace text, or ``None`` for "no equivalent here", with ``refusals``
    saying why); ``guard`` is a predicate the D probe implies (``pid == 123``)."""

    bt: str
    provider: str
    function: str
    name: str
    module: str = ""
    args: tuple[str, ...] | None = None
    args_reason: str = ""
    builtins: dict[str, str | None] = field(default_factory=dict)
    refusals: dict[str, str] = field(default_factory=dict)
    guard: str | None = None
    uses_syscall_names: bool = False


_GLOB = re.compile(r"[*?\[]")
_TIMED = re.compile(r"^(tick|profile)-([0-9]+)([a-z]*)$")
# D's time units to (bpftrace unit, multiplier); "" is D's default, hertz.
_UNITS: dict[str, tuple[str, int]] = {
    "": ("hz", 1), "hz": ("hz", 1), "ns": ("us", 0), "nsec": ("us", 0),
    "us": ("us", 1), "usec": ("us", 1), "ms": ("ms", 1), "msec": ("ms", 1),
    "s": ("s", 1), "sec": ("s", 1), "m": ("s", 60), "min": ("s", 60),
    "h": ("s", 3600), "hour": ("s", 3600), "d": ("s", 86400), "day": ("s", 86400),
}  # fmt: skip


def syscall_arg_names(name: str) -> tuple[str, ...] | None:
    """The running kernel's argument names of ``sys_enter_<name>`` (its format file), else
    the built-in table's; ``None`` when neither knows the system call."""
    fmt = TRACEFS_SYSCALLS / f"sys_enter_{name}" / "format"
    try:
        text = fmt.read_text()
    except OSError:
        return SYSCALL_ARGS.get(name)
    names = []
    for line in text.split("\n\n", 1)[-1].splitlines():
        decl = line.strip().removeprefix("field:").split(";", 1)[0]
        if not line.strip().startswith("field:"):
            continue
        word = re.sub(r"\[.*\]", "", decl).split()[-1].lstrip("*")
        if not word.startswith("common_") and word != "__syscall_nr":
            names.append(word)
    return tuple(names)


MAX_GLOB_EXPANSION = 64  # a wider syscall glob stays one globbed tracepoint


def syscall_names() -> list[str]:
    """The system calls with tracepoints: the running kernel's, else the built-in table's."""
    try:
        found = [p.name[len("sys_enter_") :] for p in TRACEFS_SYSCALLS.glob("sys_enter_*")]
    except OSError:
        found = []
    return sorted(found or SYSCALL_ARGS)


def map_probes(desc: ProbeDesc) -> list[ProbeTarget]:
    """The bpftrace probes for one D description: one, or one per system call a
    ``syscall::GLOB:`` matches (each then has its own arguments and probefunc)."""
    func = desc.function
    if desc.provider == "syscall" and func not in ("", "*") and _GLOB.search(func):
        matches = [n for n in syscall_names() if fnmatchcase(n, func)]
        if not matches:
            raise Refused(desc.pos, f"syscall::{func}: the glob matches no system call")
        if len(matches) <= MAX_GLOB_EXPANSION:
            return [_syscall(replace(desc, function=n)) for n in matches]
    return [map_probe(desc)]


def map_probe(desc: ProbeDesc) -> ProbeTarget:
    provider, name = desc.provider, desc.name
    if provider in ("", "dtrace") and name in ("BEGIN", "END"):
        return ProbeTarget(name, "dtrace", "", name)
    if provider in ("", "dtrace") and name == "ERROR":
        raise Refused(desc.pos, "dtrace:::ERROR: no bpftrace equivalent (bpftrace has no probe "
                      "that fires on a faulting action)")  # fmt: skip
    if provider in ("", "profile") and (m := _TIMED.match(name)):
        return _timed(desc, m.group(1), int(m.group(2)), m.group(3))
    if provider == "syscall":
        return _syscall(desc)
    if provider == "fbt":
        return _fbt(desc)
    if provider.startswith("pid"):
        return _pid(desc)
    if provider in ("proc", "sched", "io"):
        return _stable(desc)
    what = f'provider "{provider}"' if provider else f'probe "{desc.text}"'
    raise Refused(desc.pos, f"{what}: no bpftrace equivalent")


def _timed(desc: ProbeDesc, kind: str, count: int, unit: str) -> ProbeTarget:
    if unit not in _UNITS:
        raise Refused(desc.pos, f'{kind}-{count}{unit}: unknown time unit "{unit}"')
    bt_unit, factor = _UNITS[unit]
    if factor == 0:  # nanoseconds: bpftrace counts microseconds at the finest
        if count % 1000:
            raise Refused(desc.pos, f"{kind}-{count}{unit}: bpftrace's finest interval is a "
                          "microsecond")  # fmt: skip
        count, factor = count // 1000, 1
    bt_kind = "interval" if kind == "tick" else "profile"
    target = f"{bt_kind}:{bt_unit}:{count * factor}"
    return ProbeTarget(target, "profile", "", desc.name)


def _syscall(desc: ProbeDesc) -> ProbeTarget:
    func, name = desc.function, desc.name
    if name not in ("entry", "return"):
        raise Refused(desc.pos, f'syscall probe name "{name}": D has only entry and return')
    ret = name == "return"
    if func in ("", "*"):
        bt = "tracepoint:raw_syscalls:sys_exit" if ret else "tracepoint:raw_syscalls:sys_enter"
        raw_args = ("ret", "ret") if ret else tuple(f"args[{i}]" for i in range(6))
        return ProbeTarget(
            bt, "syscall", "", name, "vmlinux", raw_args,
            builtins={"probefunc": f"{SYSCALL_NAME_MAP}[args->id]"}, uses_syscall_names=True,
        )  # fmt: skip
    kind = "sys_exit_" if ret else "sys_enter_"
    if _GLOB.search(func):
        return ProbeTarget(
            f"tracepoint:syscalls:{kind}{func}", "syscall", func, name, "vmlinux",
            args_reason=f"the more than {MAX_GLOB_EXPANSION} system calls a glob matches "
            "have different arguments",
            builtins={"probefunc": None},
            refusals={"probefunc": "probefunc in a globbed syscall probe: bpftrace names "
                      "the tracepoint only as a whole (probe)"},
        )  # fmt: skip
    arg_names = syscall_arg_names(func)
    if arg_names is None:
        raise Refused(desc.pos, f'syscall::{func}: no such system call (no tracepoint '
                      f'syscalls:sys_enter_{func})')  # fmt: skip
    args = ("ret", "ret") if ret else arg_names
    return ProbeTarget(f"tracepoint:syscalls:{kind}{func}", "syscall", func, name, "vmlinux", args)


def _fbt(desc: ProbeDesc) -> ProbeTarget:
    func, name = desc.function, desc.name
    if name not in ("entry", "return") or func in ("", "*"):
        raise Refused(desc.pos, f'fbt probe "{desc.text}": only fbt::FUNCTION:entry|return '
                      "map to kprobe/kretprobe")  # fmt: skip
    func_text = "func"
    if name == "entry":
        return ProbeTarget(f"kprobe:{func}", "fbt", func, name, desc.module,
                           builtins={"probefunc": func_text})  # fmt: skip
    return ProbeTarget(
        f"kretprobe:{func}", "fbt", func, name, desc.module, ("", "retval"),
        builtins={"probefunc": func_text},
        args_reason="arg0 of an fbt return probe is the return offset",
    )  # fmt: skip


def _pid(desc: ProbeDesc) -> ProbeTarget:
    digits = desc.provider[3:]
    if not digits.isdigit():
        raise Refused(desc.pos, f'"{desc.provider}": bpftrace attaches uprobes to a binary, so '
                      "the process must be named by number (pid1234::FUNCTION:entry)")  # fmt: skip
    func, name, module = desc.function, desc.name, desc.module
    if name not in ("entry", "return") or func in ("", "*"):
        raise Refused(desc.pos, f'pid probe "{desc.text}": only pidN::FUNCTION:entry|return '
                      "map to uprobe/uretprobe")  # fmt: skip
    if module in ("", "a.out"):
        binary = f"/proc/{digits}/exe"
    elif module.startswith("/") or module.startswith("lib"):
        binary = module
    else:
        raise Refused(desc.pos, f'pid module "{module}": give a path or a library name')
    guard = f"pid == {digits}"
    if name == "entry":
        return ProbeTarget(f"uprobe:{binary}:{func}", "pid", func, name, module, guard=guard,
                           builtins={"probefunc": "func"})  # fmt: skip
    return ProbeTarget(
        f"uretprobe:{binary}:{func}", "pid", func, name, module, ("", "retval"), guard=guard,
        builtins={"probefunc": "func"},
        args_reason="arg0 of a pid return probe is the return offset",
    )  # fmt: skip


_STABLE: dict[tuple[str, str], str] = {
    ("proc", "exec-success"): "tracepoint:sched:sched_process_exec",
    ("proc", "exit"): "tracepoint:sched:sched_process_exit",
    ("proc", "create"): "tracepoint:sched:sched_process_fork",
    ("proc", "exec"): "tracepoint:syscalls:sys_enter_execve",
    ("sched", "on-cpu"): "tracepoint:sched:sched_switch",
    ("sched", "off-cpu"): "tracepoint:sched:sched_switch",
    ("sched", "wakeup"): "tracepoint:sched:sched_wakeup",
    ("io", "start"): "tracepoint:block:block_rq_issue",
    ("io", "done"): "tracepoint:block:block_rq_complete",
}
_ON_CPU_REASON = (
    "at sched:::on-cpu bpftrace runs in the thread leaving the CPU; only the arriving "
    "thread's execname and tid are known (next_comm, next_pid)"
)


def _stable(desc: ProbeDesc) -> ProbeTarget:
    bt = _STABLE.get((desc.provider, desc.name))
    if bt is None:
        raise Refused(desc.pos, f'probe "{desc.text}": no bpftrace equivalent')
    reason = f"{desc.provider}:::{desc.name}'s args[] (D's translated structs)"
    builtins: dict[str, str | None] = {"probefunc": f'"{desc.function}"'}
    refusals: dict[str, str] = {}
    if (desc.provider, desc.name) == ("sched", "on-cpu"):
        builtins |= {"execname": "args->next_comm", "tid": "args->next_pid"}
        for name in ("pid", "ppid", "uid", "gid", "curthread", "ustack"):
            builtins[name] = None
            refusals[name] = f"{name}: {_ON_CPU_REASON}"
    return ProbeTarget(bt, desc.provider, desc.function, desc.name, desc.module,
                       args_reason=reason, builtins=builtins, refusals=refusals)  # fmt: skip
