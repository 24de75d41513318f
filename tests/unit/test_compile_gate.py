"""At most max_concurrent_compiles compiles run at once; the next waits, then gets 429."""

from __future__ import annotations

import threading
import time
from typing import Any

from ide import create_app
from ide.tracing.backend import BackendStatus
from ide.tracing.model import CompileResult, Language
from ide.web.state import state_of


class SlowBackend:
    name = "slow"
    language: Language = "bpftrace"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.running = 0
        self.peak = 0
        self.lock = threading.Lock()

    def status(self) -> BackendStatus:
        return BackendStatus("slow", "bpftrace", True)

    def compile(self, script: str) -> CompileResult:
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        self.release.wait(5)
        with self.lock:
            self.running -= 1
        return CompileResult(True)

    def start(self, script: str, spec: Any) -> Any:
        raise NotImplementedError

    def list_probes(self) -> list[str]:
        return []


def test_a_compile_past_the_cap_waits_then_is_refused(tmp_path: Any) -> None:
    app = create_app(
        {
            "token": "t",
            "data_dir": str(tmp_path),
            "max_concurrent_compiles": 1,
            "compile_timeout_s": 0.3,
        }
    )
    backend = SlowBackend()
    state_of(app).backends.by_language = {"bpftrace": backend}
    headers = {"Authorization": "Bearer t"}
    body = {"language": "bpftrace", "script": "BEGIN { exit(); }"}
    first: dict[str, Any] = {}

    def compile_first() -> None:
        resp = app.test_client().post("/api/compile", json=body, headers=headers)
        first["status"] = resp.status_code

    t = threading.Thread(target=compile_first)
    t.start()
    while backend.running == 0:
        time.sleep(0.01)
    resp = app.test_client().post("/api/compile", json=body, headers=headers)
    assert resp.status_code == 429
    assert resp.get_json()["error"]["code"] == "too_many_compiles"
    assert resp.headers["Retry-After"] == "1"
    backend.release.set()
    t.join(5)
    assert first["status"] == 200
    assert backend.peak == 1
    # Once the first is done, the gate lets the next one in.
    assert app.test_client().post("/api/compile", json=body, headers=headers).status_code == 200
