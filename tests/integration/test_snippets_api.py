"""``/api/snippets`` and ``/api/examples`` through the real app."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ide
from ide.snippets.store import SnippetStore
from ide.web.state import state_of

AUTH = {"Authorization": "Bearer t"}


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return ide.create_app({"token": "t", "data_dir": str(tmp_path)})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def body(**over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "title": "Opens",
        "language": "bpftrace",
        "script": "tracepoint:syscalls:sys_enter_openat { @opens[comm] = count(); }",
        "description": "who opens files",
        "tags": ["files"],
        "options": {"duration": 5, "interval": 1, "options": {"bufsize": 8192}},
    }
    data.update(over)
    return data


def create(client: FlaskClient, **over: Any) -> dict[str, Any]:
    r = client.post("/api/snippets", json=body(**over), headers=AUTH)
    assert r.status_code == 201, r.json
    out: dict[str, Any] = r.json  # type: ignore[assignment]
    return out


def test_the_store_lives_in_the_app_extensions_under_data_dir(app: Flask, tmp_path: Path) -> None:
    s = state_of(app).snippets
    assert isinstance(s, SnippetStore)
    assert s.path == tmp_path / "snippets.sqlite3"
    assert s.path.exists()


def test_create_get_update_delete_round_trip(client: FlaskClient) -> None:
    made = create(client)
    assert client.post("/api/snippets", json=body()).status_code == 401
    r = client.get(f"/api/snippets/{made['id']}", headers=AUTH)
    assert r.status_code == 200
    assert r.json == made
    assert made["script"].startswith("tracepoint:") and made["rev"] == 1
    r = client.put(
        f"/api/snippets/{made['id']}", json={"script": "BEGIN { exit(); }"}, headers=AUTH
    )
    assert r.status_code == 200
    assert r.json is not None
    assert (r.json["script"], r.json["title"], r.json["rev"]) == ("BEGIN { exit(); }", "Opens", 2)
    r = client.delete(f"/api/snippets/{made['id']}", headers=AUTH)
    assert r.status_code == 200
    assert client.get(f"/api/snippets/{made['id']}", headers=AUTH).status_code == 404
    r = client.post(f"/api/snippets/{made['id']}/undelete", headers=AUTH)
    assert r.status_code == 200
    assert r.json is not None and r.json["script"] == "BEGIN { exit(); }"


def test_create_answers_201_with_location(client: FlaskClient) -> None:
    r = client.post("/api/snippets", json=body(), headers=AUTH)
    assert r.status_code == 201
    assert r.headers["Location"] == f"/api/snippets/{r.json['id']}"  # type: ignore[index]


def test_list_is_newest_first_without_scripts_and_filters(client: FlaskClient) -> None:
    a = create(client, title="first")
    b = create(client, title="second", language="d", script="syscall:::entry { @ = count(); }")
    r = client.get("/api/snippets", headers=AUTH)
    assert r.json is not None
    assert [s["id"] for s in r.json["snippets"]] == [b["id"], a["id"]]
    assert "script" not in r.json["snippets"][0]
    r = client.get("/api/snippets?language=d", headers=AUTH)
    assert [s["id"] for s in r.json["snippets"]] == [b["id"]]  # type: ignore[index]


def test_q_searches_title_description_and_script(client: FlaskClient) -> None:
    a = create(client, title="Alpha", description="", script="@sched_latency = hist(1);")
    b = create(client, title="Beta", description="finds the culprit", script="x")
    c = create(client, title="Gamma quantize", description="", script="y")

    def ids(q: str) -> list[int]:
        r = client.get("/api/snippets", query_string={"q": q}, headers=AUTH)
        assert r.status_code == 200
        return [s["id"] for s in r.json["snippets"]]  # type: ignore[index]

    assert ids("sched_latency") == [a["id"]]
    assert ids("culprit") == [b["id"]]
    assert ids("quantize") == [c["id"]]
    assert ids("nothing-like-this") == []
    assert ids("") == [c["id"], b["id"], a["id"]]


def test_revisions_list_view_and_restore(client: FlaskClient) -> None:
    made = create(client, script="v1")
    sid = made["id"]
    client.put(f"/api/snippets/{sid}", json={"script": "v2"}, headers=AUTH)
    client.put(f"/api/snippets/{sid}", json={"title": "Renamed"}, headers=AUTH)
    r = client.get(f"/api/snippets/{sid}/revisions", headers=AUTH)
    assert r.json is not None
    assert r.json["current"] == 3
    assert [x["rev"] for x in r.json["revisions"]] == [3, 2, 1]
    assert [x["title"] for x in r.json["revisions"]] == ["Renamed", "Opens", "Opens"]
    r = client.get(f"/api/snippets/{sid}/revisions/1", headers=AUTH)
    assert r.json is not None and r.json["script"] == "v1"
    r = client.post(f"/api/snippets/{sid}/revisions/1/restore", headers=AUTH)
    assert r.status_code == 200
    assert r.json is not None
    assert (r.json["script"], r.json["title"], r.json["rev"]) == ("v1", "Opens", 4)
    assert client.get(f"/api/snippets/{sid}/revisions/9", headers=AUTH).status_code == 404
    r = client.post(f"/api/snippets/{sid}/revisions/9/restore", headers=AUTH)
    assert r.status_code == 404


def test_put_with_a_stale_base_rev_is_a_conflict(client: FlaskClient) -> None:
    sid = create(client)["id"]
    ok = client.put(f"/api/snippets/{sid}", json={"script": "a", "base_rev": 1}, headers=AUTH)
    assert ok.status_code == 200
    r = client.put(f"/api/snippets/{sid}", json={"script": "b", "base_rev": 1}, headers=AUTH)
    assert r.status_code == 409
    assert r.json is not None and r.json["error"]["code"] == "conflict"


def test_a_script_over_the_limit_is_400_with_a_clear_message(client: FlaskClient) -> None:
    r = client.post("/api/snippets", json=body(script="x" * (256 * 1024 + 1)), headers=AUTH)
    assert r.status_code == 400
    assert r.json is not None
    assert r.json["error"]["code"] == "invalid_snippet"
    assert "262145 bytes; the limit is 262144 bytes" in r.json["error"]["message"]
    r = client.post("/api/snippets", json=body(script="x" * (256 * 1024)), headers=AUTH)
    assert r.status_code == 201


def test_the_script_limit_follows_settings(tmp_path: Path) -> None:
    app = ide.create_app({"token": "t", "data_dir": str(tmp_path), "max_script_bytes": 10})
    r = app.test_client().post("/api/snippets", json=body(script="x" * 11), headers=AUTH)
    assert r.status_code == 400


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        (body(title=""), "title is required"),
        ({k: v for k, v in body().items() if k != "title"}, "title is required"),
        (body(title=["x"]), "title must be a string"),
        (body(language="python"), 'language must be "d" or "bpftrace"'),
        (body(script=None), "script must be a string"),
        (body(script="a\x00b"), "NUL"),
        (body(tags="x"), "tags must be a list"),
        (body(options={"duration": "1"}), "options.duration must be a number"),
        (body(extra=1), "unknown field"),
        ([1, 2], "must be a JSON object"),
        ("text", "must be a JSON object"),
    ],
)
def test_bad_input_is_400_with_the_error_shape(
    client: FlaskClient, payload: Any, needle: str
) -> None:
    r = client.post("/api/snippets", json=payload, headers=AUTH)
    assert r.status_code == 400, r.json
    assert r.json is not None
    assert set(r.json) == {"error"}
    assert set(r.json["error"]) == {"code", "message"}
    assert needle in r.json["error"]["message"]


def test_bad_json_and_wrong_content_type_are_client_errors(client: FlaskClient) -> None:
    r = client.post(
        "/api/snippets", data="{nope", headers={**AUTH, "Content-Type": "application/json"}
    )
    assert r.status_code == 400
    r = client.post("/api/snippets", data="title=x", headers=AUTH)
    assert r.status_code == 415
    r = client.put("/api/snippets/1", json={"base_rev": "1"}, headers=AUTH)
    assert r.status_code in (400, 404)


def test_unknown_ids_are_404_and_non_numeric_ids_do_not_route(client: FlaskClient) -> None:
    for method in ("get", "delete"):
        r = getattr(client, method)("/api/snippets/999", headers=AUTH)
        assert r.status_code == 404
        assert r.json["error"]["code"] == "not_found"
    assert client.put("/api/snippets/999", json={"title": "x"}, headers=AUTH).status_code == 404
    assert client.get("/api/snippets/abc", headers=AUTH).status_code == 404
    assert client.get("/api/snippets/999/revisions", headers=AUTH).status_code == 404


def test_bad_query_parameters_are_400(client: FlaskClient) -> None:
    assert client.get("/api/snippets?language=perl", headers=AUTH).status_code == 400
    assert client.get("/api/snippets?q=" + "a" * 600, headers=AUTH).status_code == 400
    assert client.get("/api/snippets?q=a%00b", headers=AUTH).status_code == 400
    assert client.get("/api/examples?language=perl", headers=AUTH).status_code == 400


def test_export_and_import_all_as_one_json_file(client: FlaskClient) -> None:
    create(client, title="one")
    create(client, title="two <b>bold</b>", language="d", script="BEGIN { exit(0); }")
    r = client.get("/api/snippets/export", headers=AUTH)
    assert r.status_code == 200
    assert "attachment" in r.headers["Content-Disposition"]
    exported = r.json
    assert exported is not None
    assert [s["title"] for s in exported["snippets"]] == ["one", "two <b>bold</b>"]
    r = client.post("/api/snippets/import", json=exported, headers=AUTH)
    assert r.status_code == 201
    assert r.json is not None and r.json["imported"] == 2
    listed = client.get("/api/snippets", headers=AUTH).json
    assert listed is not None
    assert sorted(s["title"] for s in listed["snippets"]) == [
        "one",
        "one",
        "two <b>bold</b>",
        "two <b>bold</b>",
    ]
    r = client.post("/api/snippets/import", json={"snippets": [{"title": ""}]}, headers=AUTH)
    assert r.status_code == 400
    assert "snippet #1" in r.json["error"]["message"]  # type: ignore[index]


def test_every_snippet_route_needs_the_token(client: FlaskClient) -> None:
    sid = create(client)["id"]
    calls = [
        ("get", "/api/snippets"),
        ("post", "/api/snippets"),
        ("get", f"/api/snippets/{sid}"),
        ("put", f"/api/snippets/{sid}"),
        ("delete", f"/api/snippets/{sid}"),
        ("get", f"/api/snippets/{sid}/revisions"),
        ("get", f"/api/snippets/{sid}/revisions/1"),
        ("post", f"/api/snippets/{sid}/revisions/1/restore"),
        ("get", "/api/snippets/export"),
        ("post", "/api/snippets/import"),
        ("get", "/api/examples"),
    ]
    for method, url in calls:
        r = getattr(client, method)(url, json={})
        assert r.status_code == 401, (method, url)
    assert client.get(f"/api/snippets/{sid}", headers=AUTH).status_code == 200


def test_cookie_clients_need_the_csrf_header_to_save(app: Flask, client: FlaskClient) -> None:
    from ide.web import auth

    with app.app_context():
        secret, session = state_of(app).sessions.create()
        client.set_cookie(auth.cookie_name(app.config["SETTINGS"]), secret)
    csrf = session.csrf
    assert client.get("/api/snippets").status_code == 200
    assert client.post("/api/snippets", json=body()).status_code == 403
    r = client.post("/api/snippets", json=body(), headers={auth.CSRF_HEADER: csrf})
    assert r.status_code == 201


def test_examples_are_grouped_and_read_only(client: FlaskClient) -> None:
    r = client.get("/api/examples", headers=AUTH)
    assert r.status_code == 200
    assert r.json is not None
    groups = r.json["groups"]
    assert [g["id"] for g in groups] == ["syscalls", "io", "cpu", "processes", "network", "memory"]
    every = [e for g in groups for e in g["examples"]]
    assert {e["language"] for e in every} == {"d", "bpftrace"}
    assert all(e["title"] and e["description"] and e["script"] for e in every)
    only_d = client.get("/api/examples?language=d", headers=AUTH).json
    assert only_d is not None
    assert {e["language"] for g in only_d["groups"] for e in g["examples"]} == {"d"}
    assert client.post("/api/examples", json={}, headers=AUTH).status_code == 405
    assert client.delete("/api/examples", headers=AUTH).status_code == 405


def test_two_clients_saving_the_same_snippet_at_once(tmp_path: Path) -> None:
    """Two app instances (two connections each) save concurrently; every save is kept."""
    apps = [ide.create_app({"token": "t", "data_dir": str(tmp_path)}) for _ in range(2)]
    sid = create(apps[0].test_client())["id"]
    failures: list[Any] = []

    def save(app: Flask, tag: str) -> None:
        c = app.test_client()
        for i in range(25):
            r = c.put(f"/api/snippets/{sid}", json={"script": f"{tag}{i}"}, headers=AUTH)
            if r.status_code != 200:
                failures.append(r.json)

    threads = [threading.Thread(target=save, args=(a, t)) for a, t in zip(apps, "ab", strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    revs = apps[1].test_client().get(f"/api/snippets/{sid}/revisions", headers=AUTH).json
    assert revs is not None
    assert revs["current"] == 51
    assert [x["rev"] for x in revs["revisions"]] == list(range(51, 0, -1))


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ('{"title": "\\ud800", "language": "d", "script": ""}', "title is not valid Unicode"),
        ('{"title": "a", "language": "d", "script": "\\udfff"}', "script is not valid Unicode"),
        ('{"title": "a", "language": "d", "tags": ["\\ud800"]}', "tags is not valid Unicode"),
        ('{"title": "a", "language": "d", "options": {"duration": 1e400}}', "options.duration"),
        ('{"title": "a", "language": "d", "options": {"options": {"bufsize": 1e30}}}', "bufsize"),
        (
            '{"title": "a", "language": "d", "options": {"options": {"bufsize": 10000000000}}}',
            "bufsize can be at most",
        ),
        ("[" * 100_000 + "]" * 100_000, "not valid JSON"),
    ],
)
def test_hostile_json_is_a_400_never_a_500(client: FlaskClient, raw: str, needle: str) -> None:
    for path in ("/api/snippets", "/api/snippets/import"):
        payload = (
            raw
            if path == "/api/snippets" or raw.startswith("[")
            else ('{"snippets": [' + raw + "]}")
        )
        r = client.post(path, data=payload, headers={**AUTH, "Content-Type": "application/json"})
        assert r.status_code == 400, (path, r.json)
        assert needle in r.json["error"]["message"]  # type: ignore[index]


def test_ids_past_sqlite_integers_are_404(client: FlaskClient) -> None:
    huge = "9" * 30
    assert client.get(f"/api/snippets/{huge}", headers=AUTH).status_code == 404
    assert client.get(f"/api/snippets/1/revisions/{huge}", headers=AUTH).status_code == 404
    r = client.post(f"/api/snippets/{huge}/revisions/{huge}/restore", headers=AUTH)
    assert r.status_code == 404


# Any code point, lone surrogates and NUL included.
_any_text = st.text(st.characters(exclude_categories=()), max_size=20)
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
_fields = st.fixed_dictionaries(
    {},
    optional={
        "title": _json_values,
        "language": st.sampled_from(["d", "bpftrace", "D", ""]) | _json_values,
        "script": _any_text | _json_values,
        "description": _json_values,
        "tags": st.lists(_any_text, max_size=3) | _json_values,
        "options": st.fixed_dictionaries(
            {},
            optional={"duration": _json_values, "interval": _json_values, "options": _json_values},
        )
        | _json_values,
        "base_rev": _json_values,
    },
)


@pytest.fixture(scope="module")
def shared_client(tmp_path_factory: pytest.TempPathFactory) -> FlaskClient:
    data = tmp_path_factory.mktemp("fuzz")
    return ide.create_app({"token": "t", "data_dir": str(data)}).test_client()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=_fields | _json_values)
def test_any_json_body_gets_a_2xx_or_a_4xx_never_a_500(
    shared_client: FlaskClient, payload: Any
) -> None:
    headers = {**AUTH, "Content-Type": "application/json"}
    body = json.dumps(payload)
    r = shared_client.post("/api/snippets", data=body, headers=headers)
    assert r.status_code in (201, 400), r.json
    if r.status_code == 201:
        sid = r.json["id"]  # type: ignore[index]
        got = shared_client.get(f"/api/snippets/{sid}", headers=AUTH)
        assert got.json == r.json
    r = shared_client.put("/api/snippets/1", data=body, headers=headers)
    assert r.status_code in (200, 400, 404, 409), r.json
    r = shared_client.post("/api/snippets/import", data=body, headers=headers)
    assert r.status_code in (201, 400), r.json
