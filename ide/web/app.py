"""The Flask app: settings, backends, runs and the script pipeline wired to the blueprints."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from ..config import Settings

_HERE = Path(__file__).resolve().parent.parent


def _asset_dir(name: str) -> str:
    """``ide/<name>`` in an installed wheel, ``<repo>/<name>`` in a source checkout."""
    installed = _HERE / name
    return str(installed if installed.is_dir() else _HERE.parent / name)


def create_app(config: Mapping[str, Any] | Settings | None = None) -> Flask:
    """Build the app.  ``config`` overrides fields of ``Settings`` (or is one)."""
    settings = config if isinstance(config, Settings) else Settings.from_env(config)
    app = Flask(
        "ide",
        static_folder=_asset_dir("static"),
        template_folder=_asset_dir("templates"),
    )
    app.config["SETTINGS"] = settings
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]

    from ..snippets import routes as snippets
    from . import api, archive, auth, compare, drilldown, errors, fleet, pages, stream, viewer_links
    from .state import KEY, build_state

    app.extensions[KEY] = build_state(settings)

    errors.register(app)
    auth.install(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(drilldown.bp)
    app.register_blueprint(archive.bp)
    app.register_blueprint(compare.bp)
    app.register_blueprint(fleet.bp)
    app.register_blueprint(viewer_links.bp)
    stream.register(app)
    snippets.register(app)
    return app
