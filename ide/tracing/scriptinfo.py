"""What a script declares, read from its text: aggregations, their functions and key arity.

Both tracers name the aggregating function only in the source (bpftrace's JSON says "map" for
count and sum alike; libdtrace's walk gives an action number), so the backends ask here.
"""

from __future__ import annotations

import re

from .model import AggregationDecl, Language

AGGREGATING = {
    "d": ("count", "sum", "min", "max", "avg", "stddev", "quantize", "lquantize", "llquantize"),
    "bpftrace": ("count", "sum", "min", "max", "avg", "stats", "hist", "lhist"),
}

_ASSIGN = re.compile(r"(@[A-Za-z0-9_]*)\s*(\[)?")
_CALL = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*\(")
# clear(@x) and zero(@x) empty or zero a whole map; D's trunc(@x) with no count removes every
# key (trunc(@x, N) keeps the top N and is not a reset).
_RESET = re.compile(r"\b(?:clear|zero|trunc)\s*\(\s*(@[A-Za-z0-9_]*)\s*\)")


def blank_comments_and_strings(text: str) -> str:
    """The text with comments and string literals replaced by spaces (offsets unchanged)."""
    out = list(text)
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out[i:j] = " " * (j - i)
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out[i:j] = [ch if ch == "\n" else " " for ch in text[i:j]]
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"' and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out[i + 1 : j - 1] = " " * max(0, j - 1 - (i + 1))
            i = j
        else:
            i += 1
    return "".join(out)


def _matching(text: str, start: int, open_ch: str, close_ch: str) -> int:
    """Index of the bracket closing the one at ``start``, or -1."""
    depth = 0
    for j in range(start, len(text)):
        if text[j] == open_ch:
            depth += 1
        elif text[j] == close_ch:
            depth -= 1
            if depth == 0:
                return j
    return -1


def split_top_level(args: str) -> list[str]:
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in args:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    tail = "".join(cur).strip()
    if tail or parts:
        parts.append(tail)
    return parts


def _int(text: str) -> int | None:
    try:
        return int(text.strip(), 0)
    except ValueError:
        return None


def _params(function: str, args: list[str]) -> dict[str, int]:
    names: tuple[str, ...] = ()
    if function in {"lquantize", "lhist"}:
        names = ("lo", "hi", "step")
        values = args[1:4]
    elif function == "llquantize":
        names = ("factor", "low", "high", "nsteps")
        values = args[1:5]
    else:
        return {}
    params: dict[str, int] = {}
    for name, raw in zip(names, values, strict=False):
        value = _int(raw)
        if value is not None:
            params[name] = value
    if function == "lquantize" and "step" not in params and len(params) == 2:
        params["step"] = 1  # D's default step
    return params


def declared_aggregations(script: str, language: Language) -> tuple[AggregationDecl, ...]:
    """Every ``@name[...] = function(...)`` (or ``@name = ...``) in order of first use.

    An aggregating function wins over plain assignments to the same map; a bpftrace map that
    is only ever assigned plain values is reported with function ``"value"``.
    """
    text = blank_comments_and_strings(script)
    aggregating = AGGREGATING[language]
    found: dict[str, AggregationDecl] = {}
    for m in _ASSIGN.finditer(text):
        name = m.group(1)
        pos = m.end()
        arity = 0
        if m.group(2):
            close = _matching(text, m.end() - 1, "[", "]")
            if close < 0:
                continue
            arity = len(split_top_level(text[m.end() : close]))
            pos = close + 1
        rest = text[pos : pos + 3]
        stripped = rest.lstrip()
        if not stripped.startswith("=") or stripped.startswith("=="):
            if language == "bpftrace" and text[pos:].lstrip().startswith(("++", "--", "+=", "-=")):
                found.setdefault(name, AggregationDecl(name, "value", {}, arity))
            continue
        eq = text.index("=", pos)
        call = _CALL.match(text, eq + 1)
        if call and call.group(1) in aggregating:
            function = call.group(1)
            close = _matching(text, call.end() - 1, "(", ")")
            args = split_top_level(script[call.end() : close]) if close > 0 else []
            previous = found.get(name)
            if previous is None or previous.function == "value":
                found[name] = AggregationDecl(name, function, _params(function, args), arity)
        elif language == "bpftrace":
            found.setdefault(name, AggregationDecl(name, "value", {}, arity))
    return tuple(found.values())


def maps_reset_by_script(script: str) -> frozenset[str]:
    """The maps that the script itself empties or zeroes as it runs (``clear(@x)``, bpftrace's
    ``zero(@x)``, D's ``trunc(@x)``): their snapshots hold what came since the last reset."""
    return frozenset(m.group(1) for m in _RESET.finditer(blank_comments_and_strings(script)))
