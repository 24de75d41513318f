"""D expressions to bpftrace expressions, one node at a time, each emitted piece marked with
the D span it came from.  What bpftrace cannot say raises ``Refused`` at the D node."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..d_syntax import tree as t
from ..model import Diagnostic
from ..translation import MapOrigin
from .code import Piece, join
from .probes import ProbeTarget, Refused

SELF_PREFIX = "@__self_"  # self->x is @__self_x[tid]

# D's built-in variables that mean the same everywhere, as bpftrace text.
_BUILTINS = {
    "execname": "comm", "pid": "pid", "tid": "tid", "uid": "uid", "gid": "gid",
    "cpu": "cpu", "curthread": "curtask", "timestamp": "nsecs",
    "ppid": "curtask->real_parent->tgid",
}  # fmt: skip
_NO_EQUIVALENT = {
    "vtimestamp": "bpftrace has no per-thread virtual time",
    "walltimestamp": "bpftrace 0.17 has no wall-clock nanoseconds (strftime() formats "
    "the wall clock only when printing)",
    "epid": "bpftrace has no enabled-probe id", "id": "bpftrace has no probe id",
    "curpsinfo": "D's psinfo_t translator", "curlwpsinfo": "D's lwpsinfo_t translator",
    "stackdepth": "bpftrace has no stack depth", "ustackdepth": "bpftrace has no stack depth",
    "caller": "bpftrace has no caller address", "ucaller": "bpftrace has no caller address",
    "ipl": "no interrupt priority level on Linux", "zonename": "no zones on Linux",
    "cwd": "bpftrace has no current directory variable", "root": "no root directory variable",
    "arg": "",
}  # fmt: skip
_STRING_FUNCTIONS_REFUSED = {
    "strjoin": "bpftrace 0.17 has no string concatenation",
    "basename": "bpftrace 0.17 has no basename()",
    "dirname": "bpftrace 0.17 has no dirname()",
    "strlen": "bpftrace 0.17 has no strlen()",
    "substr": "bpftrace 0.17 has no substr()",
    "strstr": "bpftrace 0.17 has no strstr()",
    "strchr": "bpftrace 0.17 has no strchr()",
    "index": "bpftrace 0.17 has no index()",
    "lltostr": "bpftrace 0.17 has no integer-to-string conversion",
    "copyin": "bpftrace reads user memory only as str() or buf()",
    "progenyof": "bpftrace has no process ancestry test",
    "strtok": "bpftrace 0.17 has no strtok()",
}  # fmt: skip
# C's precedence, tightest last; bpftrace uses it, D agrees except ^^ (emitted as !=).
_LEVELS = {
    "||": 1, "^^": 2, "&&": 3, "|": 4, "^": 5, "&": 6, "==": 7, "!=": 7,
    "<": 8, ">": 8, "<=": 8, ">=": 8, "<<": 9, ">>": 9, "+": 10, "-": 10,
    "*": 11, "/": 11, "%": 11,
}  # fmt: skip
_CAST_TYPES = {
    "char": "int8", "signed char": "int8", "unsigned char": "uint8", "short": "int16",
    "unsigned short": "uint16", "int": "int32", "signed int": "int32", "unsigned": "uint32",
    "unsigned int": "uint32", "long": "int64", "unsigned long": "uint64", "long long": "int64",
    "unsigned long long": "uint64", "int8_t": "int8", "int16_t": "int16", "int32_t": "int32",
    "int64_t": "int64", "uint8_t": "uint8", "uint16_t": "uint16", "uint32_t": "uint32",
    "uint64_t": "uint64", "size_t": "uint64", "ssize_t": "int64", "uintptr_t": "uint64",
    "intptr_t": "int64", "pid_t": "int32", "uid_t": "uint32", "gid_t": "uint32",
}  # fmt: skip


@dataclass
class ProgramInfo:
    """What the whole program declares: D globals (scalars and associative arrays) and
    thread-local variables, found before any clause is emitted."""

    globals: set[str] = field(default_factory=set)
    self_assigned: set[str] = field(default_factory=set)
    declared: set[str] = field(default_factory=set)  # variables a declaration names
    deleted: set[str] = field(default_factory=set)  # arrays only ever assigned 0 (deleted)
    maps: dict[str, MapOrigin] = field(default_factory=dict)
    printed: set[str] = field(default_factory=set)  # aggregations some printa() prints


@dataclass
class ClauseContext:
    target: ProbeTarget
    program: ProgramInfo
    allow_destructive: bool
    warnings: list[Diagnostic]
    this_assigned: set[str] = field(default_factory=set)
    normalized: dict[str, tuple[Piece, t.Pos]] = field(default_factory=dict)  # divisor
    pending: set[str] = field(default_factory=set)  # normalized, not printed yet

    def warn(self, pos: t.Pos, message: str) -> None:
        self.warnings.append(
            Diagnostic(pos.line, pos.column, pos.end_line, pos.end_column, message, "warning")
        )


def string_literal(value: str) -> str:
    out = []
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif " " <= ch <= "~":
            out.append(ch)
        else:
            out.append(f"\\{ord(ch) & 0xFF:03o}")
    return '"' + "".join(out) + '"'


def integer_literal(node: t.IntLit) -> str:
    return hex(node.value) if node.text[:2] in ("0x", "0X") else str(node.value)


def expr(ctx: ClauseContext, node: t.Expr) -> Piece:
    return _expr(ctx, node).marked(node.pos)


def _expr(ctx: ClauseContext, node: t.Expr) -> Piece:
    if isinstance(node, t.IntLit):
        return Piece(integer_literal(node))
    if isinstance(node, t.CharLit):
        return Piece(str(node.value))
    if isinstance(node, t.StrLit):
        return Piece(string_literal(node.value))
    if isinstance(node, t.Ident):
        return Piece(identifier(ctx, node))
    if isinstance(node, t.MacroArg):
        return macro_arg(node)
    if isinstance(node, t.ClauseVar):
        return clause_var(ctx, node)
    if isinstance(node, t.Binary):
        return binary(ctx, node)
    if isinstance(node, t.Unary):
        return unary(ctx, node)
    if isinstance(node, t.Ternary):
        cond, then, other = (operand(ctx, n, 0) for n in (node.cond, node.then, node.other))
        return cond + " ? " + then + " : " + other
    if isinstance(node, t.Cast):
        return cast(ctx, node)
    if isinstance(node, t.Call):
        return call(ctx, node)
    if isinstance(node, t.Index):
        return index(ctx, node)
    if isinstance(node, t.Member):
        return expr(ctx, node.base) + ("->" if node.arrow else ".") + node.name
    if isinstance(node, t.AggRef):
        raise Refused(node.pos, f"{node.name}: an aggregation's value cannot be read in D")
    if isinstance(node, t.Postfix):
        return increment_target(ctx, node.operand) + node.op
    if isinstance(node, t.Assign):
        raise Refused(node.pos, "an assignment inside an expression: no bpftrace equivalent")
    if isinstance(node, t.SizeofType):
        raise Refused(node.pos, "sizeof: no bpftrace equivalent for D types")
    raise Refused(node.pos, "the comma operator: no bpftrace equivalent")


def operand(ctx: ClauseContext, node: t.Expr, level: int) -> Piece:
    """``node`` as an operand of an operator of precedence ``level``: parenthesized when
    it binds more loosely (level 0: a ternary's parts, which take any binary)."""
    piece = expr(ctx, node)
    looser = isinstance(node, t.Ternary | t.Assign) or (
        isinstance(node, t.Binary) and _LEVELS[node.op] <= level
    )
    return "(" + piece + ")" if looser else piece


def identifier(ctx: ClauseContext, node: t.Ident) -> str:
    name = node.name
    target = ctx.target
    if name in target.builtins:
        text = target.builtins[name]
        if text is None:
            raise Refused(node.pos, target.refusals.get(name, f"{name}: no value at this probe"))
        return text
    if name in _BUILTINS:
        return _BUILTINS[name]
    if name in _NO_EQUIVALENT:
        raise Refused(node.pos, f"{name}: no bpftrace equivalent ({_NO_EQUIVALENT[name]})")
    if name.startswith("arg") and name[3:].isdigit() and len(name) == 4:
        return probe_arg(ctx, node, int(name[3:]))
    if name in ("probefunc", "probename", "probemod", "probeprov"):
        return probe_name_part(target, name)
    if name == "errno":
        if target.provider == "syscall" and target.name == "return" and target.args:
            return "(args->ret < 0 ? -args->ret : 0)"
        raise Refused(node.pos, "errno: only at a syscall return probe (from its return value)")
    if "`" in name:
        raise Refused(node.pos, f"{name}: kernel symbols have no bpftrace equivalent")
    if name in ctx.program.globals:
        return f"@{name}"
    if name in ctx.program.declared or name in ctx.program.deleted:
        return "0"  # declared and never assigned: D reads it as 0; bpftrace has no such map
    raise Refused(node.pos, f'"{name}": undefined identifier')


def probe_name_part(target: ProbeTarget, name: str) -> str:
    part = {
        "probefunc": target.function,
        "probename": target.name,
        "probemod": target.module,
        "probeprov": target.provider,
    }[name]
    return string_literal(part)


def probe_arg(ctx: ClauseContext, node: t.Expr, n: int) -> str:
    target = ctx.target
    if target.args is None:
        if target.args_reason:
            raise Refused(node.pos, f"arg{n}: no bpftrace equivalent ({target.args_reason})")
        if target.provider in ("fbt", "pid"):
            return f"arg{n}"
        raise Refused(node.pos, f"arg{n}: probe {target.bt} has no arguments")
    if n >= len(target.args) or not target.args[n]:
        why = target.args_reason or f"the probe has {len(target.args)} arguments"
        raise Refused(node.pos, f"arg{n}: no bpftrace equivalent ({why})")
    if target.provider in ("fbt", "pid"):
        return target.args[n]
    return f"args->{target.args[n]}"


def macro_arg(node: t.MacroArg) -> Piece:
    name = node.name
    if name[1:].isdigit() and name != "$0":
        return Piece(name)
    if name.startswith("$$") and name[2:].isdigit():
        return Piece(f"str(${name[2:]})")
    if name == "$0":
        raise Refused(node.pos, "$0: no bpftrace equivalent (bpftrace has no script name)")
    raise Refused(node.pos, f"{name}: no bpftrace equivalent (bpftrace has no target process "
                  "variable; pass the pid as $1)")  # fmt: skip


def clause_var(ctx: ClauseContext, node: t.ClauseVar) -> Piece:
    if node.scope == "self":
        if node.name not in ctx.program.self_assigned:
            return Piece("0")  # never assigned anywhere: D reads 0
        return Piece(f"{SELF_PREFIX}{node.name}[tid]")
    if node.name not in ctx.this_assigned:
        raise Refused(node.pos, f"this->{node.name} is read before this clause sets it: "
                      "bpftrace's $ variables do not outlive a clause")  # fmt: skip
    return Piece(f"${node.name}")


def binary(ctx: ClauseContext, node: t.Binary) -> Piece:
    level = _LEVELS[node.op]
    left = operand(ctx, node.left, level - 1)
    right = operand(ctx, node.right, level)
    if node.op == "^^":
        return "(" + left + " != 0) != (" + right + " != 0)"
    if node.op in ("<", ">", "<=", ">=") and (is_string(node.left) or is_string(node.right)):
        raise Refused(node.pos, f"{node.op} of strings: no bpftrace equivalent (bpftrace "
                      "compares strings only with == and !=)")  # fmt: skip
    if node.op in ("/", "%") and any(_negative(n) for n in (node.left, node.right)):
        ctx.warn(node.pos, f"bpftrace's {node.op} is unsigned: with a negative operand the "
                 "result differs from D's")  # fmt: skip
    return left + f" {node.op} " + right


def _negative(node: t.Expr) -> bool:
    """Visibly negative: a minus sign in front (bpftrace 0.17 divides unsigned)."""
    return isinstance(node, t.Unary) and node.op == "-"


_STRING_VARIABLES = frozenset({"execname", "probefunc", "probename", "probemod", "probeprov"})


def is_string(node: t.Expr) -> bool:
    """Whether D types ``node`` as a string (then stringof() and (string) are no-ops)."""
    if isinstance(node, t.StrLit):
        return True
    if isinstance(node, t.Ident):
        return node.name in _STRING_VARIABLES
    if isinstance(node, t.Call):
        return node.name in ("copyinstr", "stringof")
    if isinstance(node, t.Unary):
        return node.op == "stringof"
    return isinstance(node, t.MacroArg) and node.name.startswith("$$")


def to_string(ctx: ClauseContext, node: t.Expr) -> Piece:
    inner = expr(ctx, node)
    return inner if is_string(node) else "str(" + inner + ")"


def unary(ctx: ClauseContext, node: t.Unary) -> Piece:
    if node.op == "stringof":
        return to_string(ctx, node.operand)
    if node.op in ("&", "sizeof"):
        raise Refused(node.pos, f"unary {node.op}: no bpftrace equivalent")
    if node.op in ("++", "--"):
        return node.op + increment_target(ctx, node.operand)
    inner = operand(ctx, node.operand, 12)
    if node.op == "+":
        return inner  # bpftrace has no unary +; it changes nothing
    if inner.text.startswith(node.op):
        inner = "(" + inner + ")"  # - -x, not --x (bpftrace would read a decrement)
    return node.op + inner


def increment_target(ctx: ClauseContext, node: t.Expr) -> Piece:
    """The variable a ``++``/``--`` inside an expression changes (bpftrace has them on
    maps and $ variables)."""
    if isinstance(node, t.Ident) and node.name in ctx.program.globals:
        return Piece(f"@{node.name}").marked(node.pos)
    if isinstance(node, t.ClauseVar) or (
        isinstance(node, t.Index) and isinstance(node.base, t.Ident)
        and node.base.name in ctx.program.globals
    ):  # fmt: skip
        return expr(ctx, node)
    raise Refused(node.pos, "++/-- of this expression: no bpftrace equivalent")


def cast(ctx: ClauseContext, node: t.Cast) -> Piece:
    name = node.type_name
    inner = operand(ctx, node.operand, 12)
    if name == "string":
        return to_string(ctx, node.operand)
    if name in _CAST_TYPES:
        return f"({_CAST_TYPES[name]})" + inner
    if name.startswith("struct ") and name.endswith("*"):
        return f"({name})" + inner
    raise Refused(node.pos, f"cast to {name}: no bpftrace equivalent")


def call(ctx: ClauseContext, node: t.Call) -> Piece:
    name, args = node.name, node.args
    if name == "stringof" and len(args) == 1:
        return to_string(ctx, args[0])
    if name == "copyinstr" and 1 <= len(args) <= 2:
        return "str(" + join((expr(ctx, a) for a in args), ", ") + ")"
    if name in ("stack", "ustack") and len(args) <= 1:
        if name == "ustack" and "ustack" in ctx.target.builtins:
            raise Refused(node.pos, ctx.target.refusals["ustack"])
        bt = "kstack" if name == "stack" else "ustack"
        return Piece(bt) if not args else bt + "(" + expr(ctx, args[0]) + ")"
    if name in ("sym", "func") and len(args) == 1:
        return "ksym(" + expr(ctx, args[0]) + ")"
    if name in ("usym", "ufunc") and len(args) == 1:
        return "usym(" + expr(ctx, args[0]) + ")"
    if name == "rand" and not args:
        return Piece("rand")
    if name in _STRING_FUNCTIONS_REFUSED:
        reason = _STRING_FUNCTIONS_REFUSED[name]
        raise Refused(node.name_pos, f"{name}(): no bpftrace equivalent ({reason})")
    raise Refused(node.name_pos, f"{name}(): no bpftrace equivalent in an expression")


def index(ctx: ClauseContext, node: t.Index) -> Piece:
    base = node.base
    if isinstance(base, t.Ident) and base.name == "args":
        if len(node.args) == 1 and isinstance(node.args[0], t.IntLit):
            return Piece(probe_arg(ctx, node, node.args[0].value))
        raise Refused(node.pos, "args[] with a non-constant index: no bpftrace equivalent")
    if isinstance(base, t.Ident) and base.name in ctx.program.globals:
        return f"@{base.name}[" + join((expr(ctx, a) for a in node.args), ", ") + "]"
    if isinstance(base, t.Ident) and base.name in ctx.program.deleted:
        return Piece("0")  # an array only ever deleted from: every element reads 0
    if isinstance(base, t.AggRef):
        raise Refused(node.pos, f"{base.name}: an aggregation's value cannot be read in D")
    raise Refused(node.pos, "indexing this expression: no bpftrace equivalent")
