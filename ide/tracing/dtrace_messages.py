"""libdtrace's compiler messages as diagnostics at a line and column of the script.

libdtrace names a line (when it compiles from a FILE*) but no column: the column is that of
the token the message names.
"""

from __future__ import annotations

import re

from .model import Diagnostic

_MESSAGE = re.compile(
    r"^(?:\[(?P<tag>[A-Z0-9_]+)\]\s*)?(?:(?P<file>[^\n]*?),\s*)?line\s+(?P<line>\d+):\s*"
    r"(?P<msg>.*)$",
    re.S,
)
_TAG_ONLY = re.compile(r"^\[(?P<tag>[A-Z0-9_]+)\]\s*(?P<msg>.*)$", re.S)
_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def _find_word(text: str, word: str, start: int = 0) -> int:
    m = re.search(r"(?<![A-Za-z0-9_`])" + re.escape(word) + r"(?![A-Za-z0-9_])", text[start:])
    return -1 if m is None else start + m.start()


def _clean(message: str) -> str:
    return " ".join(part.strip() for part in message.strip().splitlines() if part.strip())


def _span_in_line(message: str, text: str) -> tuple[int, int] | None:
    """0-based [start, end) of what ``message`` is about in the line ``text``."""
    m = re.search(r'near "(.*)"$', message) or re.search(r'near "([^"]*)"', message)
    if m and m.group(1):
        token = m.group(1)
        i = text.find(token)
        return (i, i + len(token)) if i >= 0 else None
    patterns = (
        rf"undefined function name: ({_IDENT})",
        rf"failed to resolve (@?{_IDENT}|@)",
        rf"undefined variable: ({_IDENT})",
        rf"^({_IDENT})\( \) argument",
        rf"^({_IDENT})\( \) ",
        rf"option '({_IDENT})'",
        rf"(?:variable|identifier|aggregation) ({_IDENT}|@{_IDENT}?)",
        rf"\b({_IDENT}) (?:is|was) (?:not|already)",
    )
    for pat in patterns:
        m = re.search(pat, message)
        if m:
            word = m.group(1)
            i = text.find(word) if word.startswith("@") else _find_word(text, word)
            if i >= 0:
                return i, i + len(word)
    m = re.search(r"macro argument (\$+\d+)", message)
    if m:
        i = text.find(m.group(1))
        if i >= 0:
            return i, i + len(m.group(1))
    m = re.search(r"probe description (\S+) does not match", message)
    if m:
        desc = m.group(1)
        i = text.find(desc)
        if i >= 0:
            return i, i + len(desc)
        first = desc.split(":")[0]
        i = _find_word(text, first) if first else -1
        if i >= 0:
            end = i
            while end < len(text) and not text[end].isspace() and text[end] not in "{/,":
                end += 1
            return i, end
    if "before matching */" in message:
        i = text.rfind("/*")
        if i >= 0:
            return i, len(text)
    for quoted in re.findall(r"[\"'`]([^\"'`\n]+)[\"'`]", message):
        i = text.find(quoted)
        if i >= 0:
            return i, i + len(quoted)
    return None


def diagnostic_from_message(message: str, script: str) -> Diagnostic:
    """A libdtrace compiler message as a diagnostic at a line and column of ``script``.

    libdtrace gives a line (when compiling from a FILE*) but no column: the column is that of
    the token the message names (``near ";"``, an undefined name, a probe description...),
    else the first non-blank character of the line, so the editor can underline something.
    """
    lines = script.split("\n")
    m = _MESSAGE.match(message.strip())
    line_no: int | None = None
    if m:
        line_no = int(m["line"])
        text_msg = m["msg"]
    else:
        t = _TAG_ONLY.match(message.strip())
        text_msg = t["msg"] if t else message
        text_msg = re.sub(r"^in [a-z ]+: ", "", text_msg.strip())  # "in action list: ..."
    text_msg = _clean(text_msg)
    if "near end of input" in text_msg or "end of input" in text_msg.split("near")[-1]:
        if line_no is not None and 0 < line_no <= len(lines):
            # The line libdtrace names, even past the last line with text on it.
            col = len(lines[line_no - 1].rstrip()) + 1
            return Diagnostic(line_no, col, line_no, col, text_msg)
        return _at_end(lines, text_msg)
    if line_no is None:
        # No line: look for the token anywhere in the script.
        for n, text in enumerate(lines, start=1):
            span = _span_in_line(text_msg, text)
            if span:
                return Diagnostic(n, span[0] + 1, n, span[1] + 1, text_msg)
        return _whole_line(lines, 1, text_msg)
    line_no = min(max(line_no, 1), max(len(lines), 1))
    text = lines[line_no - 1] if lines else ""
    span = _span_in_line(text_msg, text)
    if span is None:
        return _whole_line(lines, line_no, text_msg)
    return Diagnostic(line_no, span[0] + 1, line_no, span[1] + 1, text_msg)


def _whole_line(lines: list[str], line_no: int, message: str) -> Diagnostic:
    text = lines[line_no - 1] if 0 < line_no <= len(lines) else ""
    start = len(text) - len(text.lstrip())
    end = len(text.rstrip())
    if end <= start:
        return Diagnostic(line_no, 1, line_no, 1, message)
    return Diagnostic(line_no, start + 1, line_no, end + 1, message)


def _at_end(lines: list[str], message: str) -> Diagnostic:
    """The end of the last non-blank line: where the missing text should have been."""
    n = len(lines)
    while n > 1 and not lines[n - 1].strip():
        n -= 1
    col = len(lines[n - 1].rstrip()) + 1 if lines else 1
    return Diagnostic(n, col, n, col, message)
