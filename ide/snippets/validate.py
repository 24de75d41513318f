"""What a snippet may hold: every field checked and normalised before it is stored."""

from __future__ import annotations

import re
from typing import Any

from ..config import TRACER_OPTIONS
from ..tracing.model import LANGUAGE_CHOICES, LANGUAGES

MAX_TITLE_CHARS = 200
MAX_DESCRIPTION_CHARS = 4000
MAX_TAGS = 32
MAX_TAG_CHARS = 64
MAX_OPTION_KEYS = 32
MAX_OPTION_STRING_CHARS = 200
MAX_SECONDS = 10**9  # durations and intervals; the run API applies the real limits
# Deleted snippets are kept this long so a delete can be undone, then purged on open.
_TRACER_OPTION_NAMES = frozenset(o.name for o in TRACER_OPTIONS)
_TRACER_OPTION_MAX = {o.name: o.maximum for o in TRACER_OPTIONS}
_OPTION_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\Z")


class SnippetError(ValueError):
    """Input a snippet cannot hold; ``field`` names the offending field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _unicode(field: str, value: str) -> None:
    if "\x00" in value:
        raise SnippetError(field, f"{field} must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise SnippetError(field, f"{field} is not valid Unicode (lone surrogate)") from None


def _text(field: str, value: Any, *, max_chars: int, required: bool = False) -> str:
    if not isinstance(value, str):
        raise SnippetError(field, f"{field} must be a string")
    _unicode(field, value)
    if required and not value.strip():
        raise SnippetError(field, f"{field} is required and must not be blank")
    if len(value) > max_chars:
        raise SnippetError(field, f"{field} is longer than {max_chars} characters")
    return value


def _title(value: Any) -> str:
    if value is None:
        raise SnippetError("title", "title is required")
    title = _text("title", value, max_chars=MAX_TITLE_CHARS, required=True).strip()
    if any(ch in title for ch in "\r\n"):
        raise SnippetError("title", "title must be a single line")
    return title


def _language(value: Any) -> str:
    if value not in LANGUAGES:
        raise SnippetError("language", f"language must be {LANGUAGE_CHOICES}")
    return str(value)


def _script(value: Any, max_bytes: int) -> str:
    if not isinstance(value, str):
        raise SnippetError("script", "script must be a string")
    _unicode("script", value)
    size = len(value.encode("utf-8"))
    if size > max_bytes:
        raise SnippetError(
            "script", f"script is {size} bytes; the limit is {max_bytes} bytes (max_script_bytes)"
        )
    return value


def _tags(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise SnippetError("tags", "tags must be a list of strings")
    if len(value) > MAX_TAGS:
        raise SnippetError("tags", f"at most {MAX_TAGS} tags")
    tags: list[str] = []
    for tag in value:
        text = _text("tags", tag, max_chars=MAX_TAG_CHARS, required=True).strip()
        if text not in tags:
            tags.append(text)
    return tags


def _number(field: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise SnippetError("options", f"options.{field} must be a number of seconds or null")
    # A duration of 0 means "until stopped"; an interval must be positive.
    if value < 0 or (value == 0 and field != "duration") or value > MAX_SECONDS:
        raise SnippetError("options", f"options.{field} must be positive and at most {MAX_SECONDS}")
    return value


def _options(value: Any) -> dict[str, Any]:
    """Run options: ``duration`` and ``interval`` in seconds, ``options`` the tracer options.

    Other keys the wizard keeps (flags such as "keep running") may be scalars.
    """
    if not isinstance(value, dict):
        raise SnippetError("options", "options must be an object")
    if len(value) > MAX_OPTION_KEYS:
        raise SnippetError("options", f"options has more than {MAX_OPTION_KEYS} keys")
    out: dict[str, Any] = {}
    for key, item in value.items():
        if not _OPTION_KEY.match(key):
            raise SnippetError("options", f"options key {key!r} is not a valid name")
        if key in ("duration", "interval"):
            out[key] = _number(key, item)
        elif key == "options":
            out[key] = _tracer_options(item)
        elif item is None or isinstance(item, bool | int | float):
            if isinstance(item, float) and (item != item or abs(item) == float("inf")):
                raise SnippetError("options", f"options.{key} must be finite")
            out[key] = item
        elif isinstance(item, str):
            out[key] = _text("options", item, max_chars=MAX_OPTION_STRING_CHARS)
        else:
            raise SnippetError("options", f"options.{key} must be a string, number or boolean")
    return out


def _tracer_options(value: Any) -> dict[str, int]:
    if not isinstance(value, dict):
        raise SnippetError("options", "options.options must be an object of tracer options")
    out: dict[str, int] = {}
    for name, item in value.items():
        if name not in _TRACER_OPTION_NAMES:
            known = ", ".join(sorted(_TRACER_OPTION_NAMES))
            raise SnippetError("options", f"unknown tracer option {name!r} (known: {known})")
        if isinstance(item, bool) or not isinstance(item, int) or item < 0:
            raise SnippetError("options", f"tracer option {name} must be a non-negative integer")
        if item > _TRACER_OPTION_MAX[name]:
            raise SnippetError(
                "options", f"tracer option {name} can be at most {_TRACER_OPTION_MAX[name]}"
            )
        out[name] = item
    return out


FIELDS = ("title", "language", "script", "description", "tags", "options")


def validate(data: Any, *, max_script_bytes: int, partial: bool = False) -> dict[str, Any]:
    """The clean fields of a snippet from untrusted JSON; raises ``SnippetError``."""
    if not isinstance(data, dict):
        raise SnippetError("body", "the body must be a JSON object")
    unknown = set(data) - set(FIELDS) - {"base_rev", "id", "created", "updated", "rev"}
    if unknown:
        raise SnippetError("body", f"unknown field(s): {', '.join(sorted(unknown))}")
    out: dict[str, Any] = {}
    if not partial or "title" in data:
        out["title"] = _title(data.get("title"))
    if not partial or "language" in data:
        out["language"] = _language(data.get("language"))
    if not partial or "script" in data:
        out["script"] = _script(data.get("script", ""), max_script_bytes)
    if not partial or "description" in data:
        out["description"] = _text(
            "description", data.get("description", ""), max_chars=MAX_DESCRIPTION_CHARS
        )
    if not partial or "tags" in data:
        out["tags"] = _tags(data.get("tags", []))
    if not partial or "options" in data:
        out["options"] = _options(data.get("options", {}))
    return out
