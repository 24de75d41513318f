"""Aggregating functions grouped by how their panels are drawn and split into intervals."""

from __future__ import annotations

CUMULATIVE_ONLY = frozenset({"min", "max", "stddev", "value"})
SERIES_FUNCTIONS = frozenset({"count", "sum"})
POWER_OF_TWO = frozenset({"quantize", "hist"})
LINEAR = frozenset({"lquantize", "lhist"})
DISTRIBUTIONS = frozenset({"quantize", "hist", "llquantize", "lquantize", "lhist"})
TABLE_ONLY = frozenset({"stddev", "stats"})
ADDITIVE = frozenset({"count", "sum"})
