"""A snippet's declared shape answers each wrong field with the message clients know."""

from __future__ import annotations

from typing import Any

import pytest

from ide.snippets.validate import SnippetError, validate

GOOD = {"title": "t", "language": "d", "script": "BEGIN {}"}


@pytest.mark.parametrize(
    ("over", "field", "message"),
    [
        ({"title": 5}, "title", "title must be a string"),
        ({"title": "x" * 201}, "title", "title is longer than 200 characters"),
        ({"description": "x" * 4001}, "description", "description is longer than 4000"),
        ({"description": 1}, "description", "description must be a string"),
        ({"tags": ["t"] * 33}, "tags", "at most 32 tags"),
        ({"tags": ["x" * 65]}, "tags", "tags is longer than 64 characters"),
        ({"tags": [None]}, "tags", "tags must be a string"),
        ({"tags": {}}, "tags", "tags must be a list of strings"),
        ({"options": {f"k{i}": 1 for i in range(33)}}, "options", "options has more than 32"),
        ({"options": 1}, "options", "options must be an object"),
        ({"language": "D"}, "language", 'language must be "d" or "bpftrace"'),
        ({"nope": 1}, "body", "unknown field(s): nope"),
    ],
)
def test_a_wrong_field_is_named_with_its_message(
    over: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(SnippetError) as err:
        validate({**GOOD, **over}, max_script_bytes=100)
    assert err.value.field == field
    assert err.value.message.startswith(message)


def test_a_partial_update_leaves_absent_fields_out() -> None:
    assert validate({"tags": [" a ", "a", "b"]}, max_script_bytes=100, partial=True) == {
        "tags": ["a", "b"]
    }


def test_a_whole_snippet_gets_defaults_and_may_carry_what_the_store_set() -> None:
    echoed = {**GOOD, "id": 3, "rev": 2, "created": "x", "updated": "y", "base_rev": 2}
    assert validate(echoed, max_script_bytes=100) == {
        **GOOD,
        "description": "",
        "tags": [],
        "options": {},
    }


def test_the_import_shape_accepts_the_format_export_writes() -> None:
    from ide.snippets.store import EXPORT_FORMAT, EXPORT_VERSION, parse_import

    exported = {"format": EXPORT_FORMAT, "version": EXPORT_VERSION, "snippets": [GOOD]}
    assert parse_import(exported) == [GOOD]
    with pytest.raises(SnippetError) as err:
        parse_import({**exported, "version": EXPORT_VERSION + 1})
    assert err.value.field == "version"
