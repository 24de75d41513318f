"""The request shapes a drilldown shares between its own routes and ``POST /api/runs``."""

from __future__ import annotations

from typing import Annotated

import msgspec

from ..tracing.drilldown import Mode

MAX_KEY_PARTS = 16
MAX_KEY_PART_CHARS = 4096
AggregationName = Annotated[str, msgspec.Meta(pattern=r"^@[A-Za-z0-9_]*$", max_length=128)]
KeyPartValue = Annotated[str, msgspec.Meta(max_length=MAX_KEY_PART_CHARS)] | int
Key = Annotated[list[KeyPartValue], msgspec.Meta(max_length=MAX_KEY_PARTS)]
FieldName = Annotated[str, msgspec.Meta(max_length=64)]


class DrillInfo(msgspec.Struct, frozen=True):
    """A run's ``drill``: what it was derived from its ``parent`` by."""

    aggregation: AggregationName
    key: Key
    by: FieldName | None = None
    mode: Mode = "only"
