"""What a bpftrace script does, read from bpftrace's own parse (``bpftrace -d``).

``bpftrace -d`` (0.17: "dry run, debug info") parses, checks and compiles a script without
loading anything, and prints the tree after each pass::

    AST after: Semantic
    -------------------
    Program
     tracepoint:syscalls:sys_enter_read
      =
       map: @start :: type[unsigned int64, ctx: 0]
        builtin: tid :: type[unsigned int64, ctx: 0]
       builtin: nsecs :: type[unsigned int64, ctx: 0]
      call: delete :: type[none, ctx: 0]
       ...

One space of indent per level; string literals are printed with their escapes (``\\n``), so
every node is one line.  The script's C definitions (``#define``, ``struct``) are echoed raw
above ``Program`` in every section: they are the one place where the script's own text can
stand at the start of a line, so

- every ``call:`` line anywhere in the output counts (a forged one can only add a refusal);
- maps are read from the tree under the last ``Program`` line of the last typed section.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dtrace_lexer.vocabulary import BPFTRACE

AGGREGATING = frozenset(BPFTRACE.aggregations)
_NODE = re.compile(r"^( +)(.*)$")
_CALL = re.compile(r"^ +call: ([A-Za-z_][A-Za-z0-9_]*)(?: ::|$)")
_MAP = re.compile(r"^map: (@[A-Za-z0-9_]*) :: type\[([^,\]]*)")
_INT = re.compile(r"^int: (-?\d+)")
_BUILTIN = re.compile(r"^builtin: ([A-Za-z_][A-Za-z0-9_]*)")
_TYPED_SECTIONS = ("Semantic", "NodeCounter", "ResourceAnalyser")
_MARKERS = frozenset({"++", "--"})


@dataclass(frozen=True)
class MapFacts:
    """One map as bpftrace typed it."""

    name: str  # "@x"; "@" for the unnamed map
    kind: str  # an aggregating function (AGGREGATING), or "value" for plain values
    key_arity: int = 0
    params: tuple[int, ...] = ()  # lhist(v, lo, hi, step): (lo, hi, step)
    deleted: bool = False  # delete(@x[...]): runs in BPF, beside a snapshot's walk of the map
    cleared: bool = False  # clear(@x) / zero(@x): user space, one at a time with print()
    printed: bool = False  # the script prints it itself
    keyed_by: frozenset[str] = frozenset()  # built-ins its keys are (tid, pid, comm, ...)

    @property
    def is_aggregation(self) -> bool:
        return self.kind in AGGREGATING


@dataclass(frozen=True)
class ProgramFacts:
    probes: tuple[str, ...] = ()
    calls: frozenset[str] = frozenset()
    maps: dict[str, MapFacts] = field(default_factory=dict)
    typed: bool = False  # the tree came from a typed pass (the script got past semantics)


@dataclass
class _Node:
    text: str
    depth: int
    children: list[_Node] = field(default_factory=list)


def _typed_section_start(lines: list[str]) -> int | None:
    starts = [i for i, ln in enumerate(lines) if ln.startswith("AST after: ")]
    typed = [i for i in starts if lines[i].removeprefix("AST after: ").strip() in _TYPED_SECTIONS]
    if typed:
        return typed[-1]
    return starts[-1] if starts else None


def _tree(lines: list[str], start: int) -> list[_Node]:
    """The probes under the last ``Program`` line at or after ``start``."""
    program = None
    for i in range(start, len(lines)):
        if lines[i] == "Program":
            program = i
    if program is None:
        return []
    roots: list[_Node] = []
    stack: list[_Node] = []
    for ln in lines[program + 1 :]:
        m = _NODE.match(ln)
        if m is None:
            break  # a blank line or the next section ends the tree
        node = _Node(m.group(2), len(m.group(1)))
        while stack and stack[-1].depth >= node.depth:
            stack.pop()
        if stack:
            stack[-1].children.append(node)
        elif node.depth == 1:
            roots.append(node)
        else:
            break
        stack.append(node)
    return roots


def _walk(node: _Node) -> list[_Node]:
    out = []
    todo = [node]
    while todo:
        n = todo.pop()
        out.append(n)
        todo.extend(reversed(n.children))
    return out


class _Maps:
    def __init__(self) -> None:
        self.kind: dict[str, str] = {}
        self.arity: dict[str, int] = {}
        self.params: dict[str, tuple[int, ...]] = {}
        self.flags: dict[str, set[str]] = {}
        self.builtins: dict[str, set[str]] = {}

    def see(self, node: _Node) -> str | None:
        m = _MAP.match(node.text)
        if m is None:
            return None
        name, kind = m.group(1), m.group(2).strip()
        keys = [c for c in node.children if c.text not in _MARKERS]
        self.arity.setdefault(name, len(keys))
        used = self.builtins.setdefault(name, set())
        used.update(b.group(1) for c in keys if (b := _BUILTIN.match(c.text)))
        if kind in AGGREGATING or name not in self.kind:
            self.kind[name] = kind if kind in AGGREGATING else "value"
        self.flags.setdefault(name, set())
        return name

    def flag(self, node: _Node, flag: str) -> None:
        first = node.children[0] if node.children else None
        name = self.see(first) if first is not None else None
        if name is not None:
            self.flags[name].add(flag)

    def facts(self) -> dict[str, MapFacts]:
        return {
            name: MapFacts(
                name,
                kind,
                self.arity.get(name, 0),
                self.params.get(name, ()),
                "deleted" in self.flags[name],
                "cleared" in self.flags[name],
                "printed" in self.flags[name],
                frozenset(self.builtins.get(name, ())),
            )
            for name, kind in self.kind.items()
        }


_CALL_FLAGS = {"delete": "deleted", "clear": "cleared", "zero": "cleared", "print": "printed"}


def parse_debug_output(text: str) -> ProgramFacts:
    """The facts of one script from what ``bpftrace -d`` printed on stdout."""
    lines = text.splitlines()
    called = frozenset(m.group(1) for ln in lines if (m := _CALL.match(ln)))
    start = _typed_section_start(lines)
    if start is None:
        return ProgramFacts(calls=called)
    typed = lines[start].removeprefix("AST after: ").strip() in _TYPED_SECTIONS
    probes: list[str] = []
    maps = _Maps()
    for probe in _tree(lines, start):
        probes.append(probe.text)
        for node in _walk(probe):
            if node.text == "=" and len(node.children) == 2:
                target, value = node.children
                name = maps.see(target)
                fn = _CALL.match(" " + value.text)
                if name is not None and fn and fn.group(1) == "lhist":
                    ints = [int(m.group(1)) for c in value.children if (m := _INT.match(c.text))]
                    maps.params[name] = tuple(ints[-3:])
                continue
            fn = _CALL.match(" " + node.text)
            if fn and fn.group(1) in _CALL_FLAGS:
                maps.flag(node, _CALL_FLAGS[fn.group(1)])
            else:
                maps.see(node)
    return ProgramFacts(tuple(probes), called, maps.facts(), typed)
