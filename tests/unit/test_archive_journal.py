"""The record's journal: what is appended comes back whole, a torn or damaged last entry is
dropped with what follows it, what a crash left in it is in the database when the archive opens
again, every read sees what is still in it, and the recorder moves it into the database in one
transaction for many snapshots."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from ide.archive import journal as journal_module
from ide.archive.journal import Entry, Journal, frame, read_entries
from ide.archive.recorder import Recorder
from ide.archive.store import Record, RunArchive, insert_run
from ide.tracing.model import Aggregation, Row, Snapshot


def entry(seq: int, kind: str = "snapshot") -> Entry:
    return Entry(kind, "r1", seq, seq * 0.5, f"data {seq}".encode())  # type: ignore[arg-type]


def test_entries_come_back_in_order_up_to_a_torn_or_damaged_one() -> None:
    data = b"".join(frame(entry(i)) for i in range(1, 4))
    assert read_entries(data) == [entry(1), entry(2), entry(3)]
    assert read_entries(data[:-3]) == [entry(1), entry(2)]  # the last write cut short
    damaged = bytearray(data)
    damaged[len(frame(entry(1))) + 9] ^= 0xFF  # a byte of the second entry's body
    assert read_entries(bytes(damaged)) == [entry(1)]
    assert read_entries(b"") == [] and read_entries(b"\x01\x02") == []


def record(run_id: str) -> Record:
    return Record(
        id=run_id, title="", language="bpftrace", via=None, script="x", options={}, host="h",
        state="running", error=None, started_at=time.time(), ended_at=None, duration=0,
        interval=0.5, elapsed=0, parent=None, drill=None, viewer_key="k", pinned=False,
        bytes=0, snapshots=0,
    )  # fmt: skip


def snapshot_entry(seq: int, value: int) -> Entry:
    snap = Snapshot(seq * 0.5, (Aggregation("@n", "count", (Row(("bash",), value=value),)),))
    return Entry("snapshot", "r1", seq, snap.t, snap.to_json())


def rows(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT COUNT(*) FROM snapshots").fetchone()[0])


def test_what_a_crash_left_in_the_journal_is_in_the_record_when_it_opens_again(
    tmp_path: Path,
) -> None:
    path = tmp_path / "runs.sqlite"
    crashed = RunArchive(path)
    with crashed.writing() as db:
        insert_run(db, record("r1"))
    for seq in (1, 2, 3):
        crashed.journal.append(snapshot_entry(seq, seq * 10))
    assert rows(path) == 0  # only in the journal: the server dies here, nothing moved
    reopened = RunArchive(path)
    try:
        kept = reopened.snapshots("r1")
        assert [s["aggregations"][0]["rows"][0]["value"] for s in kept] == [10, 20, 30]
        found = reopened.get("r1")
        assert found.snapshots == 3 and found.state == "failed"  # it was going at the crash
        assert (tmp_path / "runs.journal").stat().st_size == 0
    finally:
        reopened.close()


def test_a_read_sees_what_is_still_in_the_journal(tmp_path: Path) -> None:
    archive = RunArchive(tmp_path / "runs.sqlite")
    try:
        with archive.writing() as db:
            insert_run(db, record("r1"))
        archive.journal.append(snapshot_entry(1, 5))
        archive.journal.append(Entry("message", "r1", 1, 0.6, b'{"type":"output","lines":["hi"]}'))
        archive.journal.append(Entry("cost", "r1", 0, 0.6, b'{"snapshot_bytes":1}'))
        assert [s["t"] for s in archive.snapshots("r1")] == [0.5]
        assert archive.messages("r1") == [(0.6, {"type": "output", "lines": ["hi"]})]
        found = archive.get("r1")
        assert found.snapshots == 1 and found.cost == {"snapshot_bytes": 1} and found.bytes > 0
        assert len(archive.journal) == 0
    finally:
        archive.close()


def test_a_journal_that_could_not_be_moved_keeps_its_newest_entries_for_the_next_try(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal_module, "MAX_KEPT_BYTES", 13)  # two entries' data of 6 B
    journal = Journal(tmp_path / "j")
    for seq in (1, 2, 3):
        journal.append(entry(seq))

    def full_disk(entries: list[Entry]) -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        journal.move(full_disk)
    assert (tmp_path / "j").stat().st_size > 0  # still there for a crash
    got: list[Entry] = []
    journal.move(got.extend)
    assert got == [entry(2), entry(3)] and (tmp_path / "j").stat().st_size == 0
    assert len(journal) == 0 and journal.bytes == 0
    journal.close()


def test_the_recorder_moves_many_snapshots_in_one_transaction(tmp_path: Path) -> None:
    class Run:
        id, script, language, via = "r1", "x", "bpftrace", None

        def __init__(self) -> None:
            self.options: dict[str, int] = {}

        duration, interval, parent, drill, host_label, viewer_key = 0.0, 0.5, None, None, None, "k"

        def elapsed(self) -> float:
            return 1.0

        def cost(self) -> dict[str, object]:
            return {"snapshot_bytes": 1}

        def snapshot_json(self, snapshot: Snapshot, seq: int) -> bytes:
            return snapshot.to_json()

    archive = RunArchive(tmp_path / "runs.sqlite")
    commits: list[int] = []
    real = archive._write_journal

    def counted(entries: list[Entry]) -> None:
        commits.append(len(entries))
        real(entries)

    archive._write_journal = counted  # type: ignore[method-assign]
    recorder = Recorder(archive, (10**9, 10**9))
    run = Run()
    try:
        recorder.started(run)  # type: ignore[arg-type]
        for seq in range(1, 6):
            snap = Snapshot(seq * 0.5, (Aggregation("@n", "count", (Row(("a",), value=seq),)),))
            recorder.snapshot(run, snap, seq)  # type: ignore[arg-type]
        deadline = time.monotonic() + 10
        while (tmp_path / "runs.journal").stat().st_size == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)
        assert rows(tmp_path / "runs.sqlite") == 0 and not commits  # in the journal alone
        assert recorder.flush()
        assert rows(tmp_path / "runs.sqlite") == 5
        assert commits == [6]  # five snapshots and the first cost figures, one transaction
    finally:
        recorder.close()
