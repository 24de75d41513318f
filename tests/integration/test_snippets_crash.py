"""kill -9 in the middle of saving leaves the old or the new version, never half of one."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ide.snippets.store import SnippetStore

ROOT = Path(__file__).resolve().parents[2]

# Saves big, self-describing versions in a loop: version N's script is one marker repeated,
# so a torn write would show as a script that mixes two markers or has the wrong length.
SAVER = r"""
import sys
from ide.snippets.store import SnippetStore

store = SnippetStore(sys.argv[1], max_script_bytes=1 << 20)
ids = [int(x) for x in sys.argv[2].split(",")]
n = 0
while True:
    n += 1
    for sid in ids:
        marker = f"<{sid}:{n}>"
        store.update(sid, {"script": marker * (200_000 // len(marker)), "title": marker})
    print(n, flush=True)
"""


def whole(script: str, title: str) -> bool:
    return len(script) == len(title) * (200_000 // len(title)) and script == title * (
        200_000 // len(title)
    )


@pytest.mark.parametrize("kill_after_saves", [1, 3, 7])
def test_kill_9_during_saves_leaves_every_row_whole(tmp_path: Path, kill_after_saves: int) -> None:
    path = tmp_path / "crash.sqlite3"
    store = SnippetStore(path, max_script_bytes=1 << 20)
    ids = [
        store.create({"title": "<0>", "language": "d", "script": "<0>" * (200_000 // 3)}).id
        for _ in range(3)
    ]
    store.close()
    proc = subprocess.Popen(
        [sys.executable, "-c", SAVER, str(path), ",".join(map(str, ids))],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert proc.stdout is not None
        for _ in range(kill_after_saves):
            assert proc.stdout.readline(), "the saver died before it was killed"
        time.sleep(0.003 * kill_after_saves)  # land somewhere inside a later save
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    reopened = SnippetStore(path, max_script_bytes=1 << 20)
    saved_rounds = []
    for sid in ids:
        s = reopened.get(sid)
        assert whole(s.script, s.title), f"snippet {sid} is torn"
        revs = reopened.revisions(sid)
        assert [r.rev for r in revs] == list(range(s.rev, 0, -1))
        assert revs[0].script == s.script  # the row and its newest revision agree
        for r in revs:
            assert whole(r.script, r.title)
        saved_rounds.append(s.rev)
    # Saves go round-robin, so the rows differ by at most the one round that was cut short.
    assert max(saved_rounds) - min(saved_rounds) <= 1
    assert min(saved_rounds) >= kill_after_saves + 1
    assert reopened.find(query=reopened.get(ids[0]).title.strip("<>").split(":")[1])
    reopened.close()


# Dies by SIGKILL inside the save's transaction: after the snippet row changed and the new
# revision was written, before COMMIT.
DIE_MID_SAVE = r"""
import os, signal, sys
from ide.snippets import store as s

real = s.SnippetStore._record_revision

def record_then_die(self, db, snippet_id, rev, fields, now):
    real(self, db, snippet_id, rev, fields, now)
    os.kill(os.getpid(), signal.SIGKILL)

s.SnippetStore._record_revision = record_then_die
s.SnippetStore(sys.argv[1]).update(int(sys.argv[2]), {"script": "new", "title": "New"})
"""


def test_kill_9_inside_the_save_transaction_keeps_the_old_version(tmp_path: Path) -> None:
    path = tmp_path / "mid.sqlite3"
    store = SnippetStore(path)
    sid = store.create({"title": "Old", "language": "bpftrace", "script": "old"}).id
    store.close()
    proc = subprocess.run(
        [sys.executable, "-c", DIE_MID_SAVE, str(path), str(sid)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    reopened = SnippetStore(path)
    s = reopened.get(sid)
    assert (s.title, s.script, s.rev) == ("Old", "old", 1)
    assert [r.rev for r in reopened.revisions(sid)] == [1]
    assert reopened.find(query="new") == []
    assert [x.id for x in reopened.find(query="old")] == [sid]
    reopened.update(sid, {"script": "after"})  # the database takes writes again
    assert reopened.get(sid).rev == 2
    reopened.close()
