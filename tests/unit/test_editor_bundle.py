"""The committed editor bundle is exactly what `cd editor && npm ci && npm run build` makes.

The target machine has no node, so static/vendor/editor.js ships prebuilt; this test keeps it
from going stale when editor/src or the pinned packages change.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EDITOR = ROOT / "editor"
BUNDLE = ROOT / "static" / "vendor" / "editor.js"


def test_the_bundle_is_committed_and_exports_create_editor() -> None:
    text = BUNDLE.read_text(encoding="utf-8")
    assert text.startswith("// dtrace-ide script editor")
    assert "createEditor" in text.rsplit("export{", 1)[-1]
    # Word lists come from static/js/vocabulary.js at run time, never from the bundle.
    assert "walltimestamp" not in text


def test_the_editor_packages_are_pinned_exactly() -> None:
    manifest = json.loads((EDITOR / "package.json").read_text(encoding="utf-8"))
    pins = {**manifest["dependencies"], **manifest["devDependencies"]}
    loose = {name: v for name, v in pins.items() if not v[:1].isdigit()}
    assert loose == {}
    lock = json.loads((EDITOR / "package-lock.json").read_text(encoding="utf-8"))
    for name, version in pins.items():
        assert lock["packages"][f"node_modules/{name}"]["version"] == version


def test_rebuilding_the_bundle_gives_the_committed_bytes(tmp_path: Path) -> None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are not installed (apt-get install nodejs npm)")
    if not (EDITOR / "node_modules" / "esbuild").is_dir():
        pytest.skip("editor/node_modules is missing: run `cd editor && npm ci`")
    out = tmp_path / "editor.js"
    subprocess.run(
        ["node", "build.mjs", "--outfile", str(out)],
        cwd=EDITOR,
        check=True,
        timeout=120,
        capture_output=True,
    )
    assert out.read_bytes() == BUNDLE.read_bytes(), (
        "static/vendor/editor.js is stale: run `cd editor && npm ci && npm run build`"
    )
