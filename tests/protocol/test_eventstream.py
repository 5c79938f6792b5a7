"""Our encoder against botocore's own decoder: if boto3 can read it, real clients can."""

from __future__ import annotations

import json

from botocore.eventstream import EventStreamBuffer

from outcrop.protocol import eventstream


def decode(data: bytes) -> list[tuple[dict[str, str], bytes]]:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return [(message.headers, message.payload) for message in buffer]


def test_event_round_trips_through_botocore() -> None:
    payload = json.dumps({"delta": {"text": "héllo"}}).encode()
    [(headers, body)] = decode(eventstream.event_message("contentBlockDelta", payload))
    assert headers == {
        ":event-type": "contentBlockDelta",
        ":content-type": "application/json",
        ":message-type": "event",
    }
    assert body == payload


def test_exception_and_error_frames() -> None:
    data = eventstream.exception_message("throttlingException", b'{"message":"slow down"}')
    data += eventstream.error_message("InternalFailure", "boom")
    (exc_headers, exc_body), (err_headers, err_body) = decode(data)
    assert exc_headers[":message-type"] == "exception"
    assert exc_headers[":exception-type"] == "throttlingException"
    assert json.loads(exc_body) == {"message": "slow down"}
    assert err_headers == {
        ":error-code": "InternalFailure",
        ":error-message": "boom",
        ":message-type": "error",
    }
    assert err_body == b""


def test_many_messages_split_anywhere_still_decode() -> None:
    data = b"".join(eventstream.event_message("chunk", f'{{"i":{i}}}'.encode()) for i in range(50))
    buffer = EventStreamBuffer()
    seen = []
    for start in range(0, len(data), 7):
        buffer.add_data(data[start : start + 7])
        seen.extend(json.loads(message.payload)["i"] for message in buffer)
    assert seen == list(range(50))
