"""The ``--update-goldens`` option: rewrite golden token files instead of comparing them.

Registered from the top-level ``tests/conftest.py`` (``pytest_plugins``) so that a plain
``pytest --update-goldens`` knows the option; ``tests/lexer/conftest.py`` also registers it,
so ``pytest tests/lexer --update-goldens`` works on its own.
"""

from __future__ import annotations

import contextlib

import pytest

OPTION = "--update-goldens"


def pytest_addoption(parser: pytest.Parser) -> None:
    # Both conftests register this module's hook; the second registration finds it added.
    with contextlib.suppress(ValueError):
        parser.addoption(
            OPTION,
            action="store_true",
            default=False,
            help="rewrite the lexer golden files from the current lexers",
        )


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    """Whether this run rewrites golden files rather than comparing against them."""
    return bool(request.config.getoption(OPTION, default=False))
