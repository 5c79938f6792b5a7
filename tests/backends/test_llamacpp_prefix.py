"""The llama.cpp engine's prompt prefix cache on the real 0.5B model: a reused prefix gives the same greedy
text as an engine that re-reads every prompt, it survives cancelled and concurrent sequences, and it is
counted."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from outcrop.backends.base import ChatMessage, GenerationRequest, generate
from outcrop.backends.llamacpp import LlamaCppGenerator, LlamaSettings
from outcrop.backends.llamacpp_engine import common_prefix
from outcrop.backends.registry import ModelRegistry

from .conftest import REAL_MODELS, model_dir

pytestmark = pytest.mark.real

SYSTEM = ChatMessage(
    "system",
    "You are the support assistant of a bicycle shop. Answer in one short paragraph. The shop opens at 9, "
    "closes at 18, repairs take two days, and a basic service costs 40 euros. " * 4,
)


def generator(real_registry: ModelRegistry, *, prefix_cache: bool) -> LlamaCppGenerator:
    real_registry.generator("qwen2.5-coder-0.5b")  # assembles the GGUF if needed
    path = model_dir() / REAL_MODELS["qwen2.5-coder-0.5b"]["file"]
    settings = LlamaSettings(n_ctx=1024, parallel=2, prefix_cache=prefix_cache)
    return LlamaCppGenerator(f"prefix-cache-{prefix_cache}", path, settings)


@pytest.fixture(scope="module")
def warm(real_registry: ModelRegistry) -> Iterator[LlamaCppGenerator]:
    model = generator(real_registry, prefix_cache=True)
    yield model
    model.close()


@pytest.fixture(scope="module")
def cold(real_registry: ModelRegistry) -> Iterator[LlamaCppGenerator]:
    """The same engine re-reading every prompt in full: the reference output."""
    model = generator(real_registry, prefix_cache=False)
    yield model
    model.close()


def ask(model: LlamaCppGenerator, messages: list[ChatMessage], max_tokens: int = 16) -> str:
    return generate(model, GenerationRequest(messages, max_tokens=max_tokens, temperature=0)).text


def question(text: str) -> list[ChatMessage]:
    return [SYSTEM, ChatMessage("user", text)]


def settle(model: LlamaCppGenerator) -> None:
    """Wait until the engine has retired a cancelled sequence (it does so within a step)."""
    deadline = time.monotonic() + 30
    while model._engine._active and time.monotonic() < deadline:
        time.sleep(0.01)


def test_common_prefix() -> None:
    assert common_prefix([1, 2, 3], [1, 2, 4, 5]) == 2
    assert common_prefix([], [1]) == 0 and common_prefix([1, 2], [1, 2]) == 2


def test_the_same_prompt_twice_reuses_all_but_its_last_token(
    warm: LlamaCppGenerator, cold: LlamaCppGenerator
) -> None:
    messages = question("When do you open?")
    first = ask(warm, messages)
    before = warm.prompt_cache
    second = ask(warm, messages)
    after = warm.prompt_cache
    assert first == second == ask(cold, messages)
    prompt = warm.count_tokens(messages)
    assert after["reused_tokens"] - before["reused_tokens"] == prompt - 1
    assert after["evaluated_tokens"] - before["evaluated_tokens"] == 1
    assert cold.prompt_cache["reused_tokens"] == 0


def test_a_growing_conversation_reads_only_its_new_turn(
    warm: LlamaCppGenerator, cold: LlamaCppGenerator
) -> None:
    turn = question("How much is a basic service?")
    reply = ask(warm, turn)
    assert reply == ask(cold, turn)
    longer = [*turn, ChatMessage("assistant", reply), ChatMessage("user", "And how long does it take?")]
    before = warm.prompt_cache
    assert ask(warm, longer) == ask(cold, longer)
    reused = warm.prompt_cache["reused_tokens"] - before["reused_tokens"]
    evaluated = warm.prompt_cache["evaluated_tokens"] - before["evaluated_tokens"]
    assert reused >= warm.count_tokens(turn) - 1  # the whole first turn at least
    assert reused + evaluated == warm.count_tokens(longer)


def test_the_slot_with_the_longest_shared_prefix_is_chosen(warm: LlamaCppGenerator) -> None:
    """Two different conversations, one per slot; each next turn finds its own."""
    other = [ChatMessage("system", "You translate English into French."), ChatMessage("user", "Good day")]
    mine = question("Do you sell helmets?")
    ask(warm, mine)
    ask(warm, other)  # shares only the template header: goes to the other slot, `mine` stays cached
    before = warm.prompt_cache["reused_tokens"]
    ask(warm, [*mine, ChatMessage("assistant", "Yes."), ChatMessage("user", "Which sizes?")])
    assert warm.prompt_cache["reused_tokens"] - before >= warm.count_tokens(mine) - 1


def test_a_cancelled_sequence_leaves_a_cache_that_gives_cold_results(
    warm: LlamaCppGenerator, cold: LlamaCppGenerator
) -> None:
    messages = question("List every part of a bicycle, one per line.")
    cancel = threading.Event()
    events = warm.stream(GenerationRequest(messages, max_tokens=200, temperature=0), cancel)
    for _ in range(3):
        next(events)
    cancel.set()
    assert list(events)[-1].done is not None
    settle(warm)
    before = warm.prompt_cache["reused_tokens"]
    assert ask(warm, messages, 24) == ask(cold, messages, 24)
    assert warm.prompt_cache["reused_tokens"] - before == warm.count_tokens(messages) - 1


def test_concurrent_sequences_sharing_a_prefix_match_cold_runs(
    warm: LlamaCppGenerator, cold: LlamaCppGenerator
) -> None:
    """More requests than slots, sharing the system prompt, one abandoned midway: every finished reply
    is the cold engine's."""
    prompts = [question(text) for text in ("Do you rent bikes?", "Where are you?", "Can I pay by card?")]
    expected = [ask(cold, messages) for messages in prompts]
    dropped = warm.stream(GenerationRequest(question("Tell me a story."), max_tokens=300), threading.Event())
    next(dropped)
    with ThreadPoolExecutor(len(prompts)) as pool:
        futures = [pool.submit(ask, warm, messages) for messages in prompts]
        del dropped  # its caller is gone: the engine frees the slot
        assert [future.result() for future in futures] == expected
    assert [ask(warm, messages) for messages in prompts] == expected


def test_without_the_cache_nothing_is_reused(cold: LlamaCppGenerator) -> None:
    messages = question("Are you open on Sunday?")
    ask(cold, messages)
    ask(cold, messages)
    assert cold.prompt_cache["reused_tokens"] == 0
