"""dtrace-ide: a web mini-IDE for dynamic tracing."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from .config import Settings
from .version import __version__ as __version__

_HERE = Path(__file__).resolve().parent


def _asset_dir(name: str) -> str:
    """``ide/<name>`` in an installed wheel, ``<repo>/<name>`` in a source checkout."""
    installed = _HERE / name
    return str(installed if installed.is_dir() else _HERE.parent / name)


def create_app(config: Mapping[str, Any] | Settings | None = None) -> Flask:
    """Build the app.  ``config`` overrides fields of ``Settings`` (or is one)."""
    settings = config if isinstance(config, Settings) else Settings.from_env(config)
    app = Flask(
        __name__,
        static_folder=_asset_dir("static"),
        template_folder=_asset_dir("templates"),
    )
    app.config["SETTINGS"] = settings
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]

    from .snippets import routes as snippets
    from .tracing.pipeline import ScriptPipeline
    from .tracing.registry import Backends
    from .tracing.session import RunManager
    from .web import api, auth, errors, pages, stream

    backends = Backends.for_settings(settings)
    runs = RunManager(settings)
    pipeline = ScriptPipeline(settings, backends, runs)
    app.extensions["dtrace_ide"] = {"backends": backends, "runs": runs, "pipeline": pipeline}

    errors.register(app)
    auth.install(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    stream.register(app)
    snippets.register(app)
    return app
