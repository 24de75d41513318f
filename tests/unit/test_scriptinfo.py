from __future__ import annotations

import pytest

from ide.tracing.model import Language
from ide.tracing.scriptinfo import (
    declared_aggregations,
    maps_reset_by_script,
)
from ide.tracing.scripttext import code_only


def test_functions_keys_and_params_are_read_from_the_script() -> None:
    script = (
        "tracepoint:raw_syscalls:sys_enter {\n"
        "  @num[comm] = count(); @w[pid, comm] = sum(1);\n"
        "  @l[comm] = lhist(args->id, 0, 100, 10); @h = hist(args->id); @ = count();\n"
        "  @start[tid] = nsecs; @c++;\n"
        "}\n"
    )
    got = {
        d.name: (d.function, d.key_arity, d.params)
        for d in declared_aggregations(script, "bpftrace")
    }
    assert got == {
        "@num": ("count", 1, {}),
        "@w": ("sum", 2, {}),
        "@l": ("lhist", 1, {"lo": 0, "hi": 100, "step": 10}),
        "@h": ("hist", 0, {}),
        "@": ("count", 0, {}),
        "@start": ("value", 1, {}),
        "@c": ("value", 0, {}),
    }


def test_d_quantizations_carry_their_parameters() -> None:
    script = (
        "syscall::read:entry { @dist[execname] = lquantize(arg0, 0, 12, 2); "
        "@ll[pid] = llquantize(arg0, 10, 0, 6, 20); @q = quantize(arg0); "
        "@d = lquantize(arg0, 0, 9); }"
    )
    got = {d.name: (d.function, d.params) for d in declared_aggregations(script, "d")}
    assert got == {
        "@dist": ("lquantize", {"lo": 0, "hi": 12, "step": 2}),
        "@ll": ("llquantize", {"factor": 10, "low": 0, "high": 6, "nsteps": 20}),
        "@q": ("quantize", {}),
        "@d": ("lquantize", {"lo": 0, "hi": 9, "step": 1}),
    }


def test_comments_strings_and_comparisons_declare_nothing() -> None:
    script = (
        '// @a = count();\n/* @b = sum(1); */\nBEGIN /comm == "@c = count()"/ '
        '{ if (@d[1] == 2) { } @e["x,y"] = count(); }'
    )
    got = [(d.name, d.key_arity) for d in declared_aggregations(script, "bpftrace")]
    assert got == [("@e", 1)]


def test_an_aggregating_function_wins_over_a_plain_assignment() -> None:
    script = "BEGIN { @x = 0; } tick-1s { @x = count(); }"
    assert [d.function for d in declared_aggregations(script, "bpftrace")] == ["count"]


@pytest.mark.parametrize("language", ["d", "bpftrace"])
def test_blanking_keeps_offsets_and_newlines(language: Language) -> None:
    text = 'a /* x\ny */ "s\\"q" // c\nb'
    blanked = code_only(text, language)
    assert len(blanked) == len(text)
    assert blanked.count("\n") == text.count("\n")
    assert blanked.replace(" ", "").replace("\n", "") == 'a""b'


def test_a_d_character_constant_is_not_a_comment() -> None:
    script = "BEGIN { x = '/*'; @a = count(); y = '*/'; }"
    assert [d.name for d in declared_aggregations(script, "d")] == ["@a"]


def test_maps_the_script_clears_or_zeroes_itself() -> None:
    d = "tick-1s { printa(@a); clear(@a); trunc(@b); trunc(@c, 5); }\n/* clear(@e) */ BEGIN { }"
    assert maps_reset_by_script(d, "d") == {"@a", "@b"}
    bt = 'interval:s:1 { print(@x); zero(@y); clear( @ ); printf("clear(@z)"); }'
    assert maps_reset_by_script(bt, "bpftrace") == {"@y", "@"}
