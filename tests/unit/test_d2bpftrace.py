"""D to bpftrace, per construct: the emitted text, the refusals at D positions, the map
origins that rename a run's data back to D, and the spans and line map."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ide.tracing.d2bpftrace import translate
from ide.tracing.model import Diagnostic
from ide.tracing.translation import MapOrigin, Translation


def body(script: str, **kwargs: bool) -> list[str]:
    """The emitted script's lines without the blank ones, after asserting it translated."""
    result = translate(script, **kwargs)
    assert result.ok, result.diagnostics
    return [line for line in result.script.splitlines() if line]


def refusal(script: str, **kwargs: bool) -> Diagnostic:
    result = translate(script, **kwargs)
    assert not result.ok and result.script == ""
    (diag,) = [d for d in result.diagnostics if d.severity == "error"]
    return diag


def test_the_2012_lquantize_example_keeps_the_map_name_and_ds_params() -> None:
    result = translate("syscall::read:entry { @dist[execname] = lquantize(arg0, 0, 12, 2); }")
    assert result.script == (
        "tracepoint:syscalls:sys_enter_read\n{\n    @dist[comm] = lhist(args->fd, 0, 12, 2);\n}\n"
    )
    assert result.maps == (
        MapOrigin("@dist", "lquantize", "lhist", {"lo": 0, "hi": 12, "step": 2}, 1),
    )
    assert result.line_map == ((1, 1), (1, 2), (1, 3), (1, 4))


def test_the_2012_count_example_names_system_calls_from_the_id_table() -> None:
    result = translate("syscall:::entry { @num[probefunc] = count(); }")
    lines = result.script.splitlines()
    assert lines[:3] == ["BEGIN", "{", '    @__syscall_name[0] = "read";']
    assert "tracepoint:raw_syscalls:sys_enter" in lines
    assert "    @num[@__syscall_name[args->id]] = count();" in lines
    assert lines[-3:] == ["{", "    clear(@__syscall_name);", "}"]
    assert result.map_origin("@num") == MapOrigin("@num", "count", "count", {}, 1)
    assert result.internal_maps == ("@__syscall_name",)


def test_an_unknown_function_is_refused_at_its_d_position() -> None:
    diag = refusal("BEGIN\n{\n    @num[execname] = cont();\n}")
    assert (diag.line, diag.column, diag.end_column) == (3, 22, 26)
    assert diag.message == "cont(): not a D aggregating function; did you mean count()?"


def test_a_d_aggregating_function_bpftrace_lacks_says_so() -> None:
    diag = refusal("BEGIN { @a = llquantize(1, 10, 0, 6, 20); }")
    assert diag.message.startswith("llquantize(): no bpftrace equivalent")


@pytest.mark.parametrize(
    ("probe", "bt"),
    [
        ("BEGIN", "BEGIN"),
        ("dtrace:::END", "END"),
        ("tick-1sec", "interval:s:1"),
        ("tick-100ms", "interval:ms:100"),
        ("tick-5", "interval:hz:5"),
        ("tick-2min", "interval:s:120"),
        ("tick-5000ns", "interval:us:5"),
        ("profile-997", "profile:hz:997"),
        ("profile:::profile-1ms", "profile:ms:1"),
        ("syscall::openat:return", "tracepoint:syscalls:sys_exit_openat"),
        ("syscall::pread?4:entry", "tracepoint:syscalls:sys_enter_pread64"),
        ("syscall:::return", "tracepoint:raw_syscalls:sys_exit"),
        ("proc:::exec-success", "tracepoint:sched:sched_process_exec"),
        ("proc:::exit", "tracepoint:sched:sched_process_exit"),
        ("proc:::create", "tracepoint:sched:sched_process_fork"),
        ("sched:::on-cpu", "tracepoint:sched:sched_switch"),
        ("sched:::off-cpu", "tracepoint:sched:sched_switch"),
        ("io:::start", "tracepoint:block:block_rq_issue"),
        ("io:::done", "tracepoint:block:block_rq_complete"),
        ("fbt::vfs_read:entry", "kprobe:vfs_read"),
        ("fbt::vfs_read:return", "kretprobe:vfs_read"),
        ("pid42::main:entry", "uprobe:/proc/42/exe:main"),
        ("pid42:libc.so.6:malloc:return", "uretprobe:libc.so.6:malloc"),
    ],
)
def test_probe_descriptions_map_to_bpftrace_probes(probe: str, bt: str) -> None:
    assert body(probe + " { @c = count(); }")[0] == bt


def test_a_pid_probe_is_guarded_by_its_process() -> None:
    assert body("pid42::main:entry /arg0 > 1/ { @c = count(); }")[1] == "/pid == 42 && (arg0 > 1)/"


@pytest.mark.parametrize(
    ("probe", "words"),
    [
        ("ERROR", "ERROR"),
        ("pid$target::main:entry", "by number"),
        ("lockstat:::adaptive-acquire", 'provider "lockstat"'),
        ("syscall::nosuchcall:entry", "no such system call"),
        ("tick-1fortnight", "unknown time unit"),
        ("fbt:::entry", "only fbt::FUNCTION"),
    ],
)
def test_probes_without_an_equivalent_are_refused_at_the_description(
    probe: str, words: str
) -> None:
    diag = refusal(probe + " { @c = count(); }")
    assert (diag.line, diag.column, diag.end_column) == (1, 1, len(probe) + 1)
    assert words in diag.message


@pytest.mark.parametrize(
    ("d", "bt"),
    [
        ("execname", "comm"),
        ("pid", "pid"),
        ("tid", "tid"),
        ("ppid", "curtask->real_parent->tgid"),
        ("uid", "uid"),
        ("cpu", "cpu"),
        ("curthread->pid", "curtask->pid"),
        ("timestamp", "nsecs"),
        ("probefunc", '"read"'),
        ("probename", '"entry"'),
        ("probeprov", '"syscall"'),
        ("probemod", '"vmlinux"'),
        ("arg0", "args->fd"),
        ("args[2]", "args->count"),
        ("copyinstr(arg1)", "str(args->buf)"),
        ("stringof(execname)", "comm"),
        ("(string)arg1", "str(args->buf)"),
        ("stack()", "kstack"),
        ("ustack(5)", "ustack(5)"),
        ("arg2 > 10 ? 1 : 0", "args->count > 10 ? 1 : 0"),
        ("(arg2 + 1) * 2", "(args->count + 1) * 2"),
        ("arg2 - (1 - 2)", "args->count - (1 - 2)"),
        ("(pid > 1) ^^ (tid > 1)", "(pid > 1 != 0) != (tid > 1 != 0)"),
        ("(unsigned char)arg2", "(uint8)args->count"),
        ("0x1f + 017 + 'a'", "0x1f + 15 + 97"),
        ("$1", "$1"),
        ("$$1", "str($1)"),
    ],
)
def test_expressions_and_builtins(d: str, bt: str) -> None:
    assert body(f"syscall::read:entry {{ @k[{d}] = count(); }}")[2] == f"    @k[{bt}] = count();"


@pytest.mark.parametrize(
    ("d", "words"),
    [
        ("vtimestamp", "vtimestamp: no bpftrace equivalent"),
        ("walltimestamp", "walltimestamp: no bpftrace equivalent"),
        ('strjoin("a", "b")', "strjoin(): no bpftrace equivalent"),
        ("basename(copyinstr(arg1))", "basename(): no bpftrace equivalent"),
        ("nosuchvar", "undefined identifier"),
        ("this->x", "read before this clause sets it"),
        ("$target", "$target: no bpftrace equivalent"),
        ("sizeof(int)", "sizeof"),
        ("`jiffies", "kernel symbols"),
        ("errno", "errno: only at a syscall return"),
    ],
)
def test_expressions_without_an_equivalent_are_refused_where_they_stand(d: str, words: str) -> None:
    diag = refusal(f"syscall::read:entry {{ @k[{d}] = count(); }}")
    assert diag.column == len("syscall::read:entry { @k[") + 1
    assert words in diag.message


def test_variables_declared_or_thread_local_but_never_assigned_read_as_zero() -> None:
    lines = body('int a;\nBEGIN { printf("%d %d\\n", a, self->never); }')
    assert lines[2] == '    printf("%d %d\\n", 0, 0);'


def test_an_array_only_ever_deleted_from_reads_as_zero() -> None:
    lines = body("BEGIN { a[1] = 0; }\ntick-1 /a[1] == 0/ { exit(0); }")
    assert lines == ["BEGIN", "{", "}", "interval:hz:1", "/0 == 0/", "{", "    exit();", "}"]


def test_unary_signs_emit_what_bpftrace_parses() -> None:
    assert body("BEGIN { x = - -1; y = +2; }")[2:4] == ["    @x = -(-1);", "    @y = 2;"]


def test_a_program_without_clauses_is_refused() -> None:
    assert "no probe clauses" in refusal("#pragma D option quiet\n").message


@pytest.mark.parametrize(
    ("script", "words"),
    [
        ("BEGIN { ++this->x; }", "read before this clause sets it"),
        ("BEGIN { this->x += 1; }", "read before this clause sets it"),
        ('BEGIN { printf("%+8d", 1); }', 'conversion "%+8d"'),
        ('BEGIN { printf("%#x", 1); }', 'conversion "%#x"'),
        ('BEGIN { x = "a" < "b"; }', "< of strings"),
        ("BEGIN { x = $0; }", "no script name"),
    ],
)
def test_what_bpftrace_would_reject_is_refused_at_the_d_position(script: str, words: str) -> None:
    assert words in refusal(script).message


def test_return_probes_map_arg0_to_the_return_value_and_errno() -> None:
    lines = body("syscall::openat:return /errno != 0/ { @r[errno] = sum(arg0); }")
    assert lines[1] == "/(args->ret < 0 ? -args->ret : 0) != 0/"
    assert lines[3] == "    @r[(args->ret < 0 ? -args->ret : 0)] = sum(args->ret);"
    assert body("fbt::vfs_read:return { @r = sum(arg1); }")[2] == "    @r = sum(retval);"


def test_self_variables_are_maps_by_thread_deleted_on_zero_and_cleared_at_end() -> None:
    lines = body(
        "syscall::read:entry { self->ts = timestamp; }\n"
        "syscall::read:return /self->ts/ { @t = quantize(timestamp - self->ts); self->ts = 0; }"
    )
    assert "    @__self_ts[tid] = nsecs;" in lines
    assert "/@__self_ts[tid]/" in lines
    assert "    @t = hist(nsecs - @__self_ts[tid]);" in lines
    assert "    delete(@__self_ts[tid]);" in lines
    assert lines[-4:] == ["END", "{", "    clear(@__self_ts);", "}"]


def test_increments_inside_expressions_change_the_variable() -> None:
    lines = body('BEGIN /i++ < 10/ { printf("%d\\n", n--); @t[++i] = count(); }')
    assert lines[1:5] == [
        "/@i++ < 10/",
        "{",
        '    printf("%d\\n", @n--);',
        "    @t[++@i] = count();",
    ]
    assert "++/--" in refusal("BEGIN { x = (1 + 2)++; }").message


def test_this_variables_are_clause_locals() -> None:
    lines = body("syscall::write:entry { this->n = arg2 * 2; @w = sum(this->n); }")
    assert lines[2:4] == ["    $n = args->count * 2;", "    @w = sum($n);"]


def test_globals_and_associative_arrays_are_maps_cleared_at_the_end() -> None:
    lines = body(
        "syscall::read:entry { total += arg2; seen[pid] = 1; n++; }\n"
        "syscall::write:entry /seen[pid]/ { seen[pid] = 0; }\n"
        'END { printf("%d %d\\n", total, n); }'
    )
    assert "    @total += args->count;" in lines
    assert "    @seen[pid] = 1;" in lines
    assert "    @n++;" in lines
    assert "    delete(@seen[pid]);" in lines
    end = lines[lines.index("END") :]
    assert end == [
        "END", "{", '    printf("%d %d\\n", @total, @n);',
        "    clear(@n);", "    clear(@seen);", "    clear(@total);", "}",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("d", "bt", "origin"),
    [
        ("count()", "count()", ("count", "count", {})),
        ("sum(arg2)", "sum(args->count)", ("sum", "sum", {})),
        ("avg(arg2)", "avg(args->count)", ("avg", "avg", {})),
        ("min(arg2)", "min(args->count)", ("min", "min", {})),
        ("max(arg2)", "max(args->count)", ("max", "max", {})),
        ("quantize(arg2)", "hist(args->count)", ("quantize", "hist", {})),
        ("lquantize(arg2, 0, 100)", "lhist(args->count, 0, 100, 1)",
         ("lquantize", "lhist", {"lo": 0, "hi": 100, "step": 1})),
        ("lquantize(arg2, 0, 10, 3)", "lhist(args->count, 0, 10, 3)",
         ("lquantize", "lhist", {"lo": 0, "hi": 10, "step": 3, "overflow_from": 9})),
    ],
)  # fmt: skip
def test_aggregations_and_their_origins(
    d: str, bt: str, origin: tuple[str, str, dict[str, int]]
) -> None:
    result = translate(f"syscall::read:entry {{ @a[execname, pid] = {d}; }}")
    assert result.ok, result.diagnostics
    assert f"    @a[comm, pid] = {bt};" in result.script.splitlines()
    d_function, bt_function, params = origin
    assert result.maps == (MapOrigin("@a", d_function, bt_function, params, 2),)


def test_the_anonymous_aggregation_keeps_its_name() -> None:
    result = translate("BEGIN { @ = count(); }")
    assert result.maps[0].name == "@" and "    @ = count();" in result.script


@pytest.mark.parametrize(
    ("d", "words"),
    [
        ("stddev(arg2)", "stddev(): no bpftrace equivalent"),
        ("llquantize(arg2, 10, 0, 6, 20)", "llquantize(): no bpftrace equivalent"),
        ("quantize(arg2, 3)", "increment"),
        ("lquantize(arg2, 0, x, 1)", "integer constants"),
        ("lquantize(arg2, -10, 10, 1)", "low >= 0"),
        ("lquantize(arg2, 0, 10, 20)", "step <= high - low"),
        ("lquantize(arg2, 0, 5000, 1)", "1000 buckets"),
    ],
)
def test_aggregations_without_an_equivalent_are_refused(d: str, words: str) -> None:
    assert words in refusal(f"syscall::read:entry {{ x = 1; @a = {d}; }}").message


@pytest.mark.parametrize(
    ("d", "bt"),
    [
        ('printf("%s %i %5d %-3s %lu %%\\n", execname, 1, 2, "a", 3)',
         'printf("%s %d %5d %-3s %lu %%\\n", comm, 1, 2, "a", 3)'),
        ('printf("%s!\\n", strjoin(execname, strjoin("-", "x")))',
         'printf("%s%s%s!\\n", comm, "-", "x")'),
        ("trace(pid)", 'printf("%d", pid)'),
        ("trace(execname)", 'printf("%s", comm)'),
        ("trace((uint32_t)-1)", 'printf("%u", (uint32)-1)'),
        ("exit(0)", "exit()"),
        ('printf("%-24Y|\\n", walltimestamp)',
         'printf("%-24s|\\n", strftime("%Y %b %e %H:%M:%S", nsecs))'),
        ("clear(@c)", "clear(@c)"),
        ("trunc(@c)", "clear(@c)"),
        ("stack()", "print(kstack)"),
        ("ustack()", "print(ustack)"),
    ],
)  # fmt: skip
def test_actions(d: str, bt: str) -> None:
    lines = body(f"BEGIN {{ @c = count(); {d}; }}")
    assert lines[3] == f"    {bt};"


def test_a_globbed_syscall_probe_is_one_probe_per_system_call_it_matches() -> None:
    lines = body("syscall::mmap*:entry, syscall::brk:entry { @c[probefunc] = sum(arg0); }")
    assert lines == [
        "tracepoint:syscalls:sys_enter_mmap", "{", '    @c["mmap"] = sum(args->addr);', "}",
        "tracepoint:syscalls:sys_enter_brk", "{", '    @c["brk"] = sum(args->brk);', "}",
    ]  # fmt: skip
    assert "matches no system call" in refusal("syscall::nosuch*:entry { }").message


def test_printa_prints_and_empties_the_map_at_end_as_d_prints_it_once() -> None:
    assert translate("BEGIN { @c = count(); printa(@c); }").printed_maps == ("@c",)
    lines = body("BEGIN { @c = count(); printa(@c); }")
    assert lines == ["BEGIN", "{", "    @c = count();", "    print(@c);", "}",
                     "END", "{", "    clear(@c);", "}"]  # fmt: skip


def test_an_exit_status_with_a_side_effect_keeps_the_side_effect() -> None:
    assert body("BEGIN /x == 0/ { exit(x++); }")[3:5] == ["    @x++;", "    exit();"]


def test_normalize_divides_the_printa_that_follows() -> None:
    lines = body("BEGIN { @c = count(); normalize(@c, 10); printa(@c); }")
    assert lines[2:5] == ["    @c = count();", "    print(@c, 0, 10);", "}"]


def test_normalize_in_end_without_printa_is_what_d_prints_at_exit() -> None:
    lines = body("BEGIN { @c = count(); } END { normalize(@c, 10); }")
    assert lines[-4:] == ["{", "    print(@c, 0, 10);", "    clear(@c);", "}"]
    diag = refusal("BEGIN { @c = count(); normalize(@c, 10); }")
    assert diag.column == 23 and "divides only when printing" in diag.message


def test_dividing_a_negative_warns_that_bpftrace_divides_unsigned() -> None:
    result = translate("BEGIN { x = -7 / 2; y = 7 / 2; }")
    assert result.ok
    (warning,) = result.diagnostics
    assert (warning.severity, warning.column) == ("warning", 13)
    assert "unsigned" in warning.message


def test_printa_formats_are_dropped_with_a_warning() -> None:
    result = translate('BEGIN { @c = count(); printa("%@d\\n", @c); }')
    assert result.ok and "    print(@c);" in result.script
    (warning,) = result.diagnostics
    assert warning.severity == "warning" and warning.column == 30


@pytest.mark.parametrize("action", ['system("ls")', "raise(9)", "stop()", "copyout(0, 0, 1)"])
def test_destructive_actions_are_refused_unless_allowed(action: str) -> None:
    diag = refusal(f"BEGIN {{ {action}; }}")
    assert diag.column == 9
    assert "the server refuses destructive actions" in diag.message


@pytest.mark.parametrize(
    ("action", "bt"),
    [('system("ls %d", pid)', 'system("ls %d", pid)'), ("raise(9)", "signal(9)"),
     ("stop()", 'signal("SIGSTOP")')],
)  # fmt: skip
def test_destructive_actions_translate_when_allowed(action: str, bt: str) -> None:
    assert body(f"BEGIN {{ {action}; }}", allow_destructive=True)[2] == f"    {bt};"


def test_declarations_without_an_equivalent_are_refused_at_their_position() -> None:
    diag = refusal("inline int LIMIT = 3;\nBEGIN { @c = count(); }")
    assert (diag.line, diag.column) == (1, 1) and "inline" in diag.message
    assert translate("int total;\nself string s;\nBEGIN { total = 1; }").ok


def test_pragmas_that_map_are_silent_and_others_warn() -> None:
    quiet = translate("#pragma D option quiet\n#pragma D option switchrate=10hz\nBEGIN { }")
    assert quiet.ok and quiet.diagnostics == ()
    other = translate("#pragma D option flowindent\nBEGIN { }")
    assert other.ok and other.diagnostics[0].severity == "warning"


def test_probes_with_the_same_body_share_a_clause_and_others_split() -> None:
    same = body("syscall::read:entry, syscall::write:entry { @c = count(); }")
    assert same[0] == "tracepoint:syscalls:sys_enter_read, tracepoint:syscalls:sys_enter_write"
    split = body("syscall::read:entry, syscall::write:entry { @c[probefunc] = count(); }")
    assert split.count('    @c["read"] = count();') == 1
    assert split.count('    @c["write"] = count();') == 1


def test_several_begin_clauses_become_one_bpftrace_begin() -> None:
    lines = body('BEGIN { printf("a"); }\nBEGIN /$1 > 0/ { printf("b"); }')
    assert lines == ["BEGIN", "{", '    printf("a");', "    if ($1 > 0) {",
                     '        printf("b");', "    }", "}"]  # fmt: skip


def test_clauses_on_one_probe_share_its_block_in_ds_order() -> None:
    # Separate bpftrace interval blocks would be separate timers, firing out of step.
    lines = body("tick-10ms /i++ > 3/ { exit(0); }\ntick-10ms { @c = count(); }")
    assert lines[:7] == ["interval:ms:10", "{", "    if (@i++ > 3) {", "        exit();",
                         "    }", "    @c = count();", "}"]  # fmt: skip


def test_spans_place_emitted_text_on_the_d_it_came_from() -> None:
    script = 'syscall::read:entry\n/execname == "x"/\n{\n    @d[execname] = count();\n}\n'
    result = translate(script)
    # bpftrace complaining at "comm" on line 4, column 8 lands on D's "execname".
    bt = Diagnostic(4, 8, 4, 12, "some error")
    assert result.d_diagnostic(bt) == Diagnostic(4, 8, 4, 16, "some error")
    assert result.d_diagnostic(Diagnostic(1, 1, 1, 2, "e")).column == 1
    assert result.d_diagnostic(Diagnostic(2, 2, 2, 3, "e")) == Diagnostic(2, 2, 2, 10, "e")
    assert [d for d, _ in result.line_map] == [1, 2, 3, 4, 5]


# --- properties ------------------------------------------------------------------------------

_TOKENS = [
    "BEGIN", "END", "syscall::read:entry", "syscall:::entry", "tick-1s", "{", "}", "/", ";",
    "(", ")", "[", "]", ",", "@a", "@", "=", "+=", "++", "count()", "sum(", "lquantize(",
    "execname", "arg0", "self->x", "this->y", "x", "0", "12", "0x1f", '"s"', "'c'", "?", ":",
    "&&", "||", "^^", "-", "*", "printf(", "printa(", "exit(0)", "#pragma D option quiet\n",
    "\n", " ", "/*", "*/", "$1", "$target", "`", "inline", "struct", "int", "->", ".", "!",
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_TOKENS), max_size=40))
def test_token_soup_gives_a_translation_or_diagnostics_never_an_exception(
    soup: list[str],
) -> None:
    result = translate(" ".join(soup))
    assert isinstance(result, Translation)
    assert result.ok or result.diagnostics
    for d in result.diagnostics:
        assert d.line >= 1 and d.column >= 1


_PROGRAMS = st.sampled_from([
    "syscall::read:entry { @dist[execname] = lquantize(arg0, 0, 12, 2); }",
    "syscall:::entry /pid != 0/ { @num[probefunc] = count(); self->t = timestamp; }",
    "BEGIN { x = 1; } END { printf(\"%d\\n\", x); } tick-1s { exit(0); }",
    "syscall::read:entry, syscall::write:entry { @b[probefunc] = sum(arg2); }",
])  # fmt: skip


@settings(max_examples=50, deadline=None)
@given(st.lists(_PROGRAMS, min_size=1, max_size=4))
def test_translation_is_deterministic(parts: list[str]) -> None:
    script = "\n".join(parts)
    first, second = translate(script), translate(script)
    assert first == second
    assert first.script.encode() == second.script.encode()
