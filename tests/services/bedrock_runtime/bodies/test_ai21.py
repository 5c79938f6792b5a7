from __future__ import annotations

import pytest

from outcrop.backends.base import ChatMessage, ToolCall
from outcrop.protocol.errors import ValidationException
from outcrop.services.bedrock_runtime.bodies.ai21 import JambaFormat, Jurassic2Format

from .support import model, result, stream, wire

J2 = Jurassic2Format()
JAMBA = JambaFormat()
J2_MODEL = model("ai21-j2", "ai21.j2-ultra-v1", max_tokens=8191, streaming=False)
JAMBA_MODEL = model("ai21-jamba", "ai21.jamba-1-5-mini-v1:0", max_tokens=4096)


def test_j2_parse_and_response() -> None:
    body = {
        "prompt": "Translate to French: cheese",
        "maxTokens": 50,
        "temperature": 0.7,
        "topP": 1,
        "stopSequences": ["##"],
        "countPenalty": {"scale": 0},
        "presencePenalty": {"scale": 0},
    }
    request = J2.parse(body, J2_MODEL)
    assert list(request.messages) == [ChatMessage("user", "Translate to French: cheese")]
    assert (request.max_tokens, tuple(request.stop)) == (50, ("##",))
    assert J2.parse({"prompt": "x"}, J2_MODEL).max_tokens == 200
    output = wire(J2.response(result("fromage"), request, J2_MODEL))
    assert output["completions"][0]["data"]["text"] == "fromage"
    assert output["completions"][0]["finishReason"] == {"reason": "endoftext"}
    assert output["prompt"] == {"text": "Translate to French: cheese", "tokens": []}
    assert isinstance(output["id"], int)
    length = J2.response(result("fro", "max_tokens"), request, J2_MODEL)
    assert length["completions"][0]["finishReason"] == {"reason": "length", "length": 50}
    stopped = J2.response(result("fro", "stop_sequence", stop_sequence="##"), request, J2_MODEL)
    assert stopped["completions"][0]["finishReason"] == {"reason": "stop", "sequence": "##"}


def test_j2_refuses_streaming_and_many_results() -> None:
    request = J2.parse({"prompt": "x"}, J2_MODEL)
    with pytest.raises(ValidationException, match="unsupported for streaming"):
        J2.streamer(request, J2_MODEL, 3)
    with pytest.raises(ValidationException, match="numResults must be 1"):
        J2.parse({"prompt": "x", "numResults": 3}, J2_MODEL)


def test_jamba_parse() -> None:
    request = JAMBA.parse(
        {
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
            "documents": [{"content": "Paris is in France."}],
            "max_tokens": 256,
            "stop": "###",
            "n": 1,
            "response_format": {"type": "json_object"},
        },
        JAMBA_MODEL,
    )
    system, user = request.messages
    assert (
        system.role == "system"
        and system.content.startswith("Be brief.")
        and "Paris is in France." in system.content
    )
    assert user == ChatMessage("user", "Hi")
    assert (request.max_tokens, tuple(request.stop), request.json_mode) == (256, ("###",), True)
    assert JAMBA.parse({"messages": [{"role": "user", "content": "x"}]}, JAMBA_MODEL).max_tokens == 4096


def test_jamba_response_and_stream() -> None:
    request = JAMBA.parse({"messages": [{"role": "user", "content": "Hi"}]}, JAMBA_MODEL)
    output = wire(JAMBA.response(result("Hello!", input_tokens=5, output_tokens=2), request, JAMBA_MODEL))
    assert output["choices"][0]["message"]["content"] == "Hello!"
    assert output["choices"][0] == {
        "index": 0,
        "message": {"role": "assistant", "content": "Hello!", "tool_calls": None},
        "finish_reason": "stop",
    }
    assert output["usage"] == {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
    call = ToolCall("call_1", "lookup", {"q": "x"})
    chunks = stream(
        JAMBA, request, JAMBA_MODEL, ["Hel", "lo"], result("Hello", "tool_use", tool_calls=[call])
    )
    assert "".join(chunk["choices"][0]["delta"].get("content", "") for chunk in chunks) == "Hello"
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1]["choices"][0]["delta"]["tool_calls"][0]["function"]["name"] == "lookup"
    assert chunks[-1]["usage"]["completion_tokens"] == 3
    assert len({chunk["id"] for chunk in chunks}) == 1


def test_jamba_malformed_bodies() -> None:
    with pytest.raises(ValidationException, match=r"#: required key \[messages\] not found"):
        JAMBA.parse({}, JAMBA_MODEL)
    with pytest.raises(ValidationException, match="n must be 1"):
        JAMBA.parse({"messages": [{"role": "user", "content": "x"}], "n": 2}, JAMBA_MODEL)
    with pytest.raises(ValidationException, match="#/messages/0/role: robot is not a valid enum value"):
        JAMBA.parse({"messages": [{"role": "robot", "content": "x"}]}, JAMBA_MODEL)
