"""What a script may do on this server, checked on the text before any tracer sees it.

Backend-neutral: the API calls ``check_script`` before ``Backend.compile`` and before a run
starts, so every backend gets the same policy.  Two kinds of refusal:

- Destructive actions (they change the traced system rather than observe it, or read files
  as root) are refused unless the server was started with ``--allow-destructive``.
- Tracer options a script sets itself (D's ``#pragma D option``, bpftrace's
  ``config = {...}`` block) must stay within ``ide/config.py``'s ``TRACER_OPTIONS`` caps.
  A value past a cap is refused, not silently rewritten: the user sees the cap at the line
  concerned and decides what to ask for.  Options the server does not cap are refused too,
  because the server, not the script, owns the tracer's resources.

Words inside comments and string literals never count (``printf("system(1)")`` is fine).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from ..config import Settings, TracerOptionCap, tracer_option
from .model import Diagnostic, Language
from .scriptinfo import blank_comments_and_strings

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

# A call of one of those words: not a map (@x), variable ($x), member (.x, ->x) or longer word.
_CALL = re.compile(r"(?<![\w@$.>])([A-Za-z_]\w*)\s*\(")
_CONFIG = re.compile(r"(?<![\w@$.>])config\s*=\s*\{")
_ENTRY = re.compile(r"(?P<key>[A-Za-z_]\w*)\s*=\s*(?P<value>[^;}\s]+)")

# bpftrace config keys (lower case, ``BPFTRACE_`` dropped) -> (server cap, value -> cap units).
BPFTRACE_CONFIG: dict[str, tuple[str, int]] = {
    "max_map_keys": ("max_map_keys", 1),
    "map_keys_max": ("max_map_keys", 1),
    "max_strlen": ("max_strlen", 1),
    "strlen": ("max_strlen", 1),
    "perf_rb_pages": ("bufsize", 4096),
}
BPFTRACE_HARMLESS_CONFIG = frozenset({"stack_mode"})


@dataclass(frozen=True)
class _Text:
    """Offsets in the script to 1-based lines and columns."""

    script: str

    def position(self, offset: int) -> tuple[int, int]:
        line = self.script.count("\n", 0, offset) + 1
        start = self.script.rfind("\n", 0, offset) + 1
        return line, offset - start + 1

    def diagnostic(self, start: int, end: int, message: str) -> Diagnostic:
        line, col = self.position(start)
        end_line, end_col = self.position(end)
        return Diagnostic(line, col, end_line, end_col, message, "error")


def check_script(script: str, language: Language, settings: Settings) -> list[Diagnostic]:
    """Every construct of ``script`` this server refuses, at its place in the text."""
    text = _Text(script)
    blank = blank_comments_and_strings(script)
    found: list[Diagnostic] = []
    if not settings.allow_destructive:
        found += _destructive_calls(text, blank, language)
    if language == "d":
        found += _d_pragmas(text, blank, settings)
    else:
        found += _bpftrace_config(text, blank)
    found.sort(key=lambda d: (d.line, d.column))
    return found


def refuse_calls(script: str, reasons: dict[str, str]) -> list[Diagnostic]:
    """A diagnostic at every call of a word in ``reasons`` (outside comments and strings)."""
    text = _Text(script)
    return [
        text.diagnostic(m.start(1), m.end(1), reasons[m.group(1)])
        for m in _CALL.finditer(blank_comments_and_strings(script))
        if m.group(1) in reasons
    ]


def _destructive_calls(text: _Text, blank: str, language: Language) -> list[Diagnostic]:
    words = DESTRUCTIVE[language]
    out = []
    for m in _CALL.finditer(blank):
        word = m.group(1)
        why = words.get(word)
        if why is None:
            continue
        out.append(
            text.diagnostic(
                m.start(1),
                m.end(1),
                f"{word}() {why}: this server refuses destructive actions; {ENABLE_HINT}",
            )
        )
    return out


def _d_pragmas(text: _Text, blank: str, settings: Settings) -> list[Diagnostic]:
    """The ``#pragma D option`` lines of the script as libdtrace's lexer finds them (a fast
    warning; the gate is what libdtrace compiled, see ``refuse_d_options``)."""
    del blank  # control lines are found by D's own rules, not on the blanked text
    out = []
    for pragma in d_option_pragmas(text.script):
        name, _, value = pragma.word.partition("=")
        problem = _d_option_problem(name, value if "=" in pragma.word else None, settings)
        if problem is not None:
            out.append(text.diagnostic(pragma.start, pragma.end, problem))
    return out


def _d_option_problem(name: str, value: str | None, settings: Settings) -> str | None:
    """What is wrong with ``#pragma D option name=value``, read as libdtrace reads it."""
    if name in D_COMPILE_OPTIONS:
        return _d_compile_option_problem(name) if _d_compile_option_refused(name) else None
    if name not in D_RUNTIME_OPTIONS:
        return None  # libdtrace refuses an unknown option itself, with its own message
    if name in D_RATE_OPTIONS:
        amount = _d_rate(value) if value else 0
    elif name in _D_SWITCHES:
        amount = _d_switch(value)
    else:
        amount = _d_size(value) if value else 0
    if amount is None:
        return f"cannot read {name}={value}: libdtrace would refuse it"
    return d_option_value_problem(name, amount, settings)


def _d_size(value: str) -> int | None:
    """A size as libdtrace reads it (C integer syntax, a k/m/g/t suffix), in bytes."""
    scale = _SIZE_SUFFIX.get(value[-1:].lower(), 1) if value else 1
    number = _c_integer(value[:-1] if scale > 1 else value)
    return None if number is None else number * scale


def _d_rate(value: str) -> int | None:
    """A rate as libdtrace stores it: a period in nanoseconds (``Nhz`` is 10^9/N)."""
    m = re.fullmatch(r"(0[xX][0-9a-fA-F]+|\d+)([A-Za-z]*)", value)
    if m is None:
        return None
    number = _c_integer(m.group(1))
    unit = m.group(2).lower()
    if number is None:
        return None
    if unit == "hz":
        return 0 if number == 0 else NANOSEC // number
    scale = _TIME_SUFFIX_NS.get(unit)
    return None if scale is None else number * scale


def _d_switch(value: str | None) -> int | None:
    if value is None or value.lower() in _D_YES:
        return 0 if value is None else 1
    if value == "" or value.lower() in _D_NO:
        return D_OPTION_UNSET
    return _c_integer(value)


def _c_integer(text: str) -> int | None:
    """``strtoull(text, &end, 0)`` consuming all of ``text``."""
    if re.fullmatch(r"0[xX][0-9a-fA-F]+", text):
        return int(text, 16)
    if re.fullmatch(r"0[0-7]*", text):
        return int(text, 8)
    if re.fullmatch(r"[1-9]\d*", text):
        return int(text)
    return None


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
# Options read as yes/no (dt_opt_runtime): DTRACEOPT_UNSET is "no".
_D_SWITCHES = frozenset(D_RUNTIME_OPTIONS) - {
    "aggsize", "bufsize", "dynvarsize", "specsize", "strsize", "jstackstrsize",
    "bpflogsize", "lockmem", "pcapsize", "scratchsize", "printsize", "aggrate",
    "switchrate", "cleanrate", "statusrate", "bufpolicy", "bufresize",
}  # fmt: skip
_D_YES = frozenset({"yes", "enable", "enabled", "true", "on", "set"})
_D_NO = frozenset({"no", "disable", "disabled", "false", "off", "unset"})
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
_SIZE_SUFFIX = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
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
    in_comment = False
    pos = 0
    n = len(script)
    while pos <= n:
        eol = script.find("\n", pos)
        eol = n if eol < 0 else eol
        head = _CONTROL.match(script, pos, eol)
        if head is not None and (inside_comments or not in_comment):
            yield [
                DWord(m.group(), m.start(), m.end())
                for m in _CONTROL_WORD.finditer(script, head.end(), eol)
            ]
            if not in_comment:
                pos = eol + 1
                continue
        in_comment = _d_scan_code(script, pos, eol, in_comment)
        pos = eol + 1


def _d_scan_code(script: str, i: int, end: int, in_comment: bool) -> bool:
    """Whether a comment is open at the end of the code line ``script[i:end]``."""
    while i < end:
        if in_comment:
            close = script.find("*/", i, end)
            if close < 0:
                return True
            in_comment = False
            i = close + 2
            continue
        c = script[i]
        if c == "/" and script.startswith("/*", i):
            in_comment = True
            i += 2
        elif c in "\"'":
            i += 1
            while i < end and script[i] != c:
                i += 2 if script[i] == "\\" else 1
            i += 1
        else:
            i += 1
    return in_comment


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
        text.diagnostic(m.start(1), m.end(1), reasons[m.group(1)])
        for m in _CALL.finditer(_d_code_only(script))
        if m.group(1) in reasons
    ]


def _d_call_place(script: str, action: str) -> tuple[int, int] | None:
    """The first call of ``action`` (any destructive one for ``destructive``) outside comments,
    strings and character constants; placement only."""
    names = set(DESTRUCTIVE["d"]) if action not in DESTRUCTIVE["d"] else {action}
    code = _d_code_only(script)
    for m in _CALL.finditer(code):
        if m.group(1) in names:
            return m.start(1), m.end(1)
    return None


def _d_code_only(script: str) -> str:
    """``script`` with comments, strings, character constants and control lines blanked
    (same length, newlines kept), in one linear pass."""
    out = list(script)
    in_comment = False
    pos = 0
    n = len(script)
    while pos <= n:
        eol = script.find("\n", pos)
        eol = n if eol < 0 else eol
        if not in_comment and _CONTROL.match(script, pos, eol):
            out[pos:eol] = " " * (eol - pos)
            pos = eol + 1
            continue
        i = pos
        while i < eol:
            if in_comment:
                close = script.find("*/", i, eol)
                stop = eol if close < 0 else close + 2
                out[i:stop] = " " * (stop - i)
                in_comment = close < 0
                i = stop
                continue
            c = script[i]
            if c == "/" and script.startswith("/*", i):
                in_comment = True
                out[i : i + 2] = "  "
                i += 2
            elif c in "\"'":
                j = i + 1
                while j < eol and script[j] != c:
                    j += 2 if script[j] == "\\" else 1
                stop = min(j + 1, eol)
                out[i:stop] = " " * (stop - i)
                i = stop
            else:
                i += 1
        pos = eol + 1
    return "".join(out)


def _bpftrace_config(text: _Text, blank: str) -> list[Diagnostic]:
    out = []
    for m in _CONFIG.finditer(blank):
        close = blank.find("}", m.end())
        close = len(blank) if close < 0 else close
        for entry in _ENTRY.finditer(blank, m.end(), close):
            problem = _bpftrace_config_problem(entry.group("key"), entry.group("value"))
            if problem is not None:
                out.append(text.diagnostic(entry.start(), entry.end(), problem))
    return out


def _bpftrace_config_problem(key: str, value: str) -> str | None:
    name = key.lower().removeprefix("bpftrace_")
    if name in BPFTRACE_HARMLESS_CONFIG:
        return None
    known = BPFTRACE_CONFIG.get(name)
    if known is None:
        return (
            f"config {key} is not one a script may set on this server (the server owns the "
            "tracer's resources); max_map_keys, max_strlen and perf_rb_pages may be set "
            "within the caps"
        )
    cap_name, unit = known
    cap = tracer_option(cap_name)
    assert cap is not None
    try:
        amount = int(value, 0)
    except ValueError:
        return f"cannot read {key} = {value}: write a whole number"
    if amount * unit > cap.maximum:
        limit = cap.maximum // unit
        return f"{key} = {value} is past this server's cap of {limit} ({cap_name} in the limits)"
    return None
