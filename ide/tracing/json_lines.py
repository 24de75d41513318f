"""Reading a tracer's line-per-message JSON output (bpftrace's ``-f json``) as fast as it
comes: whole reads at a time, over-long lines skipped without being held."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO, Any

import msgspec

_JSON_LINE = msgspec.json.Decoder()


def json_line(raw: bytes) -> Any:
    """A line of bpftrace's -f json output: its message (a dict), or a line of text."""
    try:
        msg = _JSON_LINE.decode(raw)
    except msgspec.DecodeError:
        text = raw.decode("utf-8", "replace")
    else:
        return msg if isinstance(msg, dict) else text_of(msg) + "\n"
    try:  # bytes that are not UTF-8 in printed text: as json.loads reads them, replaced
        msg = json.loads(text)
    except json.JSONDecodeError:
        return text + "\n"
    return msg if isinstance(msg, dict) else text_of(msg) + "\n"


READ_CHUNK = 1 << 16


def line_batches(stream: IO[bytes], limit: int) -> Iterator[list[bytes | None]]:
    """The stream's lines, a list per read of what is there (so a fast writer gives big
    batches and a slow one is not waited for); ``None`` stands for a line longer than
    ``limit``, skipped to its end without being held."""
    partial = b""
    skipping = False
    while chunk := stream.read1(READ_CHUNK):  # type: ignore[attr-defined]
        lines: list[bytes | None] = []
        if skipping:
            end = chunk.find(b"\n")
            if end < 0:
                continue
            chunk, skipping = chunk[end + 1 :], False
        parts = (partial + chunk).split(b"\n")
        partial = parts.pop()
        lines.extend(p if len(p) < limit else None for p in parts)
        if len(partial) >= limit:
            lines.append(None)
            partial, skipping = b"", True
        if lines:
            yield lines
    if partial and not skipping:
        yield [partial]


def text_of(data: Any) -> str:
    """A message's data as a line of text (without its newline)."""
    if isinstance(data, str):
        return data.rstrip("\n")
    return json.dumps(data)
