"""Snippet store figures: save latency and full-text search time over many snippets.

Run: .venv/bin/python bench/snippets_search.py [N]   (prints figures; not a test)
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ide.snippets.store import SnippetStore

WORDS = [
    "count",
    "hist",
    "lhist",
    "quantize",
    "kstack",
    "ustack",
    "comm",
    "pid",
    "tid",
    "nsecs",
    "syscall",
    "sched",
    "block",
    "tcp",
]


def script(i: int) -> str:
    w = WORDS[i % len(WORDS)]
    return (
        f"// snippet {i} about {w}\ntracepoint:raw_syscalls:sys_enter {{ @{w}[comm] = count(); }}\n"
        * 20
    )


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    with tempfile.TemporaryDirectory() as tmp:
        for use_fts in (True, False):
            store = SnippetStore(Path(tmp) / f"b{use_fts}.sqlite3", use_fts=use_fts)
            t0 = time.perf_counter()
            ids = [
                store.create({"title": f"S{i}", "language": "bpftrace", "script": script(i)}).id
                for i in range(n)
            ]
            create_s = time.perf_counter() - t0
            saves = []
            for sid in ids[:200]:
                t = time.perf_counter()
                store.update(sid, {"script": script(sid + 1)})
                saves.append(time.perf_counter() - t)
            queries = ["kstack", "sched block", "snippet 1999", "nothing"]
            search = {}
            for q in queries:
                t = time.perf_counter()
                for _ in range(20):
                    store.find(query=q)
                search[q] = (time.perf_counter() - t) / 20
            kind = store.search_kind
            print(f"[{kind}] {n} creates: {create_s / n * 1000:.2f} ms each")
            print(
                f"[{kind}] update (new revision): median {statistics.median(saves) * 1000:.2f} ms"
            )
            for q, s in search.items():
                print(f"[{kind}] search {q!r}: {s * 1000:.2f} ms")
            store.close()


if __name__ == "__main__":
    main()
