"""Personalize schemas: Avro record JSON checked as the service does, and values read against it.

A schema is checked twice: as Avro when it is created (a record with typed fields of the types Personalize
takes), and against a dataset type when a dataset uses it (the required fields and their types).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from outcrop.personalize.errors import InvalidInput

DATASET_TYPES = ("Interactions", "Items", "Users")
_PRIMITIVES = {"string", "int", "long", "float", "double", "boolean"}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_REQUIRED: dict[str, dict[str, tuple[str, ...]]] = {
    "Interactions": {"USER_ID": ("string",), "ITEM_ID": ("string",), "TIMESTAMP": ("long", "int")},
    "Items": {"ITEM_ID": ("string",)},
    "Users": {"USER_ID": ("string",)},
}
_RESERVED_TYPES: dict[str, tuple[str, ...]] = {
    "EVENT_TYPE": ("string",),
    "EVENT_VALUE": ("float", "double", "int", "long"),
}
_MAX_FIELDS = {"Interactions": 15, "Items": 100, "Users": 25}


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # the primitive type
    nullable: bool
    categorical: bool


@dataclass(frozen=True)
class Schema:
    fields: tuple[Field, ...]

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]


def parse_schema(text: str) -> Schema:
    """The schema an Avro JSON document declares, or InvalidInput saying what is wrong with it."""
    try:
        doc = json.loads(text)
    except ValueError:
        raise InvalidInput("The schema is not valid JSON.") from None
    if not isinstance(doc, dict) or doc.get("type") != "record":
        raise InvalidInput('The schema must be an Avro record: {"type": "record", ...}.')
    if not isinstance(doc.get("name"), str) or not _NAME.match(doc["name"]):
        raise InvalidInput("The schema must have a valid Avro record name.")
    fields = doc.get("fields")
    if not isinstance(fields, list) or not fields:
        raise InvalidInput("The schema must have a non-empty list of fields.")
    parsed: list[Field] = []
    for entry in fields:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise InvalidInput("Each schema field must be an object with a name and a type.")
        name = entry["name"]
        if not _NAME.match(name):
            raise InvalidInput(f"The field name {name} is not a valid Avro name.")
        if any(f.name == name for f in parsed):
            raise InvalidInput(f"The field {name} is declared more than once.")
        kind, nullable = _field_type(name, entry.get("type"))
        categorical = entry.get("categorical") is True
        if categorical and kind != "string":
            raise InvalidInput(f"The field {name} is categorical, so its type must be string.")
        parsed.append(Field(name, kind, nullable, categorical))
    return Schema(tuple(parsed))


def _field_type(name: str, declared: Any) -> tuple[str, bool]:
    if isinstance(declared, str) and declared in _PRIMITIVES:
        return declared, False
    if isinstance(declared, list) and "null" in declared and len(declared) == 2:
        other = next(t for t in declared if t != "null")
        if isinstance(other, str) and other in _PRIMITIVES:
            return other, True
    raise InvalidInput(
        f"The field {name} has an unsupported type {json.dumps(declared)}: use string, int, long, float, "
        'double or boolean, or a union of one of them with "null".'
    )


def check_for_dataset(schema: Schema, dataset_type: str) -> None:
    """InvalidInput unless the schema has the fields that `dataset_type` requires, with their types."""
    if dataset_type not in DATASET_TYPES:
        raise InvalidInput(
            f"Outcrop serves the dataset types {', '.join(DATASET_TYPES)}, not {dataset_type}."
        )
    missing = [name for name in _REQUIRED[dataset_type] if schema.field(name) is None]
    if missing:
        raise InvalidInput(
            f"The schema is missing the field(s) required for a {dataset_type} dataset: {', '.join(missing)}"
        )
    for name, types in {**_REQUIRED[dataset_type], **_RESERVED_TYPES}.items():
        found = schema.field(name)
        if found is not None and found.type not in types:
            raise InvalidInput(f"The field {name} must be of type {' or '.join(types)}, not {found.type}.")
        if found is not None and name in _REQUIRED[dataset_type] and found.nullable:
            raise InvalidInput(f"The field {name} is required and cannot be nullable.")
    if dataset_type != "Interactions" and len(schema.fields) < 2:
        raise InvalidInput(f"A {dataset_type} dataset's schema needs at least one metadata field.")
    if len(schema.fields) > _MAX_FIELDS[dataset_type]:
        raise InvalidInput(
            f"A {dataset_type} schema may have at most {_MAX_FIELDS[dataset_type]} fields, "
            f"not {len(schema.fields)}."
        )


def read_value(field: Field, raw: str | None) -> str | int | float | bool | None:
    """A CSV or JSON value as the field's type; ValueError says why it does not fit."""
    if raw is None or raw == "":
        if field.nullable:
            return None
        raise ValueError(f"{field.name} is empty and not nullable")
    if field.type == "string":
        return raw
    if field.type in ("int", "long"):
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"{field.name} value {raw!r} is not a {field.type}") from None
    if field.type in ("float", "double"):
        try:
            return float(raw)
        except ValueError:
            raise ValueError(f"{field.name} value {raw!r} is not a {field.type}") from None
    lowered = raw.strip().lower()
    if lowered not in ("true", "false"):
        raise ValueError(f"{field.name} value {raw!r} is not a boolean")
    return lowered == "true"


def property_field(schema: Schema, key: str) -> Field | None:
    """The field a PutItems/PutUsers/PutEvents property names: camelCase of the field (numberOfRatings
    for NUMBER_OF_RATINGS), or the field name itself."""
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", key).upper()
    return schema.field(snake) or schema.field(key)
