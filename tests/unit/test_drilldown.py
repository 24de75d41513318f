"""Drilldown rewrites: what changes (the clauses that update the clicked aggregation, at the
parser's offsets), what does not (everything else), how keys are written into the script,
and which fields and modes each probe is offered.  The real tracers compile the results in
tests/integration/test_drilldown_tracers.py."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ide.tracing.d_syntax import tree as dt
from ide.tracing.d_syntax.parser import parse as parse_d
from ide.tracing.drilldown import DrillImpossible, Unreadable, derive, literal, menu
from ide.tracing.drilldown.views import read
from ide.tracing.model import Language

D = """#pragma D option quiet
/* syscalls by process: @num[execname] = count() */
syscall:::entry
/'/*' != 0/
{
\t@num[execname] = count();
}

tick-1s
{
\tprinta("%-16s %@d\\n", @num);
}
"""
BT = """// syscalls by process
tracepoint:raw_syscalls:sys_enter /comm != "bpftrace"/ { @num[comm] = count(); }
interval:s:1 { print(@num); printf("@num[comm] = count()\\n"); }
"""


def names(language: Language, script: str, agg: str) -> list[str]:
    return [f.name for f in menu(language, script, agg).fields]


# --- the rewrite ----------------------------------------------------------------------------


def test_only_a_key_by_a_field_narrows_the_predicate_and_rekeys_the_update_in_d() -> None:
    d = derive("d", D, "@num", ["dd"], "pid", "only")
    assert d.script == D.replace("/'/*' != 0/", "/('/*' != 0) && execname == \"dd\"/").replace(
        "\t@num[execname] = count();", "\t@num[pid] = count();"
    )
    assert d.aggregation == "@num"
    assert "-/'/*' != 0/" in d.diff and "+/('/*' != 0) && execname == \"dd\"/" in d.diff


def test_a_clause_without_a_predicate_gets_one_where_its_brace_is() -> None:
    d = derive("bpftrace", "BEGIN {}\nkprobe:vfs_* { @[func] = count(); }\n", "@", ["vfs_read"],
               None, "only")  # fmt: skip
    assert d.script == 'BEGIN {}\nkprobe:vfs_* /func == "vfs_read"/ { @[func] = count(); }\n'
    own_line = "syscall:::entry\n{\n\t@[probefunc] = count();\n}\n"
    d = derive("d", own_line, "@", ["read"], "execname", "only")
    assert d.script == ('syscall:::entry\n/probefunc == "read"/\n{\n\t@[execname] = count();\n}\n')


def test_a_bpftrace_drill_leaves_strings_comments_and_other_clauses_as_written() -> None:
    d = derive("bpftrace", BT, "@num", ["dd"], "pid", "only")
    assert d.script.splitlines()[0] == BT.splitlines()[0]
    assert d.script.splitlines()[2] == BT.splitlines()[2]  # print() and the printf string
    assert d.script.splitlines()[1] == (
        'tracepoint:raw_syscalls:sys_enter /(comm != "bpftrace") && comm == "dd"/ '
        "{ @num[pid] = count(); }"
    )


def test_exclude_negates_one_component_or_the_whole_key() -> None:
    d = derive("d", D, "@num", ["dd"], None, "exclude")
    assert 'execname != "dd"' in d.script and "@num[execname] = count()" in d.script
    two = "syscall:::entry { @c[execname, probefunc] = count(); }"
    d = derive("d", two, "@c", ["dd", "read"], None, "exclude")
    assert '/!(execname == "dd" && probefunc == "read")/' in d.script


def test_a_multi_key_click_fixes_every_component_a_predicate_can_compare() -> None:
    s = "profile:hz:99 { @s[comm, kstack] = count(); }"
    d = derive("bpftrace", s, "@s", ["dd", "\n  f1+0\n"], None, "only")
    assert d.script == 'profile:hz:99 /comm == "dd"/ { @s[comm, kstack] = count(); }'
    m = menu("bpftrace", "profile:hz:99 { @s[kstack] = count(); }", "@s")
    assert m.unavailable["only"] == "bpftrace cannot compare a stack in a predicate"
    assert m.comparable == (False,)


def test_latency_times_the_key_from_its_probe_to_the_matching_return() -> None:
    d = derive("d", "syscall:::entry { @c[probefunc] = count(); }", "@c", ["read"], None,
               "latency")  # fmt: skip
    program = parse_d(d.script)
    assert [p.text for c in program.clauses for p in c.probes] == [
        "syscall:::entry",
        "syscall:::return",
    ]
    assert '@c["read"] = quantize(timestamp - self->drill_start_ns)' in d.script
    bt = derive("bpftrace", BT, "@num", ["dd"], None, "latency")
    assert "tracepoint:raw_syscalls:sys_exit\n/@drill_start_ns[tid]/" in bt.script
    assert '@num["dd"] = hist(nsecs - @drill_start_ns[tid]);' in bt.script
    for probe, ret in [
        ("tracepoint:syscalls:sys_enter_openat", "tracepoint:syscalls:sys_exit_openat"),
        ("kprobe:vfs_read", "kretprobe:vfs_read"),
        ("u:/bin/bash:readline", "ur:/bin/bash:readline"),
    ]:
        s = derive("bpftrace", f"{probe} {{ @[comm] = count(); }}", "@", ["sh"], None, "latency")
        assert f"\n{ret}\n" in s.script


def test_latency_is_unavailable_where_no_return_probe_matches() -> None:
    m = menu("bpftrace", "profile:hz:99 { @[comm] = count(); }", "@")
    assert (
        m.unavailable["latency"]
        == "profile:hz:99 has no matching return probe to time the key against"
    )
    with pytest.raises(DrillImpossible, match="no matching return probe"):
        derive("bpftrace", "profile:hz:99 { @[comm] = count(); }", "@", ["sh"], None, "latency")


def test_impossible_drills_say_why() -> None:
    with pytest.raises(
        DrillImpossible, match=r"no clause of the script updates @x; the script updates @num"
    ):
        derive("d", D, "@x", ["dd"], None, "only")
    with pytest.raises(DrillImpossible, match="has 1 key component"):
        derive("d", D, "@num", ["dd", "x"], None, "only")
    with pytest.raises(DrillImpossible, match="'func' is not a field of these probes"):
        derive("bpftrace", BT, "@num", ["dd"], "func", "only")
    with pytest.raises(DrillImpossible, match="has no key to narrow to"):
        derive("bpftrace", "BEGIN { @n = count(); }", "@n", [], None, "only")
    with pytest.raises(Unreadable):
        derive("bpftrace", "BEGIN { @n[comm = count(); }", "@n", ["x"], None, "only")


# --- fields ---------------------------------------------------------------------------------


def test_fields_follow_the_probe() -> None:
    assert names("d", D, "@num") == ["pid", "tid", "uid", "cpu", "probefunc", "stack()", "ustack()"]
    labels = {f.name: f.label for f in menu("d", D, "@num").fields}
    assert labels["probefunc"] == "syscall (probefunc)"
    fbt = "fbt::vfs_*:entry { @[execname] = count(); }"
    assert "probefunc" in names("d", fbt, "@") and "probemod" in names("d", fbt, "@")
    user = "pid$target::malloc:entry { @[execname] = count(); }"
    assert "stack()" not in names("d", user, "@") and "probefunc" not in names("d", user, "@")
    assert names("d", "tick-1s { @[cpu] = count(); }", "@") == []
    assert "zonename" in [f.name for f in menu("d", D, "@num", illumos=True).fields]
    assert "zonename" not in names("d", D, "@num")
    assert names("bpftrace", BT, "@num") == [
        "pid", "tid", "uid", "cpu", "args->id", "kstack", "ustack", "cgroup",
    ]  # fmt: skip
    tp = "tracepoint:syscalls:sys_enter_* { @[comm] = count(); }"
    assert "probe" in names("bpftrace", tp, "@") and "func" not in names("bpftrace", tp, "@")
    up = "uprobe:/bin/bash:read* { @[comm] = count(); }"
    assert "func" in names("bpftrace", up, "@") and "kstack" not in names("bpftrace", up, "@")
    assert names("bpftrace", "interval:s:1 { @[cpu] = count(); }", "@") == []


def test_every_field_is_a_name_of_the_languages_vocabulary() -> None:
    from dtrace_lexer.vocabulary import BPFTRACE
    from dtrace_lexer.vocabulary import D as D_WORDS
    from ide.tracing.drilldown.fields import BPFTRACE_FIELDS, D_FIELDS, D_ILLUMOS_FIELDS

    def base(name: str) -> str:
        return re.split(r"[(\-]", name)[0]

    d_words = set(D_WORDS.builtins) | set(D_WORDS.functions)
    for f in D_FIELDS + D_ILLUMOS_FIELDS:
        assert base(f.name) in d_words, f.name
    bt_words = set(BPFTRACE.builtins) | set(BPFTRACE.functions)
    for f in BPFTRACE_FIELDS:
        assert base(f.name) in bt_words, f.name


# --- literals -------------------------------------------------------------------------------

NASTY = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=40)
_BT_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def bpftrace_string_value(literal_text: str) -> str:
    """A bpftrace string literal's value, as lexer.l's STR state reads it."""
    body = literal_text[1:-1]
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
        elif body[i + 1] in _BT_ESCAPES:
            out.append(_BT_ESCAPES[body[i + 1]])
            i += 2
        else:
            m = re.match(r"[0-7]{1,3}", body[i + 1 :])
            assert m, body[i:]
            out.append(chr(int(m.group(), 8)))
            i += 1 + len(m.group())
    return "".join(out)


def d_predicate_value(script: str) -> str:
    clause = parse_d(script).clauses[0]
    assert isinstance(clause.predicate, dt.Binary)
    right = clause.predicate.right
    assert isinstance(right, dt.StrLit)
    return right.value


@settings(max_examples=200, deadline=None)
@given(NASTY)
def test_a_key_of_any_text_is_written_as_a_literal_each_language_reads_back(value: str) -> None:
    d = derive("d", "syscall:::entry { @[execname] = count(); }", "@", [value], None, "only")
    assert d_predicate_value(d.script) == value
    bt = derive("bpftrace", "kprobe:f { @[comm] = count(); }", "@", [value], None, "only")
    lit = re.fullmatch(r'kprobe:f /comm == (".*")/ \{ @\[comm\] = count\(\); \}', bt.script, re.S)
    assert lit is not None, bt.script
    assert bpftrace_string_value(lit.group(1)) == value
    assert ("\n" not in lit.group(1) and "<" not in value) or "<" in lit.group(1)


def test_numbers_stay_numbers_and_html_stays_text() -> None:
    assert literal("1234", "number") == "1234" and literal(1234, "unknown") == "1234"
    assert literal("1234", "string") == '"1234"'
    assert literal("a1", "unknown") == '"a1"'
    assert literal('<img src=x onerror="alert(1)">', "string") == (
        '"<img src=x onerror=\\"alert(1)\\">"'
    )


# --- property: only the clauses that update the clicked aggregation change --------------------

PROBES = {
    "d": ["syscall:::entry", "syscall::read:entry", "fbt::vfs_*:entry", "profile-997", "BEGIN"],
    "bpftrace": ["tracepoint:raw_syscalls:sys_enter", "kprobe:vfs_*", "profile:hz:99", "BEGIN"],
}
KEYS = {"d": ["execname", "pid", "probefunc"], "bpftrace": ["comm", "pid", "cpu"]}


@st.composite
def scripts(draw: st.DrawFn, language: Language) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 5))):
        probe = draw(st.sampled_from(PROBES[language]))
        pred = draw(st.sampled_from(["", "/pid != 0/ ", "/* c: @a[x] = count() */ "]))
        body = []
        for _ in range(draw(st.integers(0, 3))):
            agg = draw(st.sampled_from(["@a", "@b"]))
            key = draw(st.sampled_from(KEYS[language]))
            fn = draw(st.sampled_from(["count()", "sum(1)"]))
            body.append(draw(st.sampled_from([f"{agg}[{key}] = {fn};", 'printf("@a[x]\\n");'])))
        parts.append(f"{probe} {pred}{{ {' '.join(body)} }}")
    return "\n// @a[comm] = count();\n".join(parts) + "\n"


def clause_texts(language: Language, text: str) -> list[str]:
    return [text[c.span.start : c.span.end] for c in read(language, text).clauses]


@pytest.mark.parametrize("language", ["d", "bpftrace"])
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_a_drill_changes_only_the_clauses_that_update_the_clicked_aggregation(
    language: Language, data: st.DataObject
) -> None:
    script = data.draw(scripts(language))
    view = read(language, script)
    keyed = [c for c in view.clauses if any(u.aggregation == "@a" for u in c.updates)]
    arities = {len(u.keys) for c in keyed for u in c.updates if u.aggregation == "@a"}
    if not keyed or arities != {1}:
        return
    m = menu(language, script, "@a")
    by = data.draw(st.sampled_from([None, *[f.name for f in m.fields]]))
    d = derive(language, script, "@a", ["x"], by, "only")
    before, after = clause_texts(language, script), clause_texts(language, d.script)
    assert len(before) == len(after)
    for clause, old, new in zip(view.clauses, before, after, strict=True):
        if clause in keyed:
            assert new != old
        else:
            assert new == old
    # Text between clauses (comments) is the same too.
    assert d.script.count("// @a[comm] = count();") == script.count("// @a[comm] = count();")


def test_a_key_expression_keeps_its_meaning_inside_the_comparison() -> None:
    d = derive(
        "d",
        'io:::start { @io[execname, args[0]->b_flags & B_READ ? "read" : "write"] = count(); }',
        "@io",
        ["dd", "read"],
        None,
        "only",
    )
    assert '/execname == "dd" && (args[0]->b_flags & B_READ ? "read" : "write") == "read"/' in (
        d.script
    )
    bt = derive("bpftrace", "kprobe:f { @[pid / 1000] = count(); }", "@", ["7"], None, "only")
    assert "/(pid / 1000) == 7/" in bt.script


def test_a_bpftrace_clause_that_does_more_than_update_guards_the_update_alone() -> None:
    s = (
        "tracepoint:sched:sched_switch\n{\n\tif (@on[cpu]) {\n"
        "\t\t@ns[args->prev_comm] = sum(nsecs - @on[cpu]);\n\t}\n\t@on[cpu] = nsecs;\n}\n"
    )
    d = derive("bpftrace", s, "@ns", ["sshd"], "pid", "only")
    assert d.script == s.replace(
        "\t\t@ns[args->prev_comm] = sum(nsecs - @on[cpu]);",
        '\t\tif (args->prev_comm == "sshd") { @ns[pid] = sum(nsecs - @on[cpu]); }',
    )
