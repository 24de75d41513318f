"""The Run step's host picker (static/js/fleet/hosts.js, run by node) counts the hosts a
selection takes as the server does: fnmatch patterns read as Python's fnmatch.fnmatchcase
reads them, `tag:NAME` for a host's tag, names and patterns split at commas and spaces."""

from __future__ import annotations

import fnmatch
import json
import random
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

HOSTS_JS = Path(__file__).resolve().parents[2] / "static" / "js" / "fleet" / "hosts.js"


def run_node(tmp_path: Path, body: str) -> Any:
    if shutil.which("node") is None:
        pytest.skip("node is not installed (apt-get install nodejs)")
    module = tmp_path / "hosts.mjs"
    module.write_text(HOSTS_JS.read_text(encoding="utf-8"), encoding="utf-8")
    script = tmp_path / "run.mjs"
    script.write_text(
        'import * as h from "./hosts.mjs";\n'
        f"const result = (() => {{ {body} }})();\n"
        "process.stdout.write(JSON.stringify(result));\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        ["node", str(script)], capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(done.stdout)


def python_matches(pattern: str, name: str) -> bool | None:
    """fnmatchcase, or None where Python refuses the pattern."""
    try:
        return fnmatch.fnmatchcase(name, pattern)
    except (re.error, IndexError):
        return None


def js_matches(tmp_path: Path, pairs: list[tuple[str, str]]) -> list[bool | None]:
    found: list[bool | None] = run_node(
        tmp_path,
        f"return {json.dumps(pairs)}.map(([p, n]) => "
        "h.patternParts(p) === null ? null : h.patternMatches(p, n));",
    )
    return found


def test_patterns_match_host_names_as_fnmatch_does(tmp_path: Path) -> None:
    names = ["web-1", "web-12", "db-1", "cache", "web-[1]", "a*b", "x?", "Web-1", "ü-1", ""]
    patterns = [
        "web-*", "web-?", "*-1", "*", "?", "web-[0-9]", "web-[!1]*", "web-[[]1]", "[!w]*",
        "a[*]b", "x[?]", "[]]", "[!]]", "web-[", "[a-]*", "[-a]*", "[z-a]", "[!z-a]", "db-1",
        "*[0-9]", "[w-wd-d]*", "ü-?", "**-1", "W*", "[!-]*", "[a-c-e]",
    ]  # fmt: skip
    pairs = [(p, n) for p in patterns for n in names]
    assert js_matches(tmp_path, pairs) == [python_matches(p, n) for p, n in pairs]


def test_random_patterns_over_a_small_alphabet_match_as_fnmatch_does(tmp_path: Path) -> None:
    rng = random.Random(17)
    alphabet = "ab-!]^[\\*?z"
    pairs = []
    for _ in range(3000):
        pattern = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8)))
        name = "".join(rng.choice("ab-!]^[\\z") for _ in range(rng.randint(0, 6)))
        pairs.append((pattern, name))
    expected = [python_matches(p, n) for p, n in pairs]
    got = js_matches(tmp_path, pairs)
    wrong = [(p, n, e, g) for (p, n), e, g in zip(pairs, expected, got, strict=True) if e != g]
    assert wrong == []


def test_many_stars_against_a_long_name_are_answered_at_once(tmp_path: Path) -> None:
    pattern, name = "*a" * 40 + "*b", "a" * 256
    found = run_node(
        tmp_path,
        f"const t = Date.now(); const m = h.patternMatches({json.dumps(pattern)}, "
        f"{json.dumps(name)}); return [m, Date.now() - t];",
    )
    assert found[0] is False and found[1] < 500


def test_a_selection_takes_names_patterns_and_tags(tmp_path: Path) -> None:
    hosts = [
        {"name": "web-1", "tags": ["web"]},
        {"name": "web-2", "tags": []},
        {"name": "db-1", "tags": ["db", "eu"]},
        {"name": "cache-1", "tags": ["eu"]},
    ]
    found = run_node(
        tmp_path,
        f"const hosts = {json.dumps(hosts)};"
        "const terms = h.selectionTerms(' web-* ,tag:eu,, web-1 tag:none ');"
        "return [terms, Object.fromEntries(h.matchedBy(terms, hosts))];",
    )
    assert found == [
        ["web-*", "tag:eu", "web-1", "tag:none"],
        {
            "web-1": ["web-*", "web-1"],
            "web-2": ["web-*"],
            "db-1": ["tag:eu"],
            "cache-1": ["tag:eu"],
        },
    ]


def test_last_seen_reads_as_how_long_ago(tmp_path: Path) -> None:
    found = run_node(
        tmp_path,
        "const now = 1796418851;"
        "return [0.4, 3.9, 61, 7300, 200000, -5].map((s) => h.secondsAgo(now - s, now))"
        ".concat([h.secondsAgo(null, now)]);",
    )
    assert found == ["just now", "3 s ago", "1 min ago", "2 h ago", "2 d ago", "just now", "never"]
