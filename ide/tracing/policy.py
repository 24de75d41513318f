"""What a script may do on this server, decided from what the tracer parsed.

Backend-neutral rules, applied by the backends to the tracer's own account of a script (see
``bpftrace_ast`` and the libdtrace worker), so every path that compiles or starts a script —
the API, the stream, the command line — meets the same policy.  Three kinds of refusal:

- Destructive actions (they change the traced system rather than observe it, or read files
  as root) are refused unless the server was started with ``--allow-destructive``.
- Tracer options a script sets itself (D's ``#pragma D option``) must stay within
  ``ide/config.py``'s ``TRACER_OPTIONS`` caps.  A value past a cap is refused, not silently
  rewritten: the user sees the cap at the line concerned and decides what to ask for.
  Options the server does not cap are refused too: the server owns the tracer's resources.
- What a bpftrace script hands to clang (preprocessor lines, C definitions) may only
  ``#include <header.h>`` from the system's header directories: any other file is refused
  before bpftrace sees it, so neither the file's contents nor its existence leak back.

The lexers of ``scripttext`` only *place* a refusal at its line and column (and find what
clang would read, which must be judged before the tracer runs); what a script calls comes
from the tracer's parse.
"""

from __future__ import annotations

import re

from ..config import Settings, TracerOptionCap, tracer_option
from .bpftrace_ast import ProgramFacts
from .model import Diagnostic, Language
from .scripttext import Positions, Token, bpftrace_tokens, calls, code_only

ENABLE_HINT = "start the server with --allow-destructive to allow it"

# Function-like actions that change the system or read files, and why each is refused.
DESTRUCTIVE: dict[Language, dict[str, str]] = {
    "d": {
        "system": "runs a shell command as root",
        "raise": "sends a signal to the traced process",
        "stop": "stops the traced process",
        "copyout": "writes into a process's memory",
        "copyoutstr": "writes into a process's memory",
        "panic": "panics the kernel",
        "breakpoint": "stops the kernel in its debugger",
        "chill": "spins a CPU with the traced code held",
        "freopen": "redirects tracer output into a file as root",
    },
    "bpftrace": {
        "system": "runs a shell command as root",
        "signal": "sends a signal to the traced process",
        "override": "changes the return value of a kernel function",
        "cat": "reads files on the server as root",
    },
}

_PRAGMA = re.compile(r"^[ \t]*#[ \t]*pragma[ \t]+D[ \t]+option[ \t]+(?P<body>[^\n]*)", re.M)
_OPTION = re.compile(r"(?P<name>[A-Za-z_]\w*)(?:[ \t]*=[ \t]*(?P<value>[^\s]*))?")

# D options that only change how output looks; anything else not capped is refused.
D_HARMLESS_OPTIONS = frozenset(
    {
        "quiet",
        "flowindent",
        "aggsortkey",
        "aggsortkeypos",
        "aggsortpos",
        "aggsortrev",
        "aggpercpu",
        "rawbytes",
        "stackindent",
        "zdefs",
        "defaultargs",
        "bufpolicy",
        "bufresize",
        "stackframes",
        "ustackframes",
    }
)
D_RATE_OPTIONS = frozenset({"aggrate", "switchrate"})
_SIZE_SUFFIX = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_TIME_SUFFIX_NS = {
    "": 1,
    "ns": 1,
    "nsec": 1,
    "us": 1_000,
    "usec": 1_000,
    "ms": 1_000_000,
    "msec": 1_000_000,
    "s": 1_000_000_000,
    "sec": 1_000_000_000,
    "m": 60_000_000_000,
    "min": 60_000_000_000,
    "h": 3_600_000_000_000,
    "hour": 3_600_000_000_000,
    "d": 86_400_000_000_000,
    "day": 86_400_000_000_000,
}


class _Text:
    """Offsets in the script to 1-based lines and columns."""

    def __init__(self, script: str) -> None:
        self.script = script
        self._positions = Positions(script)

    def diagnostic(self, start: int, end: int, message: str) -> Diagnostic:
        line, col = self._positions.at(start)
        end_line, end_col = self._positions.at(end)
        return Diagnostic(line, col, end_line, end_col, message, "error")


def check_script(script: str, language: Language, settings: Settings) -> list[Diagnostic]:
    """What the server refuses of ``script`` before any tracer reads it.

    For bpftrace: anything clang would read beyond the system's headers.  For D: a first
    warning from the text (libdtrace's compiled program is what the run is refused on).
    """
    text = _Text(script)
    found: list[Diagnostic] = []
    if language == "d":
        if not settings.allow_destructive:
            found += _destructive_calls(text, language)
        found += _d_pragmas(text, code_only(script, "d"), settings)
    else:
        found += preprocessor_refusals(script)
    found.sort(key=lambda d: (d.line, d.column))
    return found


def bpftrace_refusals(script: str, facts: ProgramFacts, settings: Settings) -> list[Diagnostic]:
    """The destructive functions that bpftrace's parse of ``script`` calls, each placed at
    its call in the text (or at the first line when only a macro names it)."""
    if settings.allow_destructive:
        return []
    words = DESTRUCTIVE["bpftrace"]
    called = {w for w in facts.calls if w in words}
    if not called:
        return []
    text = _Text(script)
    found = [
        _destructive(text, tok, script[tok.start : tok.end], words)
        for tok in calls(script, "bpftrace", called)
    ]
    placed = {d.message.split("(", 1)[0] for d in found}
    for word in sorted(called - placed):
        found.append(
            Diagnostic(
                1, 1, 1, 1,
                f"{word}() (reached through a macro) {words[word]}: this server refuses "
                f"destructive actions; {ENABLE_HINT}",
            )
        )  # fmt: skip
    found.sort(key=lambda d: (d.line, d.column))
    return found


def refuse_calls(script: str, language: Language, reasons: dict[str, str]) -> list[Diagnostic]:
    """A diagnostic at every call of a word in ``reasons`` (outside comments and strings)."""
    text = _Text(script)
    return [
        text.diagnostic(tok.start, tok.end, reasons[script[tok.start : tok.end]])
        for tok in calls(script, language, set(reasons))
    ]


def _destructive(text: _Text, tok: Token, word: str, words: dict[str, str]) -> Diagnostic:
    return text.diagnostic(
        tok.start,
        tok.end,
        f"{word}() {words[word]}: this server refuses destructive actions; {ENABLE_HINT}",
    )


def _destructive_calls(text: _Text, language: Language) -> list[Diagnostic]:
    words = DESTRUCTIVE[language]
    script = text.script
    return [
        _destructive(text, tok, script[tok.start : tok.end], words)
        for tok in calls(script, language, set(words))
    ]


def _d_pragmas(text: _Text, blank: str, settings: Settings) -> list[Diagnostic]:
    out = []
    for m in _PRAGMA.finditer(blank):
        body_start = m.start("body")
        for opt in _OPTION.finditer(m.group("body")):
            name = opt.group("name")
            value = opt.group("value")
            start = body_start + opt.start()
            end = body_start + opt.end()
            problem = _d_option_problem(name, value, settings)
            if problem is not None:
                out.append(text.diagnostic(start, end, problem))
            break  # one option per pragma line, as D reads it
    return out


def _d_option_problem(name: str, value: str | None, settings: Settings) -> str | None:
    if name == "destructive":
        if settings.allow_destructive:
            return None
        return (
            "#pragma D option destructive enables actions that change the system: this "
            f"server refuses destructive actions; {ENABLE_HINT}"
        )
    if name in D_HARMLESS_OPTIONS:
        return None
    if name == "strsize":
        size = _d_size(value or "")
        if size is None:
            return f"cannot read strsize={value}: write a number of bytes"
        if size > settings.max_d_strsize:
            return f"strsize={value} is past this server's cap of {settings.max_d_strsize}"
        return None
    cap = tracer_option(name)
    if cap is None:
        return (
            f"option {name} is not one a script may set on this server (the server owns the "
            "tracer's resources); set bufsize, aggsize, dynvarsize, aggrate or switchrate "
            "within the caps in the run options"
        )
    if value is None or value == "":
        return f"option {name} needs a value, at most {_describe(cap)}"
    amount = _d_rate(value) if name in D_RATE_OPTIONS else _d_size(value)
    if amount is None:
        return f"cannot read {name}={value}: write a number (with a k/m/g suffix for sizes)"
    if amount > cap.maximum:
        return f"{name}={value} is past this server's cap of {_describe(cap)}"
    return None


def _d_size(value: str) -> int | None:
    m = re.fullmatch(r"(\d+)([kKmMgGtT]?)", value)
    if m is None:
        return None
    return int(m.group(1)) * _SIZE_SUFFIX[m.group(2).lower()]


def _d_rate(value: str) -> float | None:
    """A D rate option as events per second (a bare number is a period in nanoseconds)."""
    m = re.fullmatch(r"(\d+)([A-Za-z]*)", value)
    if m is None:
        return None
    number, unit = int(m.group(1)), m.group(2).lower()
    if unit == "hz":
        return float(number)
    scale = _TIME_SUFFIX_NS.get(unit)
    if scale is None:
        return None
    period_ns = number * scale
    return float("inf") if period_ns == 0 else 1e9 / period_ns


def _describe(cap: TracerOptionCap) -> str:
    if cap.name in D_RATE_OPTIONS:
        return f"{cap.maximum} per second ({cap.maximum}hz)"
    if cap.maximum >= 1 << 20 and cap.maximum % (1 << 20) == 0:
        return f"{cap.maximum >> 20}m ({cap.maximum} bytes)"
    return str(cap.maximum)


# --- what a bpftrace script hands to clang ---------------------------------------------------

# Directives clang may act on.  #include may name only <header.h> under the system's header
# directories; everything else that reads files (#include "x", #include_next, #embed,
# __has_include(), _Pragma("GCC dependency ...")) is refused, so nothing about any other file
# (its contents or whether it exists) comes back in clang's messages.
PREPROCESSOR_DIRECTIVES = frozenset(
    {"define", "undef", "ifdef", "ifndef", "if", "elif", "else", "endif", "include"}
)
PREPROCESSOR_WORDS_REFUSED = frozenset(
    {
        "include",
        "include_next",
        "import",
        "embed",
        "__has_include",
        "__has_include_next",
        "__has_embed",
        "_Pragma",
        "pragma",
    }
)
_SYSTEM_HEADER = re.compile(r"<([A-Za-z0-9_][A-Za-z0-9_+.-]*(?:/[A-Za-z0-9_][A-Za-z0-9_+.-]*)*)>")
_DIRECTIVE_START = ("#", "%:", "??=")
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
INCLUDE_HINT = (
    "only #include <header.h> from the system's header directories is allowed (as in "
    "#include <linux/sched.h>)"
)


def preprocessor_refusals(script: str) -> list[Diagnostic]:
    """Every preprocessor line or C definition that clang would read and this server
    refuses, at the token that carries it.

    bpftrace hands clang its ``#`` tokens and ``struct``/``union``/``enum`` definitions
    joined by newlines; clang then splices lines and drops comments before it sees
    directives.  Each piece is judged alone and all of them together, after the same
    splicing and comment removal, so no arrangement of them reads a file.
    """
    if "#" not in script and not any(w in script for w in ("struct", "union", "enum")):
        return []  # nothing for clang: no need to lex
    text = _Text(script)
    pieces = [t for t in bpftrace_tokens(script) if t.kind in ("preproc", "cdef")]
    found: list[Diagnostic] = []
    for tok in pieces:
        problem = _clang_problem(script[tok.start : tok.end])
        if problem is not None:
            found.append(text.diagnostic(tok.start, tok.end, problem))
    if not found and len(pieces) > 1:
        joined = "\n".join(script[t.start : t.end] for t in pieces)
        problem = _clang_problem(joined)
        if problem is not None:
            found.append(text.diagnostic(pieces[0].start, pieces[0].end, problem))
    return found


def _clang_view(text: str) -> str:
    """``text`` after clang's first phases: spliced lines, each comment one space."""
    text = text.replace("\\\r\n", "").replace("\\\n", "")
    out: list[str] = []
    i, n = 0, len(text)
    plain = i
    while i < n:
        c = text[i]
        if c == "/" and text.startswith("/*", i):
            out.append(text[plain:i])
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
            out.append(" ")
            plain = i
        elif c == "/" and text.startswith("//", i):
            out.append(text[plain:i])
            j = text.find("\n", i)
            i = plain = n if j < 0 else j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            i = min(j + 1, n)
        else:
            i += 1
    out.append(text[plain:])
    return "".join(out)


def _clang_problem(piece: str) -> str | None:
    for line in _clang_view(piece).split("\n"):
        rest = line.lstrip(" \t\v\f\r")
        start = next((s for s in _DIRECTIVE_START if rest.startswith(s)), None)
        if start is None:
            problem = _words_problem(rest)
        else:
            problem = _directive_problem(rest[len(start) :].lstrip(" \t\v\f\r"))
        if problem is not None:
            return problem
    return None


def _directive_problem(body: str) -> str | None:
    m = _IDENT_RE.match(body)
    if m is None:
        if body.strip():
            return f"this preprocessor line is not allowed: {INCLUDE_HINT}, and #define/#if"
        return None  # a null directive: "#" alone
    name, rest = m.group(0), body[m.end() :]
    if name not in PREPROCESSOR_DIRECTIVES:
        return (
            f"#{name} is not allowed on this server: {INCLUDE_HINT}; #define, #undef and "
            "#if/#ifdef/#else/#endif may be used"
        )
    if name == "include":
        target = rest.strip(" \t\v\f\r")
        hit = _SYSTEM_HEADER.fullmatch(target)
        if hit is None or ".." in hit.group(1).split("/"):
            return f"this #include is refused: {INCLUDE_HINT}"
        return None
    return _words_problem(rest)


def _words_problem(text: str) -> str | None:
    if any(s in text for s in _DIRECTIVE_START):
        return (
            "a '#' inside a preprocessor line or C definition is not allowed on this server "
            "(it could make another directive)"
        )
    for m in _IDENT_RE.finditer(text):
        if m.group(0) in PREPROCESSOR_WORDS_REFUSED:
            return f"{m.group(0)} is not allowed in a preprocessor line: {INCLUDE_HINT}"
    return None
