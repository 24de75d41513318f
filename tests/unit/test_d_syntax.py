"""The D parser: exact spans, D's precedence, the lexer's states, errors at line:column,
and time linear in the script."""

from __future__ import annotations

import time

import pytest

from ide.tracing.d_syntax import DSyntaxError, parse, parse_diagnostic
from ide.tracing.d_syntax import tree as t
from ide.tracing.model import Diagnostic


def only_statement(body: str) -> t.Expr:
    program = parse("BEGIN { " + body + " }")
    (clause,) = program.clauses
    (stmt,) = clause.body
    return stmt.expr


def text_at(script: str, pos: t.Pos) -> str:
    lines = script.split("\n")
    assert pos.line == pos.end_line
    return lines[pos.line - 1][pos.column - 1 : pos.end_column - 1]


def test_a_clause_has_probes_predicate_and_statements_with_exact_spans() -> None:
    script = (
        "#pragma D option quiet\n"
        "syscall::read:entry, syscall::write*:entry\n"
        '/execname == "bash"/\n'
        "{\n"
        "    @dist[execname] = lquantize(arg0, 0, 12, 2);\n"
        "    self->ts = timestamp;\n"
        "}\n"
    )
    program = parse(script)
    pragma, clause = program.items
    assert isinstance(pragma, t.Pragma) and pragma.words == ("pragma", "D", "option", "quiet")
    assert isinstance(clause, t.Clause)
    read, write = clause.probes
    assert (read.provider, read.module, read.function, read.name) == (
        "syscall",
        "",
        "read",
        "entry",
    )
    assert text_at(script, write.pos) == "syscall::write*:entry"
    assert clause.predicate is not None
    assert text_at(script, clause.predicate.pos) == 'execname == "bash"'
    agg, self_ts = clause.body
    assert text_at(script, agg.pos) == "@dist[execname] = lquantize(arg0, 0, 12, 2)"
    assert isinstance(agg.expr, t.Assign) and isinstance(agg.expr.value, t.Call)
    assert text_at(script, agg.expr.value.name_pos) == "lquantize"
    assert [text_at(script, a.pos) for a in agg.expr.value.args] == ["arg0", "0", "12", "2"]
    assert isinstance(self_ts.expr, t.Assign)
    assert self_ts.expr.target == t.ClauseVar(t.Pos(6, 5, 6, 13), "self", "ts")


@pytest.mark.parametrize(
    ("text", "provider", "module", "function", "name"),
    [
        ("BEGIN", "", "", "", "BEGIN"),
        ("tick-1sec", "", "", "", "tick-1sec"),
        ("profile:::profile-997", "profile", "", "", "profile-997"),
        ("pid$target:a.out:main:entry", "pid$target", "a.out", "main", "entry"),
        ("fbt:vmlinux:vfs_read:return", "fbt", "vmlinux", "vfs_read", "return"),
        ("proc:::exec-success", "proc", "", "", "exec-success"),
        ("syscall::read?:entry", "syscall", "", "read?", "entry"),
    ],
)
def test_probe_descriptions_fill_from_the_right(
    text: str, provider: str, module: str, function: str, name: str
) -> None:
    (clause,) = parse(text + " { }").clauses
    (probe,) = clause.probes
    assert (probe.provider, probe.module, probe.function, probe.name) == (
        provider, module, function, name,
    )  # fmt: skip


def shape(node: t.Expr) -> object:
    """A compact form of an expression tree, to compare with the expected grouping."""
    if isinstance(node, t.Binary):
        return (node.op, shape(node.left), shape(node.right))
    if isinstance(node, t.Ternary):
        return ("?", shape(node.cond), shape(node.then), shape(node.other))
    if isinstance(node, t.Unary | t.Postfix):
        return (node.op, shape(node.operand))
    if isinstance(node, t.Assign):
        return (node.op, shape(node.target), shape(node.value))
    if isinstance(node, t.Cast):
        return (f"({node.type_name})", shape(node.operand))
    if isinstance(node, t.IntLit):
        return node.value
    if isinstance(node, t.Ident):
        return node.name
    return type(node).__name__


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("a + b * c", ("+", "a", ("*", "b", "c"))),
        ("a - b - c", ("-", ("-", "a", "b"), "c")),
        ("a || b ^^ c && d", ("||", "a", ("^^", "b", ("&&", "c", "d")))),
        ("a | b ^ c & d", ("|", "a", ("^", "b", ("&", "c", "d")))),
        ("a == b < c", ("==", "a", ("<", "b", "c"))),
        ("a << 1 + 2", ("<<", "a", ("+", 1, 2))),
        ("a ? b : c ? d : e", ("?", "a", "b", ("?", "c", "d", "e"))),
        ("x = y += 2", ("=", "x", ("+=", "y", 2))),
        ("-a * !b", ("*", ("-", "a"), ("!", "b"))),
        ("(unsigned long)a + 1", ("+", ("(unsigned long)", "a"), 1)),
        ("(a + 1) * 2", ("*", ("+", "a", 1), 2)),
        ("a++", ("++", "a")),
        ("~a & 0xff", ("&", ("~", "a"), 255)),
    ],
)
def test_expressions_group_by_ds_precedence(source: str, expected: object) -> None:
    assert shape(only_statement(source)) == expected


@pytest.mark.parametrize(
    ("source", "value"),
    [("0x1f", 31), ("017", 15), ("10UL", 10), ("0", 0), ("'a'", 97), ("'\\n'", 10)],
)
def test_integer_and_character_constants_have_their_c_values(source: str, value: int) -> None:
    node = only_statement(f"x = {source}")
    assert isinstance(node, t.Assign) and isinstance(node.value, t.IntLit | t.CharLit)
    assert node.value.value == value


def test_strings_resolve_escapes_and_keep_their_text() -> None:
    node = only_statement(r'printf("a\tb\n\"q\"\101")')
    assert isinstance(node, t.Call) and isinstance(node.args[0], t.StrLit)
    assert node.args[0].value == 'a\tb\n"q"A'
    assert node.args[0].text == r'"a\tb\n\"q\"\101"'


def test_an_unknown_escape_keeps_its_backslash_as_d_prints_it() -> None:
    node = only_statement(r'printf("a\?b")')
    assert isinstance(node, t.Call) and isinstance(node.args[0], t.StrLit)
    assert node.args[0].value == "a\\?b"


def test_postfix_forms_args_members_and_macro_arguments() -> None:
    node = only_statement("x = args[1] + curthread->real_parent->pid + $1 + `jiffies")
    assert isinstance(node, t.Assign)
    assert shape(node.value) == ("+", ("+", ("+", "Index", "Member"), "MacroArg"), "`jiffies")


def test_a_slash_before_a_brace_closes_the_predicate_and_otherwise_divides() -> None:
    (clause,) = parse("BEGIN /a / 2 > 1/ { }").clauses
    assert clause.predicate is not None
    assert shape(clause.predicate) == (">", ("/", "a", 2), 1)


def test_comments_and_a_character_constant_that_looks_like_one() -> None:
    program = parse("/* c */ BEGIN // d\n{ x = '/*'; }")
    (clause,) = program.clauses
    assert clause.probes[0].pos == t.Pos(1, 9, 1, 14)


def test_declarations_are_kept_at_their_position() -> None:
    script = "inline int X = 3;\nstruct s { int a; };\nself int ts;\nBEGIN { }"
    items = parse(script).items
    assert [(type(i).__name__, getattr(i, "keyword", "")) for i in items] == [
        ("Declaration", "inline"),
        ("Declaration", "struct"),
        ("Declaration", "self"),
        ("Clause", ""),
    ]
    assert items[1].pos == t.Pos(2, 1, 2, 21)


@pytest.mark.parametrize(
    ("script", "line", "column", "words"),
    [
        ("BEGIN {\n  @num[execname] = count() x\n}", 2, 28, 'near "x"'),
        ("BEGIN { x = ; }", 1, 13, "expected an expression"),
        ("BEGIN {\n  x = 1;\n", 3, 1, "end of input"),
        ('BEGIN { printf("abc\n"); }', 1, 16, "newline encountered in string"),
        ("BEGIN { x = 1.5; }", 1, 13, "floating-point"),
        ("BEGIN { x = 09; }", 1, 13, "octal"),
        ("BEGIN /x > 1 { }", 1, 14, 'expected "/"'),
        ("BEGIN { /* open", 1, 9, "before matching */"),
        ("BEGIN { x = 1 # 2; }", 1, 15, 'near "#"'),
        ("syscall::read:entry", 1, 20, "expected actions"),
        ("a:b:c:d:e { }", 1, 1, "invalid probe description"),
        ("BEGIN { x = (1; }", 1, 15, 'expected ")"'),
    ],
)
def test_syntax_errors_name_the_line_and_column(
    script: str, line: int, column: int, words: str
) -> None:
    diag = parse_diagnostic(script)
    assert isinstance(diag, Diagnostic)
    assert (diag.line, diag.column) == (line, column), diag
    assert words in diag.message


def test_parse_raises_only_dsyntaxerror() -> None:
    with pytest.raises(DSyntaxError) as info:
        parse("BEGIN { ) }")
    assert info.value.pos.column == 9


def test_parsing_time_is_linear_in_the_script() -> None:
    clause = "syscall::read:entry /pid > 1 && (arg0 + 2) * 3 != 0/ { @a[execname] = count(); }\n"

    def seconds(n: int) -> float:
        script = clause * n
        start = time.perf_counter()
        program = parse(script)
        elapsed = time.perf_counter() - start
        assert len(program.clauses) == n
        return elapsed

    small, large = seconds(500), seconds(4000)
    assert large < small * 8 * 3  # 8x the input, allowing noise: not quadratic (64x)


def test_one_long_expression_parses_in_linear_time() -> None:
    start = time.perf_counter()
    node = only_statement("x = " + " + ".join(["a"] * 20000))
    assert isinstance(node, t.Assign)
    assert time.perf_counter() - start < 5


@pytest.mark.parametrize(
    "source", ["(" * 500 + "1" + ")" * 500, "-" * 2000 + "1", "1?2:" * 900 + "3"]
)
def test_deep_nesting_is_a_syntax_error_not_a_crash(source: str) -> None:
    diag = parse_diagnostic("BEGIN { x = " + source + "; }")
    assert isinstance(diag, Diagnostic)
    assert "nested more than" in diag.message


def test_literals_agree_with_the_policys_d_token_splitter() -> None:
    from ide.tracing.scripttext import Positions, d_tokens

    script = '/* "not a string" */ BEGIN // \'x\n{ printf("a /* b */ %c", \'/*\'); x = "q\\"r"; }\n'
    positions = Positions(script)
    splitter = {
        (positions.at(tok.start), positions.at(tok.end))
        for tok in d_tokens(script)
        if tok.kind in ("string", "char")
    }
    ours = set()
    for clause in parse(script).clauses:
        stack: list[object] = list(clause.body)
        while stack:
            node = stack.pop()
            if isinstance(node, t.StrLit | t.CharLit):
                p = node.pos
                ours.add(((p.line, p.column), (p.end_line, p.end_column)))
            stack.extend(v for v in vars(node).values() if hasattr(v, "pos"))
            stack.extend(a for v in vars(node).values() if isinstance(v, tuple) for a in v)
    assert ours == splitter and len(ours) == 3
