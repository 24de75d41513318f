"""bpftrace's stderr as diagnostics at the user's line and column.

bpftrace 0.17 writes ``stdin:LINE[-END_LINE][:COL[-END_COL]]: ERROR: message``, then the
source line and a ``~~~`` underline; some messages have no position at all.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from dtrace_lexer.vocabulary import LANGUAGES as VOCABULARY

from .model import Diagnostic

NOISE = ("couldn't set RLIMIT_MEMLOCK",)
_LOCATION = re.compile(
    r"^(?P<file>[^:\n]*):(?P<line>\d+)(?:-(?P<end_line>\d+))?(?::(?P<col>\d+)(?:-(?P<end_col>\d+))?)?:"
    r"\s*(?P<sev>ERROR|WARNING):\s*(?P<msg>.*)$"
)
_BARE = re.compile(r"^(?P<sev>ERROR|WARNING):\s*(?P<msg>.*)$")


def is_noise(line: str) -> bool:
    return any(n in line for n in NOISE)


def parse_diagnostics(stderr: str, script: str) -> list[Diagnostic]:
    """bpftrace's stderr as diagnostics; the echoed source and ``~~~`` lines are skipped."""
    lines = script.split("\n")
    out: list[Diagnostic] = []
    for raw in stderr.splitlines():
        if is_noise(raw):
            continue
        m = _LOCATION.match(raw)
        if m:
            msg = with_suggestion(m["msg"].strip())
            if m["col"] is None:
                out.append(_lines_diagnostic(m, lines, msg))
                continue
            line = int(m["line"])
            col = int(m["col"])
            end_line = int(m["end_line"] or line)
            end_col = int(m["end_col"]) if m["end_col"] else col + 1
            if end_line == line and end_col < col:
                end_col = col
            out.append(Diagnostic(line, col, end_line, end_col, msg, _severity(m["sev"])))
            continue
        m = _BARE.match(raw.strip())
        if m:
            # No position: the whole first line, so the editor still shows it somewhere.
            width = len(lines[0]) if lines else 0
            out.append(Diagnostic(1, 1, 1, width + 1, m["msg"].strip(), _severity(m["sev"])))
    return out


def _lines_diagnostic(m: re.Match[str], lines: list[str], msg: str) -> Diagnostic:
    """``stdin:1-2: ERROR: …`` names lines only: the end of the text for an unexpected end
    of file, else the whole first line named."""
    if "end of file" in msg:
        last = max(len(lines), 1)
        width = len(lines[-1]) if lines else 0
        return Diagnostic(last, width + 1, last, width + 1, msg, _severity(m["sev"]))
    line = min(int(m["line"]), max(len(lines), 1))
    width = len(lines[line - 1]) if lines else 0
    return Diagnostic(line, 1, line, width + 1, msg, _severity(m["sev"]))


_UNKNOWN_FUNCTION = re.compile(r"Unknown function: ([A-Za-z_][A-Za-z0-9_]*)$")


def with_suggestion(msg: str) -> str:
    """bpftrace's "Unknown function: cont" with the closest name it knows, from the one
    vocabulary: "… (did you mean count()?)"."""
    m = _UNKNOWN_FUNCTION.search(msg)
    if not m:
        return msg
    vocabulary = VOCABULARY["bpftrace"]
    names = [*vocabulary.functions, *vocabulary.aggregations]
    close = difflib.get_close_matches(m.group(1), names, n=1, cutoff=0.6)
    return f"{msg} (did you mean {close[0]}()?)" if close else msg


def _severity(word: str) -> Any:
    return "warning" if word == "WARNING" else "error"
