"""The record's journal, ``runs.journal`` beside ``runs.sqlite``: each snapshot and message a
run records is appended to it as it comes, in one write (which the kernel keeps when the server
is killed), and moved into the database in one transaction every few seconds, before a read of
snapshots or messages, at a run's start and end, and when the server stops.  A transaction
per interval cost more than all the rest of recording (bench/RESULTS.md); an append costs a
small part of one.

Opening the archive moves what a crash left here into the database first; a torn or damaged
last entry (the crash came in the middle of a write) is dropped with what follows it.
"""

from __future__ import annotations

import os
import sqlite3
import struct
import threading
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import msgspec

_HEAD = struct.Struct("<II")  # the entry's length and CRC-32
MAX_ENTRY_BYTES = 256 * 1024 * 1024  # a longer length is damage, not an entry
# What is kept for the next try when moving into the database failed (a full disk): the
# newest entries up to this many bytes of data; the older ones are dropped.
MAX_KEPT_BYTES = 64 * 1024 * 1024

EntryKind = Literal["snapshot", "message", "cost"]


class Entry(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """One thing a run recorded: a snapshot, a message or the run's cost figures (``seq``
    0), each as its JSON.  Snapshots are compressed when they move into the database, many
    in a row: one at a time, as each came once a second, cost twice as much."""

    kind: EntryKind
    run_id: str
    seq: int
    t: float
    data: bytes


_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(Entry).decode


def frame(entry: Entry) -> bytes:
    payload = _encode(entry)
    return _HEAD.pack(len(payload), zlib.crc32(payload)) + payload


def read_entries(data: bytes) -> list[Entry]:
    """The whole entries at the start of ``data``, up to the first torn or damaged one."""
    out: list[Entry] = []
    at = 0
    while at + _HEAD.size <= len(data):
        length, crc = _HEAD.unpack_from(data, at)
        body = data[at + _HEAD.size : at + _HEAD.size + length]
        if length > MAX_ENTRY_BYTES or len(body) < length or zlib.crc32(body) != crc:
            break
        try:
            out.append(_decode(body))
        except msgspec.DecodeError:
            break
        at += _HEAD.size + length
    return out


class Journal:
    """The appends since the last move into the database, in the file and in memory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        flags = os.O_RDWR | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
        self._fd = os.open(path, flags, 0o600)
        self._lock = threading.Lock()
        self._pending: list[Entry] = []
        self.bytes = 0  # of the pending entries' data

    def append(self, entry: Entry) -> None:
        data = frame(entry)
        with self._lock:
            written = 0
            while written < len(data):
                written += os.write(self._fd, data[written:])
            self._pending.append(entry)
            self.bytes += len(entry.data)

    def __len__(self) -> int:
        return len(self._pending)

    def move(self, write: Callable[[list[Entry]], None], *, left: bool = False) -> None:
        """Hand what is pending (with ``left``, what the file held on opening) to ``write``,
        one transaction, then empty the file; what ``write`` could not take is kept for the
        next move, up to ``MAX_KEPT_BYTES``."""
        with self._lock:
            entries = self._pending
            if left:
                size = os.fstat(self._fd).st_size
                entries = read_entries(os.pread(self._fd, size, 0)) if size else []
            if not entries:
                return
            self._pending, self.bytes = [], 0
            try:
                write(entries)
            except BaseException:
                self._pending = _newest(entries, MAX_KEPT_BYTES)
                self.bytes = sum(len(e.data) for e in self._pending)
                raise
            os.ftruncate(self._fd, 0)

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


def _newest(entries: list[Entry], max_bytes: int) -> list[Entry]:
    kept, size = 0, 0
    for e in reversed(entries):
        size += len(e.data)
        if size > max_bytes:
            break
        kept += 1
    return entries[len(entries) - kept :]


def write_entries(
    db: sqlite3.Connection, entries: list[Entry], pack: Callable[[bytes], bytes]
) -> None:
    """Journal entries into the database, in a transaction the caller holds, each snapshot
    as ``pack`` keeps it: moving the same entry twice leaves one row; entries of a run whose
    record is gone are dropped.  Each run's size, snapshot count and elapsed time follow, and
    its cost figures, when an entry has them."""
    ids = sorted({e.run_id for e in entries})
    marks = ", ".join("?" * len(ids))
    kept = {row[0] for row in db.execute(f"SELECT id FROM runs WHERE id IN ({marks})", ids)}
    snapshots, messages = [], []
    tallies: dict[str, list[float]] = {}  # run: bytes, snapshots, last t
    costs: dict[str, str] = {}
    for e in entries:
        if e.run_id not in kept:
            continue
        if e.kind == "cost":
            costs[e.run_id] = e.data.decode()
            continue
        tally = tallies.setdefault(e.run_id, [0, 0, 0.0])
        if e.kind == "snapshot":
            data = pack(e.data)
            snapshots.append((e.run_id, e.seq, e.t, data))
            tally[0] += len(data)
            tally[1] += 1
            tally[2] = max(tally[2], e.t)
        else:
            messages.append((e.run_id, e.seq, e.t, e.data.decode()))
            tally[0] += len(e.data)
    db.executemany(
        "INSERT OR REPLACE INTO snapshots (run_id, seq, t, data) VALUES (?, ?, ?, ?)", snapshots
    )
    db.executemany(
        "INSERT OR REPLACE INTO messages (run_id, seq, t, data) VALUES (?, ?, ?, ?)", messages
    )
    for run_id, (size, count, t) in tallies.items():
        db.execute(
            "UPDATE runs SET bytes = bytes + ?, snapshots = snapshots + ?,"
            " elapsed = MAX(elapsed, ?) WHERE id = ?",
            (size, count, t, run_id),
        )
    for run_id, cost in costs.items():
        db.execute("UPDATE runs SET cost = ? WHERE id = ?", (cost, run_id))
