"""What a reader sees: the token class of each D and bpftrace construct."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pygments.lexer import Lexer
from pygments.lexers import (
    find_lexer_class_for_filename,
    get_lexer_by_name,
    get_lexer_for_filename,
    get_lexer_for_mimetype,
    guess_lexer_for_filename,
)
from pygments.lexers.d import DLexer
from pygments.token import (
    Comment,
    Error,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    _TokenType,
)

from dtrace_lexer import BpftraceLexer, DTraceLexer
from dtrace_lexer.vocabulary import BPFTRACE, D

DEBIAN_TOOLS = sorted(Path("/usr/sbin").glob("*.bt"))
D_LANGUAGE_SOURCE = 'import std.stdio;\n\nvoid main() {\n    writeln("hi");\n}\n'
DTRACE_SOURCE = "syscall::read:entry\n{\n\t@dist[execname] = lquantize(arg0, 0, 12, 2);\n}\n"


def lex(lexer: Lexer, text: str) -> list[tuple[_TokenType, str]]:
    """The tokens of a text, without whitespace-only ones."""
    return [(token, value) for token, value in lexer.get_tokens(text) if value.strip()]


def d(text: str) -> list[tuple[_TokenType, str]]:
    return lex(DTraceLexer(), text)


def bt(text: str) -> list[tuple[_TokenType, str]]:
    return lex(BpftraceLexer(), text)


def token_of(tokens: list[tuple[_TokenType, str]], value: str) -> _TokenType:
    matches = [token for token, text in tokens if text == value]
    assert matches, f"no token {value!r} in {tokens}"
    return matches[0]


# ------------------------------------------------------------------------------ D


def test_d_probe_description_fields() -> None:
    assert d("syscall::read:entry { }")[:6] == [
        (Name.Namespace, "syscall"),
        (Punctuation, ":"),
        (Punctuation, ":"),
        (Name.Label, "read"),
        (Punctuation, ":"),
        (Name.Label, "entry"),
    ]


@pytest.mark.parametrize("probe", ["BEGIN", "END", "ERROR", "profile-997", "tick-1s"])
def test_d_single_field_probes_are_providers(probe: str) -> None:
    assert d(f"{probe} {{ trace(1); }}")[0] == (Name.Namespace, probe)


def test_d_empty_fields_and_wildcards() -> None:
    tokens = d("fbt:::\n{\n}\nsyscall::*read*:entry {}")
    assert tokens[:4] == [(Name.Namespace, "fbt"), (Punctuation, ":")] + [(Punctuation, ":")] * 2
    wildcard = tokens[tokens.index((Name.Namespace, "syscall")) :][:6]
    assert wildcard[3:] == [(Operator, "*"), (Name.Label, "read"), (Operator, "*")]


def test_d_probe_list_over_several_lines() -> None:
    tokens = d("syscall::read:entry,\nsyscall::write:entry\n{ }")
    assert (Punctuation, ",") in tokens
    assert [t for t in tokens if t[0] is Name.Namespace] == [(Name.Namespace, "syscall")] * 2


def test_d_pid_provider_with_macro_variable() -> None:
    tokens = d("pid$target:libc:malloc:entry { }")
    assert tokens[:2] == [(Name.Namespace, "pid"), (Name.Variable.Magic, "$target")]


def test_d_predicate_delimiters_and_body() -> None:
    tokens = d('syscall:::entry / execname == "bash" / { }')
    slashes = [t for t in tokens if t[1] == "/"]
    assert slashes == [(Name.Decorator, "/")] * 2
    assert token_of(tokens, "execname") is Name.Builtin
    assert token_of(tokens, "bash") is String


def test_d_division_inside_a_predicate_is_an_operator() -> None:
    tokens = d("tick-1s / timestamp / 1000 > 5 / { }")
    slashes = [token for token, value in tokens if value == "/"]
    assert slashes == [Name.Decorator, Operator, Name.Decorator]
    assert token_of(tokens, "{") is Punctuation


def test_d_aggregations_and_aggregating_functions() -> None:
    tokens = d("BEGIN { @num[probefunc] = count(); @ = quantize(arg0); }")
    assert token_of(tokens, "@num") is Name.Variable.Global
    assert token_of(tokens, "@") is Name.Variable.Global
    assert token_of(tokens, "count") is Name.Function.Magic
    assert token_of(tokens, "quantize") is Name.Function.Magic
    assert token_of(tokens, "probefunc") is Name.Builtin
    assert token_of(tokens, "arg0") is Name.Builtin


def test_d_actions_and_subroutines() -> None:
    tokens = d('BEGIN { printf("%s", copyinstr(arg1)); trace(pid); ustack(); }')
    for name in ("printf", "copyinstr", "trace", "ustack"):
        assert token_of(tokens, name) is Name.Function


def test_d_function_word_without_call_is_a_plain_name() -> None:
    assert token_of(d("BEGIN { count = 1; }"), "count") is Name


def test_d_builtin_inside_a_longer_name_is_not_a_builtin() -> None:
    tokens = d("BEGIN { mypid = pid_max + 1; }")
    assert token_of(tokens, "mypid") is Name
    assert token_of(tokens, "pid_max") is Name


def test_d_thread_and_clause_locals() -> None:
    tokens = d("BEGIN { self->ts = timestamp; this->fd = arg0; }")
    assert token_of(tokens, "self") is Keyword.Pseudo
    assert token_of(tokens, "ts") is Name.Variable.Instance
    assert token_of(tokens, "this") is Keyword.Pseudo
    assert token_of(tokens, "fd") is Name.Variable
    assert token_of(tokens, "->") is Operator


def test_d_macro_arguments() -> None:
    tokens = d("BEGIN { x = $1; y = $$2; z = $target; }")
    for name in ("$1", "$$2", "$target"):
        assert token_of(tokens, name) is Name.Variable.Magic


def test_d_struct_members_casts_and_types() -> None:
    tokens = d("BEGIN { x = ((struct file *)arg0)->f_flag + curpsinfo->pr_pid; }")
    assert token_of(tokens, "struct") is Keyword
    assert token_of(tokens, "file") is Name.Class
    assert token_of(tokens, "f_flag") is Name.Attribute
    assert token_of(tokens, "pr_pid") is Name.Attribute
    assert token_of(d("BEGIN { x = (uint64_t)arg0; }"), "uint64_t") is Keyword.Type
    assert token_of(d("BEGIN { x = (string)arg0; }"), "string") is Keyword.Type


def test_d_member_named_like_a_builtin_is_a_member() -> None:
    assert token_of(d("BEGIN { x = curthread->pid; }"), "pid") is Name.Attribute


def test_d_pragma_option_lines() -> None:
    tokens = d("#pragma D option quiet\n#pragma D option bufsize=16m\n")
    assert tokens[0] == (Comment.Preproc, "#pragma D option")
    assert token_of(tokens, "quiet") is Name.Property
    assert token_of(tokens, "bufsize") is Name.Property
    assert token_of(tokens, "16m") is String


def test_d_declarations_are_not_probes() -> None:
    tokens = d("inline int LIMIT = 10;\nself int depth;\nuint64_t total;\nBEGIN { }")
    assert token_of(tokens, "inline") is Keyword
    assert token_of(tokens, "LIMIT") is Name
    assert token_of(tokens, "total") is Name
    assert [t for t in tokens if t[0] is Name.Namespace] == [(Name.Namespace, "BEGIN")]


def test_d_comments_strings_numbers() -> None:
    tokens = d('/* c */ BEGIN // line\n{ printf("a\\n%d", 0x1F + 07 + 1.5 + 42); }')
    assert token_of(tokens, "/* c */") is Comment.Multiline
    assert token_of(tokens, "// line") is Comment.Single
    assert token_of(tokens, "\\n") is String.Escape
    assert token_of(tokens, "0x1F") is Number.Hex
    assert token_of(tokens, "07") is Number.Oct
    assert token_of(tokens, "1.5") is Number.Float
    assert token_of(tokens, "42") is Number.Integer


def test_d_shebang() -> None:
    assert d("#!/usr/sbin/dtrace -s\nBEGIN { }")[0] == (Comment.Hashbang, "#!/usr/sbin/dtrace -s")


# ------------------------------------------------------------------------------ bpftrace


@pytest.mark.parametrize(
    ("probe", "fields"),
    [
        ("tracepoint:syscalls:sys_enter_read", ["syscalls", "sys_enter_read"]),
        ("kprobe:vfs_read", ["vfs_read"]),
        ("uprobe:/bin/bash:readline", ["/bin/bash", "readline"]),
        ("interval:s:1", ["s", "1"]),
        ("usdt:/usr/lib/libc.so.6:libc:setjmp", ["/usr/lib/libc.so.6", "libc", "setjmp"]),
    ],
)
def test_bpftrace_probe_fields(probe: str, fields: list[str]) -> None:
    tokens = bt(probe + " { }")
    assert tokens[0] == (Name.Namespace, probe.split(":")[0])
    assert [value for token, value in tokens if token is Name.Label] == fields


def test_bpftrace_wildcards_and_quoted_fields() -> None:
    tokens = bt('kprobe:vfs_* { }\nuprobe:libc:"malloc" { }')
    assert token_of(tokens, "*") is Operator
    assert token_of(tokens, '"malloc"') is String


def test_bpftrace_predicate_after_path() -> None:
    tokens = bt("uprobe:/bin/bash:readline /pid == 1/ { }")
    assert token_of(tokens, "/bin/bash") is Name.Label
    assert [t for t in tokens if t[1] == "/"] == [(Name.Decorator, "/")] * 2


def test_bpftrace_predicate_without_spaces_after_a_probe_list() -> None:
    tokens = bt("kprobe:a,kprobe:b/pid==1/{ }")
    assert [v for t, v in tokens if t is Name.Label] == ["a", "b"]
    assert [t for t in tokens if t[1] == "/"] == [(Name.Decorator, "/")] * 2
    assert token_of(tokens, "pid") is Name.Builtin


def test_bpftrace_variables_maps_and_builtins() -> None:
    tokens = bt("BEGIN { $x = $1; @c[comm, tid] = count(); @ = hist(nsecs); print(retval); }")
    assert token_of(tokens, "$x") is Name.Variable
    assert token_of(tokens, "$1") is Name.Variable.Magic
    assert token_of(tokens, "@c") is Name.Variable.Global
    assert token_of(tokens, "@") is Name.Variable.Global
    for name in ("comm", "tid", "nsecs", "retval"):
        assert token_of(tokens, name) is Name.Builtin
    assert token_of(tokens, "count") is Name.Function.Magic
    assert token_of(tokens, "hist") is Name.Function.Magic
    assert token_of(tokens, "print") is Name.Function


def test_bpftrace_struct_definition_then_probe() -> None:
    tokens = bt("struct request { int fd; }\nBEGIN { }")
    assert token_of(tokens, "request") is Name.Class
    assert token_of(tokens, "BEGIN") is Name.Namespace


def test_bpftrace_args_member_and_cast() -> None:
    tokens = bt("kprobe:f { $s = (struct sock *)arg0; @[args->count] = lhist(arg1, 0, 9, 1); }")
    assert token_of(tokens, "sock") is Name.Class
    assert token_of(tokens, "args") is Name.Builtin
    assert token_of(tokens, "count") is Name.Attribute
    assert token_of(tokens, "lhist") is Name.Function.Magic


# ------------------------------------------------------------------------------ vocabulary


@pytest.mark.parametrize(
    ("lexer", "language"), [(DTraceLexer(), D), (BpftraceLexer(), BPFTRACE)], ids=["d", "bt"]
)
def test_every_vocabulary_word_is_highlighted(lexer: Lexer, language: object) -> None:
    from dtrace_lexer.vocabulary import Language

    assert isinstance(language, Language)
    for word in language.builtins:
        assert token_of(lex(lexer, f"BEGIN {{ x = {word}; }}"), word) is Name.Builtin, word
    for word in language.functions:
        assert token_of(lex(lexer, f"BEGIN {{ {word}(); }}"), word) is Name.Function, word
    for word in language.aggregations:
        tokens = lex(lexer, f"BEGIN {{ @a = {word}(); }}")
        assert token_of(tokens, word) is Name.Function.Magic, word
    for word in language.keywords:
        token = token_of(lex(lexer, f"BEGIN {{ {word} }}"), word)
        assert token[: len(Keyword)] == Keyword, word
    for word in language.types:
        assert (
            token_of(lex(lexer, f"BEGIN {{ x = ({word})y; }}"), word)[: len(Keyword)] == Keyword
        ), word
    for word in [*language.providers, *language.provider_aliases]:
        assert lex(lexer, f"{word}:a {{ }}")[0] == (Name.Namespace, word), word


# ------------------------------------------------------------------------------ real scripts


@pytest.mark.skipif(not DEBIAN_TOOLS, reason="no /usr/sbin/*.bt here (apt-get install bpftrace)")
@pytest.mark.parametrize("path", DEBIAN_TOOLS, ids=lambda p: p.name)
def test_debian_bpftrace_tools_lex_without_errors(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    tokens = list(BpftraceLexer().get_tokens(text))
    assert [v for t, v in tokens if t is Error] == []
    assert any(t is Name.Namespace for t, _ in tokens), "no probe found"


@pytest.mark.skipif(not DEBIAN_TOOLS, reason="no /usr/sbin/*.bt here (apt-get install bpftrace)")
def test_dtrace_lexer_survives_debian_bpftrace_tools() -> None:
    for path in DEBIAN_TOOLS:
        text = path.read_text(encoding="utf-8")
        assert "".join(v for _, _, v in DTraceLexer().get_tokens_unprocessed(text)) == text


# ------------------------------------------------------------------------------ plugin


@pytest.mark.parametrize(
    ("alias", "cls"),
    [("dtrace", DTraceLexer), ("d-trace", DTraceLexer), ("bpftrace", BpftraceLexer),
     ("bt", BpftraceLexer)],
)  # fmt: skip
def test_entry_points_register_the_lexers(alias: str, cls: type[Lexer]) -> None:
    # Fails when dtrace-ide is not installed: pip install '.[test]'.
    assert type(get_lexer_by_name(alias)) is cls


def test_filenames_and_mimetypes() -> None:
    assert type(get_lexer_for_filename("tools/readline.bt")) is BpftraceLexer
    assert type(get_lexer_for_mimetype("text/x-dtrace")) is DTraceLexer
    assert find_lexer_class_for_filename("x.d", DTRACE_SOURCE) is DTraceLexer
    # Without content, *.d stays with the D language, as before the plugin.
    assert find_lexer_class_for_filename("x.d") is DLexer


def test_guess_picks_dtrace_for_dtrace_scripts() -> None:
    for text in (
        DTRACE_SOURCE,
        "syscall:::entry { @num[probefunc] = count(); }\n",
        "#!/usr/sbin/dtrace -s\nBEGIN { exit(0); }\n",
        "#pragma D option quiet\n",
        'BEGIN\n{\n\tprintf("hello\\n");\n}\n',
        "profile-997 { @[execname] = count(); }\n",
    ):
        assert type(guess_lexer_for_filename("x.d", text)) is DTraceLexer, text


def test_guess_leaves_d_language_sources_alone() -> None:
    for text in (
        D_LANGUAGE_SOURCE,
        "module app.main;\nint count(int[] a) { return cast(int) a.length; }\n",
        "@safe pure nothrow int twice(int x) { return x * 2; }\n",
    ):
        assert type(guess_lexer_for_filename("x.d", text)) is DLexer, text


def test_analyse_text_bpftrace() -> None:
    assert BpftraceLexer.analyse_text("#!/usr/bin/env bpftrace\nBEGIN {}") == 1.0
    assert BpftraceLexer.analyse_text("tracepoint:syscalls:sys_enter_read { }") > 0.5
    assert BpftraceLexer.analyse_text(D_LANGUAGE_SOURCE) == 0.0


@pytest.mark.parametrize(
    ("alias", "text", "expected"),
    [
        ("dtrace", "syscall::read:entry { @[execname] = count(); }", '<span class="nb">execname'),
        ("bpftrace", "kprobe:vfs_read { @[comm] = count(); }", '<span class="nn">kprobe'),
    ],
)
def test_pygmentize_command_line(alias: str, text: str, expected: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pygments", "-l", alias, "-f", "html"],
        input=text,
        capture_output=True,
        text=True,
        check=True,
    )
    assert expected in result.stdout
