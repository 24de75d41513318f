"""Every route of the app is either on the public list or refuses a request without the token."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from werkzeug.routing import Rule

from ide import create_app

# Views reachable without the token, and why each may be.
PUBLIC = {
    "pages.index": "trades ?token= for the cookie, else shows how to sign in",
    "pages.view": "a read-only viewer page; needs the run's own viewer key",
    "pages.compare": "as index: without the cookie it shows how to sign in, no data",
    "pages.vendor": "the vendored plotly.js, the same for everyone",
    "static": "the page's own JS and CSS, no secrets",
    "stream": "guarded before the handshake: token, cookie or viewer key, and Origin",
}
TOKEN = "route-walk-token"
SAMPLE_ARGS = {"run_id": "nope", "snippet_id": 1, "rev": 1, "name": "x", "filename": "x.js"}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    data = tmp_path_factory.mktemp("routes")
    return create_app({"token": TOKEN, "data_dir": str(data), "backend": "bpftrace"})


def rules(app: Flask) -> list[Rule]:
    return list(app.url_map.iter_rules())


def path_of(app: Flask, rule: Rule) -> str:
    args: dict[str, Any] = {a: SAMPLE_ARGS[a] for a in rule.arguments}
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **args)


def test_every_endpoint_is_classified_as_public_or_authenticated(app: Flask) -> None:
    for rule in rules(app):
        view = app.view_functions[rule.endpoint]
        marked = bool(getattr(view, "dtrace_ide_public", False)) or rule.endpoint == "static"
        if rule.endpoint in PUBLIC:
            assert marked, f"{rule.endpoint} is on the public list but not marked @public"
        else:
            assert not marked, (
                f"{rule.endpoint} ({rule.rule}) is marked public: add it to PUBLIC with a "
                "reason, or drop @public"
            )


def test_the_public_list_names_only_routes_that_exist(app: Flask) -> None:
    endpoints = {r.endpoint for r in rules(app)}
    assert set(PUBLIC) <= endpoints


def test_every_authenticated_route_answers_401_without_the_token(app: Flask) -> None:
    client = app.test_client()
    checked = 0
    for rule in rules(app):
        if rule.endpoint in PUBLIC:
            continue
        path = path_of(app, rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            resp = client.open(path, method=method, json={})
            assert resp.status_code == 401, (method, path, resp.status_code)
            assert resp.get_json()["error"]["code"] == "unauthorized"
            checked += 1
    assert checked >= 20


def test_every_authenticated_route_lets_the_bearer_token_past_the_guard(app: Flask) -> None:
    client = app.test_client()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    for rule in rules(app):
        if rule.endpoint in PUBLIC:
            continue
        path = path_of(app, rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if method != "GET":
                continue  # reading is enough to prove the guard lets the token through
            resp = client.open(path, method=method, headers=headers)
            assert resp.status_code not in {401, 403, 500}, (method, path, resp.status_code)


def test_state_changing_routes_with_the_cookie_need_the_csrf_header(app: Flask) -> None:
    client = app.test_client()
    assert client.get(f"/?token={TOKEN}").status_code == 303
    changed = 0
    for rule in rules(app):
        if rule.endpoint in PUBLIC:
            continue
        path = path_of(app, rule)
        for method in sorted((rule.methods or set()) - {"GET", "HEAD", "OPTIONS"}):
            resp = client.open(path, method=method, json={})
            assert resp.status_code == 403, (method, path)
            assert resp.get_json()["error"]["code"] == "csrf"
            changed += 1
    assert changed >= 8


def test_the_viewer_link_routes_are_the_owners_not_a_link_holders(app: Flask) -> None:
    """Reading, making and revoking a run's viewer link need the token (walked above)."""
    links = {"viewer_links.get_link", "viewer_links.new_link", "viewer_links.revoke_link"}
    assert links <= {r.endpoint for r in rules(app)} - set(PUBLIC)
