"""Wire-level mutations, applied to botocore's request just before it is signed, and the writer of shape
mutations into a serialized JSON or CBOR body."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import cbor2

from tests.fuzz.shapes import Mutation, Raw, Target, set_path, wire_path

# -- wire-level mutations: functions of (AWSRequest, rng, target) applied before signing ------------------

WireMutation = Callable[[Any, random.Random, Target], None]


def _drop(request: Any, name: str) -> None:
    if name in request.headers:
        del request.headers[name]


def _set_body(request: Any, body: bytes) -> None:
    request.data = body
    _drop(request, "Content-MD5")
    for name in [h for h in request.headers if h.lower().startswith("x-amz-checksum-")]:
        del request.headers[name]


def _bad_body(request: Any, rng: random.Random, target: Target) -> None:
    choices = [
        b"{",
        b"[1,2",
        b"\xff\xfe\x00",
        b"null",
        b"[]",
        b'"x"',
        b"<a><b></a>",
        b"\xbf\xff",
        b"<?xml?>",
        b"[" * 100000,
        b'{"a":' * 30000,
        b'{"k": 1e400}',
        b"\x9f" * 5000,
    ]
    _set_body(request, rng.choice(choices))


def _content_type(request: Any, rng: random.Random, target: Target) -> None:
    value = rng.choice(
        (
            "text/plain",
            "application/xml",
            "application/x-www-form-urlencoded",
            "",
            "application/cbor",
            "application/x-amz-json-1.1; charset=utf-9",
            "multipart/form-data",
        )
    )
    _drop(request, "Content-Type")
    request.headers["Content-Type"] = value


def _stray_target(request: Any, rng: random.Random, target: Target) -> None:
    _drop(request, "X-Amz-Target")
    choice = rng.choice(
        (
            "AmazonS3.ListBuckets",
            "Kinesis_20131202.ListStreams",
            "X",
            "",
            "AWSCognitoIdentityProviderService.ListUserPools",
            "Comprehend_20171127.DetectSentiment",
            "Comprehend_20171127.NotAnOperation",
        )
    )
    if choice or rng.random() < 0.5:
        request.headers["X-Amz-Target"] = choice


def _wrong_method(request: Any, rng: random.Random, target: Target) -> None:
    request.method = rng.choice(
        [m for m in ("GET", "PUT", "POST", "DELETE", "PATCH", "OPTIONS") if m != request.method]
    )


def _wrong_path(request: Any, rng: random.Random, target: Target) -> None:
    base, _, query = request.url.partition("?")
    scheme, _, rest = base.partition("://")
    host, _, path = rest.partition("/")
    path = "/" + path
    path = rng.choice(
        (
            path + "/extra",
            path.rsplit("/", 1)[0] or "/",
            "/",
            "//" + path,
            path + "%",
            path + "%00",
            "/v1/",
            "/v1/lexicons/",
            "/" + "p" * 5000,
            path + "/../../..",
            "/_outcrop/x",
            "/%ZZ",
        )
    )
    request.url = f"{scheme}://{host}{path}" + (f"?{query}" if query else "")


def _odd_query(request: Any, rng: random.Random, target: Target) -> None:
    extra = rng.choice(
        (
            "encoding-type=%01",
            "max-keys=-1",
            "max-buckets=-1",
            "max-keys=99999999999999999999999",
            "x=%ZZ",
            "&&&=",
            "continuation-token=" + "x" * 10000,
            "prefix=%FF%FE",
            "versionId=",
            "partNumber=0",
            "uploadId=x",
            "max-uploads=abc",
            "list-type=9",
            "tagging",
            "Action=ListUsers",
            "X-Amz-Expires=abc",
            "delimiter=%00",
            "marker=" + "m" * 2000,
            "max-parts=-5",
        )
    )
    joiner = "&" if "?" in request.url else "?"
    request.url = request.url + joiner + extra


def _odd_header(request: Any, rng: random.Random, target: Target) -> None:
    name, value = rng.choice(
        (
            ("Range", "bytes=" + "9" * 5000 + "-"),
            ("Range", "bytes=5-1"),
            ("Range", "bytes=abc"),
            ("Range", "bytes=-0"),
            ("Range", "bytes=0-0,5-9"),
            ("If-Modified-Since", "1e400"),
            ("If-Modified-Since", "Mon, 99 Foo 99999 99:99:99 GMT"),
            ("If-Unmodified-Since", "-1e20"),
            ("If-Match", '"' + "e" * 5000),
            ("If-None-Match", "*"),
            ("Content-MD5", "not-md5"),
            ("x-amz-checksum-crc32", "!!!"),
            ("x-amz-checksum-sha256", "AAAA"),
            ("x-amz-copy-source", "/%ZZ/../x"),
            ("x-amz-copy-source", "fuzz-bucket/" + "k" * 3000),
            ("x-amz-meta-" + "m" * 300, "v"),
            ("x-amz-tagging", "a=%ZZ&&="),
            ("x-amz-tagging", "=&=&" * 50),
            ("x-amz-object-lock-retain-until-date", "1e400"),
            ("x-amz-expected-bucket-owner", "x" * 200),
            ("x-amz-max-parts", "-1"),
            ("x-amz-mfa", "1 2 3"),
            ("Content-Encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", "abc"),
            ("X-Amzn-Bedrock-GuardrailIdentifier", "%01"),
            ("X-Amzn-SageMaker-Custom-Attributes", "a" * 2000),
        )
    )
    _drop(request, name)
    request.headers[name] = value


WIRE_MUTATIONS: dict[str, WireMutation] = {
    "bad-body": _bad_body,
    "content-type": _content_type,
    "stray-target": _stray_target,
    "wrong-method": _wrong_method,
    "wrong-path": _wrong_path,
    "odd-query": _odd_query,
    "odd-header": _odd_header,
}


# -- applying shape mutations to the serialized body ---------------------------------------------------------

_SENTINEL = "__outcrop_fuzz_raw__"


def _encode(data: Any, raw: Raw | None, cbor: bool) -> bytes:
    if cbor:
        body: bytes = cbor2.dumps(data)
        return body.replace(cbor2.dumps(_SENTINEL), raw.cbor) if raw else body
    text = json.dumps(data, allow_nan=True)
    return text.replace(json.dumps(_SENTINEL), raw.json).encode() if raw else text.encode()


def mutate_body(request: Any, target: Target, mutation: Mutation) -> bool:
    """Apply a body mutation to the request botocore serialized; False when the body is not a document."""
    shape = target.operation.input_shape
    body = request.data or b""
    cbor = "cbor" in (request.headers.get("Content-Type") or "") or request.headers.get("smithy-protocol")
    try:
        data = cbor2.loads(body) if cbor else json.loads(body or b"{}")
    except Exception:
        return False
    payload = shape.serialization.get("payload")
    path = wire_path(shape, mutation.path, payload)
    raw = mutation.value if isinstance(mutation.value, Raw) else None
    value = _SENTINEL if raw else mutation.value
    if not path:
        data = value
    elif not set_path(data, path, value):
        return False
    _set_body(request, _encode(data, raw, bool(cbor)))
    return True
