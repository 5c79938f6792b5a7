"""llama.cpp specifics beyond the shared contract (all drive the real 0.5B model)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest

from outcrop.backends import llamacpp_sampling
from outcrop.backends.base import (
    BackendBusy,
    ChatMessage,
    ContextLengthExceeded,
    GenerationRequest,
    ToolSpec,
    generate,
)
from outcrop.backends.grammar import tool_call_grammar
from outcrop.backends.llamacpp import LlamaCppGenerator, LlamaSettings
from outcrop.backends.llamacpp_engine import llama_bindings
from outcrop.backends.llamacpp_sampling import SamplingPlan, SequenceSampler
from outcrop.backends.registry import ModelRegistry

from .conftest import REAL_MODELS, model_dir

pytestmark = pytest.mark.real


@pytest.fixture(scope="module")
def qwen(real_registry: ModelRegistry) -> LlamaCppGenerator:
    model = real_registry.generator("qwen2.5-coder-0.5b")
    assert isinstance(model, LlamaCppGenerator)
    return model


@pytest.fixture(scope="module")
def tiny_engine(real_registry: ModelRegistry) -> Iterator[LlamaCppGenerator]:
    """One slot and one waiting place, to see the queue fill up."""
    real_registry.generator("qwen2.5-coder-0.5b")  # assembles the GGUF if needed
    path = model_dir() / REAL_MODELS["qwen2.5-coder-0.5b"]["file"]
    model = LlamaCppGenerator("tiny", path, LlamaSettings(n_ctx=512, parallel=1, max_queue=1))
    yield model
    model.close()


def test_answers_a_simple_question(qwen: LlamaCppGenerator) -> None:
    request = GenerationRequest(
        [ChatMessage("user", "What is 2 + 2? Reply with just the number.")], temperature=0
    )
    assert "4" in generate(qwen, request).text


def test_input_tokens_are_the_prompt_tokens(qwen: LlamaCppGenerator) -> None:
    messages = [ChatMessage("system", "Be brief."), ChatMessage("user", "Say hi.")]
    result = generate(qwen, GenerationRequest(messages, max_tokens=4, temperature=0))
    assert result.input_tokens == qwen.count_tokens(messages)
    assert 1 <= result.output_tokens <= 4


def test_prompt_longer_than_the_context_is_the_callers_error(tiny_engine: LlamaCppGenerator) -> None:
    with pytest.raises(ContextLengthExceeded, match="at most 511"):
        tiny_engine.stream(GenerationRequest([ChatMessage("user", "word " * 600)]), threading.Event())


def test_full_queue_raises_busy_immediately(tiny_engine: LlamaCppGenerator) -> None:
    cancel = threading.Event()
    story = GenerationRequest([ChatMessage("user", "Tell a long story.")], max_tokens=300, temperature=0)
    running = tiny_engine.stream(story, cancel)
    waiting = tiny_engine.stream(story, cancel)
    started = time.perf_counter()
    with pytest.raises(BackendBusy):
        tiny_engine.stream(story, cancel)
    assert time.perf_counter() - started < 0.5
    cancel.set()
    for events in (running, waiting):
        assert list(events)[-1].done is not None
    # the slots are free again
    assert (
        generate(tiny_engine, GenerationRequest([ChatMessage("user", "Hi")], max_tokens=2)).output_tokens <= 2
    )


def test_same_seed_same_sample(qwen: LlamaCppGenerator) -> None:
    request = GenerationRequest(
        [ChatMessage("user", "Name a fruit.")], max_tokens=8, temperature=1.0, seed=42
    )
    assert generate(qwen, request).text == generate(qwen, request).text


@pytest.mark.parametrize("shortlist", [64, 1])
def test_grammar_holds_even_against_the_prompt(
    qwen: LlamaCppGenerator, shortlist: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model is asked for a value the schema forbids; the grammar wins, cheaply. A redraw offers
    the grammar the most likely tokens first, and the whole vocabulary when it allows none of them
    (a shortlist of 1, the rejected token itself, always takes that path)."""
    monkeypatch.setattr(llamacpp_sampling, "_SHORTLIST", shortlist)
    schema = {"type": "object", "properties": {"color": {"enum": ["red", "green"]}}, "required": ["color"]}
    request = GenerationRequest(
        [ChatMessage("user", 'Reply with the JSON {"color": "purple"} and nothing else.')],
        max_tokens=12,
        temperature=0,
        json_schema=schema,
    )
    before = qwen._engine.grammar_resamples
    result = generate(qwen, request)
    assert json.loads(result.text)["color"] in ("red", "green")
    assert qwen._engine.grammar_resamples - before <= result.output_tokens


WEATHER = ToolSpec(
    "get_weather",
    "",
    {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1, "maximum": 7}},
        "required": ["city"],
    },
)


def grammar_takes(qwen: LlamaCppGenerator, text: str, tool_choice: str | None = None) -> bool:
    """Whether llama.cpp's grammar sampler lets the model write `text` (tokenized as the model would)
    and then end the reply."""
    grammar = tool_call_grammar([WEATHER], tool_choice)
    sampler = SequenceSampler(
        llama_bindings(), qwen._model.vocab, SamplingPlan(0.0, None, None, None, grammar)
    )
    try:
        for token in [*qwen._model.tokenize(text), int(llama_bindings().llama_vocab_eos(qwen._model.vocab))]:
            if not sampler._allowed(token):
                return False
            if not qwen._model.is_end_of_generation(token):
                llama_bindings().llama_sampler_accept(sampler.grammar, token)
        return True
    finally:
        sampler.close()


@pytest.mark.parametrize(
    "text",
    [
        "It is sunny in Paris today.",
        'Use a dict: d = {"city": 1} or {"nam": 2}.',
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>',
        'I will check.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo", "days": 7}}'
        "\n</tool_call>",
        '{"name": "get_weather", "arguments": {"city": "Oslo"}}',
        'Let me look:\n```json\n{\n  "name": "get_weather", "arguments": {"city": "Oslo"}}\n```',
        'Calling it: {"name": "get_weather", "arguments": {"city": "Oslo"}}',
        # pretty-printed, as the models write by habit
        '```json\n{\n  "name": "get_weather",\n  "arguments": {\n    "city": "Oslo",\n    "days": 3\n  }\n}'
        "\n```",
    ],
)
def test_auto_grammar_takes_text_and_every_form_of_a_valid_call(qwen: LlamaCppGenerator, text: str) -> None:
    assert grammar_takes(qwen, text)


@pytest.mark.parametrize(
    "text",
    [
        '{"city": "Oslo"}',  # a reply opening with a brace is a call
        'Let me look:\n```json\n{"name": "weather", "arguments": {"city": "Oslo"}}\n```',  # no such tool
        'Sure. {\n "name": "get_weather", "arguments": {"town": "Oslo"}}',  # not its schema
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo", "days": 8}}\n</tool_call>',
        'Here: {"name": "get_weather", "arguments": {"city": "Oslo"}} and more text',
        "Text <tool_call> text",
        '{"name": "get_weather", "arguments": {\n\n"city": "Oslo"}}',  # whitespace is bounded
    ],
)
def test_auto_grammar_refuses_whatever_is_no_valid_call(qwen: LlamaCppGenerator, text: str) -> None:
    assert not grammar_takes(qwen, text)


def test_fenced_call_after_prose_is_a_valid_tool_use(qwen: LlamaCppGenerator) -> None:
    """The small model writes its call in a ```json fence after a sentence when asked to; it comes
    back as a call, not as text."""
    prompt = (
        "First say 'Checking.' on its own line, then write the function call as JSON in a ```json code "
        "block (not in tool_call tags): the weather in Oslo for 3 days."
    )
    request = GenerationRequest([ChatMessage("user", prompt)], max_tokens=60, temperature=0, tools=[WEATHER])
    result = generate(qwen, request)
    assert result.stop_reason == "tool_use", result.text
    assert result.tool_calls[0].name == "get_weather" and result.tool_calls[0].arguments["city"] == "Oslo"


def test_a_call_to_a_tool_that_was_not_offered_becomes_text(qwen: LlamaCppGenerator) -> None:
    """Offered a weather tool only, the 0.5B model asked to say hello starts a call to a tool it makes up;
    the grammar would bend that call into the weather tool. The reply goes on as text instead."""
    weather = ToolSpec(
        "get_weather",
        "Current weather for a city.",
        {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    )
    messages = [
        ChatMessage("system", "Call a tool when you need data you do not have; otherwise answer briefly."),
        ChatMessage("user", "Say hello."),
    ]
    before = qwen.grammar_stats["invented_calls_answered_as_text"]
    result = generate(qwen, GenerationRequest(messages, max_tokens=64, temperature=0, tools=(weather,)))
    assert qwen.grammar_stats["invented_calls_answered_as_text"] == before + 1
    assert not result.tool_calls and result.stop_reason == "end_turn"
    assert "hello" in result.text.lower() and "{" not in result.text
