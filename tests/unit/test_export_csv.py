"""The CSV export (static/js/export.js) run by node: no cell a spreadsheet would run as a
formula, whichever column the traced text is in; numbers stay numbers.

tests/browser/test_traced_text.py downloads the same export from the real page.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

EXPORT_JS = Path(__file__).resolve().parents[2] / "static" / "js" / "export.js"

FORMULAS = [
    '=HYPERLINK("http://x","y")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]
NUMBERS = [0, 7, -5, -0.25, 1.5e-7, -1e21]


def run_node(tmp_path: Path, body: str) -> Any:
    if shutil.which("node") is None:
        pytest.skip("node is not installed (apt-get install nodejs)")
    module = tmp_path / "export.mjs"  # .mjs: node reads it as the ES module the page loads
    module.write_text(EXPORT_JS.read_text(encoding="utf-8"), encoding="utf-8")
    script = tmp_path / "run.mjs"
    script.write_text(
        'import * as ex from "./export.mjs";\n'
        f"const result = (() => {{ {body} }})();\n"
        "process.stdout.write(JSON.stringify(result));\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        ["node", str(script)], capture_output=True, text=True, timeout=30, check=True
    )
    return json.loads(done.stdout)


def snapshot_csv(tmp_path: Path, snapshot: dict[str, Any]) -> list[dict[str, str]]:
    text = run_node(tmp_path, f"return ex.snapshotCsv({json.dumps(snapshot)});")
    assert isinstance(text, str)
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_every_cell_that_would_be_a_formula_gets_an_apostrophe(tmp_path: Path) -> None:
    cells = run_node(tmp_path, f"return {json.dumps(FORMULAS)}.map((v) => ex.csvCell(v));")
    parsed = [next(csv.reader(io.StringIO(c, newline=""))) for c in cells]
    assert [p[0] for p in parsed] == ["'" + f for f in FORMULAS]


def test_numbers_and_numeric_text_stay_numbers(tmp_path: Path) -> None:
    texts = [str(n) for n in NUMBERS] + ["-5", "+5", "-0.5e3"]
    cells = run_node(
        tmp_path,
        f"return [...{json.dumps(NUMBERS)}, ...{json.dumps(texts)}].map((v) => ex.csvCell(v));",
    )
    assert cells[: len(NUMBERS)] == ["0", "7", "-5", "-0.25", "1.5e-7", "-1e+21"]
    assert cells[len(NUMBERS) :] == texts
    assert all(float(c) == float(c) for c in cells)


def test_plain_text_is_left_alone_and_quoted_only_when_csv_needs_it(tmp_path: Path) -> None:
    cells = run_node(
        tmp_path,
        'return ["bash", "a, b", \'say "hi"\', "x=1", "", null].map((v) => ex.csvCell(v));',
    )
    assert cells == ["bash", '"a, b"', '"say ""hi"""', "x=1", "", ""]


def test_no_column_of_a_snapshot_holds_a_formula(tmp_path: Path) -> None:
    hyperlink = FORMULAS[0]
    snapshot = {
        "aggregations": [
            # A map of strings: the value is a traced file name.
            {
                "name": "@last",
                "function": "value",
                "rows": [{"key": [hyperlink], "value": hyperlink}, {"key": ["ok"], "value": -3}],
            },
            {"name": "=@x", "function": "count", "rows": [{"key": [-5, "+1+1"], "value": 4}]},
            {
                "name": "@lat",
                "function": "hist",
                "rows": [{"key": ["@A1"], "buckets": [{"lo": -8, "hi": -5, "count": 2}]}],
            },
            {
                "name": "@st",
                "function": "stats",
                "rows": [{"key": ["-x"], "value": -2.5, "stats": {"count": 2, "average": -2.5}}],
            },
        ]
    }
    rows = snapshot_csv(tmp_path, snapshot)
    assert rows[0] == {
        "aggregation": "'@last",  # a spreadsheet reads a leading @ as a formula too
        "function": "value",
        "key": "'" + hyperlink,
        "value": "'" + hyperlink,
        "bucket_low": "",
        "bucket_high": "",
        "count": "",
    }
    assert rows[1]["value"] == "-3"
    assert (rows[2]["aggregation"], rows[2]["key"]) == ("'=@x", "'-5, +1+1")
    assert (rows[3]["key"], rows[3]["bucket_low"], rows[3]["bucket_high"]) == ("'@A1", "-8", "-5")
    assert (rows[4]["key"], rows[4]["value"], rows[4]["count"]) == ("'-x", "-2.5", "2")
    dangerous = {"=", "+", "-", "@", "\t", "\r"}
    for row in rows:
        for column, cell in row.items():
            if cell[:1] in dangerous:
                float(cell)  # only a number may start so
                assert column in {"value", "bucket_low", "bucket_high"}, (column, cell)
