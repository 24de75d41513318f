"""For any text, both lexers return tokens that join back to exactly that text."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pygments.lexer import Lexer

from dtrace_lexer import BpftraceLexer, DTraceLexer

LEXERS = [DTraceLexer, BpftraceLexer]

# Pieces of real syntax, so that the random texts reach every state of the lexers.
FRAGMENTS = [
    "syscall::read:entry", "fbt:::", "BEGIN", "END", "tick-1s", "profile-997", "pid$target",
    "tracepoint:syscalls:sys_enter_read", "uprobe:/bin/bash:readline", "interval:s:1",
    "kprobe:vfs_*", ":", ",", "/", "/ ", " / ", "{", "}", ";", "(", ")", "[", "]", "@", "@num",
    "$1", "$$1", "$x", "$", "self->", "this->", "->", ".", "`", "\"", "'", "\\", "\\n", "\n",
    " ", "\t", "\r", "#", "#!", "#pragma D option quiet", "#include <x.h>", "#if 0", "#endif",
    "/*", "*/", "//", "count()", "lquantize(arg0, 0, 12, 2)", "printf(\"%d\\n\", pid)",
    "execname", "struct", "struct file *", "inline int", "0x1f", "1.5e3", "07", "42",
    "config = {", "unroll", "?", "*", "é", "\x00", "\ufeff",
]  # fmt: skip

texts = st.one_of(
    st.text(),
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=3)), max_size=40).map("".join),
)


@pytest.mark.parametrize("lexer_class", LEXERS, ids=lambda c: c.__name__)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts)
def test_unprocessed_tokens_join_back_to_the_text(lexer_class: type[Lexer], text: str) -> None:
    tokens = list(lexer_class().get_tokens_unprocessed(text))
    assert "".join(value for _, _, value in tokens) == text
    positions = [index for index, _, _ in tokens]
    assert positions == sorted(positions)
    assert all(value for _, _, value in tokens), "empty token"


@pytest.mark.parametrize("lexer_class", LEXERS, ids=lambda c: c.__name__)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts)
def test_tokens_join_back_without_newline_handling(lexer_class: type[Lexer], text: str) -> None:
    # get_tokens() turns \r\n and \r into \n and drops leading byte-order marks, by design;
    # every other character survives.
    text = text.replace("\r", "").lstrip("\ufeff")
    lexer = lexer_class(stripnl=False, ensurenl=False)
    assert "".join(value for _, value in lexer.get_tokens(text)) == text
