"""Bad input answers 4xx with the one error shape: never a 500, never a tracer left running.

A table against the real server and bpftrace, then hypothesis fuzzing of /api/compile and
/api/runs through Flask's test client (a fake backend there: the API's validation is the
point, and a real tracer per example would be slow).  bench/fuzz_api.py runs more examples.
"""

from __future__ import annotations

import http.client
import json
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import websocket
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ide import create_app
from ide.tracing.backend import BackendStatus, RunSpec
from ide.tracing.model import Attached, CompileResult, Exited, Language, TracerEvent
from ide.web.state import state_of
from tests.conftest import LiveServer, start_server, stop_server, tracer_ready

GOOD = "interval:s:100 { exit(); }"
MiB = 1 << 20


# --- the table, against the real server ----------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str
    body: bytes | None
    status: int
    code: str | None = None
    content_type: str | None = "application/json"


def j(value: Any) -> bytes:
    return json.dumps(value).encode()


def run(**fields: Any) -> bytes:
    return j({"language": "bpftrace", "script": GOOD, **fields})


def raw_run(field: str, literal: str) -> bytes:
    """A body whose ``field`` is JSON text json.dumps would not write (NaN, 1e999, ...)."""
    return f'{{"language": "bpftrace", "script": "{GOOD}", "{field}": {literal}}}'.encode()


R, C = "/api/runs", "/api/compile"
CASES = [
    Case("no body", "POST", R, None, 415, "unsupported_media_type", None),
    Case("text/plain body", "POST", R, b"hello", 415, "unsupported_media_type", "text/plain"),
    Case("form body", "POST", R, b"a=1", 415, None, "application/x-www-form-urlencoded"),
    Case("malformed JSON", "POST", R, b"{", 400, "bad_json"),
    Case("truncated JSON", "POST", R, b'{"language": "bpftrace", "scr', 400, "bad_json"),
    Case("JSON array", "POST", R, b"[]", 400, "bad_json"),
    Case("JSON string", "POST", R, b'"run"', 400, "bad_json"),
    Case("JSON null", "POST", R, b"null", 400, "bad_json"),
    Case("JSON number", "POST", R, b"42", 400, "bad_json"),
    Case("empty JSON body", "POST", R, b"", 400, "bad_json"),
    Case("invalid UTF-8", "POST", R, b'{"language": "bpftrace", "script": "\xff\xfe"}', 400),
    Case("deeply nested JSON", "POST", R, b"[" * 100_000, 400, "bad_json"),
    Case("missing language", "POST", R, j({"script": GOOD}), 400, "bad_language"),
    Case("language a number", "POST", R, run(language=1), 400, "bad_language"),
    Case("language a list", "POST", R, run(language=["bpftrace"]), 400, "bad_language"),
    Case("unknown language", "POST", R, run(language="python"), 400, "bad_language"),
    Case("language upper case", "POST", R, run(language="BPFTRACE"), 400, "bad_language"),
    Case("language empty", "POST", R, run(language=""), 400, "bad_language"),
    Case("backend name as language", "POST", R, run(language="dtrace"), 400, "bad_language"),
    Case("missing script", "POST", R, j({"language": "bpftrace"}), 400, "bad_script"),
    Case("script a number", "POST", R, run(script=5), 400, "bad_script"),
    Case("script a list", "POST", R, run(script=[GOOD]), 400, "bad_script"),
    Case("script null", "POST", R, run(script=None), 400, "bad_script"),
    Case("script an object", "POST", R, run(script={}), 400, "bad_script"),
    Case("script empty", "POST", R, run(script=""), 400, "bad_script"),
    Case("script blank", "POST", R, run(script=" \n\t"), 400, "bad_script"),
    Case("NUL in script", "POST", R, run(script=GOOD + "\x00"), 400, "bad_script"),
    Case("lone surrogate", "POST", R, run(script=GOOD + "\ud800"), 400, "bad_script"),
    Case("megabyte script", "POST", R, run(script="x" * MiB), 413),
    Case("script over the cap", "POST", R, run(script="x" * (300 << 10)), 413, "script_too_large"),
    Case("duration negative", "POST", R, run(duration=-1), 400, "bad_duration"),
    Case("duration a string", "POST", R, run(duration="5"), 400, "bad_duration"),
    Case("duration null", "POST", R, run(duration=None), 400, "bad_duration"),
    Case("duration true", "POST", R, run(duration=True), 400, "bad_duration"),
    Case("duration a list", "POST", R, run(duration=[1]), 400, "bad_duration"),
    Case("duration NaN", "POST", R, raw_run("duration", "NaN"), 400, "bad_duration"),
    Case("duration Infinity", "POST", R, raw_run("duration", "Infinity"), 400, "bad_duration"),
    Case("duration -Infinity", "POST", R, raw_run("duration", "-Infinity"), 400, "bad_duration"),
    Case("duration 1e999", "POST", R, raw_run("duration", "1e999"), 400, "bad_duration"),
    Case("duration 10**400", "POST", R, raw_run("duration", "1" + "0" * 400), 400, "bad_duration"),
    Case("duration a year", "POST", R, run(duration=365 * 86400), 400, "bad_duration"),
    Case("duration tiny", "POST", R, run(duration=1e-9), 400, "bad_duration"),
    Case("interval zero", "POST", R, run(interval=0), 400, "bad_interval"),
    Case("interval negative", "POST", R, run(interval=-0.5), 400, "bad_interval"),
    Case("interval 1e-300", "POST", R, run(interval=1e-300), 400, "bad_interval"),
    Case("interval 1e300", "POST", R, run(interval=1e300), 400, "bad_interval"),
    Case("interval NaN", "POST", R, raw_run("interval", "NaN"), 400, "bad_interval"),
    Case("interval a string", "POST", R, run(interval="1"), 400, "bad_interval"),
    Case("options a list", "POST", R, run(options=[1]), 400, "bad_options"),
    Case("options a string", "POST", R, run(options="bufsize=1"), 400, "bad_options"),
    Case("unknown option", "POST", R, run(options={"cmd": 1}), 400, "bad_options"),
    Case("option negative", "POST", R, run(options={"bufsize": -1}), 400, "bad_options"),
    Case("option a float", "POST", R, run(options={"bufsize": 1.5}), 400, "bad_options"),
    Case("option a bool", "POST", R, run(options={"bufsize": True}), 400, "bad_options"),
    Case("option nested", "POST", R, run(options={"bufsize": {"a": 1}}), 400, "bad_options"),
    Case("keep_running a string", "POST", R, run(keep_running="yes"), 400, "bad_keep_running"),
    Case("keep_running 1", "POST", R, run(keep_running=1), 400, "bad_keep_running"),
    Case(
        "destructive action",
        "POST",
        R,
        run(script='BEGIN { system("id"); }'),
        400,
        "script_refused",
    ),
    Case("does not compile", "POST", R, run(script="BEGIN { nope( }"), 400, "compile_error"),
    Case("compile: unknown language", "POST", C, run(language="perl"), 400, "bad_language"),
    Case("compile: malformed JSON", "POST", C, b"{]", 400, "bad_json"),
    Case("compile: NUL", "POST", C, run(script="\x00"), 400, "bad_script"),
    Case("compile: megabyte", "POST", C, run(script="y" * MiB), 413),
    Case("compile: lone surrogate", "POST", C, run(script="\udfff"), 400, "bad_script"),
    Case("compile: invalid UTF-8", "POST", C, b'{"script": "\xc3\x28"}', 400),
    Case("unknown run", "GET", "/api/runs/nope", None, 404, "no_such_run"),
    Case("stop unknown run", "DELETE", "/api/runs/nope", None, 404, "no_such_run"),
    Case("long run id", "GET", "/api/runs/" + "a" * 3000, None, 404, "no_such_run"),
    Case("NUL in run id", "GET", "/api/runs/%00", None, 404, "no_such_run"),
    Case("stream without upgrade", "GET", "/api/runs/nope/stream", None, 400, "bad_request"),
    Case("wrong method on runs", "PUT", R, run(), 405),
    Case("wrong method on a run", "POST", "/api/runs/nope", run(), 405),
    Case("unknown API path", "GET", "/api/nope", None, 404),
    Case("probes: unknown language", "GET", "/api/probes?language=x", None, 400, "bad_language"),
    Case("probes: long prefix", "GET", "/api/probes?prefix=" + "p" * 300, None, 400, "bad_prefix"),
    Case("highlight: no language", "GET", "/api/highlight?script=x", None, 400, "bad_language"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    if tracer_ready() is not None:
        pytest.skip(str(tracer_ready()))
    s = start_server(tmp_path_factory.mktemp("bad-input"), "--backend", "bpftrace")
    yield s
    stop_server(s)


def send(
    server: LiveServer,
    method: str,
    path: str,
    body: bytes | None = None,
    content_type: str | None = "application/json",
) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", int(server.base.rsplit(":", 1)[1]), timeout=60)
    headers = {"Authorization": f"Bearer {server.token}"}
    if content_type is not None and body is not None:
        headers["Content-Type"] = content_type
    try:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        payload = resp.read()
        try:
            return resp.status, json.loads(payload)
        except ValueError:
            return resp.status, payload
    finally:
        conn.close()


def assert_error_shape(status: int, body: Any, code: str | None = None) -> None:
    assert isinstance(body, dict) and list(body) == ["error"], (status, body)
    err = body["error"]
    assert isinstance(err["code"], str) and err["code"]
    assert isinstance(err["message"], str) and err["message"]
    assert set(err) <= {"code", "message", "diagnostics"}
    if code is not None:
        assert err["code"] == code, err


def test_the_table_has_at_least_40_cases() -> None:
    assert len(CASES) >= 40
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_answers_4xx_with_the_error_shape(server: LiveServer, case: Case) -> None:
    status, body = send(server, case.method, case.path, case.body, case.content_type)
    assert status == case.status, (status, body)
    assert_error_shape(status, body, case.code)


def test_nothing_is_left_running_and_nothing_went_wrong_inside(server: LiveServer) -> None:
    for case in CASES:  # again, in one go, in case the order matters
        status, _ = send(server, case.method, case.path, case.body, case.content_type)
        assert 400 <= status < 500, case.name
    status, body = send(server, "GET", "/api/runs")
    assert status == 200 and body["runs"] == []
    log = server.log.read_text()
    assert "Traceback" not in log and "unhandled error" not in log, log


def wait_ended(server: LiveServer, run_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        _, body = send(server, "GET", f"/api/runs/{run_id}")
        if body["state"] != "running":
            return dict(body)
        assert time.monotonic() < deadline
        time.sleep(0.05)


def start(server: LiveServer, script: str = GOOD, **fields: Any) -> dict[str, Any]:
    status, body = send(server, "POST", R, run(script=script, **fields))
    assert status == 201, body
    return dict(body)


def test_a_second_stop_answers_the_same_final_run(server: LiveServer) -> None:
    # Stopping is idempotent: the page's Stop button can race the run's own end.
    run_id = start(server)["id"]
    first = send(server, "DELETE", f"/api/runs/{run_id}")
    second = send(server, "DELETE", f"/api/runs/{run_id}")
    assert first[0] == second[0] == 200
    assert first[1]["state"] == second[1]["state"] == "stopped"


def test_concurrent_stops_all_answer_and_stop_the_run_once(server: LiveServer) -> None:
    body = start(server)
    answers: list[tuple[int, Any]] = []

    def stop() -> None:
        answers.append(send(server, "DELETE", f"/api/runs/{body['id']}"))

    threads = [threading.Thread(target=stop) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert [a[0] for a in answers] == [200] * 12
    assert {a[1]["state"] for a in answers} == {"stopped"}
    assert (
        not Path(f"/proc/{body['pid']}/cmdline").exists()
        or not Path(f"/proc/{body['pid']}/cmdline").read_bytes()
    )


def test_a_stream_to_an_unknown_run_is_refused_before_the_handshake(server: LiveServer) -> None:
    with pytest.raises(websocket.WebSocketBadStatusException) as err:
        websocket.create_connection(
            server.base.replace("http", "ws", 1) + "/api/runs/nope/stream",
            header=[f"Authorization: Bearer {server.token}"],
            origin=server.base,
        )
    assert err.value.status_code == 404


def test_a_stream_to_a_finished_run_gets_the_final_state_and_ends(server: LiveServer) -> None:
    run_id = start(server, "BEGIN { @c = count(); exit(); }")["id"]
    assert wait_ended(server, run_id)["state"] == "finished"
    ws = websocket.create_connection(
        server.base.replace("http", "ws", 1) + f"/api/runs/{run_id}/stream",
        header=[f"Authorization: Bearer {server.token}"],
        origin=server.base,
        timeout=10,
    )
    messages = []
    try:
        while True:
            raw = ws.recv()
            if not raw:
                break
            messages.append(json.loads(raw))
    except websocket.WebSocketConnectionClosedException:
        pass
    finally:
        ws.close()
    assert messages[0]["type"] == "state" and messages[0]["state"] == "finished"
    assert any(m["type"] == "snapshot" for m in messages)


def test_a_stream_with_bad_json_from_the_client_is_ignored(server: LiveServer) -> None:
    run_id = start(server)["id"]
    ws = websocket.create_connection(
        server.base.replace("http", "ws", 1) + f"/api/runs/{run_id}/stream",
        header=[f"Authorization: Bearer {server.token}"],
        origin=server.base,
        timeout=10,
    )
    try:
        for junk in ("{", "[]", "null", "x" * 10_000, json.dumps({"type": "view", "charts": 7})):
            ws.send(junk)
        ws.send_binary(b"\xff\xfe")
        time.sleep(0.5)
        assert send(server, "GET", f"/api/runs/{run_id}")[1]["state"] == "running"
    finally:
        ws.close()
        send(server, "DELETE", f"/api/runs/{run_id}")


# --- hypothesis, through the test client -----------------------------------------------------


class FakeTracer:
    pid = None

    def events(self) -> Iterator[TracerEvent]:
        yield Attached(1)
        yield Exited(0)

    def stop(self) -> None:
        pass

    def kill(self) -> None:
        pass


class FakeBackend:
    """Accepts any script, as a backend must: valid Unicode text without NUL."""

    name = "fake"

    def __init__(self, language: Language) -> None:
        self.language = language

    def status(self) -> BackendStatus:
        return BackendStatus(self.name, self.language, True, "0")

    def compile(self, script: str) -> CompileResult:
        assert "\x00" not in script and script.strip()
        script.encode("utf-8")  # what a real backend does with it
        return CompileResult(True)

    def start(self, script: str, spec: RunSpec) -> FakeTracer:
        assert 0.1 <= spec.interval <= 3600
        return FakeTracer()

    def list_probes(self) -> list[str]:
        return []


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    app = create_app(
        {"token": "fuzz", "data_dir": str(tmp_path_factory.mktemp("fuzz")), "backend": "auto"}
    )
    state_of(app).backends.by_language = {
        "d": FakeBackend("d"),
        "bpftrace": FakeBackend("bpftrace"),
    }
    return app


def json_values() -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**30), max_value=10**30),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=50),
    )
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=10,
    )


def interesting_text() -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(max_size=200),
        st.sampled_from(
            [
                GOOD,
                'BEGIN { system("id"); }',
                "#pragma D option bufsize=1g\nBEGIN {}",
                "#pragma D option destructive\n",
                "config = { max_map_keys = 99999999 }\n",
                "\x00",
                "\ud800",
                " ",
                'BEGIN { printf("system(1)"); }',
            ]
        ),
        st.text(alphabet=st.characters(codec="utf-8"), max_size=30).map(lambda s: GOOD + s),
    )


HUGE = [10**400, -(10**400), 2**1024, 1e308]
LANGUAGE = st.one_of(
    st.sampled_from(["d", "bpftrace"]), st.sampled_from(["D", "", "dtrace"]), json_values()
)
SECONDS = st.one_of(
    st.floats(0.1, 60), st.floats(), st.integers(), st.sampled_from(HUGE), json_values()
)
OTHER_FIELDS = {
    "duration": SECONDS,
    "interval": SECONDS,
    "options": st.one_of(
        st.dictionaries(
            st.sampled_from(["bufsize", "aggsize", "max_map_keys", "x"]),
            st.one_of(st.integers(), json_values()),
            max_size=3,
        ),
        json_values(),
    ),
    "keep_running": st.one_of(st.booleans(), json_values()),
}
# Half near-valid (a language and a text script, so validation goes deep and runs start),
# half anything at all.
bodies = st.one_of(
    st.fixed_dictionaries(
        {"language": st.sampled_from(["d", "bpftrace"]), "script": interesting_text()},
        optional=OTHER_FIELDS,
    ),
    st.fixed_dictionaries(
        {},
        optional={
            "language": LANGUAGE,
            "script": st.one_of(interesting_text(), json_values()),
            **OTHER_FIELDS,
        },
    ),
)


def post(client: FlaskClient, path: str, data: bytes) -> Any:
    return client.post(
        path,
        data=data,
        headers={"Authorization": "Bearer fuzz", "Content-Type": "application/json"},
    )


def check(resp: Any) -> None:
    assert resp.status_code < 500, resp.get_data(as_text=True)[:500]
    if resp.status_code >= 400:
        assert_error_shape(resp.status_code, resp.get_json())


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, allow_nan=True).encode("utf-8", "surrogatepass")


FUZZ = settings(
    max_examples=800, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(body=bodies)
def test_fuzz_compile_never_answers_500(fuzz_app: Flask, body: dict[str, Any]) -> None:
    resp = post(fuzz_app.test_client(), C, encode(body))
    check(resp)
    if resp.status_code == 200:
        assert isinstance(resp.get_json()["ok"], bool)


@FUZZ
@given(body=bodies)
def test_fuzz_runs_never_answers_500(fuzz_app: Flask, body: dict[str, Any]) -> None:
    resp = post(fuzz_app.test_client(), R, encode(body))
    check(resp)
    if resp.status_code == 201:
        created = resp.get_json()
        duration = created["duration"]
        assert duration == 0 or 0.1 <= duration <= 24 * 3600
        assert math.isfinite(created["interval"])


@settings(
    max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=300), path=st.sampled_from([C, R]))
def test_fuzz_raw_bytes_never_answer_500(fuzz_app: Flask, data: bytes, path: str) -> None:
    check(post(fuzz_app.test_client(), path, data))
