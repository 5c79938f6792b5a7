"""Turn an HTTP request into the operation's input dict, guided by botocore's input shape.

The inverse of botocore's client-side serializers: json, rest-json, rest-xml and query. Values come out
typed (int, float, bool, bytes, datetime) so that validation and services never see wire encodings.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs
from xml.etree import ElementTree

import cbor2
from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape

from outcrop.protocol.errors import SerializationException, ValidationException


@dataclass
class HttpRequest:
    """What the protocol layer needs of a request, independent of the server framework."""

    method: str
    raw_path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    too_large: bool = False  # the body passed the server's limit and was dropped
    # an aws-chunked body's chunks as (SHA-256 of the data, chunk-signature), and its trailer as signed
    # (canonical headers, x-amz-trailer-signature): chunked.py reads them, sigv4.py verifies them
    chunk_signatures: list[tuple[str, str | None]] | None = None
    trailer: tuple[str, str] | None = None

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)


class _Invalid(Exception):
    """A wire value that cannot become its shape's type; becomes a ValidationException naming the field."""


def parse_timestamp(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _from_epoch(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            pass
        else:
            return _from_epoch(number)
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except ValueError:
            pass
        try:
            parsed = parsedate_to_datetime(text)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except (TypeError, ValueError, OverflowError, IndexError):
            pass
    raise _Invalid(f"invalid timestamp {value!r}")


def _from_epoch(seconds: float) -> datetime:
    """Epoch seconds as a datetime; out of datetime's range (1e20, inf, nan) is invalid input, not a crash."""
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise _Invalid(f"timestamp {seconds!r} is out of range") from exc


def _scalar_from_text(shape: Shape, text: str) -> Any:
    """Headers, query strings and XML carry text; convert it to the shape's type."""
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            if len(text) > 40:  # past any 64-bit value; also keeps int() off Python's digit limit
                raise ValueError(text)
            return int(text)
        if kind in ("float", "double"):
            return float(text)
    except ValueError as exc:
        raise _Invalid(f"expected a number, got {text!r}") from exc
    if kind == "boolean":
        if text.lower() not in ("true", "false"):
            raise _Invalid(f"expected true or false, got {text!r}")
        return text.lower() == "true"
    if kind == "timestamp":
        return parse_timestamp(text)
    if kind == "blob":
        return _b64decode(text)
    if kind == "string" and shape.serialization.get("jsonvalue"):
        try:
            return json.loads(base64.b64decode(text))
        except (ValueError, binascii.Error) as exc:
            raise _Invalid("expected base64-encoded JSON") from exc
    return text


def _b64decode(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise _Invalid("expected base64-encoded bytes") from exc


def from_json_value(shape: Shape, value: Any, path: str) -> Any:
    """Convert a decoded JSON value to the shape's Python type; leave type errors to validation."""
    if value is None:
        return None
    kind = shape.type_name
    try:
        if kind == "structure" and isinstance(value, dict):
            if shape.serialization.get("document") or getattr(shape, "is_document_type", False):
                return value
            assert isinstance(shape, StructureShape)
            out: dict[str, Any] = {}
            for name, member in shape.members.items():
                key = member.serialization.get("name", name)
                if value.get(key) is not None:  # an explicit null is an absent member, as AWS reads it
                    out[name] = from_json_value(member, value[key], _join(path, name))
            return out
        if kind == "list" and isinstance(value, list):
            assert isinstance(shape, ListShape)
            return [from_json_value(shape.member, item, f"{path}.{i + 1}") for i, item in enumerate(value)]
        if kind == "map" and isinstance(value, dict):
            assert isinstance(shape, MapShape)
            return {k: from_json_value(shape.value, v, f"{path}.{k}") for k, v in value.items()}
        if kind == "blob" and isinstance(value, str):
            return _b64decode(value)
        if kind == "timestamp" and not isinstance(value, bool):
            return parse_timestamp(value)
    except _Invalid as exc:
        raise ValidationException(f"1 validation error detected: Value at '{path}' {exc}") from exc
    return value


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def holds_lone_surrogate(body: bytes, data: Any) -> bool:
    """Whether JSON `body`, parsed as `data`, holds a string with an unpaired surrogate (no UTF-8 form).
    Only a \\uD800-\\uDFFF escape can carry one, so the parsed data is walked only when the body has one."""
    return bool(_SURROGATE_ESCAPE.search(body)) and _has_lone_surrogate(data)


def _has_lone_surrogate(value: Any) -> bool:
    """Whether any string in parsed JSON holds a surrogate without its pair (it cannot become UTF-8)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(item) for item in value)
    return False


def _loads_json(body: bytes) -> Any:
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise SerializationException(f"The request body is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise SerializationException("The request body nests JSON deeper than this server reads.") from exc
    if holds_lone_surrogate(body, data):
        raise SerializationException(
            "The request body holds a string with an unpaired UTF-16 surrogate escape."
        )
    return data


def _parse_cbor_body(shape: StructureShape | None, body: bytes) -> dict[str, Any]:
    """CBOR carries bytes and timestamps natively; the rest is as in JSON."""
    if shape is None or not body:
        return {}
    try:
        data = cbor2.loads(body)
    except (cbor2.CBORDecodeError, ValueError, RecursionError) as exc:
        raise SerializationException(f"The request body is not valid CBOR: {exc}") from exc
    if not isinstance(data, dict):
        raise SerializationException("The request body must be a CBOR map.")
    result = from_json_value(shape, data, "")
    assert isinstance(result, dict)
    return result


def _parse_json_body(shape: StructureShape | None, body: bytes) -> dict[str, Any]:
    if shape is None:
        return {}
    data = _loads_json(body)
    if not isinstance(data, dict):
        raise SerializationException("The request body must be a JSON object.")
    result = from_json_value(shape, data, "")
    assert isinstance(result, dict)
    return result


def parse_request(
    operation: OperationModel, request: HttpRequest, labels: Mapping[str, str], protocol: str | None = None
) -> dict[str, Any]:
    """The input dict of `operation` for this request, sent in `protocol` (default: the model's)."""
    protocol = protocol or operation.service_model.metadata.get("protocol")
    shape = operation.input_shape
    if protocol == "json":
        return _parse_json_body(shape, request.body)
    if protocol == "smithy-rpc-v2-cbor":
        return _parse_cbor_body(shape, request.body)
    if protocol == "query":
        return _parse_query(shape, request)
    if protocol in ("rest-json", "rest-xml"):
        return _parse_rest(operation, shape, request, labels, xml=protocol == "rest-xml")
    raise SerializationException(f"Outcrop does not speak the {protocol} protocol yet.")


def _parse_rest(
    operation: OperationModel,
    shape: StructureShape | None,
    request: HttpRequest,
    labels: Mapping[str, str],
    *,
    xml: bool,
) -> dict[str, Any]:
    if shape is None:
        return {}
    params: dict[str, Any] = {}
    body_members: dict[str, Shape] = {}
    known_query = {m.serialization.get("name") for m in shape.members.values()}
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        try:
            if location == "uri":
                if wire in labels:
                    params[name] = _scalar_from_text(member, labels[wire])
            elif location == "querystring":
                if isinstance(member, MapShape):
                    extra = {
                        k: v[0] if member.value.type_name != "list" else v for k, v in request.query.items()
                    }
                    params[name] = {k: v for k, v in extra.items() if k not in known_query}
                elif wire in request.query:
                    values = request.query[wire]
                    if isinstance(member, ListShape):
                        params[name] = [_scalar_from_text(member.member, v) for v in values]
                    else:
                        params[name] = _scalar_from_text(member, values[0])
            elif location == "header":
                raw = request.headers.get(wire.lower())
                if raw is not None and wire.lower().startswith("if-") and member.type_name == "timestamp":
                    with contextlib.suppress(_Invalid):  # HTTP ignores a condition whose date is unreadable
                        params[name] = _scalar_from_text(member, raw)
                elif raw is not None:
                    if isinstance(member, ListShape):
                        params[name] = [_scalar_from_text(member.member, v.strip()) for v in raw.split(",")]
                    else:
                        params[name] = _scalar_from_text(member, raw)
            elif location == "headers":
                prefix = wire.lower()
                found = {k[len(prefix) :]: v for k, v in request.headers.items() if k.startswith(prefix)}
                if found:
                    params[name] = found
            elif location == "statusCode":
                continue
            else:
                body_members[name] = member
        except _Invalid as exc:
            raise ValidationException(f"1 validation error detected: Value at '{name}' {exc}") from exc
    payload_name = shape.serialization.get("payload")
    if payload_name:
        payload = shape.members[payload_name]
        if payload.type_name in ("blob", "string"):
            if request.body or payload_name in params:
                params[payload_name] = request.body if payload.type_name == "blob" else _text(request.body)
        elif request.body.strip():
            if xml:
                params[payload_name] = _parse_xml_document(payload, request.body)
            else:
                data = _loads_json(request.body)
                params[payload_name] = from_json_value(payload, data, payload_name)
    elif body_members:
        if xml:
            if request.body.strip():
                root = _xml_root(request.body)
                params.update(_xml_structure_members(body_members, root))
        else:
            data = _loads_json(request.body)
            if not isinstance(data, dict):
                raise SerializationException("The request body must be a JSON object.")
            for name, member in body_members.items():
                key = member.serialization.get("name", name)
                if data.get(key) is not None:
                    params[name] = from_json_value(member, data[key], name)
    return params


def _text(body: bytes) -> str:
    """A string payload (an S3 bucket policy): UTF-8, or bad input."""
    try:
        return body.decode()
    except UnicodeDecodeError as exc:
        raise ValidationException("The request body is not valid UTF-8 text.") from exc


def _xml_root(body: bytes) -> ElementTree.Element:
    try:
        return ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        raise SerializationException(  # S3's word for it (the one rest-xml service)
            f"The XML you provided was not well-formed: {exc}", code="MalformedXML"
        ) from exc


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _parse_xml_document(shape: Shape, body: bytes) -> Any:
    return _from_xml(shape, _xml_root(body))


def _xml_structure_members(members: Mapping[str, Shape], node: ElementTree.Element) -> dict[str, Any]:
    out: dict[str, Any] = {}
    children = list(node)
    for name, member in members.items():
        wire = member.serialization.get("name", name)
        if member.serialization.get("xmlAttribute"):
            for key, value in node.attrib.items():
                if _local(key) == wire:
                    out[name] = value
            continue
        if isinstance(member, ListShape) and member.serialization.get("flattened"):
            matches = [c for c in children if _local(c.tag) == wire]
            if matches:
                out[name] = [_from_xml(member.member, c) for c in matches]
            continue
        for child in children:
            if _local(child.tag) == wire:
                out[name] = _from_xml(member, child)
                break
    return out


def _from_xml(shape: Shape, node: ElementTree.Element) -> Any:
    try:
        if isinstance(shape, StructureShape):
            return _xml_structure_members(shape.members, node)
        if isinstance(shape, ListShape):
            item_name = shape.member.serialization.get("name", "member")
            return [_from_xml(shape.member, c) for c in node if _local(c.tag) == item_name]
        if isinstance(shape, MapShape):
            key_name = shape.key.serialization.get("name", "key")
            value_name = shape.value.serialization.get("name", "value")
            result: dict[str, Any] = {}
            for entry in node:
                key_node = next((c for c in entry if _local(c.tag) == key_name), None)
                value_node = next((c for c in entry if _local(c.tag) == value_name), None)
                if key_node is not None and value_node is not None:
                    result[key_node.text or ""] = _from_xml(shape.value, value_node)
            return result
        return _scalar_from_text(shape, node.text or "")
    except _Invalid as exc:
        raise ValidationException(
            f"1 validation error detected: Value at '{_local(node.tag)}' {exc}"
        ) from exc


def _parse_query(shape: StructureShape | None, request: HttpRequest) -> dict[str, Any]:
    """awsQuery: form fields named `Member.member.1.Field`."""
    fields = {k: v[-1] for k, v in request.query.items()}
    if request.body:
        try:
            form = parse_qs(request.body.decode(), keep_blank_values=True)
        except UnicodeDecodeError as exc:
            raise SerializationException("The form body is not valid UTF-8.") from exc
        fields.update({k: v[-1] for k, v in form.items()})
    if shape is None:
        return {}
    result = _from_query(shape, fields, "")
    return result if isinstance(result, dict) else {}


def _from_query(shape: Shape, fields: Mapping[str, str], prefix: str) -> Any:
    try:
        if isinstance(shape, StructureShape):
            out: dict[str, Any] = {}
            for name, member in shape.members.items():
                key = (
                    f"{prefix}.{member.serialization.get('name', name)}"
                    if prefix
                    else member.serialization.get("name", name)
                )
                value = _from_query(member, fields, key)
                if value is not None:
                    out[name] = value
            return out or (None if prefix else {})
        if isinstance(shape, ListShape):
            flattened = shape.serialization.get("flattened")
            base = prefix if flattened else f"{prefix}.member"
            items = []
            index = 1
            while any(k == f"{base}.{index}" or k.startswith(f"{base}.{index}.") for k in fields):
                items.append(_from_query(shape.member, fields, f"{base}.{index}"))
                index += 1
            if not items and fields.get(prefix) == "":
                return []
            return items or None
        if isinstance(shape, MapShape):
            base = prefix if shape.serialization.get("flattened") else f"{prefix}.entry"
            result: dict[str, Any] = {}
            index = 1
            while f"{base}.{index}.key" in fields:
                result[fields[f"{base}.{index}.key"]] = _from_query(
                    shape.value, fields, f"{base}.{index}.value"
                )
                index += 1
            return result or None
        if prefix in fields:
            return _scalar_from_text(shape, fields[prefix])
        return None
    except _Invalid as exc:
        raise ValidationException(f"1 validation error detected: Value at '{prefix}' {exc}") from exc
