"""The `application/vnd.amazon.eventstream` framing (botocore decodes it; nobody ships an encoder).

A message is: total length, headers length, CRC32 of those 8 bytes, headers, payload, CRC32 of all before.
"""

from __future__ import annotations

import struct
import zlib

CONTENT_TYPE = "application/vnd.amazon.eventstream"
_STRING = 7


def _encode_headers(headers: dict[str, str]) -> bytes:
    out = bytearray()
    for name, value in headers.items():
        raw_name = name.encode()
        raw_value = value.encode()
        out += struct.pack("!B", len(raw_name)) + raw_name
        out += struct.pack("!BH", _STRING, len(raw_value)) + raw_value
    return bytes(out)


def encode_message(headers: dict[str, str], payload: bytes) -> bytes:
    raw_headers = _encode_headers(headers)
    total = 12 + len(raw_headers) + len(payload) + 4
    prelude = struct.pack("!II", total, len(raw_headers))
    prelude += struct.pack("!I", zlib.crc32(prelude))
    body = prelude + raw_headers + payload
    return body + struct.pack("!I", zlib.crc32(body))


def event_message(event_type: str, payload: bytes, content_type: str = "application/json") -> bytes:
    return encode_message(
        {":event-type": event_type, ":content-type": content_type, ":message-type": "event"}, payload
    )


def exception_message(exception_type: str, payload: bytes) -> bytes:
    """A modelled exception in mid-stream: botocore raises it as EventStreamError with this code."""
    return encode_message(
        {
            ":exception-type": exception_type,
            ":content-type": "application/json",
            ":message-type": "exception",
        },
        payload,
    )


def error_message(code: str, message: str) -> bytes:
    """An unmodelled error in mid-stream."""
    return encode_message({":error-code": code, ":error-message": message, ":message-type": "error"}, b"")
