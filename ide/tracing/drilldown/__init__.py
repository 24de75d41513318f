"""Drilldown: a click on a key of an aggregation becomes a derived script — only that key,
that key broken down by another field, everything but that key, or that key's latency.

``views`` reads a script with the language's one parser, ``fields`` says what a probe can
be broken down by, ``rewrite`` makes the derived script.  Whether the result compiles and
passes the policy is the script pipeline's business, as for any script.
"""

from __future__ import annotations

from .fields import Field, fields_for
from .rewrite import (
    MODES,
    Drill,
    DrillImpossible,
    Menu,
    Mode,
    derive,
    literal,
    menu,
    string_literal,
)
from .views import Unreadable

__all__ = [
    "MODES",
    "Drill",
    "DrillImpossible",
    "Field",
    "Menu",
    "Mode",
    "Unreadable",
    "derive",
    "fields_for",
    "literal",
    "menu",
    "string_literal",
]
