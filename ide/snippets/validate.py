"""What a snippet may hold: every field checked and normalised before it is stored."""

from __future__ import annotations

import re
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, UnsetType

from ..config import TRACER_OPTIONS
from ..tracing.model import LANGUAGE_CHOICES, Language

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


def _title(value: str | UnsetType | None) -> str:
    if value is None or value is UNSET:
        raise SnippetError("title", "title is required")
    title = _text("title", value, max_chars=MAX_TITLE_CHARS, required=True).strip()
    if any(ch in title for ch in "\r\n"):
        raise SnippetError("title", "title must be a single line")
    return title


def _language(value: Language | UnsetType) -> str:
    if value is UNSET:
        raise SnippetError("language", f"language must be {LANGUAGE_CHOICES}")
    return value


def _script(value: str, max_bytes: int) -> str:
    _unicode("script", value)
    size = len(value.encode("utf-8"))
    if size > max_bytes:
        raise SnippetError(
            "script", f"script is {size} bytes; the limit is {max_bytes} bytes (max_script_bytes)"
        )
    return value


def _tags(value: list[str]) -> list[str]:
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


def _options(value: dict[str, Any]) -> dict[str, Any]:
    """Run options: ``duration`` and ``interval`` in seconds, ``options`` the tracer options.

    Other keys the wizard keeps (flags such as "keep running") may be scalars.
    """
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


class SnippetShape(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The fields a client may send, with their types and sizes; absent ones are UNSET.

    The rules a type cannot say (blank titles, NUL characters, the script's byte limit,
    run options by key) are checked by ``validate``.
    """

    title: Annotated[str, Meta(max_length=MAX_TITLE_CHARS)] | UnsetType | None = UNSET
    language: Language | UnsetType = UNSET
    script: str | UnsetType = UNSET
    description: Annotated[str, Meta(max_length=MAX_DESCRIPTION_CHARS)] | UnsetType = UNSET
    tags: (
        Annotated[list[Annotated[str, Meta(max_length=MAX_TAG_CHARS)]], Meta(max_length=MAX_TAGS)]
        | UnsetType
    ) = UNSET
    options: Annotated[dict[str, Any], Meta(max_length=MAX_OPTION_KEYS)] | UnsetType = UNSET
    # An exported or fetched snippet may be sent back whole: these are read elsewhere
    # (base_rev, by the route) or set by the store.
    id: Any = None
    created: Any = None
    updated: Any = None
    rev: Any = None
    base_rev: Any = None


# What a field of the wrong type, or too long, is answered with: (as a whole, as an item).
_WRONG_TYPE = {
    "title": "title must be a string",
    "language": f"language must be {LANGUAGE_CHOICES}",
    "script": "script must be a string",
    "description": "description must be a string",
    "tags": "tags must be a list of strings",
    "tags[]": "tags must be a string",
    "options": "options must be an object",
}
_TOO_LONG = {
    "title": f"title is longer than {MAX_TITLE_CHARS} characters",
    "description": f"description is longer than {MAX_DESCRIPTION_CHARS} characters",
    "tags": f"at most {MAX_TAGS} tags",
    "tags[]": f"tags is longer than {MAX_TAG_CHARS} characters",
    "options": f"options has more than {MAX_OPTION_KEYS} keys",
}
_WHERE = re.compile(r"at `\$\.(\w+)(\[)?")


def _shape_error(detail: str) -> SnippetError:
    unknown = re.search(r"unknown field `(.*)`", detail)
    if unknown:
        return SnippetError("body", f"unknown field(s): {unknown.group(1)}")
    where = _WHERE.search(detail)
    if where is None:
        return SnippetError("body", "the body must be a JSON object")
    field, item = where.group(1), "[]" if where.group(2) else ""
    messages = _TOO_LONG if "of length" in detail else _WRONG_TYPE
    return SnippetError(field, messages.get(field + item, f"{field}: {detail}"))


def validate(data: Any, *, max_script_bytes: int, partial: bool = False) -> dict[str, Any]:
    """The clean fields of a snippet from untrusted JSON; raises ``SnippetError``."""
    if not isinstance(data, dict):
        raise SnippetError("body", "the body must be a JSON object")
    try:
        shape = msgspec.convert(data, SnippetShape)
    except msgspec.ValidationError as exc:
        raise _shape_error(str(exc)) from None
    out: dict[str, Any] = {}
    if not partial or shape.title is not UNSET:
        out["title"] = _title(shape.title)
    if not partial or shape.language is not UNSET:
        out["language"] = _language(shape.language)
    if not partial or shape.script is not UNSET:
        out["script"] = _script(shape.script or "", max_script_bytes)
    if not partial or shape.description is not UNSET:
        description = shape.description or ""
        _unicode("description", description)
        out["description"] = description
    if not partial or shape.tags is not UNSET:
        out["tags"] = _tags(shape.tags or [])
    if not partial or shape.options is not UNSET:
        out["options"] = _options(shape.options or {})
    return out
