"""The tool-use loop to completion on the real local models, through boto3 Converse: the model calls the
tool, gets its result, and answers in text. Both Qwen2.5-Coder sizes, with grammar-constrained calls."""

from __future__ import annotations

from typing import Any

import pytest

from outcrop.backends.json_schema import schema_errors
from tests.server import RunningServer

pytestmark = pytest.mark.real

SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    },
    "required": ["city", "unit"],
}
TOOLS = {
    "tools": [
        {
            "toolSpec": {
                "name": "get_weather",
                "description": "Get the current weather for a city.",
                "inputSchema": {"json": SCHEMA},
            }
        }
    ]
}


@pytest.mark.parametrize(
    "model_id",
    [
        "anthropic.claude-3-haiku-20240307-v1:0",  # Qwen2.5-Coder-0.5B
        "anthropic.claude-3-sonnet-20240229-v1:0",  # Qwen2.5-Coder-1.5B
    ],
)
def test_tool_use_loop_runs_to_a_final_answer(real_server: RunningServer, model_id: str) -> None:
    runtime = real_server.client("bedrock-runtime")
    # Without a system prompt the 1.5B model calls the tool again after its result; agents carry one.
    system = [
        {"text": "You are a helpful assistant. Use a tool when you need data, then answer in one sentence."}
    ]
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": [{"text": "What's the weather in Paris right now, in celsius?"}]}
    ]
    settings = {"maxTokens": 60, "temperature": 0.0}
    first = runtime.converse(
        modelId=model_id, system=system, messages=messages, toolConfig=TOOLS, inferenceConfig=settings
    )
    assert first["stopReason"] == "tool_use", first["output"]
    call = next(block["toolUse"] for block in first["output"]["message"]["content"] if "toolUse" in block)
    assert call["name"] == "get_weather"
    assert schema_errors(call["input"], SCHEMA) == []
    assert "paris" in call["input"]["city"].lower()
    messages.append(first["output"]["message"])
    weather = {"temperature_celsius": 21, "sky": "sunny"}
    result = {"toolUseId": call["toolUseId"], "content": [{"json": weather}]}
    messages.append({"role": "user", "content": [{"toolResult": result}]})
    final = runtime.converse(
        modelId=model_id, system=system, messages=messages, toolConfig=TOOLS, inferenceConfig=settings
    )
    assert final["stopReason"] in ("end_turn", "max_tokens"), final["output"]
    text = " ".join(block.get("text", "") for block in final["output"]["message"]["content"])
    assert "21" in text, text
