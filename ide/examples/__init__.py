"""Example scripts shipped with dtrace-ide, read-only.

Each file under ``d/`` (``.d``) or ``bpftrace/`` (``.bt``) opens with a comment block of
``key: value`` lines: ``title``, ``group`` (one of ``GROUPS``), ``description`` (one line) and
optionally ``duration`` / ``interval`` (seconds) as the run options it suggests, and
``platform: illumos`` for a D script whose providers (``tcp``, ``vminfo``, ``sysinfo``, ``fbt``
functions) only illumos/SmartOS has; the other D examples run on Oracle D for Linux too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

GROUPS: tuple[tuple[str, str], ...] = (
    ("syscalls", "System calls"),
    ("io", "I/O"),
    ("cpu", "CPU and profiling"),
    ("processes", "Processes"),
    ("network", "Network"),
    ("memory", "Memory"),
)
_GROUP_IDS = tuple(g for g, _ in GROUPS)
PLATFORMS = ("illumos", "linux")
_SUFFIX = {"d": ".d", "bpftrace": ".bt"}
_HEADER = re.compile(r"\A/\*(.*?)\*/", re.S)
_FIELD = re.compile(r"^\s*\*?\s*([a-z]+):\s*(.+?)\s*$")


@dataclass(frozen=True)
class Example:
    id: str
    language: str
    group: str
    title: str
    description: str
    script: str
    options: dict[str, Any] = field(default_factory=dict)
    platform: str | None = None  # None: wherever the language's tracer runs

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "language": self.language,
            "group": self.group,
            "title": self.title,
            "description": self.description,
            "script": self.script,
            "options": self.options,
            "platform": self.platform,
        }


class BadExample(ValueError):
    pass


def parse(example_id: str, language: str, text: str) -> Example:
    """An example from its file text; raises ``BadExample`` when the header is incomplete."""
    header = _HEADER.match(text)
    if header is None:
        raise BadExample(f"{example_id}: no /* ... */ header")
    meta: dict[str, str] = {}
    for line in header.group(1).splitlines():
        m = _FIELD.match(line)
        if m:
            meta[m.group(1)] = m.group(2)
    missing = {"title", "group", "description"} - set(meta)
    if missing:
        raise BadExample(f"{example_id}: header lacks {', '.join(sorted(missing))}")
    if meta["group"] not in _GROUP_IDS:
        raise BadExample(f"{example_id}: unknown group {meta['group']!r}")
    platform = meta.get("platform")
    if platform is not None and platform not in PLATFORMS:
        raise BadExample(f"{example_id}: unknown platform {platform!r}")
    options: dict[str, Any] = {}
    for key in ("duration", "interval"):
        if key in meta:
            options[key] = float(meta[key])
    return Example(
        id=example_id,
        language=language,
        group=meta["group"],
        title=meta["title"],
        description=meta["description"],
        script=text,
        options=options,
        platform=platform,
    )


@cache
def all_examples() -> tuple[Example, ...]:
    root = resources.files(__name__)
    found: list[Example] = []
    for language, suffix in _SUFFIX.items():
        folder = root / language
        names = sorted(p.name for p in folder.iterdir() if p.name.endswith(suffix))
        for name in names:
            text = (folder / name).read_text(encoding="utf-8")
            found.append(parse(f"{language}/{name.removesuffix(suffix)}", language, text))
    return tuple(found)


def grouped(language: str | None = None) -> list[dict[str, Any]]:
    """Examples by group, in ``GROUPS`` order, optionally of one language."""
    out = []
    for group, title in GROUPS:
        items = [
            e.to_dict()
            for e in all_examples()
            if e.group == group and (language is None or e.language == language)
        ]
        out.append({"id": group, "title": title, "examples": items})
    return out
