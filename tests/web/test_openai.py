"""The OpenAI-compatible API through the official `openai` client, against the fake models."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from tests.server import RunningServer

CHAT = "anthropic.claude-3-haiku-20240307-v1:0"
EMBED = "amazon.titan-embed-text-v2:0"
WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


@pytest.fixture
def oai(server: RunningServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.endpoint + "/v1", api_key="sk-local", max_retries=0)


def test_chat_completion_with_bearer_token(oai: openai.OpenAI) -> None:
    reply = oai.chat.completions.create(
        model=CHAT,
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hello there"},
        ],
        temperature=0.2,
        top_p=0.9,
    )
    assert reply.object == "chat.completion"
    assert reply.model == CHAT
    assert reply.choices[0].message.content == "You said: hello there"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None
    assert reply.usage.prompt_tokens > 0 and reply.usage.completion_tokens == 4
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + 4


def test_local_model_name_max_tokens_and_stop(oai: openai.OpenAI) -> None:
    limited = oai.chat.completions.create(
        model="qwen2.5-coder-0.5b",
        messages=[{"role": "user", "content": "one two three four five"}],
        max_completion_tokens=3,
    )
    assert limited.choices[0].finish_reason == "length"
    assert limited.choices[0].message.content == "You said: one"
    stopped = oai.chat.completions.create(
        model=CHAT, messages=[{"role": "user", "content": "alpha beta gamma"}], stop=["beta"]
    )
    assert stopped.choices[0].message.content == "You said: alpha "
    assert stopped.choices[0].finish_reason == "stop"


def test_streaming_chunks_end_with_usage(oai: openai.OpenAI) -> None:
    stream = oai.chat.completions.create(
        model=CHAT,
        messages=[{"role": "user", "content": "stream these words please"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "You said: stream these words please"
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) >= 5
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 6


def test_stream_wire_format_is_sse_ending_in_done(server: RunningServer) -> None:
    response = httpx.post(
        server.endpoint + "/v1/chat/completions",
        json={"model": CHAT, "stream": True, "messages": [{"role": "user", "content": "hi"}]},
    )
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [line for line in response.text.split("\n\n") if line]
    assert all(event.startswith("data: ") for event in events)
    assert events[-1] == "data: [DONE]"
    assert json.loads(events[0][6:])["choices"][0]["delta"]["role"] == "assistant"


def test_tool_call_round_trip(oai: openai.OpenAI) -> None:
    first = oai.chat.completions.create(
        model=CHAT,
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
    )
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == {"city": "Paris"}  # type: ignore[union-attr]
    second = oai.chat.completions.create(
        model=CHAT,
        messages=[
            {"role": "user", "content": "What is the weather in Paris?"},
            choice.message.model_dump(exclude_none=True),  # type: ignore[list-item]
            {"role": "tool", "tool_call_id": call.id, "content": '{"temp_c": 18}'},
        ],
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
    )
    assert second.choices[0].message.content == 'The tool get_weather returned: {"temp_c": 18}'


def test_forced_tool_choice_and_streamed_tool_calls(oai: openai.OpenAI) -> None:
    stream = oai.chat.completions.create(
        model=CHAT,
        messages=[{"role": "user", "content": "Say something"}],
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        stream=True,
    )
    chunks = list(stream)
    calls = [tc for c in chunks for tc in (c.choices[0].delta.tool_calls or [])]
    assert [tc.function.name for tc in calls] == ["get_weather"]  # type: ignore[union-attr]
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    none = oai.chat.completions.create(
        model=CHAT,
        messages=[{"role": "user", "content": "weather in Rome"}],
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
        tool_choice="none",
    )
    assert none.choices[0].message.tool_calls is None


@pytest.mark.parametrize(
    "response_format",
    [
        {"type": "json_object"},
        {"type": "json_schema", "json_schema": {"name": "r", "schema": {"type": "object"}}},
    ],
)
def test_json_modes_give_json(oai: openai.OpenAI, response_format: dict[str, Any]) -> None:
    reply = oai.chat.completions.create(
        model=CHAT,
        messages=[{"role": "user", "content": "give me json"}],
        response_format=response_format,  # type: ignore[arg-type]
    )
    assert isinstance(json.loads(reply.choices[0].message.content or ""), dict)


def test_embeddings_float_base64_and_dimensions(oai: openai.OpenAI) -> None:
    floats = oai.embeddings.create(model=EMBED, input=["red apple", "green apple"], encoding_format="float")
    assert [item.index for item in floats.data] == [0, 1]
    assert len(floats.data[0].embedding) == 1024
    assert floats.usage.prompt_tokens == 4
    # The client asks for base64 by default and decodes it itself.
    decoded = oai.embeddings.create(model=EMBED, input="red apple")
    assert decoded.data[0].embedding == pytest.approx(floats.data[0].embedding, abs=1e-6)
    short = oai.embeddings.create(model="all-minilm-l6-v2", input="red apple", dimensions=64)
    assert len(short.data[0].embedding) == 64
    assert sum(v * v for v in short.data[0].embedding) == pytest.approx(1.0, abs=1e-4)


def test_models_list_and_retrieve(oai: openai.OpenAI) -> None:
    ids = {model.id for model in oai.models.list()}
    assert {CHAT, EMBED, "qwen2.5-coder-0.5b", "all-minilm-l6-v2"} <= ids
    assert oai.models.retrieve(CHAT).owned_by == "Anthropic"
    with pytest.raises(openai.NotFoundError):
        oai.models.retrieve("gpt-4o")


def test_errors_are_openai_shaped(oai: openai.OpenAI, server: RunningServer) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        oai.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as wrong_kind:
        oai.embeddings.create(model=CHAT, input="x")
    assert wrong_kind.value.code == "model_not_supported"
    with pytest.raises(openai.BadRequestError) as too_many:
        oai.chat.completions.create(
            model=CHAT, messages=[{"role": "user", "content": "hi"}], max_tokens=999_999
        )
    assert too_many.value.param == "max_tokens"
    with pytest.raises(openai.BadRequestError):
        oai.chat.completions.create(model=CHAT, messages=[{"role": "wizard", "content": "hi"}])  # type: ignore[misc, list-item]
    with pytest.raises(openai.BadRequestError) as empty:
        oai.embeddings.create(model=EMBED, input=[])
    assert empty.value.param == "input"
    raw = httpx.post(server.endpoint + "/v1/chat/completions", content=b"{not json")
    assert raw.status_code == 400
    assert set(raw.json()["error"]) == {"message", "type", "param", "code"}
    assert httpx.get(server.endpoint + "/v1/nothing").status_code == 404


def test_usage_is_metered_per_model(oai: openai.OpenAI, server: RunningServer) -> None:
    oai.chat.completions.create(model="qwen2.5-coder-1.5b", messages=[{"role": "user", "content": "a b c"}])
    usage = httpx.get(server.endpoint + "/_outcrop/health").json()["usage"]
    assert usage["qwen2.5-coder-1.5b"]["outputTokens"] >= 5


def test_keys_mode_requires_an_api_key(tmp_path: Any) -> None:
    guarded = RunningServer(
        tmp_path / "data",
        extra_env={
            "OUTCROP_AUTH": "keys",
            "OUTCROP_API_KEYS": "sk-good",
            "OUTCROP_ACCESS_KEYS": "AKIAOUTCROPTEST",
        },
    ).start()
    try:
        bad = openai.OpenAI(base_url=guarded.endpoint + "/v1", api_key="sk-bad", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            bad.models.list()
        good = openai.OpenAI(base_url=guarded.endpoint + "/v1", api_key="sk-good", max_retries=0)
        assert len(good.models.list().data) > 10
    finally:
        guarded.stop()


def test_browser_apps_on_other_origins_are_refused_unless_configured(server: RunningServer) -> None:
    """Dev mode takes any key, so only configured origins may call from a browser (tests/web/test_cors.py)."""
    preflight = httpx.options(
        server.endpoint + "/v1/chat/completions",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 403
    assert "access-control-allow-origin" not in preflight.headers
    listing = httpx.get(server.endpoint + "/v1/models", headers={"Origin": "http://localhost:3000"})
    assert listing.status_code == 403 and "access-control-allow-origin" not in listing.headers
