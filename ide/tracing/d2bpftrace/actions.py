"""D statements to bpftrace statements: assignments to the three kinds of D variables,
aggregations (with the D function and parameters each map stands for) and actions."""

from __future__ import annotations

import difflib
import re

from dtrace_lexer.vocabulary import D as D_VOCABULARY

from ..d_syntax import tree as t
from ..translation import MapOrigin
from .code import Piece, join
from .expressions import ClauseContext, expr, is_string, string_literal, to_string
from .probes import Refused

_DESTRUCTIVE = {"system", "raise", "stop", "copyout", "copyoutstr", "panic", "chill",
                "breakpoint"}  # fmt: skip
_DESTRUCTIVE_NO_EQUIVALENT = {
    "copyout": "bpftrace cannot write user memory",
    "copyoutstr": "bpftrace cannot write user memory",
    "panic": "bpftrace cannot panic the kernel",
    "chill": "bpftrace cannot spin in probe context",
    "breakpoint": "bpftrace has no kernel breakpoint action",
}
_REFUSED_ACTIONS = {
    "stddev": "bpftrace 0.17 has no standard deviation (stats() gives count, average, total)",
    "llquantize": "bpftrace 0.17 has no log-linear histogram",
    "setopt": "bpftrace sets its options only on the command line",
    "tracemem": "bpftrace prints memory only as buf()",
    "printm": "bpftrace prints memory only as buf()",
    "speculation": "bpftrace has no speculative tracing",
    "speculate": "bpftrace has no speculative tracing",
    "commit": "bpftrace has no speculative tracing",
    "discard": "bpftrace has no speculative tracing",
    "freopen": "bpftrace writes to one output",
    "ftruncate": "bpftrace writes to one output",
    "jstack": "bpftrace has no Java stack walker",
}
_AGGREGATING = {"count": 0, "sum": 1, "avg": 1, "min": 1, "max": 1, "quantize": 1}
# D printf conversions and what bpftrace 0.17 accepts for each (printf_format_types.h).
_CONVERSIONS = {"d": "d", "i": "d", "u": "u", "x": "x", "X": "X", "o": "o", "s": "s",
                "c": "c", "p": "p"}  # fmt: skip
_LENGTHS = ("hh", "ll", "h", "l", "j", "z", "t")
_BPFTRACE_SPEC = re.compile(r"-?[0-9]*(\.[0-9]+)?")  # bpftrace's flags, width, precision


def statement(ctx: ClauseContext, stmt: t.Statement) -> list[Piece]:
    node = stmt.expr
    if isinstance(node, t.Assign):
        if _deletes_from_a_map_never_set(ctx, node):
            return []  # D's delete of what was never stored; bpftrace would lack the map
        return [assignment(ctx, node).marked(stmt.pos) + ";"]
    if isinstance(node, t.Postfix | t.Unary) and node.op in ("++", "--"):
        return [(lvalue(ctx, node.operand) + node.op).marked(stmt.pos) + ";"]
    if isinstance(node, t.Call):
        return [p.marked(stmt.pos) + ";" for p in action(ctx, node)]
    raise Refused(node.pos, "a statement without an effect: no bpftrace equivalent")


def _deletes_from_a_map_never_set(ctx: ClauseContext, node: t.Assign) -> bool:
    target = node.target
    return (
        node.op == "="
        and isinstance(node.value, t.IntLit)
        and node.value.value == 0
        and isinstance(target, t.Index)
        and isinstance(target.base, t.Ident)
        and target.base.name not in ctx.program.globals
        and target.base.name in ctx.program.deleted
    )


def lvalue(ctx: ClauseContext, node: t.Expr, defines: bool = False) -> Piece:
    """The target of an assignment; ``defines``: a plain ``=`` that sets a ``this->``
    variable (``+=`` and ``++`` read it first)."""
    if isinstance(node, t.Ident):
        if node.name not in ctx.program.globals:
            raise Refused(node.pos, f'"{node.name}" cannot be assigned')
        return Piece(f"@{node.name}").marked(node.pos)
    if isinstance(node, t.ClauseVar):
        if node.scope == "this" and defines:
            ctx.this_assigned.add(node.name)
        return expr(ctx, node)
    if isinstance(node, t.Index) and isinstance(node.base, t.Ident | t.AggRef):
        return expr(ctx, node) if isinstance(node.base, t.Ident) else _agg_key(ctx, node)
    raise Refused(node.pos, "this assignment target: no bpftrace equivalent")


def assignment(ctx: ClauseContext, node: t.Assign) -> Piece:
    target = node.target
    is_agg = isinstance(target, t.AggRef) or (
        isinstance(target, t.Index) and isinstance(target.base, t.AggRef)
    )
    if is_agg:
        return aggregation(ctx, node)
    if isinstance(node.value, t.Call) and node.value.name in (*_AGGREGATING, "lquantize"):
        raise Refused(node.value.pos, f"{node.value.name}() outside an aggregation")
    deletes = node.op == "=" and isinstance(node.value, t.IntLit) and node.value.value == 0
    keyed = isinstance(target, t.Index) or (
        isinstance(target, t.ClauseVar) and target.scope == "self"
    )
    if deletes and keyed:
        # D frees a thread-local or associative element assigned 0.
        return "delete(" + lvalue(ctx, target) + ")"
    value = expr(ctx, node.value)  # before the target: this->x = this->x + 1 reads first
    return lvalue(ctx, target, defines=node.op == "=") + f" {node.op} " + value


def _agg_key(ctx: ClauseContext, node: t.Index) -> Piece:
    assert isinstance(node.base, t.AggRef)
    keys = join((expr(ctx, k) for k in node.args), ", ")
    return (node.base.name + "[" + keys + "]").marked(node.pos)


def aggregation(ctx: ClauseContext, node: t.Assign) -> Piece:
    target, value = node.target, node.value
    base = target.base if isinstance(target, t.Index) else target
    assert isinstance(base, t.AggRef)
    name = base.name
    arity = len(target.args) if isinstance(target, t.Index) else 0
    if node.op != "=" or not isinstance(value, t.Call):
        raise Refused(node.pos, f"{name} must be assigned an aggregating function")
    func, args = value.name, value.args
    if func in _REFUSED_ACTIONS:
        raise Refused(
            value.name_pos, f"{func}(): no bpftrace equivalent ({_REFUSED_ACTIONS[func]})"
        )
    left = _agg_key(ctx, target) if isinstance(target, t.Index) else Piece(name).marked(target.pos)
    if func == "lquantize":
        bt_call, params = _lquantize(ctx, value)
        bt_func = "lhist"
    elif func in _AGGREGATING:
        if len(args) != _AGGREGATING[func]:
            raise Refused(value.pos, f"{func}() takes {_AGGREGATING[func]} argument(s) here "
                          "(an increment argument has no bpftrace equivalent)")  # fmt: skip
        bt_func = "hist" if func == "quantize" else func
        bt_call = bt_func + "(" + join((expr(ctx, a) for a in args), ", ") + ")"
        params = {}
    else:
        raise Refused(value.name_pos, _not_translated_aggregation(func))
    origin = MapOrigin(name, func, bt_func, params, arity)
    known = ctx.program.maps.setdefault(name, origin)
    if known != origin:
        raise Refused(node.pos, f"{name} is used with two different aggregating functions")
    return left + " = " + bt_call.marked(value.pos)


def _lquantize(ctx: ClauseContext, value: t.Call) -> tuple[Piece, dict[str, int]]:
    args = value.args
    if not 3 <= len(args) <= 4:
        raise Refused(value.pos, "lquantize() takes (value, low, high[, step]) here (an "
                      "increment argument has no bpftrace equivalent)")  # fmt: skip
    consts = []
    for a in args[1:]:
        if not isinstance(a, t.IntLit | t.Unary) or _constant(a) is None:
            raise Refused(a.pos, "lquantize()'s bounds and step must be integer constants")
        consts.append(_constant(a))
    lo, hi, step = (*consts, 1) if len(consts) == 2 else consts
    assert lo is not None and hi is not None and step is not None
    if step <= 0 or hi <= lo:
        raise Refused(value.pos, "lquantize() needs low < high and a positive step")
    if lo < 0 or step > hi - lo or (hi - lo) // step > 1000:
        raise Refused(value.pos, "lquantize(): no bpftrace equivalent for these bounds "
                      "(bpftrace's lhist needs low >= 0, step <= high - low and at most "
                      "1000 buckets)")  # fmt: skip
    bt = "lhist(" + expr(ctx, args[0]) + f", {lo}, {hi}, {step})"
    # Buckets agree: both count v < lo as underflow, [lo + k*step, lo + (k+1)*step) in
    # range, and v >= lo + step*floor((hi-lo)/step) as overflow.  bpftrace labels that
    # last bucket from hi; D from the overflow edge ("overflow_from").
    params = {"lo": lo, "hi": hi, "step": step}
    if (hi - lo) % step:
        params["overflow_from"] = lo + step * ((hi - lo) // step)
    return bt, params


def _constant(node: t.Expr) -> int | None:
    if isinstance(node, t.IntLit):
        return node.value
    if isinstance(node, t.Unary) and node.op == "-" and isinstance(node.operand, t.IntLit):
        return -node.operand.value
    return None


def action(ctx: ClauseContext, node: t.Call) -> list[Piece]:
    name, args = node.name, node.args
    if name in _DESTRUCTIVE:
        return _destructive(ctx, node)
    if name in _REFUSED_ACTIONS:
        raise Refused(node.name_pos, f"{name}(): no bpftrace equivalent ({_REFUSED_ACTIONS[name]})")
    if name == "printf":
        return [printf_call(ctx, node, "printf")]
    if name == "trace" and len(args) == 1:
        # In D's quiet output a trace() is its value alone, with no newline.
        arg = args[0]
        unsigned = isinstance(arg, t.Cast) and arg.type_name.startswith(("unsigned", "uint"))
        conversion = "%s" if is_string(arg) else "%u" if unsigned else "%d"
        return [Piece(f'printf("{conversion}", ') + expr(ctx, args[0]) + ")"]
    if name == "exit" and len(args) <= 1:
        # bpftrace 0.17's exit() takes no status; a side effect in D's still happens.
        effect = args[0] if args and isinstance(args[0], t.Postfix | t.Unary) else None
        if effect is not None and effect.op in ("++", "--"):
            return [lvalue(ctx, effect.operand) + effect.op, Piece("exit()")]
        return [Piece("exit()")]
    if name in ("stack", "ustack"):
        return [Piece("print(") + expr(ctx, node) + ")"]
    if name in ("printa", "clear", "trunc", "normalize", "denormalize"):
        return _map_action(ctx, node)
    raise Refused(node.name_pos, f"{name}(): no bpftrace equivalent as a statement")


def _map_arg(node: t.Call, i: int) -> t.AggRef:
    arg = node.args[i] if i < len(node.args) else None
    if not isinstance(arg, t.AggRef):
        raise Refused(node.pos, f"{node.name}() expects an aggregation here")
    return arg


def _map_action(ctx: ClauseContext, node: t.Call) -> list[Piece]:
    name, args = node.name, node.args
    if name == "printa":
        return [_printa(ctx, node)]
    agg = _map_arg(node, 0)
    ref = Piece(agg.name).marked(agg.pos)
    if name == "clear" and len(args) == 1:
        ctx.warn(node.pos, "clear(): bpftrace removes the keys, D keeps them with zero values")
        return [Piece("clear(") + ref + ")"]
    if name == "trunc" and len(args) == 1:
        return [Piece("clear(") + ref + ")"]
    if name == "normalize" and len(args) == 2:
        ctx.normalized[agg.name] = (expr(ctx, args[1]), node.pos)
        ctx.pending.add(agg.name)
        return []
    if name == "denormalize" and len(args) == 1:
        ctx.normalized.pop(agg.name, None)
        ctx.pending.discard(agg.name)
        return []
    reason = {
        "trunc": "bpftrace keeps no top-N of a map; print(@m, N) prints the top N",
        "normalize": "normalize(@m, N) with one map and one divisor only",
    }.get(name, "unexpected arguments")
    raise Refused(node.pos, f"{name}(): no bpftrace equivalent ({reason})")


def _printa(ctx: ClauseContext, node: t.Call) -> Piece:
    args = node.args
    aggs = [a for a in args if isinstance(a, t.AggRef)]
    if len(aggs) != 1 or len(args) > 2 or (len(args) == 2 and not isinstance(args[0], t.StrLit)):
        raise Refused(node.pos, "printa() of several aggregations: no bpftrace equivalent")
    if len(args) == 2:
        ctx.warn(args[0].pos, "printa()'s format has no bpftrace equivalent: the map is "
                 "printed in bpftrace's own format")  # fmt: skip
    return print_map(ctx, aggs[0])


def print_map(ctx: ClauseContext, agg: t.AggRef) -> Piece:
    """``print(@a)``, divided as a ``normalize()`` said.  D does not print again at exit an
    aggregation printa() printed, so the map is also emptied in END."""
    ref = Piece(agg.name).marked(agg.pos)
    ctx.program.printed.add(agg.name)
    ctx.pending.discard(agg.name)
    normalized = ctx.normalized.get(agg.name)
    if normalized is not None:
        return Piece("print(") + ref + ", 0, " + normalized[0] + ")"
    return Piece("print(") + ref + ")"


def pending_normalizations(ctx: ClauseContext) -> list[Piece]:
    """A normalize() no printa() followed: in END it is what D prints at exit; elsewhere
    bpftrace, which divides only when printing, has no equivalent."""
    out = []
    for name in sorted(ctx.pending):
        pos = ctx.normalized[name][1]
        if ctx.target.bt != "END":
            raise Refused(pos, "normalize() without a printa() after it in the clause: no "
                          "bpftrace equivalent (bpftrace divides only when printing)")  # fmt: skip
        out.append(print_map(ctx, t.AggRef(pos, name)).marked(pos) + ";")
    return out


def printf_call(ctx: ClauseContext, node: t.Call, bt_name: str) -> Piece:
    args = node.args
    if not args or not isinstance(args[0], t.StrLit):
        raise Refused(node.pos, f"{node.name}() needs a format string first")
    out, conversions, slots = printf_format(args[0])
    rest = []
    for i, arg in enumerate(args[1:]):
        conv = conversions[i] if i < len(conversions) else ""
        if conv == "Y":
            rest.append(_wall_clock(arg))
        elif conv == "s" and out[slots[i]] == "%s" and _is_strjoin(arg):
            parts = _joined_strings(arg)
            out[slots[i]] = "%s" * len(parts)
            rest.extend(to_string(ctx, a) for a in parts)
        else:
            rest.append(expr(ctx, arg))
    fmt = Piece(string_literal("".join(out))).marked(args[0].pos)
    return join([Piece(f"{bt_name}("), join([fmt, *rest], ", "), Piece(")")])


def _is_strjoin(node: t.Expr) -> bool:
    return isinstance(node, t.Call) and node.name == "strjoin" and len(node.args) == 2


def _joined_strings(node: t.Expr) -> list[t.Expr]:
    """The strings a (nested) ``strjoin()`` concatenates: printed one after the other by
    as many plain ``%s``, it is the same text (bpftrace 0.17 cannot concatenate)."""
    if _is_strjoin(node):
        assert isinstance(node, t.Call)
        return [*_joined_strings(node.args[0]), *_joined_strings(node.args[1])]
    return [node]


def _wall_clock(arg: t.Expr) -> Piece:
    """D's ``%Y`` of ``walltimestamp``: the same wall-clock text, from bpftrace's
    ``strftime`` (which converts its boot-time nanoseconds to the wall clock)."""
    if not (isinstance(arg, t.Ident) and arg.name == "walltimestamp"):
        raise Refused(arg.pos, "%Y of anything but walltimestamp: no bpftrace equivalent")
    return Piece('strftime("%Y %b %e %H:%M:%S", nsecs)').marked(arg.pos)


def printf_format(node: t.StrLit) -> tuple[list[str], list[str], list[int]]:
    """D's format as text pieces with each conversion one piece in bpftrace's spelling,
    D's conversion letters in order and each one's piece index; refuses what bpftrace
    lacks.  ``%Y`` becomes ``%s`` (see ``_wall_clock``)."""
    fmt, out, convs, slots, i, n = node.value, [], [], [], 0, len(node.value)
    while i < n:
        c = fmt[i]
        out.append(c)
        i += 1
        if c != "%":
            continue
        j = i
        while j < n and fmt[j] in "-+ #0123456789.":
            j += 1
        if j < n and fmt[j] == "%":
            out.append(fmt[i : j + 1])
            i = j + 1
            continue
        length = next((x for x in _LENGTHS if fmt.startswith(x, j)), "")
        k = j + len(length)
        conv = fmt[k] if k < n else ""
        out[-1:] = []  # the "%": the conversion is one piece with it
        slots.append(len(out))
        if conv == "Y" and not length:
            out.append("%" + fmt[i:j] + "s")
        elif conv not in _CONVERSIONS or not _BPFTRACE_SPEC.fullmatch(fmt[i:j]):
            raise Refused(node.pos, f'printf conversion "%{fmt[i : k + 1]}": no bpftrace '
                          "equivalent")  # fmt: skip
        else:
            out.append("%" + fmt[i:j] + length + _CONVERSIONS[conv])
        convs.append(conv)
        i = k + 1
    return out, convs, slots


def _destructive(ctx: ClauseContext, node: t.Call) -> list[Piece]:
    name = node.name
    if not ctx.allow_destructive:
        raise Refused(node.name_pos, f"{name}(): destructive action; the server refuses "
                      "destructive actions (start it with --allow-destructive)")  # fmt: skip
    if name in _DESTRUCTIVE_NO_EQUIVALENT:
        raise Refused(node.name_pos, f"{name}(): no bpftrace equivalent "
                      f"({_DESTRUCTIVE_NO_EQUIVALENT[name]})")  # fmt: skip
    if name == "system":
        return [printf_call(ctx, node, "system")]
    if name == "raise" and len(node.args) == 1:
        return [Piece("signal(") + expr(ctx, node.args[0]) + ")"]
    if name == "stop" and not node.args:
        return [Piece('signal("SIGSTOP")')]
    raise Refused(node.pos, f"{name}(): unexpected arguments")


def _not_translated_aggregation(func: str) -> str:
    """Why ``@x = func(...)`` does not translate: a D aggregating function bpftrace lacks, or
    no D aggregating function at all (with the closest one D has)."""
    if func in D_VOCABULARY.aggregations:
        return f"{func}(): no bpftrace equivalent"
    close = difflib.get_close_matches(func, list(D_VOCABULARY.aggregations), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]}()?" if close else ""
    return f"{func}(): not a D aggregating function{hint}"
