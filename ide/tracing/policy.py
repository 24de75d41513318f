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
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from ..config import Settings, TracerOptionCap, tracer_option
from .bpftrace_ast import ProgramFacts
from .model import Diagnostic, Language
from .scripttext import Positions, Token, bpftrace_tokens, calls, d_tokens

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
    """What the server refuses of ``script`` before any tracer reads it: what is judged
    only afterwards would already have acted.

    bpftrace: what clang would read beyond the system's headers.  D: options that act as
    libdtrace reads the pragma (``ctypes=FILE`` writes FILE) and cannot be read back.  All
    else is decided on the tracer's parse, in the backends.
    """
    del settings  # the same for every server: nothing here depends on --allow-destructive
    if language == "d":
        return refuse_d_compile_options(script)
    return preprocessor_refusals(script)


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


def _destructive(text: _Text, tok: Token, word: str, words: dict[str, str]) -> Diagnostic:
    return text.diagnostic(
        tok.start,
        tok.end,
        f"{word}() {words[word]}: this server refuses destructive actions; {ENABLE_HINT}",
    )


def _describe(cap: TracerOptionCap) -> str:
    if cap.name in D_RATE_OPTIONS:
        return f"{cap.maximum} per second ({cap.maximum}hz)"
    if cap.maximum >= 1 << 20 and cap.maximum % (1 << 20) == 0:
        return f"{cap.maximum >> 20}m ({cap.maximum} bytes)"
    return str(cap.maximum)


# --- D: the policy on what libdtrace compiled -----------------------------------------------

NANOSEC = 1_000_000_000
D_OPTION_UNSET = -2  # DTRACEOPT_UNSET: an option that is off or was never set
# Run-time options of both families' dt_options.c (Oracle dtrace-utils 2.x; illumos, FreeBSD,
# macOS): the only ones ``dtrace_getopt`` reads back; a name a family lacks fails there.
D_RUNTIME_OPTIONS = (
    "aggrate", "aggsize", "agghist", "aggpack", "aggsortkey", "aggsortkeypos",
    "aggsortpos", "aggsortrev", "aggzoom", "bpflog", "bpflogsize", "bufpolicy",
    "bufresize", "bufsize", "cleanrate", "cpu", "destructive", "dynvarsize",
    "flowindent", "grabanon", "jstackframes", "jstackstrsize", "lockmem", "maxframes",
    "noresolve", "nspec", "pcapsize", "printsize", "quiet", "quietresize", "rawbytes",
    "scratchsize", "specsize", "stackframes", "stackindent", "statusrate", "strsize",
    "switchrate", "temporal", "ustackframes", "zone",
)  # fmt: skip
# Compile-time options of both families: ``dtrace_getopt`` cannot read them, and some act
# the moment a pragma sets them (``ctypes=``/``dtypes=`` create a file as root, ``core``
# changes a resource limit), so these are refused from the script's control lines, found by
# libdtrace's own rule for them (see ``d_control_words``), before libdtrace compiles.
D_COMPILE_OPTIONS = frozenset(
    {
        "aggpercpu", "amin", "argref", "core", "cpp", "cppargs", "cpphdrs", "cpppath",
        "ctfpath", "ctypes", "debug", "debugassert", "defaultargs", "define", "disasm",
        "dofstashpath", "droptags", "dtypes", "empty", "encoding", "errtags", "evaltime",
        "incdir", "iregs", "kdefs", "knodefs", "late", "lazyload", "ldpath", "libdir",
        "linkmode", "linknommap", "linktype", "modpath", "nolibs", "pgmax", "preallocate",
        "procfspath", "pspec", "setenv", "stdc", "strip", "syslibdir", "sysslice", "tree",
        "tregs", "udefs", "undef", "unodefs", "useruid", "verbose", "version", "zdefs",
    }
)  # fmt: skip
# Compile-time options that only change how this one program is compiled.
D_HARMLESS_COMPILE_OPTIONS = frozenset(
    {"aggpercpu", "amin", "argref", "defaultargs", "droptags", "empty", "errtags",
     "kdefs", "knodefs", "pspec", "udefs", "unodefs", "zdefs", "version"}
)  # fmt: skip
# Run-time options that only change how output looks; anything else not capped is refused.
D_HARMLESS_OPTIONS = frozenset(
    {
        "quiet", "flowindent", "aggsortkey", "aggsortkeypos", "aggsortpos", "aggsortrev",
        "aggpercpu", "agghist", "aggpack", "aggzoom", "rawbytes", "stackindent", "zdefs",
        "defaultargs", "bufpolicy", "bufresize", "stackframes", "ustackframes",
        "quietresize", "noresolve",
    }
)  # fmt: skip
D_RATE_OPTIONS = frozenset({"aggrate", "switchrate"})
# Action kinds of the destructive classes (DTRACEACT_PROC_DESTRUCTIVE 0x200 and
# DTRACEACT_KERNEL_DESTRUCTIVE 0x500), the same numbers in both families.
DESTRUCTIVE_ACTION_KINDS = {
    0x201: "stop",
    0x202: "raise",
    0x203: "system",
    0x204: "freopen",
    0x501: "breakpoint",
    0x502: "panic",
    0x503: "chill",
}


@dataclass(frozen=True)
class DRefusal:
    """One thing the policy refuses in a compiled D program: an option the script set (placed
    on the ``#pragma`` naming it) or a destructive action (placed on its call)."""

    message: str
    option: str | None = None
    action: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {"message": self.message, "option": self.option, "action": self.action}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> DRefusal:
        option, action = data.get("option"), data.get("action")
        return cls(
            str(data.get("message", "")),
            None if option is None else str(option),
            None if action is None else str(action),
        )


def refuse_d_options(changed: Mapping[str, int], settings: Settings) -> list[DRefusal]:
    """The options a compiled script changed (name -> value as libdtrace stores it: sizes in
    bytes, rates as periods in ns, switches ``D_OPTION_UNSET`` or a number) that this server
    refuses."""
    out = []
    for name, value in sorted(changed.items()):
        problem = d_option_value_problem(name, value, settings)
        if problem is not None:
            out.append(DRefusal(problem, option=name))
    return out


def d_option_value_problem(name: str, value: int, settings: Settings) -> str | None:
    if name == "destructive":
        if value == D_OPTION_UNSET or settings.allow_destructive:
            return None
        return (
            "#pragma D option destructive enables actions that change the system: this "
            f"server refuses destructive actions; {ENABLE_HINT}"
        )
    if name in D_HARMLESS_OPTIONS:
        return None
    if name == "strsize":
        if value > settings.max_d_strsize:
            return f"strsize={value} is past this server's cap of {settings.max_d_strsize}"
        return None
    cap = tracer_option(name)
    if cap is None:
        return (
            f"option {name} is not one a script may set on this server (the server owns the "
            "tracer's resources); set bufsize, aggsize, dynvarsize, aggrate or switchrate "
            "within the caps in the run options"
        )
    if name in D_RATE_OPTIONS:
        if value <= 0 or NANOSEC / value > cap.maximum:
            return f"{name}={_rate_text(value)} is past this server's cap of {_describe(cap)}"
        return None
    if value <= 0:
        return f"option {name} needs a size, at most {_describe(cap)}"
    if value > cap.maximum:
        return f"{name}={_size_text(value)} is past this server's cap of {_describe(cap)}"
    return None


def refuse_d_actions(actions: Iterable[str], settings: Settings) -> list[DRefusal]:
    """The destructive actions of a compiled program (names from ``DESTRUCTIVE_ACTION_KINDS``,
    ``copyout``, or ``destructive`` where the library does not say which) that are refused."""
    if settings.allow_destructive:
        return []
    out = []
    for action in sorted(set(actions)):
        why = DESTRUCTIVE["d"].get(action)
        if why is not None:
            message = f"{action}() {why}: this server refuses destructive actions; {ENABLE_HINT}"
        else:
            message = (
                "the script uses a destructive action (system, raise, stop, copyout, "
                f"copyoutstr, freopen, panic, breakpoint or chill): this server refuses "
                f"destructive actions; {ENABLE_HINT}"
            )
        out.append(DRefusal(message, action=action))
    return out


def _rate_text(period_ns: int) -> str:
    if period_ns > 0 and NANOSEC % period_ns == 0:
        return f"{NANOSEC // period_ns}hz"
    return f"{period_ns}ns"


def _size_text(size: int) -> str:
    for suffix, scale in (("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10)):
        if size >= scale and size % scale == 0:
            return f"{size // scale}{suffix} ({size} bytes)"
    return f"{size} bytes"


def _d_compile_option_refused(word: str) -> bool:
    name = word.partition("=")[0]
    return name in D_COMPILE_OPTIONS and name not in D_HARMLESS_COMPILE_OPTIONS


def _d_compile_option_problem(word: str) -> str:
    name = word.partition("=")[0]
    return (
        f"option {name} is not one a script may set on this server (it changes how "
        "libdtrace itself runs, and some such options write files as root)"
    )


def refuse_d_compile_options(script: str) -> list[Diagnostic]:
    """Compile-time options in any line libdtrace could read as a control line; checked
    before libdtrace sees the script, because they act as the pragma is read."""
    text = _Text(script)
    return [
        text.diagnostic(w.start, w.end, _d_compile_option_problem(w.word))
        for w in d_control_words(script, inside_comments=True)
        if _d_compile_option_refused(w.word)
    ]


# --- D: where libdtrace reads control lines (#pragma) -----------------------------------------


@dataclass(frozen=True)
class DWord:
    """A word of a D control line, at [start, end) in the script."""

    word: str
    start: int
    end: int


# libdtrace's lexer (dt_lex.l): a control line is a line whose first characters other than
# \f \t \v and space are "#" but not "#!", outside a comment; its words are separated by
# those characters and end at the newline; comments do not exist inside it.
_CONTROL = re.compile(r"[\f\t\v ]*#(?!!)")
_CONTROL_WORD = re.compile(r'"(?:[^"\\\n]|\\[^\n])*"|[^\f\t\v "\n]+')


def d_control_words(script: str, *, inside_comments: bool = False) -> list[DWord]:
    """Every word of every option pragma (``#pragma D option WORD``) in ``script``, in one
    linear pass.  With ``inside_comments`` lines inside comments count too, which finds every
    control line libdtrace could see and some it would not."""
    out = []
    for words in _d_control_lines(script, inside_comments):
        if [w.word for w in words[:3]] == ["pragma", "D", "option"] and len(words) > 3:
            out.append(words[3])
    return out


def d_option_pragmas(script: str) -> list[DWord]:
    """The option word of each ``#pragma D option`` line libdtrace reads, in order."""
    return d_control_words(script)


def _d_control_lines(script: str, inside_comments: bool) -> Iterator[list[DWord]]:
    """The words of each control line: with ``inside_comments`` every line libdtrace's rule
    matches, else the ``#`` lines of the one D lexer (``scripttext.d_tokens``, which
    follows dt_lex.l's comments, strings and character constants) that also match it."""
    if inside_comments:
        starts = _line_starts(script)
    else:
        starts = (
            script.rfind("\n", 0, tok.start) + 1
            for tok in d_tokens(script)
            if tok.kind == "preproc"
        )
    for pos in starts:
        eol = script.find("\n", pos)
        eol = len(script) if eol < 0 else eol
        head = _CONTROL.match(script, pos, eol)
        if head is not None:
            yield [
                DWord(m.group(), m.start(), m.end())
                for m in _CONTROL_WORD.finditer(script, head.end(), eol)
            ]


def _line_starts(script: str) -> Iterator[int]:
    yield 0
    pos = script.find("\n")
    while pos >= 0:
        yield pos + 1
        pos = script.find("\n", pos + 1)


def place_d_refusals(script: str, refusals: Iterable[DRefusal]) -> list[Diagnostic]:
    """Each refusal at a line and column: an option on the last ``#pragma`` that sets it (the
    one libdtrace kept), an action on its call; else 1:1, saying that libdtrace gave no place."""
    text = _Text(script)
    pragmas: dict[str, DWord] = {}
    for p in d_option_pragmas(script):
        pragmas[p.word.partition("=")[0]] = p
    out = []
    for r in refusals:
        spot: tuple[int, int] | None = None
        if r.option is not None and r.option in pragmas:
            spot = pragmas[r.option].start, pragmas[r.option].end
        elif r.action is not None:
            spot = _d_call_place(script, r.action)
        if spot is None:
            where = "libdtrace does not say where in the script"
            out.append(Diagnostic(1, 1, 1, 1, f"{r.message} ({where})", "error"))
        else:
            out.append(text.diagnostic(spot[0], spot[1], r.message))
    return out


def refuse_d_calls(script: str, reasons: Mapping[str, str]) -> list[Diagnostic]:
    """A diagnostic at every call of a word in ``reasons`` in the D code of ``script``:
    outside comments, strings, character constants and control lines, found in one pass."""
    text = _Text(script)
    return [
        text.diagnostic(tok.start, tok.end, reasons[script[tok.start : tok.end]])
        for tok in calls(script, "d", set(reasons))
    ]


def _d_call_place(script: str, action: str) -> tuple[int, int] | None:
    """The first call of ``action`` (any destructive one for ``destructive``) outside comments,
    strings and character constants; placement only."""
    names = set(DESTRUCTIVE["d"]) if action not in DESTRUCTIVE["d"] else {action}
    tok = next(calls(script, "d", names), None)
    return None if tok is None else (tok.start, tok.end)


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
