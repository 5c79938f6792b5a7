"""Values for botocore shapes: a plausible valid input, and the shape-level mutations a fuzzer tries on it.

A mutation names a member path (shape member names from the input's top) and what to put there. It is
applied on the JSON or CBOR body the client serialized when the member travels in the body (so nulls,
wrong types and raw text such as `1e400` reach the server as sent), and on the parameters otherwise.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape

# Values a member of this name gets before any pattern is tried: they make requests reach deeper code.
HINTS = {
    "Bucket": "fuzz-bucket",
    "Key": "fuzz.txt",
    "modelId": "anthropic.claude-3-haiku-20240307-v1:0",
    "ModelId": "anthropic.claude-3-haiku-20240307-v1:0",
    "RoleArn": "arn:aws:iam::000000000000:role/fuzz",
    "roleArn": "arn:aws:iam::000000000000:role/fuzz",
    "LanguageCode": "en",
    "Text": "Fuzzing is a way to find bugs.",
    "text": "Fuzzing is a way to find bugs.",
}
CANDIDATES = (
    "fuzz",
    "fuzz-1",
    "Fuzz1",
    "a",
    "1",
    "123456789012",
    "arn:aws:iam::000000000000:role/fuzz",
    "arn:aws:s3:::fuzz-bucket/fuzz.txt",
    "s3://fuzz-bucket/fuzz.txt",
    "us-east-1",
    "en",
    "fuzz@example.com",
    "ABCDEFGHIJ",
    "0123456789abcdef0123456789abcdef",
    "https://example.com/fuzz",
)


@dataclass(frozen=True)
class Target:
    """One operation of a served service."""

    service: str
    operation: OperationModel


@dataclass(frozen=True)
class Raw:
    """Body text the encoder cannot write from a Python value: `1e400`, 20,000 nested brackets."""

    json: str
    cbor: bytes


@dataclass(frozen=True)
class Mutation:
    kind: str
    path: tuple[str, ...]  # member names from the input shape; () is the whole input
    value: Any  # the new value; DELETE removes the member
    in_body: bool  # whether the member travels in the JSON/CBOR body (else: through the parameters)


DELETE = object()
# A ContentLength header the body does not match leaves client and server waiting on each other (the
# client's doing, not the server's): the fuzzer leaves it to the client.
SKIPPED = frozenset({"ContentLength"})
_pattern_cache: dict[str, re.Pattern[str] | None] = {}


def _pattern(text: str) -> re.Pattern[str] | None:
    if text not in _pattern_cache:
        try:
            _pattern_cache[text] = re.compile(text)
        except re.error:
            _pattern_cache[text] = None
    return _pattern_cache[text]


def _fits(shape: Shape, text: str) -> bool:
    low, high = shape.metadata.get("min", 0), shape.metadata.get("max", 10**9)
    compiled = _pattern(shape.metadata.get("pattern", "")) if shape.metadata.get("pattern") else None
    return low <= len(text) <= high and (compiled is None or compiled.fullmatch(text) is not None)


def _string(shape: Shape, name: str, rng: random.Random) -> str:
    if shape.enum:
        return str(rng.choice(shape.enum))
    for text in (HINTS.get(name), *CANDIDATES):
        if text is not None and _fits(shape, text):
            return text
    low = int(shape.metadata.get("min", 1) or 1)
    return ("fuzz" + "x" * low)[: max(low, min(4, int(shape.metadata.get("max", 4))))]


def valid_value(shape: Shape, name: str, rng: random.Random, depth: int = 0, optional: float = 0.3) -> Any:
    """A value of `shape` most services accept: required members, some optional ones, small sizes."""
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        if shape.metadata.get("union"):
            member = rng.choice(list(shape.members))
            return {member: valid_value(shape.members[member], member, rng, depth + 1, optional)}
        out: dict[str, Any] = {}
        for member, member_shape in shape.members.items():
            if member in SKIPPED:
                continue
            wanted = member in shape.required_members or (depth < 3 and rng.random() < optional)
            if wanted and depth < 6 and not member_shape.metadata.get("eventstream"):
                out[member] = valid_value(member_shape, member, rng, depth + 1, optional)
        return out
    if kind == "list":
        assert isinstance(shape, ListShape)
        count = max(1, int(shape.metadata.get("min", 1) or 1)) if depth < 6 else 0
        return [valid_value(shape.member, name, rng, depth + 1, optional) for _ in range(min(count, 3))]
    if kind == "map":
        assert isinstance(shape, MapShape)
        return {
            _string(shape.key, "key", rng) or "k": valid_value(shape.value, name, rng, depth + 1, optional)
        }
    if kind == "string":
        return _string(shape, name, rng)
    if kind in ("integer", "long"):
        low, high = int(shape.metadata.get("min", 1)), int(shape.metadata.get("max", 10))
        return max(low, min(high, 1 if low <= 1 <= high else low))
    if kind in ("float", "double"):
        least, most = float(shape.metadata.get("min", 0.5)), float(shape.metadata.get("max", 1.0))
        return max(least, min(most, 0.5))
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "timestamp":
        return datetime(2026, 1, 1, tzinfo=UTC)
    if kind == "blob":
        return b"fuzz bytes"
    return {}  # document types


def _members(
    shape: Shape, prefix: tuple[str, ...], depth: int = 0
) -> list[tuple[tuple[str, ...], Shape, bool]]:
    """Every member path under `shape` (nested structures only, not lists' items) with its requiredness."""
    if not isinstance(shape, StructureShape) or depth > 3:
        return []
    found = []
    for name, member in shape.members.items():
        if member.metadata.get("eventstream") or name in SKIPPED:
            continue
        found.append(((*prefix, name), member, name in shape.required_members))
        found.extend(_members(member, (*prefix, name), depth + 1))
    return found


def _deep(depth: int) -> Raw:
    return Raw("[" * depth + "]" * depth, b"\x81" * depth + b"\xf6")


def _bad_values(shape: Shape, name: str, rng: random.Random) -> list[tuple[str, Any]]:
    kind = shape.type_name
    out: list[tuple[str, Any]] = [("null", None), ("deep", _deep(rng.choice((200, 5000, 60000))))]
    if kind == "string":
        out += [
            ("wrong-type", rng.choice((12345, True, [], {"a": 1}))),
            ("huge", "A" * rng.choice((1025, 70000, 300000))),
            ("empty", ""),
            (
                "odd-chars",
                rng.choice(("\x00\x01", "../../etc/passwd", "%01%ZZ", "\ud83d\ude00\u202e", "a\nb")),
            ),
        ]
        if shape.enum:
            out.append(("unknown-enum", "NOT_A_MODELLED_VALUE"))
        if "token" in name.lower():
            out.append(("huge-token", "T" * rng.choice((5000, 200000))))
    elif kind in ("integer", "long", "float", "double"):
        out += [
            ("wrong-type", rng.choice(("abc", "12", [], {}, True))),
            ("out-of-range", rng.choice((-1, 0, 2**31, 2**63, -(2**63) - 1, 10**400))),
            (
                "raw-number",
                Raw(
                    rng.choice(("1e400", "-1e400", "1e-400", "0.5", "NaN")),
                    b"\xfb\x7f\xf0\x00\x00\x00\x00\x00\x00",
                ),
            ),
        ]
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None:
            out.append(("below-min", low - 1))
        if high is not None:
            out.append(("above-max", high + 1))
    elif kind == "timestamp":
        out += [
            ("timestamp-range", rng.choice((1e20, -1e20, 253402300800, -62135596801))),
            ("timestamp-text", rng.choice(("not a date", "9999-99-99T99:99:99Z", "1e400", ""))),
            ("raw-number", Raw("1e400", b"\xfb\x7f\xf0\x00\x00\x00\x00\x00\x00")),
        ]
    elif kind == "boolean":
        out += [("wrong-type", rng.choice(("true", 1, "maybe", [])))]
    elif kind == "blob":
        out += [("wrong-type", rng.choice(("not base64 !!", 17, {}))), ("huge", "QUFB" * 50000)]
    elif kind == "list":
        out += [("wrong-type", rng.choice(("x", 1, {"a": 1}))), ("many", [None] * 1000)]
    elif kind == "map":
        out += [("wrong-type", rng.choice(("x", [1, 2]))), ("odd-keys", {"": 1, "\x00": None})]
    elif kind == "structure":
        out += [("wrong-type", rng.choice(("x", [1], 3))), ("unknown-member", {"NotAMember": 1})]
    return out


def shape_mutations(operation: OperationModel, rng: random.Random, count: int) -> list[Mutation]:
    """`count` mutations of `operation`'s input, chosen with `rng` over every member path."""
    shape = operation.input_shape
    if shape is None:
        return []
    paths = _members(shape, ())
    if not paths:
        return []
    payload = shape.serialization.get("payload")
    rest = operation.service_model.protocol.startswith("rest")
    chosen = []
    for _ in range(count):
        path, member, required = rng.choice(paths)
        top = shape.members[path[0]]
        location = top.serialization.get("location")
        if rest:
            in_body = location is None and (payload is None or path[0] == payload)
            if payload is not None and top.type_name in ("blob", "string"):
                in_body = False
            if operation.service_model.protocol == "rest-xml":
                in_body = False
        else:
            in_body = operation.service_model.protocol != "query"
        if required and rng.random() < 0.25:
            chosen.append(Mutation("missing-required", path, DELETE, in_body))
            continue
        kind, value = rng.choice(_bad_values(member, path[-1], rng))
        if not in_body and (isinstance(value, Raw) or value is None):
            kind, value = "huge", "B" * 5000
        if not in_body and isinstance(value, dict | list):  # botocore would spread it over the query
            kind, value = "wrong-type", "12345"
        if not in_body and isinstance(value, str) and len(value) > 6000:  # URIs and headers: AWS's 8 KB
            value = value[:6000]
        if not in_body and isinstance(value, str) and any(ord(c) < 32 for c in value):
            value = "%01%ZZ"  # control characters make no valid HTTP header: the client refuses them
        chosen.append(Mutation(kind, path, value, in_body))
    return chosen


def set_path(data: Any, path: tuple[str, ...], value: Any) -> bool:
    """Put `value` at `path` of nested dicts (creating parents); DELETE removes it. False if it cannot."""
    node = data
    for key in path[:-1]:
        if not isinstance(node, dict):
            return False
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = {}
        node = child
    if not isinstance(node, dict):
        return False
    if value is DELETE:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value
    return True


def wire_path(shape: StructureShape, path: tuple[str, ...], payload: str | None) -> tuple[str, ...]:
    """The JSON keys of a member path: serialized names, and no payload member's own name."""
    keys: list[str] = []
    node: Shape = shape
    for index, name in enumerate(path):
        assert isinstance(node, StructureShape)
        member = node.members[name]
        if not (index == 0 and payload == name):
            keys.append(member.serialization.get("name", name))
        node = member
    return tuple(keys)
