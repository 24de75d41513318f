"""dtrace-ide: a web mini-IDE for dynamic tracing.

Importing the package loads nothing but its version: the core (``ide.tracing``) runs in the
libdtrace worker processes too, which need neither Flask nor the charts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .version import __version__ as __version__

if TYPE_CHECKING:
    from flask import Flask

    from .config import Settings


def create_app(config: Mapping[str, Any] | Settings | None = None) -> Flask:
    """Build the app.  ``config`` overrides fields of ``Settings`` (or is one)."""
    from .web.app import create_app as build

    return build(config)
