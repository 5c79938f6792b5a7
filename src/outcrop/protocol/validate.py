"""Check an input dict against its botocore shape, reporting errors as AWS words them.

AWS answers `1 validation error detected: Value 'x' at 'inferenceConfig.maxTokens' failed to satisfy
constraint: Member must have value greater than or equal to 1`; clients and people grep for that form.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from functools import lru_cache
from typing import Any

from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape

from outcrop.protocol.errors import ServiceError, ValidationException

_MAX_REPORTED = 10


@lru_cache(maxsize=4096)
def _compiled(pattern: str) -> re.Pattern[str] | None:
    # botocore's bedrock-agent ARN patterns write the account as `:/d{12}:` (a typo for \d), which no real
    # ARN matches; read it as the digits AWS means
    pattern = pattern.replace(":/d{12}:", r":\d{12}:").replace(":/d+", r":\d+")
    # forecast's one `Arn` shape also types IAM role ARNs (S3Config.RoleArn), which AWS takes
    pattern = pattern.replace(r"arn:([a-z\d-]+):forecast:", r"arn:([a-z\d-]+):(forecast|iam):")
    try:
        return re.compile(pattern, re.DOTALL)
    except re.error:
        return None  # an ECMAScript-only construct: skip rather than reject valid input


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        text = value if len(value) <= 80 else value[:77] + "..."
        return f"'{text}'"
    if isinstance(value, bytes):
        return "(binary)"
    if isinstance(value, dict | list):
        return "(complex)"
    return f"'{value}'"


class _Collector:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def add(self, value: Any, path: str, constraint: str) -> None:
        self.errors.append(f"Value {_show(value)} at '{path}' failed to satisfy constraint: {constraint}")


def validate(shape: StructureShape | None, params: dict[str, Any]) -> None:
    """Raise ValidationException listing every violation (up to ten), or return quietly."""
    if shape is None:
        return
    found = _Collector()
    _check_structure(shape, params, "", found)
    if found.errors:
        count = len(found.errors)
        noun = "error" if count == 1 else "errors"
        detail = "; ".join(found.errors[:_MAX_REPORTED])
        raise ValidationException(f"{count} validation {noun} detected: {detail}")


def _path(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent else name


def _check_structure(shape: StructureShape, value: dict[str, Any], path: str, found: _Collector) -> None:
    if getattr(shape, "is_document_type", False) or shape.serialization.get("document"):
        return
    for name in shape.required_members:
        if value.get(name) is None:
            found.add(None, _path(path, name), "Member must not be null")
    if shape.metadata.get("union"):
        present = [k for k, v in value.items() if v is not None]
        if len(present) != 1:
            found.errors.append(
                f"Value at '{path or shape.name}' failed to satisfy constraint: "
                f"Exactly one member must be set, got {len(present)}"
            )
    for name, member_value in value.items():
        if member_value is None or name not in shape.members:
            continue
        _check(shape.members[name], member_value, _path(path, name), found)


def _check(shape: Shape, value: Any, path: str, found: _Collector) -> None:
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        if getattr(shape, "is_document_type", False) or shape.serialization.get("document"):
            return
        if not isinstance(value, dict):
            found.add(value, path, "Member must be an object")
            return
        assert isinstance(shape, StructureShape)
        _check_structure(shape, value, path, found)
        return
    if kind == "list":
        if not isinstance(value, list):
            found.add(value, path, "Member must be a list")
            return
        _check_length(len(value), value, meta, path, found)
        assert isinstance(shape, ListShape)
        for i, item in enumerate(value):
            if item is None:
                found.add(None, f"{path}.{i + 1}.member", "Member must not be null")
            else:
                _check(shape.member, item, f"{path}.{i + 1}.member", found)
        return
    if kind == "map":
        if not isinstance(value, dict):
            found.add(value, path, "Member must be a map")
            return
        _check_length(len(value), value, meta, path, found)
        assert isinstance(shape, MapShape)
        for key, item in value.items():
            _check(shape.key, key, f"{path}.{key}.key", found)
            if item is not None:
                _check(shape.value, item, f"{path}.{key}.value", found)
        return
    if kind == "string":
        if shape.serialization.get("jsonvalue"):
            return
        if not isinstance(value, str):
            found.add(value, path, "Member must be a string")
            return
        _check_length(len(value), value, meta, path, found)
        if shape.enum and value not in shape.enum:
            found.add(value, path, f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
        pattern = meta.get("pattern")
        if pattern:
            compiled = _compiled(pattern)
            if compiled is not None and compiled.search(value) is None:
                found.add(value, path, f"Member must satisfy regular expression pattern: {pattern}")
        return
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            found.add(value, path, "Member must be an integer")
            return
        bits = 31 if kind == "integer" else 63
        if not -(2**bits) <= value < 2**bits:  # a Java int or long, as AWS reads it
            found.add(value, path, f"Member must be a {bits + 1}-bit integer")
            return
        _check_range(value, meta, path, found)
        return
    if kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value):
            found.add(value, path, "Member must be a finite number")
            return
        _check_range(value, meta, path, found)
        return
    if kind == "boolean":
        if not isinstance(value, bool):
            found.add(value, path, "Member must be a boolean")
        return
    if kind == "blob":
        if not isinstance(value, bytes | bytearray):
            found.add(value, path, "Member must be binary data")
            return
        _check_length(len(value), value, meta, path, found)
        return
    if kind == "timestamp" and not isinstance(value, datetime):
        found.add(value, path, "Member must be a timestamp")


def _finite(value: float) -> bool:
    """Whether a JSON number is one a double holds (1e400 reads as inf; a 400-digit integer overflows)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _check_length(length: int, value: Any, meta: dict[str, Any], path: str, found: _Collector) -> None:
    if "min" in meta and length < meta["min"]:
        found.add(value, path, f"Member must have length greater than or equal to {meta['min']}")
    if "max" in meta and length > meta["max"]:
        found.add(value, path, f"Member must have length less than or equal to {meta['max']}")


def _check_range(value: float, meta: dict[str, Any], path: str, found: _Collector) -> None:
    if "min" in meta and value < meta["min"]:
        found.add(value, path, f"Member must have value greater than or equal to {meta['min']}")
    if "max" in meta and value > meta["max"]:
        found.add(value, path, f"Member must have value less than or equal to {meta['max']}")


def require_members(operation: OperationModel, params: dict[str, Any]) -> None:
    """Services that answer their own errors still refuse a request lacking a required member: at the top
    level as InvalidRequest, inside the XML body (a DeleteObjects <Object> without <Key>) as MalformedXML."""
    shape = operation.input_shape
    missing = [name for name in (shape.required_members if shape else ()) if params.get(name) is None]
    if missing:
        raise ServiceError(
            f"{operation.name} requires {', '.join(missing)}, which the request does not carry.",
            code="InvalidRequest",
            status=400,
            sender_fault=True,
        )
    for name, member in shape.members.items() if shape else ():
        if params.get(name) is not None and not _complete(member, params[name], 0):
            raise ServiceError(
                "The XML you provided was not well-formed or did not validate against our published schema",
                code="MalformedXML",
                status=400,
                sender_fault=True,
            )


def _complete(shape: Shape, value: Any, depth: int) -> bool:
    """Whether every structure inside `value` carries its required members."""
    if depth > 20:
        return True
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        if any(value.get(name) is None for name in shape.required_members):
            return False
        return all(_complete(shape.members[k], v, depth + 1) for k, v in value.items() if k in shape.members)
    if isinstance(shape, ListShape) and isinstance(value, list):
        return all(_complete(shape.member, item, depth + 1) for item in value)
    return True
