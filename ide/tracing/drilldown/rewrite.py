"""Derive a drilldown's script: the clicked aggregation narrowed to one key, broken down by
another field, with the key left out, or as the latency of that key.

Only the clauses that update the aggregation change, and only at offsets the parser gave
(a predicate's expression, the ``{`` a new predicate goes before, a map's ``[...]``):
comments, strings, other clauses, options and ``BEGIN``/``END`` stay exactly as written.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from ..model import KeyPart, Language
from .fields import Field, fields_for
from .views import ClauseView, KeyExpr, ProbeName, ScriptView, Span, Update, read

Mode = Literal["only", "exclude", "latency"]
MODES: tuple[Mode, ...] = ("only", "exclude", "latency")
# The names a latency drilldown adds; unusual enough not to meet the script's own.
D_LATENCY_VAR = "self->drill_start_ns"
BPFTRACE_LATENCY_MAP = "@drill_start_ns"


class DrillImpossible(Exception):
    """The drilldown cannot be made of this script; the message says why (and what to do)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Drill:
    script: str
    diff: str
    aggregation: str
    fields: list[Field] = field(default_factory=list)


@dataclass(frozen=True)
class Menu:
    """What can be offered for one aggregation: the fields and, per mode, why not (None: ok)."""

    aggregation: str
    key_arity: int
    fields: list[Field]
    comparable: tuple[bool, ...]  # per key component: can a predicate fix it
    unavailable: dict[str, str | None]


# --- literals -------------------------------------------------------------------------------


def string_literal(value: str) -> str:
    """A D or bpftrace string literal of ``value``: both read ``\\\\ \\" \\n \\t \\r`` and
    three-digit octal escapes the same way."""
    out = ['"']
    for ch in value:
        code = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\{code:03o}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _is_integer(value: KeyPart) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    s = value.strip()
    return bool(s) and s.lstrip("-").isdigit() and len(s) < 21


def literal(value: KeyPart, kind: str) -> str:
    """``value`` written for a comparison with a key expression of ``kind``."""
    if kind == "string" or not _is_integer(value):
        return string_literal(str(value))
    return str(int(value))


# --- the reading of one aggregation ---------------------------------------------------------


def _updates(view: ScriptView, aggregation: str) -> list[tuple[ClauseView, list[Update]]]:
    found = []
    for clause in view.clauses:
        ups = [u for u in clause.updates if u.aggregation == aggregation]
        if ups:
            found.append((clause, ups))
    if not found:
        names = sorted({u.aggregation for c in view.clauses for u in c.updates})
        known = f"; the script updates {', '.join(names)}" if names else ""
        raise DrillImpossible(f"no clause of the script updates {aggregation}{known}")
    return found


def _key_exprs(found: list[tuple[ClauseView, list[Update]]]) -> tuple[KeyExpr, ...]:
    arities = {len(u.keys) for _, ups in found for u in ups}
    if len(arities) > 1:
        raise DrillImpossible("the aggregation is updated with keys of different lengths")
    return found[0][1][0].keys


def _return_probe(language: Language, p: ProbeName) -> str | None:
    """The probe that fires when ``p``'s call returns, written as ``p`` is."""
    if language == "d":
        if p.name == "entry":
            return p.text[: len(p.text) - len("entry")] + "return"
        return None
    head, sep, rest = p.text.partition(":")
    pairs = {"kprobe": "kretprobe", "k": "kr", "uprobe": "uretprobe", "u": "ur",
             "kfunc": "kretfunc", "f": "fr"}  # fmt: skip
    if head in pairs:
        return pairs[head] + sep + rest
    if p.provider == "tracepoint" and p.module == "raw_syscalls" and p.function == "sys_enter":
        return p.text[: -len("sys_enter")] + "sys_exit"
    if p.provider == "tracepoint" and p.module == "syscalls" and "sys_enter_" in p.function:
        prefix = p.text[: len(p.text) - len(p.function)]
        return prefix + p.function.replace("sys_enter_", "sys_exit_", 1)
    return None


def menu(language: Language, script: str, aggregation: str, *, illumos: bool = False) -> Menu:
    return _menu(read(language, script), aggregation, illumos)


def _menu(view: ScriptView, aggregation: str, illumos: bool) -> Menu:
    language, script = view.language, view.text
    found = _updates(view, aggregation)
    keys = _key_exprs(found)
    probes = [p for clause, _ in found for p in clause.probes]
    comparable = tuple(k.kind != "stack" for k in keys)
    unavailable: dict[str, str | None] = {"only": None, "exclude": None, "latency": None}
    if not keys:
        reason = f"{aggregation} has no key to narrow to"
        unavailable = {"only": reason, "exclude": reason, "latency": reason}
    elif not any(comparable):
        reason = f"{_language_name(language)} cannot compare a stack in a predicate"
        unavailable = {"only": reason, "exclude": reason, "latency": reason}
    fields = fields_for(language, probes, illumos=illumos)
    reads = view.reads.get(aggregation)
    if reads:
        # Read by its key elsewhere (@start[tid] in another clause): re-keyed or timed, the
        # reads would no longer match.
        line, column = view.position(reads[0].start)
        fields = []
        unavailable["latency"] = unavailable["latency"] or (
            f"{aggregation} is read by its key at {line}:{column}; a drilldown can only "
            "narrow it to the key or leave the key out"
        )
    no_return = [p.text for p in probes if _return_probe(language, p) is None]
    if no_return and unavailable["latency"] is None:
        unavailable["latency"] = (
            f"{no_return[0]} has no matching return probe to time the key against"
        )
    keyed_by = {script[k.span.start : k.span.end].strip() for k in keys}
    return Menu(
        aggregation,
        len(keys),
        [f for f in fields if f.name not in keyed_by],
        comparable,
        unavailable,
    )


def _language_name(language: Language) -> str:
    return "D" if language == "d" else "bpftrace"


# --- the rewrite ----------------------------------------------------------------------------


@dataclass
class _Edits:
    text: str
    edits: list[tuple[int, int, str]] = field(default_factory=list)

    def replace(self, span: Span, new: str) -> None:
        self.edits.append((span.start, span.end, new))

    def insert(self, at: int, new: str) -> None:
        self.edits.append((at, at, new))

    def apply(self) -> str:
        out = []
        last = 0
        for start, end, new in sorted(self.edits, key=lambda e: (e[0], e[1])):
            out.append(self.text[last:start])
            out.append(new)
            last = end
        out.append(self.text[last:])
        return "".join(out)


def _kind(k: KeyExpr, quote_unknown: bool) -> str:
    return "string" if quote_unknown and k.kind == "unknown" else k.kind


def _operand(text: str, k: KeyExpr) -> str:
    written = text[k.span.start : k.span.end]
    return written if k.simple else f"({written})"


def _condition(
    text: str, keys: Sequence[KeyExpr], key: Sequence[KeyPart], mode: Mode, quote_unknown: bool
) -> str:
    parts = [
        f"{_operand(text, k)} == {literal(v, _kind(k, quote_unknown))}"
        for k, v in zip(keys, key, strict=True)
        if k.kind != "stack"
    ]
    if mode == "exclude":
        if len(parts) == 1:
            return parts[0].replace(" == ", " != ", 1)
        return "!(" + " && ".join(parts) + ")"
    return " && ".join(parts)


def _narrow(edits: _Edits, clause: ClauseView, condition: str) -> None:
    if clause.predicate is not None:
        old = edits.text[clause.predicate.start : clause.predicate.end]
        edits.replace(clause.predicate, f"({old}) && {condition}")
    else:
        own_line = "\n" in edits.text[clause.probes_span.end : clause.brace]
        edits.insert(clause.brace, f"/{condition}/" + ("\n" if own_line else " "))


def derive(
    language: Language,
    script: str,
    aggregation: str,
    key: Sequence[KeyPart],
    by: str | None,
    mode: Mode,
    *,
    illumos: bool = False,
    quote_unknown: bool = False,
) -> Drill:
    """The derived script; raises ``DrillImpossible`` (or ``views.Unreadable``).

    A key part that looks like a number is compared as one unless its expression is known to
    be a string; ``quote_unknown`` compares it as a string where the expression's type is not
    known (the second try when the first does not compile)."""
    view = read(language, script)
    m = _menu(view, aggregation, illumos)
    reason = m.unavailable[mode]
    if reason is not None:
        raise DrillImpossible(reason)
    if len(key) != m.key_arity:
        raise DrillImpossible(
            f"{aggregation} has {m.key_arity} key component(s); the click gave {len(key)}"
        )
    offered = {f.name: f for f in m.fields}
    if by is not None and (mode != "only" or by not in offered):
        if mode != "only":
            raise DrillImpossible(f'"by" goes only with mode "only", not "{mode}"')
        names = ", ".join(offered) or "none"
        raise DrillImpossible(f"{by!r} is not a field of these probes; offered: {names}")
    found = _updates(view, aggregation)
    keys = _key_exprs(found)
    condition = _condition(script, keys, key, mode, quote_unknown)
    edits = _Edits(script)
    for clause, ups in found:
        if language == "bpftrace" and clause.statement_count > sum(u.top_level for u in ups):
            # The clause does more than update the aggregation (@start[tid] = nsecs, ...):
            # narrow the updates alone, so the rest goes on as written.
            for u in ups:
                _guard(edits, u, condition)
        else:
            _narrow(edits, clause, condition)
        for u in ups:
            if mode == "latency":
                _time_from(edits, language, u)
            elif by is not None:
                _rekey(edits, u, by)
        if mode == "latency":
            latency = _latency_clause(language, script, clause, ups[0], key, quote_unknown)
            edits.insert(clause.span.end, latency)
    derived = edits.apply()
    return Drill(derived, _diff(script, derived), aggregation, m.fields)


def _diff(script: str, derived: str) -> str:
    # Lines as the page splits them (at "\n" only, not at a vertical tab), each ending in a
    # newline, the last too: a line of the diff is always one line of text.
    def lines(text: str) -> list[str]:
        parts = text.split("\n")
        if parts[-1] == "":
            parts.pop()
        return [part + "\n" for part in parts]

    return "".join(difflib.unified_diff(lines(script), lines(derived), "original", "drilldown"))


def _guard(edits: _Edits, u: Update, condition: str) -> None:
    edits.insert(u.statement.start, f"if ({condition}) {{ ")
    if u.semicolon is not None:
        edits.insert(u.semicolon + 1, " }")
    else:
        edits.insert(u.statement.end, "; }")


def _rekey(edits: _Edits, u: Update, by: str) -> None:
    if u.keys_span is not None:
        edits.replace(u.keys_span, f"[{by}]")
    else:
        edits.insert(u.name_end, f"[{by}]")


def _time_from(edits: _Edits, language: Language, u: Update) -> None:
    if language == "d":
        edits.replace(u.statement, f"{D_LATENCY_VAR} = timestamp")
    else:
        edits.replace(u.statement, f"{BPFTRACE_LATENCY_MAP}[tid] = nsecs")


def _latency_clause(
    language: Language,
    text: str,
    clause: ClauseView,
    u: Update,
    key: Sequence[KeyPart],
    quote_unknown: bool,
) -> str:
    returns = ",\n".join(r for p in clause.probes if (r := _return_probe(language, p)))
    parts = [
        literal(v, _kind(k, quote_unknown))
        if k.kind != "stack"
        else text[k.span.start : k.span.end]
        for k, v in zip(u.keys, key, strict=True)
    ]
    name = u.aggregation
    if language == "d":
        return (
            f"\n\n{returns}\n/{D_LATENCY_VAR}/\n{{\n"
            f"\t{name}[{', '.join(parts)}] = quantize(timestamp - {D_LATENCY_VAR});\n"
            f"\t{D_LATENCY_VAR} = 0;\n}}"
        )
    start = f"{BPFTRACE_LATENCY_MAP}[tid]"
    return (
        f"\n\n{returns}\n/{start}/\n{{\n"
        f"\t{name}[{', '.join(parts)}] = hist(nsecs - {start});\n"
        f"\tdelete({start});\n}}"
    )
