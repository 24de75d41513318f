"""What a script declares, read from its text: aggregations, their functions and key arity.

Both tracers name the aggregating function only in the source (bpftrace's JSON says "map" for
count and sum alike; libdtrace's walk gives an action number), so the backends ask here.
"""

from __future__ import annotations

import re

from dtrace_lexer.vocabulary import LANGUAGES

from .model import AggregationDecl, Language
from .scripttext import code_only

AGGREGATING = {name: tuple(lang.aggregations) for name, lang in LANGUAGES.items()}

_ASSIGN = re.compile(r"(@[A-Za-z0-9_]*)\s*(\[)?")
_CALL = re.compile(r"[ \t\r\n\v\f]*([A-Za-z_][A-Za-z0-9_]*)[ \t\r\n\v\f]*\(")
# clear(@x) and zero(@x) empty or zero a whole map; D's trunc(@x) with no count removes every
# key (trunc(@x, N) keeps the top N and is not a reset).
_RESET = re.compile(r"\b(?:clear|zero|trunc)\s*\(\s*(@[A-Za-z0-9_]*)\s*\)")


def bracket_pairs(text: str) -> dict[int, int]:
    """Each opening bracket's offset mapped to its closing one's, in one pass (text already
    blanked of comments and strings).  Unclosed brackets are left out."""
    pairs: dict[int, int] = {}
    stack: list[int] = []
    closer = {")": "(", "]": "[", "}": "{"}
    for i, ch in enumerate(text):
        if ch in "([{":
            stack.append(i)
        elif ch in closer:
            while stack and text[stack[-1]] != closer[ch]:
                stack.pop()  # a stray opener: leave it unclosed
            if stack:
                pairs[stack.pop()] = i
    return pairs


def top_level_spans(
    text: str, start: int, end: int, pairs: dict[int, int]
) -> list[tuple[int, int]]:
    """The comma-separated parts of ``text[start:end]`` (inside one bracket pair), jumping over
    nested pairs so that every character is looked at by one level only."""
    spans: list[tuple[int, int]] = []
    part = start
    j = start
    while j < end:
        ch = text[j]
        if ch in "([{" and j in pairs:
            j = pairs[j] + 1
            continue
        if ch == ",":
            spans.append((part, j))
            part = j + 1
        j += 1
    if text[part:end].strip() or spans:
        spans.append((part, end))
    return spans


def _skip_space(text: str, i: int) -> int:
    n = len(text)
    while i < n and text[i] in " \t\r\n\v\f":
        i += 1
    return i


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
    is only ever assigned plain values is reported with function ``"value"``.  One pass over
    the script plus one over each bracket level: linear in the script's length.
    """
    text = code_only(script, language)
    pairs = bracket_pairs(text)
    aggregating = AGGREGATING[language]
    found: dict[str, AggregationDecl] = {}
    for m in _ASSIGN.finditer(text):
        name = m.group(1)
        pos = m.end()
        arity = 0
        if m.group(2):
            close = pairs.get(m.end() - 1, -1)
            if close < 0:
                continue
            arity = len(top_level_spans(text, m.end(), close, pairs))
            pos = close + 1
        pos = _skip_space(text, pos)
        if not text.startswith("=", pos) or text.startswith("==", pos):
            if language == "bpftrace" and text.startswith(("++", "--", "+=", "-="), pos):
                found.setdefault(name, AggregationDecl(name, "value", {}, arity))
            continue
        call = _CALL.match(text, pos + 1)
        if call and call.group(1) in aggregating:
            function = call.group(1)
            close = pairs.get(call.end() - 1, -1)
            spans = top_level_spans(text, call.end(), close, pairs) if close > 0 else []
            args = [script[a:b].strip() for a, b in spans]
            previous = found.get(name)
            if previous is None or previous.function == "value":
                found[name] = AggregationDecl(name, function, _params(function, args), arity)
        elif language == "bpftrace":
            found.setdefault(name, AggregationDecl(name, "value", {}, arity))
    return tuple(found.values())


def maps_reset_by_script(script: str, language: Language) -> frozenset[str]:
    """The maps that the script itself empties or zeroes as it runs (``clear(@x)``, bpftrace's
    ``zero(@x)``, D's ``trunc(@x)``): their snapshots hold what came since the last reset."""
    return frozenset(m.group(1) for m in _RESET.finditer(code_only(script, language)))
