"""Sequences longer than `n_ctx` on the llama.cpp engine: they borrow the room the other slots leave in the
shared KV cache, wait for it in turn, and push idle slots' caches out; none of it breaks the others."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from outcrop.backends.base import ChatMessage, ContextLengthExceeded, GenerationRequest, generate
from outcrop.backends.llamacpp import LlamaCppGenerator, LlamaSettings, answer_room
from outcrop.backends.registry import ModelRegistry

from .conftest import REAL_MODELS, model_dir

N_CTX, PARALLEL = 512, 4  # 2,048 cells: a 1,200-token prompt is long, two of them do not fit together

FILLER = (
    "The harbour town keeps a weekly market on the square, where fishermen sell the morning catch, bakers "
    "bring rye bread, and children chase the gulls between the stalls until the church bell rings noon. "
)


def test_answer_room_keeps_short_prompts_within_n_ctx_and_lets_long_ones_run_long() -> None:
    assert answer_room(100, 200, 4096, 16384) == 200
    assert answer_room(200, 4096, 4096, 16384) == 3896  # a large default max_tokens stays within n_ctx
    assert answer_room(3500, 500, 4096, 16384) == 500  # too little room left: the answer runs long
    assert answer_room(8000, 500, 4096, 16384) == 500
    assert answer_room(16000, 4096, 4096, 16384) == 384  # up to the whole cache
    assert answer_room(4095, 1, 4096, 16384) == 1


@pytest.fixture(scope="module")
def small(real_registry: ModelRegistry) -> Iterator[LlamaCppGenerator]:
    real_registry.generator("qwen2.5-coder-0.5b")  # assembles the GGUF if needed
    path = model_dir() / REAL_MODELS["qwen2.5-coder-0.5b"]["file"]
    model = LlamaCppGenerator("long", path, LlamaSettings(n_ctx=N_CTX, parallel=PARALLEL))
    yield model
    model.close()


def long_question(fact: str, question: str) -> GenerationRequest:
    text = f"{fact}\n\n" + FILLER * 30 + f"\n\n{question} Answer with the name only."
    return GenerationRequest([ChatMessage("user", text)], max_tokens=12, temperature=0)


def short_question() -> GenerationRequest:
    return GenerationRequest(
        [ChatMessage("user", "What is 2 + 2? Reply with just the number.")], max_tokens=4, temperature=0
    )


CAT = long_question(
    "The lighthouse keeper's cat is called Marmalade.", "What is the lighthouse keeper's cat called?"
)
BOAT = long_question("The ferry that crosses the bay is named Albatross.", "What is the ferry named?")


@pytest.mark.real
def test_a_prompt_longer_than_n_ctx_is_read_whole_and_answered(small: LlamaCppGenerator) -> None:
    prompt_tokens = small.count_tokens(CAT.messages)
    assert N_CTX < prompt_tokens < N_CTX * PARALLEL
    result = generate(small, CAT)
    assert result.input_tokens == prompt_tokens
    assert "Marmalade" in result.text


@pytest.mark.real
def test_long_and_short_sequences_run_together_and_two_long_ones_take_turns(
    small: LlamaCppGenerator,
) -> None:
    requests = [CAT, BOAT, short_question(), short_question(), short_question()]
    with ThreadPoolExecutor(len(requests)) as pool:
        results = list(pool.map(lambda request: generate(small, request), requests))
    assert "Marmalade" in results[0].text
    assert "Albatross" in results[1].text
    assert all("4" in result.text for result in results[2:])


@pytest.mark.real
def test_idle_long_caches_make_way_for_new_sequences(small: LlamaCppGenerator) -> None:
    assert "Marmalade" in generate(small, CAT).text  # leaves ~1,200 cached cells in its slot
    filled = GenerationRequest(
        [ChatMessage("user", FILLER * 11 + "\nWhat is 3 + 3? Reply with just the number.")],
        max_tokens=8,
        temperature=0,
    )
    assert N_CTX - 20 < small.count_tokens(filled.messages) + 8 <= N_CTX
    # four sequences filling nearly a slot each need the long cache's cells
    with ThreadPoolExecutor(PARALLEL) as pool:
        results = list(pool.map(lambda request: generate(small, request), [filled] * PARALLEL))
    assert all("6" in result.text for result in results)
    assert "Marmalade" in generate(small, CAT).text  # and the long one still runs afterwards


@pytest.mark.real
def test_a_prompt_beyond_the_whole_cache_is_the_callers_error(small: LlamaCppGenerator) -> None:
    request = GenerationRequest([ChatMessage("user", FILLER * 80)])
    with pytest.raises(ContextLengthExceeded, match=f"at most {N_CTX * PARALLEL - 1}"):
        small.stream(request, threading.Event())
