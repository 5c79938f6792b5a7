"""`aws-chunked` request bodies: what boto3 sends for S3 uploads with streaming checksums or signatures.

Each chunk is `<hex size>[;chunk-signature=...]\r\n<bytes>\r\n`; a zero-size chunk ends the data and may be
followed by trailer headers such as `x-amz-checksum-crc32:...` and, when signed, `x-amz-trailer-signature`.
The chunk signatures and the trailer's are kept on the request (as hashes) for sigv4.py to verify.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from outcrop.protocol.errors import ServiceError
from outcrop.protocol.parse import HttpRequest


class IncompleteBody(ServiceError):
    code, status, sender_fault = "IncompleteBody", 400, True


@dataclass
class ChunkedBody:
    data: bytes
    trailers: dict[str, str]  # lower-case names, x-amz-trailer-signature left out
    chunks: list[tuple[str, str | None]] = field(default_factory=list)  # (SHA-256 of data, its signature)
    canonical_trailer: str = ""  # the trailer headers as signed: `name:value\n` each
    trailer_signature: str | None = None


def is_aws_chunked(request: HttpRequest) -> bool:
    return "aws-chunked" in request.header("content-encoding") or request.header(
        "x-amz-content-sha256"
    ).startswith("STREAMING-")


def unchunk(request: HttpRequest) -> None:
    """Replace an aws-chunked body by its data, add its trailers to the headers, keep its signatures."""
    decoded = parse_aws_chunked(request.body)
    request.body = decoded.data
    request.headers.update(decoded.trailers)
    request.chunk_signatures = decoded.chunks
    if decoded.trailer_signature is not None or decoded.canonical_trailer:
        request.trailer = (decoded.canonical_trailer, decoded.trailer_signature or "")


def decode_aws_chunked(body: bytes) -> tuple[bytes, dict[str, str]]:
    """The payload and the trailer headers (lower-case names) of an aws-chunked body."""
    decoded = parse_aws_chunked(body)
    return decoded.data, decoded.trailers


def parse_aws_chunked(body: bytes) -> ChunkedBody:
    data = bytearray()
    chunks: list[tuple[str, str | None]] = []
    pos = 0
    while True:
        line_end = body.find(b"\r\n", pos)
        if line_end < 0:
            raise IncompleteBody("The aws-chunked body ended inside a chunk header.")
        size_text, _, extension = body[pos:line_end].partition(b";")
        size_text = size_text.strip()
        try:
            size = int(size_text, 16) if 0 < len(size_text) <= 16 else -1
        except ValueError:
            size = -1
        if size < 0:
            raise IncompleteBody(f"Invalid aws-chunked chunk size {size_text[:32]!r}.")
        name, _, value = extension.decode("latin-1").partition("=")
        signature = value.strip() if name.strip() == "chunk-signature" else None
        pos = line_end + 2
        if pos + size > len(body):
            raise IncompleteBody("The aws-chunked body is shorter than its chunk sizes say.")
        chunk = body[pos : pos + size]
        chunks.append((hashlib.sha256(chunk).hexdigest() if signature else "", signature))
        if size == 0:
            break
        data += chunk
        pos += size + 2
    trailers: dict[str, str] = {}
    canonical = ""
    trailer_signature = None
    for line in body[pos:].split(b"\r\n"):
        name, sep, value = line.decode("latin-1").partition(":")
        if not (sep and name.strip()):
            continue
        if name.strip().lower() == "x-amz-trailer-signature":
            trailer_signature = value.strip()
            continue
        trailers[name.strip().lower()] = value.strip()
        canonical += f"{name.strip().lower()}:{value.strip()}\n"
    return ChunkedBody(bytes(data), trailers, chunks, canonical, trailer_signature)
