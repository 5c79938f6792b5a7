"""The JSON-schema subset that guards tool arguments and response schemas."""

from __future__ import annotations

from typing import Any

import pytest

from outcrop.backends.json_schema import schema_errors

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "minLength": 1},
        "unit": {"enum": ["celsius", "fahrenheit"]},
        "days": {"type": "integer", "minimum": 1, "maximum": 14},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
        "where": {"$ref": "#/$defs/point"},
    },
    "required": ["city"],
    "additionalProperties": False,
    "$defs": {"point": {"type": "object", "properties": {"lat": {"type": "number"}}, "required": ["lat"]}},
}


@pytest.mark.parametrize(
    "value",
    [{"city": "Oslo"}, {"city": "Oslo", "unit": "celsius", "days": 3, "tags": ["a"], "where": {"lat": 1}}],
)
def test_valid_values_have_no_errors(value: dict[str, Any]) -> None:
    assert schema_errors(value, SCHEMA) == []


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({}, "missing required 'city'"),
        ({"city": 3}, "expected string"),
        ({"city": ""}, "length 0"),
        ({"city": "a", "unit": "kelvin"}, "not one of"),
        ({"city": "a", "days": 0}, "below 1"),
        ({"city": "a", "days": True}, "expected integer"),
        ({"city": "a", "tags": ["x", "y", "z"]}, "3 items"),
        ({"city": "a", "where": {}}, "missing required 'lat'"),
        ({"city": "a", "extra": 1}, "unexpected property 'extra'"),
    ],
)
def test_each_broken_rule_is_named(value: dict[str, Any], problem: str) -> None:
    assert any(problem in error for error in schema_errors(value, SCHEMA)), schema_errors(value, SCHEMA)


def test_combinators_and_type_lists() -> None:
    either = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert schema_errors(None, either) == [] and schema_errors(1, either)
    assert schema_errors(2.0, {"type": "integer"}) == []
    assert schema_errors(1, {"type": ["string", "integer"]}) == []
    assert schema_errors(1, {"oneOf": [{"type": "integer"}, {"type": "number"}]})
