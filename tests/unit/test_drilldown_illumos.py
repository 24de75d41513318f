"""Drilldowns of the examples that need illumos providers (ip, vminfo, fbt::kmem_*): there is
no illumos tracer here and no recorded illumos compile of derived scripts, so this checks
what can be checked without one: every offered drilldown derives, reads back as D, keeps
every clause that does not update the clicked aggregation, and zonename is offered."""

from __future__ import annotations

from ide import examples
from ide.tracing.drilldown import DrillImpossible, Mode
from ide.tracing.drilldown.rewrite import derive, menu
from ide.tracing.drilldown.views import read

ILLUMOS = [e for e in examples.all_examples() if e.platform == "illumos" and e.language == "d"]


def clause_texts(script: str, skip: str) -> list[str]:
    view = read("d", script)
    return [
        script[c.span.start : c.span.end]
        for c in view.clauses
        if not any(u.aggregation == skip for u in c.updates)
    ]


def test_every_offered_drilldown_of_the_illumos_examples_derives_and_reads_back() -> None:
    derived = 0
    offered_zonename = False
    for example in ILLUMOS:
        view = read("d", example.script)
        for agg in sorted({u.aggregation for c in view.clauses for u in c.updates}):
            try:
                m = menu("d", example.script, agg, illumos=True)
            except DrillImpossible:
                continue
            offered_zonename |= "zonename" in [f.name for f in m.fields]
            update = next(u for c in view.clauses for u in c.updates if u.aggregation == agg)
            key = ["bash" if k.kind == "string" else "7" for k in update.keys]
            modes: list[Mode] = ["only", "exclude", "latency"]
            choices: list[tuple[str | None, Mode]] = [(None, mode) for mode in modes]
            for by, mode in choices + [(f.name, "only") for f in m.fields]:
                if m.unavailable[mode] is not None:
                    continue
                drill = derive("d", example.script, agg, key, by, mode, illumos=True)
                read("d", drill.script)  # raises if it does not read back as D
                kept = clause_texts(example.script, agg)
                assert all(text in drill.script for text in kept), (example.id, agg, by, mode)
                derived += 1
    assert len(ILLUMOS) >= 5 and derived >= 100, (len(ILLUMOS), derived)
    assert offered_zonename
