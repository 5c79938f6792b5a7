"""`aws-chunked` request bodies: what boto3 sends for S3 uploads with streaming checksums or signatures.

Each chunk is `<hex size>[;chunk-signature=...]\r\n<bytes>\r\n`; a zero-size chunk ends the data and may be
followed by trailer headers such as `x-amz-checksum-crc32:...`.
"""

from __future__ import annotations

from outcrop.protocol.errors import ServiceError
from outcrop.protocol.parse import HttpRequest


class IncompleteBody(ServiceError):
    code, status, sender_fault = "IncompleteBody", 400, True


def is_aws_chunked(request: HttpRequest) -> bool:
    return "aws-chunked" in request.header("content-encoding") or request.header(
        "x-amz-content-sha256"
    ).startswith("STREAMING-")


def decode_aws_chunked(body: bytes) -> tuple[bytes, dict[str, str]]:
    """The payload and the trailer headers (lower-case names) of an aws-chunked body."""
    data = bytearray()
    pos = 0
    while True:
        line_end = body.find(b"\r\n", pos)
        if line_end < 0:
            raise IncompleteBody("The aws-chunked body ended inside a chunk header.")
        size_text = body[pos:line_end].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError as exc:
            raise IncompleteBody(f"Invalid aws-chunked chunk size {size_text!r}.") from exc
        pos = line_end + 2
        if size == 0:
            break
        if pos + size > len(body):
            raise IncompleteBody("The aws-chunked body is shorter than its chunk sizes say.")
        data += body[pos : pos + size]
        pos += size + 2
    trailers: dict[str, str] = {}
    for line in body[pos:].split(b"\r\n"):
        name, sep, value = line.decode("latin-1").partition(":")
        if sep and name.strip():
            trailers[name.strip().lower()] = value.strip()
    return bytes(data), trailers
