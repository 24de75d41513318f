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
_PRAGMA = re.compile(r"^[ \t]*#[ \t]*pragma[ \t]+D[ \t]+option[ \t]+(?P<body>[^\n]*)", re.M)
_OPTION = re.compile(r"(?P<name>[A-Za-z_]\w*)(?:[ \t]*=[ \t]*(?P<value>[^\s]*))?")
_CONFIG = re.compile(r"(?<![\w@$.>])config\s*=\s*\{")
_ENTRY = re.compile(r"(?P<key>[A-Za-z_]\w*)\s*=\s*(?P<value>[^;}\s]+)")

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
