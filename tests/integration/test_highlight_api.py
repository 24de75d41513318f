from __future__ import annotations

from tests.conftest import LiveServer


def test_highlight_marks_up_a_script_and_escapes_its_text(live_server: LiveServer) -> None:
    script = 'BEGIN { printf("<b>hi</b>\\n"); @num[probefunc] = count(); }'
    status, body = live_server.request(
        "POST", "/api/highlight", {"language": "bpftrace", "script": script}
    )
    assert status == 200
    html = body["html"]
    assert "<b>hi</b>" not in html
    assert "&lt;b&gt;hi&lt;/b&gt;" in html
    assert "count" in html and "<span" in html
    runs = body["tokens"]
    assert "".join(text for _, text in runs) == script
    assert ["tok-fm", "count"] in runs


def test_highlight_refuses_an_unknown_language(live_server: LiveServer) -> None:
    status, body = live_server.request("GET", "/api/highlight?language=perl&script=x")
    assert status == 400
    assert body["error"]["code"] == "bad_language"
