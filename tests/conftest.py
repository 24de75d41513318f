"""Shared fixtures: the real server in a subprocess, and Debian's Chromium through Playwright."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# `pytest --update-goldens` regenerates the lexer golden files.
pytest_plugins = ["tests.lexer.goldens"]

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("DTRACE_IDE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-gl=swiftshader",
    "--enable-unsafe-swiftshader",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class LiveServer:
    base: str
    token: str
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"{self.base}/?token={self.token}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """A JSON request with the bearer token; returns (status, parsed body)."""
        import json
        import urllib.error
        import urllib.request

        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def wait_run(self, run_id: str, pred: Any, timeout: float = 20) -> dict[str, Any]:
        """Poll GET /api/runs/ID until ``pred(body)`` holds; fail with the body after timeout."""
        deadline = time.monotonic() + timeout
        while True:
            status, body = self.request("GET", f"/api/runs/{run_id}")
            assert status == 200, body
            if pred(body):
                return dict(body)
            assert time.monotonic() < deadline, body
            time.sleep(0.1)


def start_server(tmp: Path, *extra: str, env: dict[str, str] | None = None) -> LiveServer:
    port = free_port()
    token = "test-token-" + os.urandom(6).hex()
    log = tmp / f"server-{port}.log"
    full_env = dict(os.environ)
    full_env.update(
        {
            "DTRACE_IDE_TOKEN": token,
            "DTRACE_IDE_DATA": str(tmp / "data"),
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
        }
    )
    full_env.update(env or {})
    proc = subprocess.Popen(
        [sys.executable, "-m", "ide.cli", "serve", "--port", str(port), *extra],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env=full_env,
        cwd=ROOT,
    )
    server = LiveServer(f"http://127.0.0.1:{port}", token, proc, log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited:\n" + log.read_text())
        try:
            status, _ = server.request("GET", "/api/health")
            if status == 200:
                return server
        except OSError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start:\n" + log.read_text())


def stop_server(server: LiveServer) -> None:
    if server.proc.poll() is None:
        server.proc.send_signal(signal.SIGTERM)
        try:
            server.proc.wait(15)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(tmp_path_factory.mktemp("server"))
    yield server
    stop_server(server)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (the README's test command)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    """A page already authenticated by opening the printed URL (which sets the cookie)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    pg.goto(live_server.url)
    yield pg
    context.close()


def screenshot(pg: Any, name: str) -> Path:
    out = ARTIFACTS / "screenshots" / f"{name}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(out), full_page=True)
    return out


def set_script(pg: Any, text: str) -> None:
    """Replace the editor's text as a person would: select all, then type (paste) anew."""
    pg.wait_for_selector("#editor .cm-content, #editor textarea", timeout=30_000)
    editor = pg.locator("#editor .cm-content")
    if editor.count():
        editor.click()
        pg.keyboard.press("Control+a")
        pg.keyboard.insert_text(text)
    else:
        pg.fill("#editor textarea", text)


def libdtrace_ready() -> str | None:
    """Why the real libdtrace cannot be used here, or None when it can."""
    from ide.config import Settings
    from ide.tracing.libdtrace import LibdtraceBackend, find_library

    if find_library() is None:
        return "libdtrace is not installed here (docs/backends.md, Installing, says how)"
    if os.geteuid() != 0:
        return "libdtrace needs root"
    status = LibdtraceBackend(Settings()).status()
    return None if status.available else f"libdtrace cannot be used: {status.reason}"


def tracer_ready() -> str | None:
    """Why the real bpftrace cannot run here, or None when it can."""
    import shutil

    if shutil.which("bpftrace") is None:
        return "bpftrace is not installed (apt-get install bpftrace)"
    if os.geteuid() != 0:
        return "bpftrace needs root"
    return None
