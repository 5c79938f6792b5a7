from __future__ import annotations

from typing import Any

import pytest

from outcrop.backends.base import ChatMessage, Image
from outcrop.protocol.errors import ValidationException
from outcrop.services.bedrock_runtime.bodies.llama import LlamaFormat

from .support import model, result, stream, wire

FORMAT = LlamaFormat()
PNG_HEAD = b"\x89PNG\r\n\x1a\n"
LLAMA3 = model("llama", "meta.llama3-8b-instruct-v1:0", max_tokens=2048)
PROMPT = (
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nWhat is AWS?<|eot_id|>"
    "<|start_header_id|>assistant<|end_header_id|>\n\n"
)


def test_parse() -> None:
    request = FORMAT.parse({"prompt": PROMPT, "max_gen_len": 128, "temperature": 0.1, "top_p": 0.9}, LLAMA3)
    assert list(request.messages) == [ChatMessage("user", "What is AWS?")]
    assert (request.max_tokens, request.temperature, request.top_p) == (128, 0.1, 0.9)
    assert FORMAT.parse({"prompt": "Hi"}, LLAMA3).max_tokens == 512


def test_images_go_with_the_first_user_turn() -> None:
    request = FORMAT.parse({"prompt": PROMPT, "images": ["iVBORw0KGgo="]}, LLAMA3)
    assert request.messages[0] == ChatMessage("user", "What is AWS?", images=(Image("image/png", PNG_HEAD),))
    with pytest.raises(ValidationException, match="not a PNG, JPEG, GIF or WebP image"):
        FORMAT.parse({"prompt": PROMPT, "images": ["aGVsbG8="]}, LLAMA3)


def test_response() -> None:
    request = FORMAT.parse({"prompt": PROMPT}, LLAMA3)
    output = wire(
        FORMAT.response(result("A cloud.", "max_tokens", input_tokens=20, output_tokens=3), request, LLAMA3)
    )
    assert output["generation"] == "A cloud."
    assert output == {
        "generation": "A cloud.",
        "prompt_token_count": 20,
        "generation_token_count": 3,
        "stop_reason": "length",
    }


def test_stream_chunks() -> None:
    request = FORMAT.parse({"prompt": PROMPT}, LLAMA3)
    chunks = stream(
        FORMAT, request, LLAMA3, ["A", " cloud."], result("A cloud.", input_tokens=20, output_tokens=3)
    )
    assert "".join(chunk["generation"] for chunk in chunks) == "A cloud."
    assert [chunk["prompt_token_count"] for chunk in chunks] == [20, None, None]
    assert [chunk["generation_token_count"] for chunk in chunks] == [1, 2, 3]
    assert [chunk["stop_reason"] for chunk in chunks] == [None, None, "stop"]


@pytest.mark.parametrize(
    ("bad_body", "message"),
    [
        ({"max_gen_len": 5}, "#: required key [prompt] not found"),
        ({"prompt": "x", "max_tokens": 5}, "#: extraneous key [max_tokens] is not permitted"),
        ({"prompt": "x", "max_gen_len": 8192}, "#/max_gen_len: 8192 is not less or equal to 2048"),
        ({"prompt": 5}, "#/prompt: expected type: String, found: Integer"),
    ],
)
def test_malformed_bodies(bad_body: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationException) as caught:
        FORMAT.parse(bad_body, LLAMA3)
    assert message in caught.value.message
