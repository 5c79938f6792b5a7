"""Serializer behaviours checked with botocore's own parsers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from botocore.eventstream import EventStream
from botocore.exceptions import EventStreamError
from botocore.parsers import EventStreamJSONParser

from outcrop.protocol.errors import ServiceError, ThrottlingException
from outcrop.protocol.router import service_model
from outcrop.protocol.serialize import serialize_output

CONVERSE_STREAM = service_model("bedrock-runtime").operation_model("ConverseStream")


async def collect(body: Any) -> bytes:
    chunks = [chunk async for chunk in body]
    return b"".join(chunks)


class RawStream:
    """Just enough of urllib3's response for botocore's EventStream to read our bytes."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, amt: int = 1024) -> Any:
        yield self._data


def parse_events(data: bytes) -> EventStream:
    shape = CONVERSE_STREAM.output_shape.members["stream"]
    return EventStream(RawStream(data), shape, EventStreamJSONParser(), "ConverseStream")


def stream_output(error: Exception) -> bytes:
    async def events() -> AsyncIterator[tuple[str, dict[str, Any]]]:
        yield "messageStart", {"role": "assistant"}
        yield "contentBlockDelta", {"delta": {"text": "partial"}, "contentBlockIndex": 0}
        raise error

    response = serialize_output(CONVERSE_STREAM, {"stream": events()}, "req")
    assert response.headers["content-type"] == "application/vnd.amazon.eventstream"
    return asyncio.run(collect(response.body))


def test_modelled_exception_in_mid_stream_reaches_the_client() -> None:
    events = iter(parse_events(stream_output(ThrottlingException("slow down"))))
    assert next(events) == {"messageStart": {"role": "assistant"}}
    assert next(events)["contentBlockDelta"]["delta"]["text"] == "partial"
    with pytest.raises(EventStreamError) as caught:
        next(events)
    assert caught.value.response["Error"]["Code"] == "throttlingException"
    assert caught.value.response["Error"]["Message"] == "slow down"


def test_a_bug_in_mid_stream_is_the_modelled_internal_error_not_a_cut_connection() -> None:
    events = iter(parse_events(stream_output(KeyError("a bug"))))
    next(events)
    next(events)
    with pytest.raises(EventStreamError) as caught:
        next(events)
    assert caught.value.response["Error"]["Code"] == "internalServerException"
    assert caught.value.response["Error"]["Message"] == "An internal error occurred."


def test_unmodelled_error_in_mid_stream_is_an_error_frame() -> None:
    events = iter(parse_events(stream_output(ServiceError("boom", code="SomethingOdd"))))
    next(events)
    next(events)
    with pytest.raises(EventStreamError) as caught:
        next(events)
    assert caught.value.response["Error"]["Code"] == "SomethingOdd"
