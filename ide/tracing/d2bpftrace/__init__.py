"""D to bpftrace: parse D (``d_syntax``), emit a bpftrace script that traces the same events
and keeps D's map names, and say per emitted range which D text it came from.

Whatever bpftrace cannot say faithfully is a diagnostic at its D position naming the
construct ("no bpftrace equivalent"); approximations bpftrace can still run are warnings.
Output is deterministic: the same script always gives the same bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from ..d_syntax import parse_diagnostic
from ..d_syntax import tree as t
from ..model import Diagnostic
from ..translation import Translation
from .actions import pending_normalizations, statement
from .code import Piece, Writer, join
from .expressions import SELF_PREFIX, ClauseContext, ProgramInfo, expr
from .probes import SYSCALL_NAME_MAP, ProbeTarget, Refused, map_probes
from .syscall_names import SYSCALL_NAMES

__all__ = ["translate"]

_QUIET_OPTIONS = frozenset({"quiet", "switchrate", "aggrate", "bufsize", "aggsize",
                            "dynvarsize", "strsize", "statusrate", "cleanrate"})  # fmt: skip


def translate(script: str, *, allow_destructive: bool = False) -> Translation:
    parsed = parse_diagnostic(script)
    if isinstance(parsed, Diagnostic):
        return Translation(False, "", (parsed,))
    emitter = _Emitter(parsed, allow_destructive)
    emitter.run()
    if not parsed.clauses:
        emitter.diagnostics.append(
            Diagnostic(1, 1, 1, 1, "no probe clauses: bpftrace needs at least one probe")
        )
    errors = [d for d in emitter.diagnostics if d.severity == "error"]
    diagnostics = tuple(sorted(emitter.diagnostics, key=lambda d: (d.line, d.column)))
    if errors:
        return Translation(False, "", diagnostics)
    out = emitter.writer
    return Translation(
        True,
        out.text(),
        diagnostics,
        tuple(sorted(out.line_map, key=lambda p: p[1])),
        tuple(out.spans),
        tuple(emitter.info.maps.values()),
        internal_maps=tuple(emitter.internal_maps()),
        printed_maps=tuple(sorted(emitter.info.printed)),
    )


def _walk(node: object) -> Iterator[object]:
    yield node
    for value in getattr(node, "__dict__", {}).values():
        for child in value if isinstance(value, tuple) else (value,):
            if hasattr(child, "pos"):
                yield from _walk(child)


# The name a variable declaration declares: the last word before its ;, = or [.
_DECLARED_NAME = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:\[[^\]]*\]\s*)?(?:=[^;]*)?;$")


def program_info(program: t.Program) -> ProgramInfo:
    """D globals are the names assigned (or indexed and assigned) anywhere; thread-locals
    the ``self->`` names; found first so that a read before the assignment's clause works."""
    info = ProgramInfo()
    for item in program.clauses:
        for node in _walk(item):
            if isinstance(node, t.Assign | t.Postfix | t.Unary):
                target = node.target if isinstance(node, t.Assign) else node.operand
                if isinstance(node, t.Unary) and node.op not in ("++", "--"):
                    continue
                base = target.base if isinstance(target, t.Index) else target
                deletes = (
                    isinstance(node, t.Assign) and isinstance(target, t.Index)
                    and isinstance(node.value, t.IntLit) and node.value.value == 0
                )  # fmt: skip
                if isinstance(base, t.Ident) and base.name != "args":
                    (info.deleted if deletes else info.globals).add(base.name)
                if isinstance(target, t.ClauseVar) and target.scope == "self":
                    info.self_assigned.add(target.name)
    info.deleted -= info.globals
    for decl in program.items:
        if isinstance(decl, t.Declaration) and (m := _DECLARED_NAME.search(decl.text)):
            info.declared.add(m.group(1))
    return info


class _Emitter:
    def __init__(self, program: t.Program, allow_destructive: bool) -> None:
        self.program = program
        self.allow_destructive = allow_destructive
        self.info = program_info(program)
        self.diagnostics: list[Diagnostic] = []
        self.writer = Writer()
        self.syscall_names = False

    def refuse(self, exc: Refused) -> None:
        p = exc.pos
        diag = Diagnostic(p.line, p.column, p.end_line, p.end_column, exc.message)
        if diag not in self.diagnostics:  # a clause's probes share their refusals
            self.diagnostics.append(diag)

    def internal_maps(self) -> list[str]:
        names = [f"@{g}" for g in sorted(self.info.globals)]
        names += [f"{SELF_PREFIX}{s}" for s in sorted(self.info.self_assigned)]
        return names + ([SYSCALL_NAME_MAP] if self.syscall_names else [])

    def run(self) -> None:
        clauses: list[tuple[t.Clause, list[_Probe]]] = []
        for item in self.program.items:
            if isinstance(item, t.Pragma):
                self.pragma(item)
            elif isinstance(item, t.Declaration):
                self.declaration(item)
            else:
                clauses.append((item, self.clause(item)))
        for g in sorted(self.info.globals):
            if f"@{g}" in self.info.maps:
                message = f'D global "{g}" and aggregation @{g} would share one bpftrace map'
                self.diagnostics.append(Diagnostic(1, 1, 1, 1, message))
        blocks = self.blocks(clauses)
        if self.syscall_names and not any(b.head.text == "BEGIN" for b in blocks):
            self.writer.line("BEGIN", None)
            self.writer.line("{", None)
            self.syscall_table()
            self.writer.line("}", None)
            self.writer.line("", None)
        end = [b for b in blocks if b.head.text == "END"]
        for block in [b for b in blocks if b.head.text != "END"] + end:
            self.write_block(block)
        if not end and (self.internal_maps() or self.info.printed):
            self.writer.line("END", None)
            self.writer.line("{", None)
            self.cleanup_lines()
            self.writer.line("}", None)
        elif self.writer.lines and self.writer.lines[-1] == "":
            self.writer.lines.pop()

    def pragma(self, item: t.Pragma) -> None:
        words = item.words
        p = item.pos
        if words[:3] == ("pragma", "D", "option") and len(words) == 4:
            option = words[3].split("=", 1)[0]
            if option in _QUIET_OPTIONS:
                return  # bpftrace prints no probe headers and sizes its buffers itself
            if option == "destructive" and self.allow_destructive:
                return
        message = f'"{item.text.strip()}": no bpftrace equivalent'
        self.diagnostics.append(
            Diagnostic(p.line, p.column, p.end_line, p.end_column, message, "warning")
        )

    def declaration(self, item: t.Declaration) -> None:
        if item.keyword in ("inline", "translator", "struct", "union", "enum", "typedef",
                            "provider", "counter", "import", "extern"):  # fmt: skip
            message = f"{item.keyword} declaration: no bpftrace equivalent"
            p = item.pos
            self.diagnostics.append(Diagnostic(p.line, p.column, p.end_line, p.end_column, message))
        # A variable's declaration (int x; self string s;) needs nothing: bpftrace infers types.

    def clause(self, clause: t.Clause) -> list[_Probe]:
        out = []
        for desc in clause.probes:
            try:
                targets = map_probes(desc)
            except Refused as exc:
                self.refuse(exc)
                continue
            for target in targets:
                self.syscall_names |= target.uses_syscall_names and self.uses_probefunc(clause)
                out.append((target, desc, self.body(clause, target)))
        return out

    def uses_probefunc(self, clause: t.Clause) -> bool:
        return any(isinstance(n, t.Ident) and n.name == "probefunc" for n in _walk(clause))

    def body(self, clause: t.Clause, target: ProbeTarget) -> _Body:
        ctx = ClauseContext(target, self.info, self.allow_destructive, [])
        guard: Piece | None = Piece(target.guard) if target.guard else None
        if clause.predicate is not None:
            try:
                pred = expr(ctx, clause.predicate)
                guard = f"{target.guard} && (" + pred + ")" if target.guard else pred
            except Refused as exc:
                self.refuse(exc)
        lines: list[Piece] = []
        for stmt in clause.body:
            try:
                lines.extend(statement(ctx, stmt))
            except Refused as exc:
                self.refuse(exc)
        try:
            lines.extend(pending_normalizations(ctx))
        except Refused as exc:
            self.refuse(exc)
        for w in ctx.warnings:
            if w not in self.diagnostics:
                self.diagnostics.append(w)
        return _Body(guard, lines)

    def blocks(self, clauses: list[tuple[t.Clause, list[_Probe]]]) -> list[_Block]:
        """One block per run of probes with the same emitted body.  D runs the clauses of
        one probe in program order at each firing; bpftrace gives each block its own probe
        (its own timer, for interval:) and takes one BEGIN and one END, so later clauses on
        the same probes become parts of the first one's block."""
        blocks: list[_Block] = []
        merged: dict[str, _Block] = {}
        for clause, probes in clauses:
            i = 0
            while i < len(probes):
                j = i + 1
                while j < len(probes) and probes[j][2] == probes[i][2]:
                    j += 1
                group = probes[i:j]
                head = join((Piece(tg.bt).marked(desc.pos) for tg, desc, _ in group), ", ")
                part = (clause, group[0][2])
                if head.text in merged:
                    merged[head.text].parts.append(part)
                else:
                    block = _Block(head, clause.probes[0].pos.line, [part])
                    blocks.append(block)
                    merged[head.text] = block
                i = j
        return blocks

    def write_block(self, block: _Block) -> None:
        w = self.writer
        w.line(block.head, block.d_line)
        parts = block.parts
        alone = len(parts) == 1
        if alone and parts[0][1].guard is not None:
            clause = parts[0][0]
            pred_line = clause.predicate.pos.line if clause.predicate else clause.pos.line
            w.line("/" + parts[0][1].guard + "/", pred_line)
        w.line("{", parts[0][0].brace.line)
        if block.head.text == "BEGIN" and self.syscall_names:
            self.syscall_table()
        for clause, body in parts:
            indent = 1
            if not alone and body.guard is not None:
                w.line("if (" + body.guard + ") {", clause.pos.line, indent=1)
                indent = 2
            for piece in body.lines:
                d_line = piece.marks[0][2].line if piece.marks else clause.pos.line
                w.line(piece, d_line, indent=indent)
            if indent == 2:
                w.line("}", clause.pos.end_line, indent=1)
        if block.head.text == "END":
            self.cleanup_lines()
        w.line("}", parts[-1][0].pos.end_line)
        w.line("", None)

    def syscall_table(self) -> None:
        for number, name in enumerate(SYSCALL_NAMES):
            if name:
                self.writer.line(f'{SYSCALL_NAME_MAP}[{number}] = "{name}";', None, indent=1)

    def cleanup_lines(self) -> None:
        """D prints only aggregations at the end; bpftrace prints every map, so the maps that
        stand for D variables are emptied last, in END."""
        for name in [*self.internal_maps(), *sorted(self.info.printed)]:
            self.writer.line(f"clear({name});", None, indent=1)


@dataclass(frozen=True)
class _Body:
    """A clause's emitted predicate (with any guard the probe implies) and statements."""

    guard: Piece | None
    lines: list[Piece]

    def __eq__(self, other: object) -> bool:  # same text, wherever it came from
        if not isinstance(other, _Body):
            return NotImplemented
        texts = [p.text for p in self.lines]
        same_guard = (self.guard and self.guard.text) == (other.guard and other.guard.text)
        return same_guard and texts == [p.text for p in other.lines]

    __hash__ = None  # type: ignore[assignment]


@dataclass
class _Block:
    head: Piece  # the probes
    d_line: int
    parts: list[tuple[t.Clause, _Body]]


_Probe = tuple[ProbeTarget, t.ProbeDesc, _Body]
