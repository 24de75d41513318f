"""GET /api/probes: prefix matching, and D's module-less probe names."""

from __future__ import annotations

from typing import Any

from ide import create_app
from ide.tracing.backend import BackendStatus
from ide.tracing.model import CompileResult, Language
from ide.web.state import state_of

D_PROBES = [
    "syscall:vmlinux:read:entry",
    "syscall:vmlinux:read:return",
    "syscall:vmlinux:readv:entry",
    "syscall:vmlinux:write:entry",
    "profile:::tick-1s",
    "dtrace:::BEGIN",
]


class ListingBackend:
    name = "listing"
    language: Language = "d"

    def status(self) -> BackendStatus:
        return BackendStatus("listing", "d", True)

    def compile(self, script: str) -> CompileResult:
        return CompileResult(True)

    def start(self, script: str, spec: Any) -> Any:
        raise NotImplementedError

    def list_probes(self) -> list[str]:
        return list(D_PROBES)


def probes(tmp_path: Any, prefix: str) -> list[str]:
    app = create_app({"token": "t", "data_dir": str(tmp_path)})
    state_of(app).backends.by_language = {"d": ListingBackend()}
    resp = app.test_client().get(
        "/api/probes",
        query_string={"language": "d", "prefix": prefix},
        headers={"Authorization": "Bearer t"},
    )
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["truncated"] is False
    result: list[str] = body["probes"]
    return result


def test_a_prefix_without_the_module_completes_as_d_scripts_write_probes(tmp_path: Any) -> None:
    assert probes(tmp_path, "syscall::rea") == [
        "syscall::read:entry",
        "syscall::read:return",
        "syscall::readv:entry",
    ]


def test_a_prefix_with_the_module_completes_full_names(tmp_path: Any) -> None:
    assert probes(tmp_path, "syscall:vmlinux:w") == ["syscall:vmlinux:write:entry"]
    assert probes(tmp_path, "prof") == ["profile:::tick-1s"]
    assert probes(tmp_path, "profile::") == ["profile:::tick-1s"]
