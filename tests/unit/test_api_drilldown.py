"""The drilldown API over stand-in tracers: its answers, its errors (one JSON shape, with
positions), runs that remember their parent, and a parent that keeps running while its
drilldown is watched.  The real tracers are in tests/integration/test_drilldown_tracers.py."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from flask import Flask

from ide import create_app
from ide.config import Settings
from ide.tracing.backend import BackendStatus
from ide.tracing.model import CompileResult, Diagnostic
from ide.tracing.registry import Backends
from ide.tracing.session import RunManager
from ide.web.state import state_of
from tests.unit.scripted import ScriptedBackend
from tests.unit.test_reaper import attach

HEADERS = {"Authorization": "Bearer t"}
SCRIPT = 'tracepoint:raw_syscalls:sys_enter /comm != "bpftrace"/ { @num[comm] = count(); }\n'


class PickyBpftrace(ScriptedBackend):
    """Compiles whatever does not mention ``cpu``, as if the tracer refused it there."""

    name = "bpftrace"

    def status(self) -> BackendStatus:
        return BackendStatus("bpftrace", "bpftrace", True)

    def compile(self, script: str) -> CompileResult:
        at = script.find("cpu")
        if at < 0:
            return CompileResult(True)
        return CompileResult(False, (Diagnostic(1, at + 1, 1, at + 4, "Unknown identifier"),))


def app_with(tmp_path: Path) -> Flask:
    app = create_app({"token": "t", "data_dir": str(tmp_path)})
    picky: Any = PickyBpftrace()
    state_of(app).backends.by_language = Backends({"bpftrace": picky}).by_language
    return app


def post(app: Flask, url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    resp = app.test_client().post(url, json=body, headers=HEADERS)
    return resp.status_code, resp.get_json()


def drill(**extra: Any) -> dict[str, Any]:
    return {"language": "bpftrace", "script": SCRIPT, "aggregation": "@num", "key": ["dd"]} | extra


def test_a_drilldown_answers_the_derived_script_its_diff_and_the_fields(tmp_path: Path) -> None:
    status, body = post(app_with(tmp_path), "/api/drilldown", drill(by="pid"))
    assert status == 200, body
    assert body["script"] == (
        'tracepoint:raw_syscalls:sys_enter /(comm != "bpftrace") && comm == "dd"/ '
        "{ @num[pid] = count(); }\n"
    )
    assert body["diff"].startswith("--- original\n+++ drilldown\n")
    assert body["aggregation"] == "@num"
    assert {"name": "pid", "label": "process ID (pid)"} in body["fields"]


def test_a_derived_script_that_does_not_compile_is_refused_with_the_compilers_reason(
    tmp_path: Path,
) -> None:
    status, body = post(app_with(tmp_path), "/api/drilldown", drill(by="cpu"))
    assert status == 400
    err = body["error"]
    assert err["code"] == "drilldown_does_not_compile"
    assert err["message"] == "the derived script does not compile: Unknown identifier"
    assert err["diagnostics"][0]["message"] == "Unknown identifier"


def test_an_impossible_drilldown_says_why_at_a_position(tmp_path: Path) -> None:
    app = app_with(tmp_path)
    status, body = post(app, "/api/drilldown", drill(aggregation="@nope"))
    assert status == 400 and body["error"]["code"] == "drilldown_impossible"
    assert (
        body["error"]["message"] == "no clause of the script updates @nope; the script updates @num"
    )
    assert body["error"]["diagnostics"][0]["line"] == 1
    status, body = post(app, "/api/drilldown", drill(script="BEGIN { @num[comm = 1; }"))
    assert status == 400 and body["error"]["code"] == "drilldown_impossible"
    assert body["error"]["diagnostics"][0]["column"] == 19  # the "=" where "]" belongs
    cases: list[tuple[dict[str, Any], str]] = [
        ({"key": [{"x": 1}]}, "bad_key"),
        ({"key": ["x"] * 17}, "bad_key"),
        ({"mode": "sideways"}, "bad_mode"),
        ({"aggregation": "num"}, "bad_aggregation"),
    ]
    for bad, code in cases:
        status, body = post(app, "/api/drilldown", drill(**bad))
        assert (status, body["error"]["code"]) == (400, code), bad


def test_fields_say_what_a_click_can_offer_and_why_not(tmp_path: Path) -> None:
    client = app_with(tmp_path).test_client()
    resp = client.get(
        "/api/drilldown/fields",
        query_string={"language": "bpftrace", "script": SCRIPT, "aggregation": "@num"},
        headers=HEADERS,
    )
    body = resp.get_json()
    assert resp.status_code == 200
    assert [f["name"] for f in body["fields"]][:2] == ["pid", "tid"]
    assert body["key_arity"] == 1 and body["comparable"] == [True]
    assert body["unavailable"] == {"only": None, "exclude": None, "latency": None}
    resp = client.post(
        "/api/drilldown/fields",
        json={
            "language": "bpftrace",
            "script": "profile:hz:99 { @[kstack] = count(); }",
            "aggregation": "@",
        },
        headers=HEADERS,
    )
    assert (
        resp.get_json()["unavailable"]["only"] == "bpftrace cannot compare a stack in a predicate"
    )


def test_a_run_from_a_drilldown_shows_its_parent_and_the_drill(tmp_path: Path) -> None:
    app = app_with(tmp_path)
    status, parent = post(app, "/api/runs", {"language": "bpftrace", "script": SCRIPT})
    assert status == 201 and parent["parent"] is None and parent["drill"] is None
    info = {"aggregation": "@num", "key": ["dd"], "by": "pid", "mode": "only"}
    status, child = post(
        app,
        "/api/runs",
        {"language": "bpftrace", "script": SCRIPT, "parent": parent["id"], "drill": info},
    )
    assert status == 201
    got = app.test_client().get(f"/api/runs/{child['id']}", headers=HEADERS).get_json()
    assert got["parent"] == parent["id"] and got["drill"] == info
    status, body = post(app, "/api/runs", {"language": "bpftrace", "script": SCRIPT,
                                           "parent": "gone"})  # fmt: skip
    assert status == 404 and body["error"]["code"] == "no_such_run"
    state_of(app).runs.shutdown()


def new_in(manager: RunManager, backend: ScriptedBackend, parent: str | None) -> Any:
    return manager.create(
        backend,  # type: ignore[arg-type]
        language="bpftrace", script="x", duration=0, interval=1.0, options={}, parent=parent,
    )  # fmt: skip


def test_a_parent_keeps_running_while_its_drilldown_is_watched() -> None:
    settings = Settings(token="t", max_unwatched_s=5.0)
    manager, backend = RunManager(settings), ScriptedBackend()
    root = new_in(manager, backend, None)
    attach(root, backend)
    child = new_in(manager, backend, root.id)
    attach(child, backend)
    viewer = child.add_viewer()
    manager.reap(root.unwatched_since + 60)
    assert root.stop_reason is None
    child.remove_viewer(viewer)
    left = child.unwatched_since
    manager.reap(left + settings.stop_on_disconnect_s + 0.1)
    assert child.stop_reason == "disconnect"
    assert root.stop_reason is None  # never watched itself: the unwatched limit counts from then
    manager.reap(left + settings.max_unwatched_s + 0.1)
    assert root.stop_reason == "unwatched"
    manager.shutdown()


def test_a_parent_left_for_its_drilldown_has_its_grace_from_when_the_drilldown_was_left() -> None:
    """Going back from a drilldown to its parent: the parent's viewer comes a moment after
    the drilldown's left, and the parent is not stopped in between."""
    settings = Settings(token="t", stop_on_disconnect_s=1.0)
    manager, backend = RunManager(settings), ScriptedBackend()
    root = new_in(manager, backend, None)
    attach(root, backend)
    root.remove_viewer(root.add_viewer())
    child = new_in(manager, backend, root.id)
    attach(child, backend)
    viewer = child.add_viewer()
    manager.reap(time.monotonic() - 0.9)  # the reaper's last beat before the drilldown is left
    child.remove_viewer(viewer)
    left = child.unwatched_since
    manager.reap(left + 0.5)
    assert root.stop_reason is None
    manager.reap(left + settings.stop_on_disconnect_s + 0.1)
    assert root.stop_reason == "disconnect"
    manager.shutdown()
