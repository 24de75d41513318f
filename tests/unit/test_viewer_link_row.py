"""What the Output step's viewer-link row (static/js/run/viewer-link.js) says of a link, run
by node: when it expires, that it expired or was revoked. The row against the real server is
tests/browser/test_viewer_link.py."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

JS = Path(__file__).resolve().parents[2] / "static" / "js"


def run_node(tmp_path: Path, body: str) -> Any:
    if shutil.which("node") is None:
        pytest.skip("node is not installed (apt-get install nodejs)")
    # .mjs: node reads them as the ES modules the page loads.
    (tmp_path / "run").mkdir()
    for name in ("api", "dom"):
        (tmp_path / f"{name}.mjs").write_text((JS / f"{name}.js").read_text(encoding="utf-8"))
    row = (JS / "run" / "viewer-link.js").read_text(encoding="utf-8")
    (tmp_path / "run" / "viewer-link.mjs").write_text(
        re.sub(r'"\.\./(\w+)\.js"', r'"../\1.mjs"', row)
    )
    script = tmp_path / "run.mjs"
    script.write_text(
        "globalThis.document = { querySelector: () => null };\n"  # api.js reads the CSRF meta
        'const row = await import("./run/viewer-link.mjs");\n'
        f"const result = (() => {{ {body} }})();\n"
        "process.stdout.write(JSON.stringify(result));\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        ["node", str(script)], capture_output=True, text=True, timeout=30, check=True
    )
    return json.loads(done.stdout)


def test_the_time_left_reads_in_the_largest_sensible_unit(tmp_path: Path) -> None:
    seconds = [40, 60, 12 * 60, 3600, 5 * 3600 + 20 * 60, 86400, 7 * 86400, -3]
    found = run_node(tmp_path, f"return {json.dumps(seconds)}.map((s) => row.formatLeft(s));")
    assert found == ["40 s", "1 min", "12 min", "1 h", "5 h 20 min", "24 h", "7 days", "0 s"]


def test_the_row_says_revoked_expired_never_or_when(tmp_path: Path) -> None:
    cases = [
        ({"viewer_url": None, "viewer_revoked": True}, None),
        ({"viewer_url": None, "viewer_revoked": False}, 0),
        ({"viewer_url": "/view/r?key=k", "viewer_revoked": False}, None),
        ({"viewer_url": "/view/r?key=k", "viewer_revoked": False}, 3600),
        ({"viewer_url": "/view/r?key=k", "viewer_revoked": False}, 0),
    ]
    found = run_node(
        tmp_path, f"return {json.dumps(cases)}.map(([f, left]) => row.linkStatus(f, left));"
    )
    assert [s["text"].split(":")[0] for s in found] == [
        "revoked", "expired", "never expires", "expires in 1 h", "expired",
    ]  # fmt: skip
    assert [s["kind"] for s in found] == ["warn", "warn", "muted", "muted", "warn"]
