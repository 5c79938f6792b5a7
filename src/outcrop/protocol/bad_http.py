"""A request that is not valid HTTP/1.1 (a bad request line, a header without a colon, an unreadable
Content-Length) never reaches the gateway: the HTTP parser refuses it. uvicorn answers such a request with
a plain-text 400 that botocore's XML and CBOR parsers cannot read; AWS answers an error document in the
client's own protocol. `AwsHttpToolsProtocol` is uvicorn's httptools protocol with that one answer
changed, passed to `uvicorn.run(http=...)`.

What the client reads is guessed from the headers parsed before the fault (often none; the parser hands
a header over only when the next one begins, so the one just before the fault is missing): CBOR when it
said so, JSON when it named an operation in X-Amz-Target, sent JSON, or signed for a JSON service, and
otherwise the query protocol's XML, which botocore's query and rest-xml parsers both read (S3's front end
answers malformed HTTP with an XML `BadRequest` too).
"""

from __future__ import annotations

import re
import uuid

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from outcrop.protocol.errors import ServiceError
from outcrop.protocol.serialize import serialize_error

MESSAGE = "An error occurred when parsing the HTTP request."
# Services signed under these names speak XML (query or rest-xml); the rest of what Outcrop serves
# speaks JSON. CloudWatch (monitoring) clients that do not say CBOR use its query form.
XML_SIGNING_NAMES = frozenset({"s3", "iam", "sts", "monitoring", "sns", "sqs", "cloudformation", "ec2"})
_SCOPE = re.compile(rb"Credential=[^/,\s]+/\d{8}/[^/,\s]+/([^/,\s]+)/aws4_request")


class BadRequest(ServiceError):
    code, status, sender_fault = "BadRequest", 400, True


def client_protocol(headers: list[tuple[bytes, bytes]] | None) -> str:
    """The wire protocol whose error the sender of these (possibly partial) headers can read."""
    found = {name.lower(): value for name, value in headers or ()}
    content_type = found.get(b"content-type", b"").lower()
    if found.get(b"smithy-protocol") == b"rpc-v2-cbor" or b"cbor" in content_type:
        return "smithy-rpc-v2-cbor"
    if b"x-amz-target" in found or b"json" in content_type:
        return "json"
    scope = _SCOPE.search(found.get(b"authorization", b""))
    if scope is not None and scope.group(1).decode("ascii", "replace") not in XML_SIGNING_NAMES:
        return "json"
    return "query"


def bad_request(headers: list[tuple[bytes, bytes]] | None, extra: list[tuple[bytes, bytes]]) -> bytes:
    """The whole HTTP/1.1 400 response, connection closing, for a request the parser refused."""
    response = serialize_error(None, BadRequest(MESSAGE), str(uuid.uuid4()), client_protocol(headers))
    body = response.body if isinstance(response.body, bytes) else b""
    lines = [b"HTTP/1.1 400 Bad Request"]
    lines += [name + b": " + value for name, value in extra]
    lines += [f"{name}: {value}".encode("latin-1", "replace") for name, value in response.headers.items()]
    lines += [b"content-length: " + str(len(body)).encode("ascii"), b"connection: close"]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class AwsHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, answering malformed HTTP with an AWS error document."""

    def send_400_response(self, msg: str) -> None:
        self.transport.write(bad_request(self.headers, list(self.server_state.default_headers)))
        self.transport.close()
