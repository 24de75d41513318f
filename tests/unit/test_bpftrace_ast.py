"""What a bpftrace script does, read from bpftrace's own parse (recorded ``bpftrace -d``).

The recordings in tests/fixtures/bpftrace/ are ``bpftrace -d FILE.bt`` (0.17) on this kind
of machine: regenerate them with ``bpftrace -d F.bt > F.d.out`` when bpftrace changes.
"""

from __future__ import annotations

from pathlib import Path

from ide.tracing.bpftrace_ast import MapFacts, parse_debug_output

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bpftrace"


def facts_of(name: str):  # type: ignore[no-untyped-def]
    return parse_debug_output((FIXTURES / f"{name}.d.out").read_text())


def test_maps_are_typed_as_bpftrace_typed_them() -> None:
    facts = facts_of("maps")
    assert facts.typed
    assert facts.probes == (
        "tracepoint:syscalls:sys_enter_read",
        "tracepoint:syscalls:sys_exit_read",
        "interval:s:1",
    )
    m = facts.maps
    assert m["@"] == MapFacts("@", "count", 1, keyed_by=frozenset({"comm"}))
    assert m["@t"].kind == "value" and m["@t"].deleted and m["@t"].keyed_by == {"tid"}
    assert m["@calls"].kind == "value" and m["@calls"].cleared and not m["@calls"].deleted
    assert m["@cpu_ts"].keyed_by == {"cpu"}
    assert m["@l"] == MapFacts("@l", "lhist", 0, (0, 100, 10))
    assert m["@m"].kind == "sum" and m["@m"].key_arity == 2
    assert m["@lat"].kind == "hist" and m["@lat"].printed and m["@lat"].cleared
    assert {"count", "hist", "lhist", "sum", "delete", "print", "clear", "zero"} <= facts.calls


def test_text_the_script_echoes_can_only_add_calls_never_hide_them() -> None:
    """C definitions are echoed raw above each tree: a forged ``call:`` line counts (a
    refusal too many), while the real tree under the last ``Program`` is what is read."""
    facts = facts_of("forged")
    assert "system" in facts.calls
    assert facts.probes == ("BEGIN",) and "exit" in facts.calls


def test_no_output_means_no_facts() -> None:
    facts = parse_debug_output("")
    assert facts.maps == {} and facts.calls == frozenset() and not facts.typed
