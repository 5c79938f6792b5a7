"""Turn an operation's output dict, or a ServiceError, into the HTTP response the real service would send.

Driven by botocore's output and error shapes for json, rest-json, rest-xml and query; event-stream
members become `application/vnd.amazon.eventstream` bodies, with modelled exceptions in mid-stream.
"""

from __future__ import annotations

import base64
import logging
import re
import traceback
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from xml.sax.saxutils import escape as _escape_markup

import cbor2
import orjson
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from outcrop.protocol import eventstream
from outcrop.protocol.errors import InternalServerException, ServiceError

log = logging.getLogger("outcrop.gateway")

Body = bytes | AsyncIterator[bytes]


# Characters XML 1.0 cannot carry at all, even as references: control characters and lone surrogates.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def escape(text: str) -> str:
    """Text as XML character data; what XML cannot hold (a key with \\x01, echoed in an error) becomes
    U+FFFD, so the document stays well-formed for every client."""
    return _escape_markup(_NOT_XML.sub("\ufffd", text))


@dataclass
class StreamingBlob:
    """A large blob payload (an S3 object) sent in chunks rather than held in memory."""

    chunks: AsyncIterator[bytes]
    length: int | None = None


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Body = b""


Event = tuple[str, dict[str, Any]]

# S3 names its output documents in its XML schema, which botocore's JSON model leaves out; SDKs other than
# botocore may look for these names. GetBucketLocation's document is a bare element with the region as text.
_S3_XML_ROOTS = {
    "ListBuckets": "ListAllMyBucketsResult",
    "ListObjects": "ListBucketResult",
    "ListObjectsV2": "ListBucketResult",
    "ListObjectVersions": "ListVersionsResult",
    "CreateMultipartUpload": "InitiateMultipartUploadResult",
    "CompleteMultipartUpload": "CompleteMultipartUploadResult",
    "ListParts": "ListPartsResult",
    "ListMultipartUploads": "ListMultipartUploadsResult",
    "DeleteObjects": "DeleteResult",
    "GetObjectTagging": "Tagging",
    "GetBucketTagging": "Tagging",
    "GetBucketVersioning": "VersioningConfiguration",
}
_XML_TEXT_ROOTS = {"GetBucketLocation": "LocationConstraint"}

# A service may return extra response headers the model does not describe (Bedrock's token-count headers).
EXTRA_HEADERS = "__http_headers__"


def _timestamp(value: Any, fmt: str) -> Any:
    if not isinstance(value, datetime):
        return value
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    if fmt == "iso8601":
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    if fmt == "rfc822":
        return format_datetime(value.astimezone(UTC), usegmt=True)
    return value.timestamp()


Converter = Callable[[Any], Any]
_ShapeKey = tuple[int, str, str]
_CONVERTERS: dict[_ShapeKey, Converter | None] = {}
_BUILDING: dict[_ShapeKey, list[Converter | None]] = {}


def _converter(shape: Shape) -> Converter | None:
    """A function encoding values of `shape` for JSON, compiled once per shape; None means as-is."""
    # botocore builds a new Shape each time a member is resolved, so a recursive shape (a flow definition
    # holds Loop nodes holding flow definitions) is known by its model and name, not by object identity
    key = (id(getattr(shape, "_shape_resolver", None)), shape.name, repr(shape.serialization))
    if key in _CONVERTERS:
        return _CONVERTERS[key]
    if key in _BUILDING:  # a recursive shape: defer to the finished converter
        pending = _BUILDING[key]
        return lambda value: pending[0](value) if pending[0] else value
    cell: list[Converter | None] = [None]
    _BUILDING[key] = cell
    try:
        built = _build_converter(shape)
    finally:
        del _BUILDING[key]
    cell[0] = built
    _CONVERTERS[key] = built
    return built


def _build_converter(shape: Shape) -> Converter | None:
    kind = shape.type_name
    if kind == "structure" and isinstance(shape, StructureShape):
        if getattr(shape, "is_document_type", False) or shape.serialization.get("document"):
            return None
        table = {
            name: (member.serialization.get("name", name), _converter(member))
            for name, member in shape.members.items()
            if not member.serialization.get("location")
        }

        def structure(value: Any) -> Any:
            out = {}
            for name, item in value.items():
                entry = table.get(name)
                if entry is None or item is None:
                    continue
                out[entry[0]] = entry[1](item) if entry[1] else item
            return out

        return structure
    if kind == "list" and isinstance(shape, ListShape):
        item_converter = _converter(shape.member)
        if item_converter is None:
            return None
        return lambda value: [item_converter(item) for item in value]
    if kind == "map" and isinstance(shape, MapShape):
        value_converter = _converter(shape.value)
        if value_converter is None:
            return None
        return lambda value: {k: value_converter(v) for k, v in value.items()}
    if kind == "blob":
        return lambda value: (
            base64.b64encode(value).decode() if isinstance(value, bytes | bytearray) else value
        )
    if kind == "timestamp":
        fmt = shape.serialization.get("timestampFormat", "unixTimestamp")
        return lambda value: _timestamp(value, fmt)
    return None


def to_json_value(shape: Shape, value: Any) -> Any:
    """Encode a Python value for a JSON body: blobs as base64, timestamps by the shape's format."""
    if value is None:
        return None
    converter = _converter(shape)
    return converter(value) if converter else value


def _json_bytes(data: Any) -> bytes:
    return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)


CBOR_HEADERS = {"content-type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"}


def _cbor_bytes(data: Any) -> bytes:
    """CBOR keeps bytes and timestamps (tag 1) as they are; only absent members are dropped."""
    return bytes(cbor2.dumps(_without_none(data), datetime_as_timestamp=True, timezone=UTC))


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None and k != EXTRA_HEADERS}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def _header_value(shape: Shape, value: Any) -> str:
    if shape.type_name == "timestamp":
        return str(_timestamp(value, shape.serialization.get("timestampFormat", "rfc822")))
    if shape.type_name == "boolean":
        return "true" if value else "false"
    if shape.type_name == "list":
        return ",".join(str(v) for v in value)
    if shape.type_name == "string" and shape.serialization.get("jsonvalue"):
        return base64.b64encode(_json_bytes(value)).decode()
    return str(value)


def _json_content_type(model: ServiceModel) -> str:
    return f"application/x-amz-json-{model.metadata.get('jsonVersion', '1.0')}"


def serialize_output(
    operation: OperationModel, output: dict[str, Any], request_id: str, protocol: str | None = None
) -> HttpResponse:
    model = operation.service_model
    protocol = protocol or model.metadata.get("protocol")
    shape = operation.output_shape
    response = HttpResponse(status=int(operation.http.get("responseCode", 200)))
    response.headers["x-amzn-requestid"] = request_id
    extra_headers = output.pop(EXTRA_HEADERS, None)
    if extra_headers:
        response.headers.update(extra_headers)
    if protocol == "json":
        response.headers["content-type"] = _json_content_type(model)
        response.body = _json_bytes(to_json_value(shape, output) if shape is not None else {})
        return response
    if protocol == "smithy-rpc-v2-cbor":
        response.headers.update(CBOR_HEADERS)
        response.body = _cbor_bytes(output if shape is not None else {})
        return response
    if protocol == "query":
        response.headers["content-type"] = "text/xml"
        response.body = _query_response(operation, shape, output, request_id)
        return response
    if shape is None:
        if protocol == "rest-json":
            response.headers["content-type"] = "application/json"
            response.body = b"{}"
        return response
    xml = protocol == "rest-xml"
    if xml:
        response.headers["x-amz-request-id"] = request_id
    body_values: dict[str, Any] = {}
    for name, member in shape.members.items():
        value = output.get(name)
        if value is None:
            continue
        location = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if location == "header":
            response.headers[wire.lower()] = _header_value(member, value)
        elif location == "headers":
            for key, item in value.items():
                response.headers[f"{wire}{key}".lower()] = str(item)
        elif location == "statusCode":
            response.status = int(value)
        else:
            body_values[name] = value
    payload_name = shape.serialization.get("payload")
    if payload_name:
        payload = shape.members[payload_name]
        value = body_values.get(payload_name)
        if payload.serialization.get("eventstream"):
            assert isinstance(payload, StructureShape)
            response.headers["content-type"] = eventstream.CONTENT_TYPE
            response.body = _event_stream(payload, value, xml=xml)
        elif payload.type_name == "blob":
            response.headers.setdefault("content-type", "application/octet-stream")
            if response.status == 200 and "content-range" in response.headers:
                response.status = 206  # a ranged read (S3 GetObject with Range) is a partial content answer
            if isinstance(value, StreamingBlob):
                if value.length is not None:
                    response.headers["content-length"] = str(value.length)
                response.body = value.chunks
            else:
                response.body = bytes(value or b"")
        elif payload.type_name == "string":
            response.body = str(value or "").encode()
        elif value is not None:
            if xml:
                response.headers["content-type"] = "application/xml"
                root = payload.serialization.get("name", payload_name)
                response.body = _xml_document(root, payload, value, model)
            else:
                response.headers["content-type"] = "application/json"
                response.body = _json_bytes(to_json_value(payload, value))
        return response
    if xml:
        text_root = _XML_TEXT_ROOTS.get(operation.name) if model.service_name == "s3" else None
        if text_root is not None:
            response.headers["content-type"] = "application/xml"
            text = escape(str(next(iter(body_values.values()), "") or ""))
            namespace = (
                f"http://{model.metadata.get('endpointPrefix')}.amazonaws.com/doc/{model.api_version}/"
            )
            document = f'<{text_root} xmlns="{namespace}">{text}</{text_root}>'
            response.body = f'<?xml version="1.0" encoding="UTF-8"?>\n{document}'.encode()
        elif body_values:
            response.headers["content-type"] = "application/xml"
            root = shape.serialization.get("name") or (
                _S3_XML_ROOTS.get(operation.name) if model.service_name == "s3" else None
            )
            response.body = _xml_document(root or operation.name + "Result", shape, body_values, model)
        return response
    response.headers["content-type"] = "application/json"
    response.body = _json_bytes(to_json_value(shape, body_values))
    return response


async def _event_stream(
    shape: StructureShape, events: AsyncIterator[Event] | None, *, xml: bool
) -> AsyncIterator[bytes]:
    if events is None:
        return
    try:
        async for name, payload in events:
            member = shape.members.get(name)
            if member is None:
                raise RuntimeError(f"event {name!r} is not a member of {shape.name}")
            yield eventstream.event_message(name, _event_payload(member, payload))
    except ServiceError as error:
        yield exception_frame(shape, error)
    except Exception:  # a bug in mid-stream: say so in the stream, as AWS does, instead of cutting it
        log.error("unhandled error in an event stream (%s): %s", shape.name, traceback.format_exc())
        yield exception_frame(shape, InternalServerException("An internal error occurred."))


def exception_frame(shape: StructureShape, error: ServiceError) -> bytes:
    """Render an error raised in mid-stream as the event stream's modelled exception, if it has one."""
    member_name = error.code[:1].lower() + error.code[1:]
    member = shape.members.get(member_name)
    if member is None:
        return eventstream.error_message(error.code, error.message)
    body = {"message": error.message, **error.extra}
    return eventstream.exception_message(member_name, _json_bytes(to_json_value(member, body)))


def _event_payload(shape: Shape, payload: dict[str, Any]) -> bytes:
    assert isinstance(shape, StructureShape)
    for name, member in shape.members.items():
        if member.serialization.get("eventpayload"):
            value = payload.get(name)
            if member.type_name == "blob":
                return bytes(value or b"")
            if member.type_name == "string":
                return str(value or "").encode()
            return _json_bytes(to_json_value(member, value or {}))
    return _json_bytes(to_json_value(shape, payload))


def serialize_error(
    model: ServiceModel | None, error: ServiceError, request_id: str, protocol: str | None = None
) -> HttpResponse:
    """The error response of a service (or of the gateway itself, when no service was found)."""
    protocol = protocol or (model.metadata.get("protocol") if model is not None else "rest-json")
    shape = _error_shape(model, error.code)
    status = error.status
    if shape is not None and "error" in shape.metadata:
        status = int(shape.metadata["error"].get("httpStatusCode", status))
    headers = {"x-amzn-requestid": request_id, "x-amzn-errortype": error.code, **error.headers}
    members = _error_members(shape, error, keep_unmodeled=protocol in ("rest-xml", "query"))
    if protocol in ("rest-xml", "query"):
        headers["content-type"] = "text/xml" if protocol == "query" else "application/xml"
        headers["x-amz-request-id"] = request_id
        details = {k: v for k, v in members.items() if k.lower() != "message"}  # Message is written once
        fields = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in details.items())
        inner = f"<Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message>{fields}"
        if protocol == "query":
            fault = "Sender" if error.sender_fault else "Receiver"
            body = (
                f"<ErrorResponse><Error><Type>{fault}</Type>{inner}</Error>"
                f"<RequestId>{request_id}</RequestId></ErrorResponse>"
            )
        else:
            body = f"<Error>{inner}<RequestId>{request_id}</RequestId></Error>"
        return HttpResponse(status, headers, ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode())
    if protocol == "smithy-rpc-v2-cbor":
        headers.update(CBOR_HEADERS)
        return HttpResponse(status, headers, _cbor_bytes({"__type": error.code, **members}))
    if protocol == "json":
        headers["content-type"] = _json_content_type(model) if model is not None else "application/json"
        data = {"__type": error.code, **members}
    else:
        headers["content-type"] = "application/json"
        data = dict(members)
    return HttpResponse(status, headers, _json_bytes(data))


def _error_shape(model: ServiceModel | None, code: str) -> StructureShape | None:
    if model is None:
        return None
    for shape in model.error_shapes:
        if shape.name == code or shape.metadata.get("error", {}).get("code") == code:
            return shape
    return None


def _error_members(
    shape: StructureShape | None, error: ServiceError, *, keep_unmodeled: bool = False
) -> dict[str, Any]:
    """The error's members; XML errors also keep unmodeled details (S3's BucketName, Key, UploadId...)."""
    message_key = "message"
    if shape is not None:
        for name in ("message", "Message"):
            if name in shape.members:
                message_key = shape.members[name].serialization.get("name", name)
                break
    members: dict[str, Any] = {message_key: error.message}
    if shape is not None:
        for name, value in error.extra.items():
            member = shape.members.get(name)
            if member is not None:
                members[member.serialization.get("name", name)] = to_json_value(member, value)
            elif keep_unmodeled:
                members[name] = value
    else:
        members.update(error.extra)
    return members


# -- XML (rest-xml and query) ---------------------------------------------------------------------------


def _xml_document(root: str, shape: Shape, value: Any, model: ServiceModel) -> bytes:
    namespace = shape.serialization.get("xmlNamespace", {}).get("uri") or model.metadata.get("xmlNamespace")
    if isinstance(namespace, dict):
        namespace = namespace.get("uri")
    if namespace is None and model.metadata.get("protocol") == "rest-xml":
        namespace = f"http://{model.metadata.get('endpointPrefix')}.amazonaws.com/doc/{model.api_version}/"
    attrs = f' xmlns="{namespace}"' if namespace else ""
    inner = _xml_inner(shape, value)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<{root}{attrs}>{inner}</{root}>'.encode()


def _xml_scalar(shape: Shape, value: Any) -> str:
    if shape.type_name == "timestamp":
        return str(_timestamp(value, shape.serialization.get("timestampFormat", "iso8601")))
    if shape.type_name == "boolean":
        return "true" if value else "false"
    if shape.type_name == "blob":
        return base64.b64encode(value).decode()
    return escape(str(value))


def _xml_inner(shape: Shape, value: Any) -> str:
    if isinstance(shape, StructureShape):
        parts = []
        for name, member in shape.members.items():
            item = value.get(name)
            if (
                item is None
                or member.serialization.get("location")
                or member.serialization.get("xmlAttribute")
            ):
                continue
            wire = member.serialization.get("name", name)
            parts.append(_xml_element(wire, member, item))
        return "".join(parts)
    if isinstance(shape, ListShape):
        item_name = shape.member.serialization.get("name", "member")
        return "".join(_xml_element(item_name, shape.member, item) for item in value)
    if isinstance(shape, MapShape):
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        return "".join(
            f"<entry><{key_name}>{escape(str(k))}</{key_name}>"
            f"{_xml_element(value_name, shape.value, v)}</entry>"
            for k, v in value.items()
        )
    return _xml_scalar(shape, value)


def _xml_element(name: str, shape: Shape, value: Any) -> str:
    if isinstance(shape, ListShape) and shape.serialization.get("flattened"):
        item_name = (
            shape.member.serialization.get("name", name) if shape.member.serialization.get("name") else name
        )
        return "".join(_xml_element(item_name, shape.member, item) for item in value)
    return f"<{name}>{_xml_inner(shape, value)}</{name}>"


def _query_response(
    operation: OperationModel, shape: StructureShape | None, output: dict[str, Any], request_id: str
) -> bytes:
    model = operation.service_model
    namespace = model.metadata.get("xmlNamespace") or (
        f"https://{model.metadata.get('endpointPrefix')}.amazonaws.com/doc/{model.api_version}/"
    )
    result_name = shape.serialization.get("resultWrapper") if shape is not None else None
    inner = _xml_inner(shape, output) if shape is not None else ""
    result = (
        f"<{result_name or operation.name + 'Result'}>{inner}</{result_name or operation.name + 'Result'}>"
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<{operation.name}Response xmlns="{namespace}">{result}'
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{operation.name}Response>"
    ).encode()
