"""The TextGenerator and Embedder contracts: every backend (fakes, remote, real models) passes these."""

from __future__ import annotations

import json
import threading

import numpy as np

from outcrop.backends.base import (
    ChatMessage,
    Embedder,
    GenerationEvent,
    GenerationRequest,
    GenerationResult,
    TextGenerator,
    ToolSpec,
    embed_counted,
    generate,
)
from outcrop.backends.json_schema import schema_errors

WEATHER_TOOL = ToolSpec(
    name="get_weather",
    description="Get the current weather for a city",
    parameters={
        "type": "object",
        "properties": {"location": {"type": "string", "description": "The city, e.g. Paris"}},
        "required": ["location"],
    },
)


def ask(text: str, **options: object) -> GenerationRequest:
    options.setdefault("temperature", 0.0)
    options.setdefault("max_tokens", 24)
    return GenerationRequest(messages=[ChatMessage("user", text)], **options)  # type: ignore[arg-type]


def collect(model: TextGenerator, request: GenerationRequest) -> tuple[list[str], GenerationResult]:
    deltas: list[str] = []
    events: list[GenerationEvent] = list(model.stream(request, threading.Event()))
    assert events and events[-1].done is not None, "the stream must end with a done event"
    assert all(event.done is None for event in events[:-1]), "only the last event carries the result"
    deltas = [event.text for event in events if event.text]
    return deltas, events[-1].done


def test_stream_deltas_add_up_to_the_final_text(generator: TextGenerator) -> None:
    deltas, result = collect(generator, ask("What is the capital of France? Answer in one word."))
    assert "".join(deltas) == result.text
    assert result.text.strip()
    assert result.stop_reason in ("end_turn", "max_tokens")
    assert result.input_tokens > 0 and result.output_tokens > 0


def test_max_tokens_caps_the_reply(generator: TextGenerator) -> None:
    result = generate(generator, ask("Count from 1 to 50, separated by spaces.", max_tokens=3))
    assert result.stop_reason == "max_tokens"
    assert result.output_tokens <= 3


def test_stop_sequence_ends_the_reply_without_the_sequence(generator: TextGenerator) -> None:
    request = ask("Repeat exactly these words: alpha beta gamma delta", stop=["gamma"])
    deltas, result = collect(generator, request)
    assert result.stop_reason == "stop_sequence"
    assert result.stop_sequence == "gamma"
    assert "gamma" not in "".join(deltas)
    assert "beta" in result.text


def test_count_tokens_grows_with_the_prompt(generator: TextGenerator) -> None:
    short = generator.count_tokens([ChatMessage("user", "Hi")])
    long = generator.count_tokens([ChatMessage("user", "Hi there, please tell me a long story about ships")])
    assert 0 < short < long


def test_tool_call_is_parsed_never_streamed_as_text(generator: TextGenerator) -> None:
    request = ask("What is the weather like in Paris right now?", tools=[WEATHER_TOOL], max_tokens=48)
    deltas, result = collect(generator, request)
    assert result.stop_reason == "tool_use"
    assert [call.name for call in result.tool_calls] == ["get_weather"]
    assert "Paris" in str(result.tool_calls[0].arguments.get("location"))
    assert result.tool_calls[0].id
    assert "<tool_call>" not in "".join(deltas) and '"arguments"' not in "".join(deltas)


def test_forced_tool_choice_calls_the_named_tool(generator: TextGenerator) -> None:
    request = ask("Tell me about Rome.", tools=[WEATHER_TOOL], tool_choice="get_weather", max_tokens=48)
    result = generate(generator, request)
    assert result.stop_reason == "tool_use"
    assert result.tool_calls[0].name == "get_weather"


def test_json_mode_returns_json(generator: TextGenerator) -> None:
    request = ask('Reply with a JSON object whose key "city" is "Paris".', json_mode=True, max_tokens=40)
    result = generate(generator, request)
    assert isinstance(json.loads(result.text), dict)


STOCK_TOOL = ToolSpec(
    name="get_stock_price",
    description="The latest price of a stock",
    parameters={
        "type": "object",
        "properties": {
            "ticker": {"type": "string", "description": "The ticker symbol, e.g. AAPL"},
            "currency": {"type": "string", "enum": ["USD", "EUR"]},
            "days": {"type": "integer", "minimum": 1, "maximum": 30},
        },
        "required": ["ticker", "currency", "days"],
    },
)


def assert_calls_valid(result: GenerationResult, tools: list[ToolSpec]) -> None:
    """The contract for tool calls: a call names an offered tool and its arguments follow its schema."""
    assert (result.stop_reason == "tool_use") == bool(result.tool_calls), result
    by_name = {tool.name: tool for tool in tools}
    for call in result.tool_calls:
        assert call.name in by_name and call.id
        assert schema_errors(call.arguments, by_name[call.name].parameters) == [], call


def test_every_tool_call_is_valid_whatever_the_prompt(generator: TextGenerator) -> None:
    tools = [WEATHER_TOOL, STOCK_TOOL]
    for text in ("What is the Apple stock price over the last 5 days, in euros?", "Tell me a joke."):
        assert_calls_valid(generate(generator, ask(text, tools=tools, max_tokens=48)), tools)


def test_tool_choice_any_always_gives_a_valid_call(generator: TextGenerator) -> None:
    tools = [STOCK_TOOL, WEATHER_TOOL]
    result = generate(generator, ask("Hello there!", tools=tools, tool_choice="any", max_tokens=48))
    assert result.stop_reason == "tool_use" and len(result.tool_calls) >= 1
    assert_calls_valid(result, tools)


def test_json_schema_reply_follows_the_schema(generator: TextGenerator) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city", "population"],
    }
    request = ask("Describe Paris as JSON.", json_mode=True, json_schema=schema, max_tokens=40)
    assert schema_errors(json.loads(generate(generator, request).text), schema) == []


def test_cancel_stops_the_stream_early(generator: TextGenerator) -> None:
    cancel = threading.Event()
    request = ask("Write a long story about a dragon who loves the sea.", max_tokens=200)
    events = []
    for event in generator.stream(request, cancel):
        events.append(event)
        if event.text:
            cancel.set()
    assert events[-1].done is not None
    assert events[-1].done.output_tokens < 10


def test_concurrent_streams_each_get_their_own_answer(generator: TextGenerator) -> None:
    questions = {"France": "Paris", "Japan": "Tokyo", "Italy": "Rome", "Germany": "Berlin"}
    results: dict[str, GenerationResult] = {}

    def run(country: str) -> None:
        results[country] = generate(generator, ask(f"What is the capital of {country}? Answer in one word."))

    threads = [threading.Thread(target=run, args=(country,)) for country in questions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert set(results) == set(questions)
    for country, capital in questions.items():
        text = results[country].text
        assert capital in text or country in text, f"{country}: {text!r}"
        others = set(questions.values()) - {capital}
        assert not any(other in text for other in others), f"{country} got another stream's answer: {text!r}"


def test_embeddings_have_the_promised_shape_and_unit_length(embedder: Embedder) -> None:
    vectors = embedder.embed(["hello world", "a second sentence"])
    assert len(vectors) == 2
    assert all(len(vector) == embedder.dimensions for vector in vectors)
    assert np.allclose(np.linalg.norm(np.array(vectors), axis=1), 1.0, atol=1e-4)
    assert embedder.embed([]) == []


def test_embeddings_are_deterministic_and_batch_independent(embedder: Embedder) -> None:
    texts = [f"sentence number {index} about topic {index % 7}" for index in range(40)]
    together = np.array(embedder.embed(texts))
    alone = np.array(embedder.embed([texts[33]]))
    assert np.allclose(together[33], alone[0], atol=1e-3)
    assert np.allclose(np.array(embedder.embed([texts[5]])), together[5:6], atol=1e-3)


def test_similar_sentences_score_higher_than_unrelated_ones(embedder: Embedder) -> None:
    anchor, similar, unrelated = np.array(
        embedder.embed(
            ["A man is eating food.", "A man is eating a piece of bread.", "The stock market fell sharply."]
        )
    )
    assert anchor @ similar > anchor @ unrelated


def test_embedder_counts_tokens(embedder: Embedder) -> None:
    assert 0 < embedder.count_tokens("hi") < embedder.count_tokens("a much longer piece of text to count")


def test_embedding_a_long_text_truncates_instead_of_failing(embedder: Embedder) -> None:
    vectors = embedder.embed(["word " * 600])
    assert len(vectors[0]) == embedder.dimensions


def test_counts_from_embedding_match_count_tokens(embedder: Embedder) -> None:
    texts = ["hi", "a much longer piece of text to count", "word " * 600]
    vectors, counts = embed_counted(embedder, texts)
    assert counts == [embedder.count_tokens(text) for text in texts]
    assert np.allclose(vectors, embedder.embed(texts), atol=1e-5)
