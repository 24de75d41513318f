"""What a drilldown needs of a script, the same for both languages: its clauses, their
probes, predicate and the statements that update each map, all as offsets in the text.

Built from the one parser of each language (``d_syntax``, ``bpftrace_syntax``), so a
rewrite at these offsets can only touch code, never a comment, string or character constant.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import bpftrace_syntax as bt
from ..d_syntax import tree as dt
from ..d_syntax.lexer import DSyntaxError
from ..d_syntax.parser import parse as parse_d
from ..model import Diagnostic, Language
from ..scripttext import Positions


class Unreadable(Exception):
    """The script does not parse; ``diagnostic`` says where."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


@dataclass(frozen=True)
class Span:
    start: int
    end: int  # exclusive


@dataclass(frozen=True)
class KeyExpr:
    span: Span
    kind: str  # "string", "number", "stack" (cannot be compared), or "unknown"
    simple: bool = True  # a name, call, member or literal: needs no parentheses in "=="


@dataclass(frozen=True)
class Update:
    """A statement that updates a map: ``@num[execname] = count()``."""

    aggregation: str
    statement: Span
    name_end: int  # where "[...]" starts, or would
    keys_span: Span | None  # "[...]", brackets included; None when the map has no key
    keys: tuple[KeyExpr, ...]
    function: str | None  # the aggregating function called, if any
    top_level: bool = True  # not inside an if/while/unroll
    semicolon: int | None = None  # the offset of the ";" that ends it, if one does


@dataclass(frozen=True)
class ProbeName:
    """A probe as the tracer names it, split: D's four fields, bpftrace's provider and the
    rest (``tracepoint`` ``syscalls:sys_enter_read``)."""

    text: str
    span: Span
    provider: str
    module: str
    function: str
    name: str


@dataclass(frozen=True)
class ClauseView:
    span: Span
    probes: tuple[ProbeName, ...]
    probes_span: Span
    predicate: Span | None  # the expression, without its slashes
    brace: int  # the offset of "{"
    updates: tuple[Update, ...]
    statement_count: int = 0  # top-level statements


@dataclass(frozen=True)
class ScriptView:
    language: Language
    text: str
    clauses: tuple[ClauseView, ...]
    reads: dict[str, list[Span]]  # maps read by a key outside their updates: @start[tid]

    def position(self, offset: int) -> tuple[int, int]:
        return Positions(self.text).at(offset)


def read(language: Language, text: str) -> ScriptView:
    """Raises ``Unreadable`` with the syntax error's position."""
    reads: dict[str, list[Span]] = {}
    clauses = _read_d(text) if language == "d" else _read_bpftrace(text, reads)
    return ScriptView(language, text, tuple(clauses), reads)


# --- D --------------------------------------------------------------------------------------

D_STRING_VARIABLES = frozenset(
    {"execname", "probefunc", "probename", "probemod", "probeprov", "zonename", "cwd", "root"}
)
D_STRING_FUNCTIONS = frozenset(
    {"copyinstr", "stringof", "strjoin", "basename", "dirname", "substr", "lltostr", "strtok",
     "inet_ntoa", "inet_ntoa6", "inet_ntop", "toupper", "tolower", "fds", "cleanpath"}
)  # fmt: skip
D_UNCOMPARABLE = frozenset(
    {"stack", "ustack", "jstack", "func", "sym", "mod", "ufunc", "usym", "umod", "uaddr"}
)


class _Offsets:
    """D's tree gives (line, column) spans; the rewrite works on offsets."""

    def __init__(self, text: str) -> None:
        self.positions = Positions(text)

    def span(self, pos: dt.Pos) -> Span:
        at = self.positions.offset
        return Span(at(pos.line, pos.column), at(pos.end_line, pos.end_column))


_D_SIMPLE = (dt.Ident, dt.Call, dt.Member, dt.Index, dt.IntLit, dt.StrLit, dt.CharLit,
             dt.ClauseVar, dt.MacroArg)  # fmt: skip


def _d_key_kind(e: dt.Expr) -> str:
    if isinstance(e, dt.Ternary):
        kinds = {_d_key_kind(e.then), _d_key_kind(e.other)}
        return kinds.pop() if len(kinds) == 1 else "unknown"
    if isinstance(e, dt.StrLit) or (isinstance(e, dt.Ident) and e.name in D_STRING_VARIABLES):
        return "string"
    if isinstance(e, dt.Call):
        if e.name in D_UNCOMPARABLE:
            return "stack"
        if e.name in D_STRING_FUNCTIONS:
            return "string"
    if isinstance(e, dt.IntLit | dt.CharLit) or (
        isinstance(e, dt.Ident) and e.name in {"pid", "tid", "uid", "gid", "cpu", "ppid"}
    ):
        return "number"
    return "unknown"


def _read_d(text: str) -> list[ClauseView]:
    try:
        program = parse_d(text)
    except DSyntaxError as exc:
        p = exc.pos
        raise Unreadable(
            Diagnostic(p.line, p.column, p.end_line, p.end_column, exc.message)
        ) from exc
    at = _Offsets(text)
    out = []
    for clause in program.clauses:
        updates = []
        for stmt in clause.body:
            e = stmt.expr
            if not isinstance(e, dt.Assign):
                continue
            target = e.target
            base = target.base if isinstance(target, dt.Index) else target
            if not isinstance(base, dt.AggRef):
                continue
            keys = target.args if isinstance(target, dt.Index) else ()
            name_end = at.span(base.pos).end
            updates.append(
                Update(
                    base.name,
                    at.span(stmt.pos),
                    name_end,
                    Span(name_end, at.span(target.pos).end) if keys else None,
                    tuple(
                        KeyExpr(at.span(k.pos), _d_key_kind(k), isinstance(k, _D_SIMPLE))
                        for k in keys
                    ),
                    e.value.name if isinstance(e.value, dt.Call) else None,
                )
            )
        probes = tuple(
            ProbeName(p.text, at.span(p.pos), p.provider, p.module, p.function, p.name)
            for p in clause.probes
        )
        out.append(
            ClauseView(
                at.span(clause.pos),
                probes,
                Span(probes[0].span.start, probes[-1].span.end),
                at.span(clause.predicate.pos) if clause.predicate is not None else None,
                at.span(clause.brace).start,
                tuple(updates),
            )
        )
    return out


# --- bpftrace ---------------------------------------------------------------------------------

BPFTRACE_STRING_BUILTINS = frozenset({"comm", "func", "probe", "username"})
BPFTRACE_STRING_CALLS = frozenset({"str", "strftime", "path"})
BPFTRACE_UNCOMPARABLE = frozenset({"kstack", "ustack", "ksym", "usym", "ntop", "macaddr", "buf"})
BPFTRACE_NUMBERS = frozenset({"pid", "tid", "uid", "gid", "cpu", "cgroup", "nsecs", "retval"})
PROVIDER_ALIASES = {
    "t": "tracepoint", "k": "kprobe", "kr": "kretprobe", "u": "uprobe", "ur": "uretprobe",
    "p": "profile", "i": "interval", "s": "software", "h": "hardware", "f": "kfunc",
    "fr": "kretfunc", "U": "usdt", "rt": "rawtracepoint", "w": "watchpoint",
}  # fmt: skip


_BPFTRACE_SIMPLE = frozenset({"ident", "call", "field", "index", "var", "map", "param", "int",
                              "string"})  # fmt: skip


def _bpftrace_key_kind(e: bt.Node) -> str:
    if e.kind == "ternary":
        kinds = {_bpftrace_key_kind(e.children[1]), _bpftrace_key_kind(e.children[2])}
        return kinds.pop() if len(kinds) == 1 else "unknown"
    if e.kind == "string" or (e.kind == "ident" and e.name in BPFTRACE_STRING_BUILTINS):
        return "string"
    if e.kind in ("ident", "call") and e.name in BPFTRACE_UNCOMPARABLE:
        return "stack"
    if e.kind == "call" and e.name in BPFTRACE_STRING_CALLS:
        return "string"
    if e.kind == "int" or (e.kind == "ident" and e.name in BPFTRACE_NUMBERS):
        return "number"
    return "unknown"


def bpftrace_probe_name(text: str, span: Span) -> ProbeName:
    provider, _, rest = text.partition(":")
    provider = PROVIDER_ALIASES.get(provider, provider)
    parts = rest.split(":") if rest else []
    # uprobe:/bin/sh:main, tracepoint:syscalls:sys_enter_read, kprobe:vfs_read, interval:s:1
    module = parts[0] if len(parts) >= 2 else ""
    function = parts[-1] if parts else ""
    return ProbeName(text, span, provider, module, function, "")


def _bpftrace_updates(
    text: str, nodes: tuple[bt.Node, ...], out: list[Update], top_level: bool = True
) -> None:
    for node in nodes:
        if node.kind in ("if", "unroll", "while", "block"):
            _bpftrace_updates(text, node.children, out, False)
            continue
        target = None
        function = None
        if node.kind == "assign":
            target, value = node.children
            function = value.name if value.kind == "call" else None
        elif node.kind == "expr" and node.children[0].kind in ("postfix", "unary"):
            inner = node.children[0].children[0]
            target = inner if inner.kind == "map" else None
        if target is None or target.kind != "map":
            continue
        name_end = target.start + len(target.name)
        out.append(
            Update(
                target.name,
                Span(node.start, node.end),
                name_end,
                Span(name_end, target.end) if target.children else None,
                tuple(
                    KeyExpr(Span(k.start, k.end), _bpftrace_key_kind(k), k.kind in _BPFTRACE_SIMPLE)
                    for k in target.children
                ),
                function,
                top_level,
                _semicolon_after(text, node.end),
            )
        )


def _semicolon_after(text: str, end: int) -> int | None:
    """The ``;`` after a statement, past white space, if there is one."""
    rest = text[end : end + 4096]
    stripped = len(rest) - len(rest.lstrip())
    if rest[stripped : stripped + 1] == ";":
        return end + stripped
    return None


def _bpftrace_reads(nodes: tuple[bt.Node, ...], out: dict[str, list[Span]]) -> None:
    """Keyed map nodes that are not the target of an update."""
    todo = list(nodes)
    while todo:
        node = todo.pop()
        children = node.children
        if node.kind == "assign" and children[0].kind == "map":
            children = (*children[0].children, *children[1:])
        elif node.kind == "postfix" and children[0].kind == "map":
            children = children[0].children
        elif node.kind == "map" and node.children:
            out.setdefault(node.name, []).append(Span(node.start, node.end))
        todo.extend(children)


def _read_bpftrace(text: str, reads: dict[str, list[Span]]) -> list[ClauseView]:
    parsed = bt.parse_diagnostic(text)
    if isinstance(parsed, Diagnostic):
        raise Unreadable(parsed)
    out = []
    for probe in parsed.probes:
        updates: list[Update] = []
        _bpftrace_updates(text, probe.statements, updates)
        _bpftrace_reads(probe.statements + ((probe.predicate,) if probe.predicate else ()), reads)
        names = tuple(
            bpftrace_probe_name(a.text, Span(a.start, a.end)) for a in probe.attach_points
        )
        pred = probe.predicate
        out.append(
            ClauseView(
                Span(probe.start, probe.end),
                names,
                Span(names[0].span.start, names[-1].span.end),
                Span(pred.start, pred.end) if pred is not None else None,
                probe.block_start,
                tuple(updates),
                len(probe.statements),
            )
        )
    return out
