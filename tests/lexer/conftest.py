"""Fixtures of the lexer tests; see goldens.py for ``--update-goldens``."""

from tests.lexer.goldens import pytest_addoption, update_goldens

__all__ = ["pytest_addoption", "update_goldens"]
