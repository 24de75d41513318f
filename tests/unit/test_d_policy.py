"""The D half of the script policy: decisions from the numbers libdtrace stores, and where
libdtrace's lexer reads control lines (for placing refusals, and for the compile-time options
that libdtrace cannot report back)."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ide.config import Settings
from ide.tracing.policy import (
    D_OPTION_UNSET,
    DRefusal,
    d_option_pragmas,
    place_d_refusals,
    refuse_d_actions,
    refuse_d_compile_options,
    refuse_d_options,
)

STRICT = Settings(token="t")
PERMISSIVE = Settings(token="t", allow_destructive=True)


def messages(changed: dict[str, int], settings: Settings = STRICT) -> list[str]:
    return [r.message for r in refuse_d_options(changed, settings)]


# --- numbers as libdtrace stores them ------------------------------------------------------


def test_destructive_is_refused_when_set_and_not_when_unset_or_allowed() -> None:
    assert messages({"destructive": 0})[0].startswith("#pragma D option destructive enables")
    assert messages({"destructive": D_OPTION_UNSET}) == []
    assert messages({"destructive": 0}, PERMISSIVE) == []


@pytest.mark.parametrize(
    ("name", "value", "ok"),
    [
        ("bufsize", 64 << 20, True),
        ("bufsize", (64 << 20) + 1, False),
        ("bufsize", 0, False),  # "#pragma D option bufsize" without a value
        ("aggsize", 4 << 20, True),
        ("dynvarsize", 33 << 20, False),
        ("aggrate", 10_000_000, True),  # 10 ms: 100 per second
        ("aggrate", 9_999_999, False),
        ("switchrate", 1_000_000_000, True),
        ("switchrate", 1000, False),  # a bare number is a period in ns
        ("switchrate", 0, False),
        ("strsize", 4096, True),
        ("strsize", 4097, False),
        ("quiet", 0, True),
        ("stackframes", 50, True),
        ("nspec", 100, False),
        ("cleanrate", 10_000_000, False),
        ("cpu", 0, False),
        ("lockmem", 1 << 30, False),
    ],
)
def test_options_are_judged_on_their_stored_values(name: str, value: int, ok: bool) -> None:
    assert (messages({name: value}) == []) is ok


def test_refusals_say_the_value_and_the_cap_in_the_options_own_units() -> None:
    assert messages({"bufsize": 1 << 31}) == [
        "bufsize=2g (2147483648 bytes) is past this server's cap of 64m (67108864 bytes)"
    ]
    assert messages({"aggrate": 1_000_000}) == [
        "aggrate=1000hz is past this server's cap of 100 per second (100hz)"
    ]
    assert messages({"switchrate": 3}) == [
        "switchrate=3ns is past this server's cap of 100 per second (100hz)"
    ]


def test_destructive_actions_are_refused_unless_allowed() -> None:
    [system] = refuse_d_actions(["system"], STRICT)
    assert system.message.startswith("system() runs a shell command as root")
    [generic] = refuse_d_actions(["destructive"], STRICT)
    assert "destructive action" in generic.message and generic.action == "destructive"
    assert refuse_d_actions(["system", "destructive"], PERMISSIVE) == []


def test_a_refusal_round_trips_through_the_worker_protocol() -> None:
    r = DRefusal("m", option="bufsize")
    assert DRefusal.from_dict(r.to_dict()) == r


# --- control lines, by libdtrace's lexer rules ---------------------------------------------


@pytest.mark.parametrize(
    ("script", "found"),
    [
        ("#pragma D option quiet\n", ["quiet"]),
        ("  \t#  pragma D option quiet\n", ["quiet"]),
        ("#pragma\vD\foption bufsize=2g\n", ["bufsize=2g"]),
        ("BEGIN { x = '/*'; }\n#pragma D option destructive\n", ["destructive"]),
        ('BEGIN { x = "/*"; }\n#pragma D option destructive\n', ["destructive"]),
        ("BEGIN { x = '\\''; /* */ }\n#pragma D option destructive\n", ["destructive"]),
        ("/*\n#pragma D option destructive\n*/\n", []),
        ("/* */ #pragma D option destructive\n", []),  # not at the start of a line
        ("#!/usr/sbin/dtrace\n#pragma D option quiet\n", ["quiet"]),
        ("#!pragma D option destructive\n", []),  # an interpreter line, discarded
        ("#pragma D /* option */ destructive\n", []),  # no comments in control lines
        ("#pragma D option destructive /*\n#pragma D option quiet\n", ["destructive", "quiet"]),
        ("#pragma X option destructive\n", []),
    ],
)
def test_option_pragmas_are_found_as_libdtrace_reads_them(script: str, found: list[str]) -> None:
    assert [p.word for p in d_option_pragmas(script)] == found


def test_compile_time_options_are_refused_even_inside_comments() -> None:
    for script in (
        "#pragma D option ctypes=/etc/nologin\n",
        "/*\n#pragma D option dtypes=/etc/nologin\n*/\n",
        "BEGIN { x = '/*'; }\n#pragma\fD\voption core=1\n",
    ):
        [d] = refuse_d_compile_options(script)
        assert "is not one a script may set" in d.message
    assert refuse_d_compile_options("#pragma D option zdefs\n#pragma D option quiet\n") == []


def test_a_refused_option_is_placed_on_the_last_pragma_that_sets_it() -> None:
    script = "#pragma D option bufsize=1m\nBEGIN { }\n#pragma D option bufsize=2g\n"
    [d] = place_d_refusals(script, [DRefusal("too big", option="bufsize")])
    assert (d.line, d.column, d.end_column, d.message) == (3, 18, 28, "too big")


def test_a_destructive_action_is_placed_on_its_call_outside_strings_and_comments() -> None:
    script = 'BEGIN { printf("system("); c = \'"\'; /* raise( */\n  raise(9); }\n'
    [d] = place_d_refusals(script, [DRefusal("no", action="destructive")])
    assert (d.line, d.column, d.end_column) == (2, 3, 8)


ADVERSARIAL = [
    "'/*' " * 50_000,
    "\n#pragma D option " * 15_000,
    '"\\' * 120_000,
    "/*\n#" * 80_000,
    "#" + "\v" * 250_000,
]


@pytest.mark.parametrize("script", ADVERSARIAL, ids=range(len(ADVERSARIAL)))
def test_every_scan_of_a_256_kib_script_is_linear(script: str) -> None:
    script = script[: 256 * 1024]
    started = time.process_time()
    d_option_pragmas(script)
    refuse_d_compile_options(script)
    place_d_refusals(script, [DRefusal("x", action="destructive"), DRefusal("y", option="q")])
    assert time.process_time() - started < 1.0


HIDING = st.sampled_from(
    ["/* x */", "'/*'", "'*/'", '"/*"', "'\"'", '"\'"', "'\\''", '"\\""', "/* '\" */", "@a", ""]
)


@given(before=st.lists(HIDING, max_size=4), after=st.lists(HIDING, max_size=4),
       gap=st.sampled_from([" ", "\t", "\v", "\f", " \v\f\t "]))  # fmt: skip
def test_a_pragma_after_any_closed_literal_or_comment_is_found(
    before: list[str], after: list[str], gap: str
) -> None:
    # Whatever a line holds, once its literals and comments are closed the next line's pragma
    # is one libdtrace reads: both the placement and the compile-time gate see it.
    script = (
        "BEGIN { x = " + " ".join(before) + " 1; }\n"
        f"#pragma{gap}D{gap}option{gap}ctypes=/tmp/x\n"
        "BEGIN { y = " + " ".join(after) + " 2; }\n"
    )
    assert [p.word for p in d_option_pragmas(script)] == ["ctypes=/tmp/x"]
    [d] = refuse_d_compile_options(script)
    assert d.line == 2
