"""Request bodies of the JSON API: declared shapes, answered with the codes clients know."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from ide import create_app
from ide.web.api import CompileBody, RunBody, parse_body
from ide.web.errors import ApiError

AUTH = {"Authorization": "Bearer t"}
GOOD = "BEGIN { exit(); }"


@pytest.fixture
def client(tmp_path: Path) -> FlaskClient:
    app = create_app({"token": "t", "data_dir": str(tmp_path), "backend": "bpftrace"})
    return app.test_client()


def error(client: FlaskClient, url: str, body: dict[str, Any]) -> tuple[int, str]:
    resp = client.post(url, json=body, headers=AUTH)
    return resp.status_code, resp.get_json()["error"]["code"]


@pytest.mark.parametrize("url", ["/api/compile", "/api/runs"])
@pytest.mark.parametrize("via", ["dtrace", "", 1, None, ["auto"], "AUTO"])
def test_a_via_that_is_no_known_tracer_is_refused(client: FlaskClient, url: str, via: Any) -> None:
    assert error(client, url, {"language": "bpftrace", "script": GOOD, "via": via}) == (
        400,
        "bad_via",
    )


def test_via_defaults_to_auto_and_is_kept_on_the_parsed_body() -> None:
    assert parse_body(CompileBody, {"language": "d", "script": GOOD}).via == "auto"
    run = parse_body(RunBody, {"language": "d", "script": GOOD, "via": "libdtrace"})
    assert run.via == "libdtrace"
    assert parse_body(RunBody, {"language": "d", "script": GOOD, "via": "bpftrace"}).via == (
        "bpftrace"
    )


@pytest.mark.parametrize(
    ("fields", "code", "message"),
    [
        ({"language": None}, "bad_language", 'language must be "d" or "bpftrace"'),
        ({"script": 5}, "bad_script", "script must be a string"),
        ({"duration": True}, "bad_duration", "duration must be a number of seconds"),
        ({"duration": 10**400}, "bad_duration", "duration must be a number of seconds"),
        ({"interval": "1"}, "bad_interval", "interval must be a number of seconds"),
        ({"options": [1]}, "bad_options", "options must be an object"),
        ({"options": {"bufsize": 1.5}}, "bad_options", "option bufsize must be a positive integer"),
        ({"options": {"cmd": -1}}, "bad_options", "unknown tracer option 'cmd'"),
        ({"keep_running": 1}, "bad_keep_running", "keep_running must be true or false"),
    ],
)
def test_a_field_of_the_wrong_type_gets_its_own_code_and_message(
    fields: dict[str, Any], code: str, message: str
) -> None:
    body = {"language": "bpftrace", "script": GOOD, **fields}
    with pytest.raises(ApiError) as caught:
        parse_body(RunBody, body)
    assert caught.value.code == code
    assert caught.value.message.startswith(message)


def test_a_missing_language_is_a_bad_language(client: FlaskClient) -> None:
    assert error(client, "/api/compile", {"script": GOOD}) == (400, "bad_language")


def test_unknown_fields_are_ignored() -> None:
    body = parse_body(RunBody, {"language": "d", "script": GOOD, "colour": "blue"})
    assert body.duration == 0.0 and body.interval == 1.0 and body.options is None
