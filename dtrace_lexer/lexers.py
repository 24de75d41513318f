"""Pygments lexers for D (DTrace) and bpftrace scripts.

Both inherit the C lexer's states for expressions (numbers, strings with escapes, operators,
``struct`` names, preprocessor lines) and add the tracing constructs on top.  Every word list
comes from :mod:`dtrace_lexer.vocabulary`.

Token classes, the same in both languages:

=================================================  =============================
probe description: first field (``syscall``,       ``Name.Namespace``
``tracepoint``, ``BEGIN``, ``tick-1s``)
probe description: other fields (``read``,         ``Name.Label``
``entry``, ``/bin/bash``)
wildcards in a probe description (``*``, ``?``)    ``Operator``
``:`` and ``,`` in probe descriptions              ``Punctuation``
predicate delimiters (the slashes of ``/ ... /``)  ``Name.Decorator``
built-in variables (``execname``, ``comm``)        ``Name.Builtin``
actions, subroutines, functions (``printf(``)      ``Name.Function``
aggregating functions (``count(``, ``hist(``)      ``Name.Function.Magic``
aggregations and maps (``@num``, bare ``@``)       ``Name.Variable.Global``
thread-locals (``self->x``)                        ``Name.Variable.Instance``
clause-locals (``this->x``), scratch (``$x``)      ``Name.Variable``
macro arguments (``$1``, ``$target``, ``$$1``)     ``Name.Variable.Magic``
struct members (``->pr_fname``, ``.x``)            ``Name.Attribute``
``#pragma D option`` lines                         ``Comment.Preproc``, the option
                                                   ``Name.Property``, its value ``String``
types and casts                                    ``Keyword.Type``, ``Name.Class``
=================================================  =============================
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from pygments.lexer import bygroups as _untyped_bygroups
from pygments.lexer import default, include, inherit, words
from pygments.token import (
    Comment,
    Keyword,
    Name,
    Operator,
    Punctuation,
    String,
    Text,
    Whitespace,
    _TokenType,
)

from dtrace_lexer.vocabulary import BPFTRACE, D, Language

if TYPE_CHECKING:
    # The C lexers have no type stubs; their base class is typed.
    from pygments.lexer import RegexLexer as CFamilyLexer
else:
    from pygments.lexers.c_cpp import CFamilyLexer

__all__ = ["BpftraceLexer", "DTraceLexer"]

_Token = tuple[int, _TokenType, str]
# Pygments' stubs leave bygroups untyped; it returns a token callback.
bygroups: Callable[..., Any] = _untyped_bygroups
_IDENT = r"[A-Za-z_]\w*"

# A probe description ends where a list separator, a predicate, a clause body or the text does.
_PROBE_END = r"(?=\s*(?:[,{/]|\Z))"

# Within a probe description: macro variables, glob characters, quoted bpftrace fields, colons.
_PROBE_PIECES = re.compile(
    r"""(?P<magic>\$\$?\w*)
      | (?P<glob>[*?!\[\]]+)
      | (?P<quoted>"(?:[^"\\\n]|\\.)*"?)
      | (?P<colon>:)
      | (?P<text>[^$*?!\[\]":]+)""",
    re.VERBOSE,
)

_PIECE_TOKENS: dict[str, _TokenType] = {
    "magic": Name.Variable.Magic,
    "glob": Operator,
    "quoted": String,
    "colon": Punctuation,
}


def _probe_description(lexer: Any, match: re.Match[str]) -> Iterator[_Token]:
    """Split one probe description into its fields; the first names the provider."""
    offset = match.start()
    in_provider = True
    for piece in _PROBE_PIECES.finditer(match.group()):
        kind = piece.lastgroup or "text"
        if kind == "colon":
            in_provider = False
        token = _PIECE_TOKENS.get(kind)
        if token is None:
            token = Name.Namespace if in_provider else Name.Label
        yield offset + piece.start(), token, piece.group()


def _nothing(lexer: Any, match: re.Match[str]) -> Iterator[_Token]:
    """Consume nothing: a zero-width rule that only changes state."""
    return iter(())


# Words that need a rule of their own: a state change, or a string prefix (L"wide").
_SPECIAL_WORD = r"""(?!(?:struct|union|enum|case)\b|(?:[LuU]|u8)["'])"""


def _word_classifier(language: Language, pseudo: tuple[str, ...]) -> Any:
    """One rule for every identifier: a dictionary look-up instead of a regex per word list.

    A word followed by ``(`` may be an action or aggregating function; otherwise it may be
    a built-in variable, keyword or type.  Any other identifier is a plain ``Name``.
    """
    plain: dict[str, _TokenType] = dict.fromkeys(("true", "false", "NULL"), Name.Builtin)
    plain.update(dict.fromkeys(language.types, Keyword.Type))
    plain.update(dict.fromkeys(language.keywords, Keyword))
    plain.update(dict.fromkeys(pseudo, Keyword.Pseudo))
    plain.update(dict.fromkeys(language.builtins, Name.Builtin))
    called = dict(plain)
    called.update(dict.fromkeys(language.functions, Name.Function))
    called.update(dict.fromkeys(language.aggregations, Name.Function.Magic))

    def classify(lexer: Any, match: re.Match[str]) -> Iterator[_Token]:
        word = match.group(1)
        table = plain if match.group(2) is None else called
        yield match.start(), table.get(word, Name), word

    return classify


def _member_rules() -> list[Any]:
    """Rules shared by both languages: aggregations and struct members."""
    return [
        (r"@\w*", Name.Variable.Global),
        (r"(->)(\s*)(" + _IDENT + ")", bygroups(Operator, Whitespace, Name.Attribute)),
        (r"(\.)(\s*)(" + _IDENT + ")", bygroups(Punctuation, Whitespace, Name.Attribute)),
    ]


def _word_rule(language: Language, pseudo: tuple[str, ...] = (), guard: str = "") -> Any:
    return (
        _SPECIAL_WORD + guard + "(" + _IDENT + r")(?=(\s*\()?)",
        _word_classifier(language, pseudo),
    )


def _whitespace(pragma: bool) -> list[Any]:
    rules: list[Any] = []
    if pragma:
        rules.append(
            (r"^[^\S\n]*#[^\S\n]*pragma[^\S\n]+D[^\S\n]+option\b", Comment.Preproc, "pragma")
        )
    rules += [
        (r"^[^\S\n]*#[^\S\n]*if[^\S\n]+0\b", Comment.Preproc, "if0"),
        (r"^[^\S\n]*#", Comment.Preproc, "macro"),
        (r"[^\S\n]+", Whitespace),
        (r"\n", Whitespace),
        (r"\\\n", Text),
        (r"//[^\n]*", Comment.Single),
        (r"/\*(?:[^*]|\*(?!/))*\*/", Comment.Multiline),
        (r"/\*[\w\W]*", Comment.Multiline),  # open until the end of the text
    ]
    return rules


def _keywords(language: Language, pseudo: tuple[str, ...] = ()) -> list[Any]:
    plain = sorted(set(language.keywords) - {"struct", "union", "enum", *pseudo})
    rules: list[Any] = [
        (r"(struct|union|enum)\b(\s*)", bygroups(Keyword, Whitespace), "classname"),
        (words(plain, suffix=r"\b"), Keyword),
    ]
    if pseudo:
        rules.append((words(pseudo, suffix=r"\b"), Keyword.Pseudo))
    return rules


def _clause_states() -> dict[str, list[Any]]:
    """Predicates, clause bodies and top-level declarations, alike in both languages."""
    return {
        # Tried early in bodies and predicates, because they are frequent; none of these
        # characters can start a comment, number, string or anything else.
        "common": [
            (r"[()\[\],]", Punctuation),
            (r"[~!%^&*+=|?:<>]", Operator),
        ],
        # As in DTrace's own lexer, a '/' closes the predicate when the next non-blank
        # character is '{', ';', '/' or the end of the text; any other '/' divides.
        "predicate": [
            include("words"),
            include("common"),
            include("whitespace"),
            (r"/(?=\s*(?:[{;/]|\Z))", Name.Decorator, "#pop"),
            (r"(?=[{};])", _nothing, "#pop"),
            include("statements"),
        ],
        "clause": [
            include("words"),
            include("common"),
            include("whitespace"),
            (r"\{", Punctuation, "#push"),
            (r"\}", Punctuation, "#pop"),
            (r";", Punctuation),
            include("statements"),
        ],
        "declaration-body": [
            include("words"),
            include("common"),
            include("whitespace"),
            (r"\{", Punctuation, "#push"),
            (r"\}", Punctuation, "#pop"),
            (r";", Punctuation),
            include("statements"),
        ],
    }


# --------------------------------------------------------------------------------------------
# D (DTrace)
# --------------------------------------------------------------------------------------------

_D_NOT_PROBES = sorted(set(D.keywords) | set(D.types))
# DTrace's own pattern for a probe specifier, less the backslash escapes.
_D_PROBE = r"[-$:\w.`*?\[\]!]+"
_D_FIRST_PROBE = r"(?!(?:" + "|".join(_D_NOT_PROBES) + r")\b)" + _D_PROBE + _PROBE_END

_D_SHEBANG = re.compile(r"\A#![^\n]*\bdtrace\b")
_D_PRAGMA = re.compile(r"^[^\S\n]*#[^\S\n]*pragma[^\S\n]+D\b", re.MULTILINE)
_D_FULL_PROBE = re.compile(
    r"^[^\S\n]*[a-z][\w$*?-]*:[\w$`.*?-]*:[\w$.*?-]*:[\w*?-]*[^\S\n]*(?:,|/|\{|$)", re.MULTILINE
)
_D_SHORT_PROBE = re.compile(
    r"^[^\S\n]*(?:BEGIN|END|ERROR|(?:profile|tick)-\d+[a-z]*)[^\S\n]*(?:/|\{|$)", re.MULTILINE
)
_D_AGGREGATION = re.compile(
    r"@\w*(?:\[[^\]\n]*\])?\s*=\s*(?:count|sum|avg|min|max|stddev|quantize|lquantize|llquantize)\("
)
_D_MARKERS = re.compile(
    r"\bself->\w|\bthis->\w|\bexecname\b|\bprobefunc\b|\bprintf\(|\bcopyinstr\(|\bprinta\("
)
_D_LANGUAGE_MARKERS = re.compile(
    r"^\s*(?:import\s+std\.|module\s+[\w.]+;)|\bwriteln\b|\bimmutable\b|\bvoid\s+main\s*\(",
    re.MULTILINE,
)


class DTraceLexer(CFamilyLexer):
    """D, the language of DTrace scripts."""

    name = "DTrace"
    aliases: ClassVar[list[str]] = ["dtrace", "d-trace"]
    filenames: ClassVar[list[str]] = ["*.d"]
    mimetypes: ClassVar[list[str]] = ["text/x-dtrace"]
    url = "https://dtrace.org/guide/"
    version_added = "dtrace-ide"
    # Below the D-language lexer, which also claims *.d: a file gives no sign of D(Trace)
    # ends up with the D language, as it did before this plugin was installed.
    priority = -0.1

    tokens: ClassVar[dict[str, list[Any]]] = {
        "whitespace": _whitespace(pragma=True),
        "keywords": _keywords(D, pseudo=("self", "this")),
        "types": [(words(D.types, suffix=r"\b"), Keyword.Type)],
        # Identifiers, tried first in clause bodies: most tokens of a script are words.
        "words": [
            (
                r"(self)(\s*)(->)(\s*)(" + _IDENT + ")",
                bygroups(Keyword.Pseudo, Whitespace, Operator, Whitespace, Name.Variable.Instance),
            ),
            (
                r"(this)(\s*)(->)(\s*)(" + _IDENT + ")",
                bygroups(Keyword.Pseudo, Whitespace, Operator, Whitespace, Name.Variable),
            ),
            _word_rule(D, pseudo=("self", "this"), guard=r"(?!\w*`)"),
        ],
        "statements": [
            include("words"),
            (r"\$\$?(?:\d+|" + _IDENT + ")", Name.Variable.Magic),
            (r"(\w*)(`)(\w+)", bygroups(Name.Namespace, Operator, Name)),
            *_member_rules(),
            inherit,
        ],
        "root": [
            (r"\A#![^\n]*", Comment.Hashbang),
            include("whitespace"),
            (_D_FIRST_PROBE, _probe_description, "probes"),
            default("declaration"),
        ],
        "probes": [
            include("whitespace"),
            (r",", Punctuation),
            (_D_PROBE + _PROBE_END, _probe_description),
            (r"/", Name.Decorator, "predicate"),
            (r"\{", Punctuation, ("#pop", "clause")),
            default("#pop"),
        ],
        "declaration": [
            include("whitespace"),
            (r";", Punctuation, "#pop"),
            (r"\{", Punctuation, "declaration-body"),
            include("statements"),
        ],
        "pragma": [
            (r"[^\S\n]+", Whitespace),
            (r"([\w-]+)(=)([^\s/]*)", bygroups(Name.Property, Operator, String)),
            (r"[\w-]+", Name.Property),
            (r"//[^\n]*", Comment.Single),
            (r"/\*(?:[^*]|\*(?!/))*\*/", Comment.Multiline),
            (r"\n", Whitespace, "#pop"),
            default("#pop"),
        ],
        **_clause_states(),
    }

    @staticmethod
    def analyse_text(text: str) -> float:
        """How much the text looks like a DTrace script rather than D-language source."""
        if _D_SHEBANG.match(text) or _D_PRAGMA.search(text):
            return 1.0
        score = 0.0
        if _D_FULL_PROBE.search(text):
            score += 0.5
        if _D_SHORT_PROBE.search(text):
            score += 0.3
        if _D_AGGREGATION.search(text):
            score += 0.3
        if _D_MARKERS.search(text):
            score += 0.1
        if _D_LANGUAGE_MARKERS.search(text):
            score -= 0.6
        return max(0.0, min(score, 0.99))


# --------------------------------------------------------------------------------------------
# bpftrace
# --------------------------------------------------------------------------------------------

# A bpftrace probe: fields may hold paths (uprobe:/bin/bash:readline) and quoted names.
_BT_PROBE = r"""[\w*?$](?:[-\w*?$.+/\[\]:]|"(?:[^"\\\n]|\\.)*")*"""

_BT_SHEBANG = re.compile(r"\A#![^\n]*\bbpftrace\b")
_BT_PROBE_TYPES = "|".join(
    sorted(
        (*BPFTRACE.providers, *BPFTRACE.provider_aliases),
        key=len,
        reverse=True,
    )
)
_BT_PROBE_LINE = re.compile(
    r"^[^\S\n]*(?:" + _BT_PROBE_TYPES + r"):[^\s{]*[^\S\n]*(?:,|/|\{|$)", re.MULTILINE
)
_BT_MARKERS = re.compile(
    r"\$[a-z_]\w*\s*=|\bcomm\b|\bnsecs\b|\bretval\b|\b(?:hist|lhist|stats|kstack|ustack)\("
)


class BpftraceLexer(CFamilyLexer):
    """bpftrace, the high-level tracing language for Linux eBPF."""

    name = "bpftrace"
    aliases: ClassVar[list[str]] = ["bpftrace", "bt"]
    filenames: ClassVar[list[str]] = ["*.bt"]
    mimetypes: ClassVar[list[str]] = ["text/x-bpftrace"]
    url = "https://github.com/bpftrace/bpftrace"
    version_added = "dtrace-ide"

    tokens: ClassVar[dict[str, list[Any]]] = {
        "whitespace": _whitespace(pragma=False),
        "keywords": _keywords(BPFTRACE),
        "types": [(words(BPFTRACE.types, suffix=r"\b"), Keyword.Type)],
        "words": [_word_rule(BPFTRACE)],
        "statements": [
            include("words"),
            (r"\$(?:\d+|#)", Name.Variable.Magic),
            (r"\$" + _IDENT, Name.Variable),
            *_member_rules(),
            inherit,
        ],
        "root": [
            (r"\A#![^\n]*", Comment.Hashbang),
            include("whitespace"),
            (r"(?=(?:struct|union|enum|typedef|config)\b)", _nothing, "declaration"),
            (r";", Punctuation),
            (_BT_PROBE + _PROBE_END, _probe_description, "probes"),
            default("declaration"),
        ],
        "probes": [
            include("whitespace"),
            (r",", Punctuation),
            (_BT_PROBE + _PROBE_END, _probe_description),
            (r"/", Name.Decorator, "predicate"),
            (r"\{", Punctuation, ("#pop", "clause")),
            default("#pop"),
        ],
        # A C definition ends with its closing brace; the ';' after it is optional.
        "declaration": [
            include("whitespace"),
            (r";", Punctuation, "#pop"),
            (r"\{", Punctuation, "declaration-outer"),
            include("statements"),
        ],
        "declaration-outer": [
            include("whitespace"),
            (r"\{", Punctuation, "declaration-body"),
            (r"\}", Punctuation, ("#pop", "#pop")),
            (r";", Punctuation),
            include("statements"),
        ],
        **_clause_states(),
    }

    @staticmethod
    def analyse_text(text: str) -> float:
        """How much the text looks like a bpftrace script."""
        if _BT_SHEBANG.match(text):
            return 1.0
        score = 0.0
        if _BT_PROBE_LINE.search(text):
            score += 0.6
        if _BT_MARKERS.search(text):
            score += 0.2
        return min(score, 0.99)
