"""Pages and their assets: templates render, static JS and CSS travel gzipped and cache."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from ide import create_app

ROOT = Path(__file__).resolve().parents[2]
AUTH = {"Authorization": "Bearer t"}


@pytest.fixture
def client(tmp_path: Path) -> FlaskClient:
    app = create_app({"token": "t", "backend": "bpftrace", "data_dir": str(tmp_path)})
    return app.test_client()


def test_static_js_is_gzipped_for_browsers_that_accept_it(client: FlaskClient) -> None:
    resp = client.get("/static/js/run-view.js", headers={"Accept-Encoding": "gzip, br"})
    assert resp.status_code == 200
    assert resp.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in resp.headers["Vary"]
    original = (ROOT / "static/js/run-view.js").read_bytes()
    assert gzip.decompress(resp.data) == original
    assert len(resp.data) < len(original) / 2


def test_static_is_plain_without_accept_encoding(client: FlaskClient) -> None:
    resp = client.get("/static/css/app.css")
    assert "Content-Encoding" not in resp.headers
    assert resp.data == (ROOT / "static/css/app.css").read_bytes()


def test_a_gzipped_asset_revalidates_to_304(client: FlaskClient) -> None:
    first = client.get("/static/js/app.js", headers={"Accept-Encoding": "gzip"})
    etag = first.headers["ETag"]
    assert etag.startswith("W/")
    again = client.get(
        "/static/js/app.js", headers={"Accept-Encoding": "gzip", "If-None-Match": etag}
    )
    assert again.status_code == 304


def test_the_wizard_page_carries_the_csrf_token_and_no_inline_script(
    client: FlaskClient,
) -> None:
    client.get("/?token=t")
    html = client.get("/").get_data(as_text=True)
    assert '<meta name="csrf-token" content="' in html
    assert 'content=""' not in html.split('name="csrf-token"')[1][:12]
    for tag in html.split("<script")[1:]:
        assert 'src="' in tag.split(">")[0], "inline scripts are refused by the page's CSP"
    for step in ("step-write", "step-run", "step-output"):
        assert f'id="{step}"' in html


def test_the_wizard_page_has_a_sign_out_button_that_ends_the_session(
    client: FlaskClient,
) -> None:
    client.get("/?token=t")
    html = client.get("/").get_data(as_text=True)
    assert 'id="sign-out"' in html
    csrf = html.split('name="csrf-token" content="')[1].split('"')[0]
    assert client.post("/api/signout", headers={"X-CSRF-Token": csrf}).status_code == 200
    assert client.get("/").status_code == 401


def test_the_page_without_the_cookie_says_how_to_sign_in(client: FlaskClient) -> None:
    resp = client.get("/")
    assert resp.status_code == 401
    assert "?token=" in resp.get_data(as_text=True)


def test_an_unknown_viewer_link_is_a_404_page(client: FlaskClient) -> None:
    resp = client.get("/view/nope?key=wrong")
    assert resp.status_code == 404
    assert "unknown or expired" in resp.get_data(as_text=True)


def test_plotly_is_served_gzip_until_its_brotli_copy_is_made_then_brotli(
    client: FlaskClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    from ide.web import pages

    brotli: Any = importlib.import_module("brotli")  # a dependency; it ships no type hints

    monkeypatch.setattr(pages, "BROTLI_QUALITY", 1)  # the same code path, in milliseconds
    raw = pages._vendor_file("plotly.min.js")[0]
    url = "/static-vendor/plotly.min.js"

    first = client.get(url, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert first.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(first.data) == raw
    first.close()  # the server made the brotli copy after sending the answer
    assert len(list((tmp_path / "compressed").glob("*.br"))) == 1

    def compress_again(raw: bytes) -> bytes:
        raise AssertionError("the copy was made again")

    monkeypatch.setitem(pages.COMPRESSORS, "br", compress_again)
    ready = client.get(url, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert ready.headers["Content-Encoding"] == "br"
    assert brotli.decompress(ready.data) == raw
    assert "Accept-Encoding" in ready.headers["Vary"]
    no_br = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert no_br.headers["Content-Encoding"] == "gzip"
    plain = client.get(url, headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers and plain.data == raw
    etag = ready.headers["ETag"]
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304


def test_a_copy_changes_with_the_file(tmp_path: Path) -> None:
    from ide.web.pages import CompressedCopies

    copies = CompressedCopies(tmp_path)
    assert gzip.decompress(copies.get(b"one" * 100, "gzip")) == b"one" * 100
    assert gzip.decompress(copies.get(b"two" * 100, "gzip")) == b"two" * 100
    assert len(list(tmp_path.glob("*.gzip"))) == 2


def test_copies_are_kept_in_memory_where_the_directory_cannot_be_written(
    tmp_path: Path,
) -> None:
    from ide.web.pages import CompressedCopies

    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    copies = CompressedCopies(blocker / "compressed")
    assert gzip.decompress(copies.get(b"x" * 1000, "gzip")) == b"x" * 1000
    assert gzip.decompress(copies.get(b"x" * 1000, "gzip")) == b"x" * 1000
