from __future__ import annotations

from typing import Any

import pytest

from outcrop.backends.base import ChatMessage
from outcrop.protocol.errors import ValidationException
from outcrop.services.bedrock_runtime.bodies.titan import TitanTextFormat

from .support import model, result, stream, wire

FORMAT = TitanTextFormat()
EXPRESS = model("titan-text", "amazon.titan-text-express-v1", max_tokens=8192)


def test_parse_the_documented_body() -> None:
    request = FORMAT.parse(
        {
            "inputText": "User: Name three colours\nBot:",
            "textGenerationConfig": {
                "maxTokenCount": 256,
                "temperature": 0.5,
                "topP": 0.8,
                "stopSequences": ["|"],
            },
        },
        EXPRESS,
    )
    assert list(request.messages) == [ChatMessage("user", "Name three colours")]
    assert (request.max_tokens, request.temperature, request.top_p, tuple(request.stop)) == (
        256,
        0.5,
        0.8,
        ("|",),
    )


def test_defaults_to_512_tokens() -> None:
    assert FORMAT.parse({"inputText": "Hi"}, EXPRESS).max_tokens == 512


@pytest.mark.parametrize(
    ("stop_reason", "completion_reason"),
    [("end_turn", "FINISH"), ("max_tokens", "LENGTH"), ("stop_sequence", "STOP_CRITERIA_MET")],
)
def test_response(stop_reason: Any, completion_reason: str) -> None:
    request = FORMAT.parse({"inputText": "Hi"}, EXPRESS)
    output = wire(
        FORMAT.response(
            result("Red, green, blue.", stop_reason, input_tokens=6, output_tokens=5), request, EXPRESS
        )
    )
    assert output["results"][0]["outputText"] == "Red, green, blue."
    assert output == {
        "inputTextTokenCount": 6,
        "results": [
            {"tokenCount": 5, "outputText": "Red, green, blue.", "completionReason": completion_reason}
        ],
    }


def test_stream_chunks() -> None:
    request = FORMAT.parse({"inputText": "Hi"}, EXPRESS)
    chunks = stream(
        FORMAT, request, EXPRESS, ["Red,", " green"], result("Red, green", input_tokens=4, output_tokens=3)
    )
    assert "".join(chunk["outputText"] for chunk in chunks) == "Red, green"
    assert chunks[0] == {
        "outputText": "Red,",
        "index": 0,
        "totalOutputTextTokenCount": 1,
        "completionReason": None,
        "inputTextTokenCount": 4,
    }
    assert chunks[-1]["completionReason"] == "FINISH" and chunks[-1]["totalOutputTextTokenCount"] == 3


@pytest.mark.parametrize(
    ("bad_body", "message"),
    [
        ({}, "#: required key [inputText] not found"),
        ({"inputText": ""}, "#/inputText: expected minLength: 1, actual: 0"),
        ({"inputText": "x", "max_tokens": 5}, "#: extraneous key [max_tokens] is not permitted"),
        (
            {"inputText": "x", "textGenerationConfig": {"maxTokens": 5}},
            "#/textGenerationConfig: extraneous key [maxTokens] is not permitted",
        ),
        (
            {"inputText": "x", "textGenerationConfig": {"maxTokenCount": 9000}},
            "#/textGenerationConfig/maxTokenCount: 9000 is not less or equal to 8192",
        ),
    ],
)
def test_malformed_bodies(bad_body: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationException) as caught:
        FORMAT.parse(bad_body, EXPRESS)
    assert message in caught.value.message
