"""The llama.cpp decode engine: one thread per model owns the context and decodes every stream together.

One llama context is not thread-safe, and decoding one token for four sequences costs little more than
for one (the weights are read once per step), so every model gets a single engine thread that owns the
context. Each request becomes a sequence with its own KV-cache slot (seq_id) and sampler; every step the
engine packs one new token per decoding sequence plus a chunk of any prompt still being read into one
`llama_batch`, decodes it, and samples each sequence from its own logits row. Past `parallel` active and
`max_queue` waiting sequences, `submit` raises BackendBusy at once. The engine knows tokens only; text is
the generator's business (llamacpp.py).

A finished sequence's KV cells stay in its slot, with the list of tokens they hold. An agent's next step
or a chat's next turn re-sends the same system prompt, tools and conversation, so a new sequence takes the
free slot whose cached tokens share the longest prefix with its prompt (ties: the least recently freed),
drops only the divergent tail and decodes the rest, as llama.cpp's server does. The cache belongs to this
engine's one context, so nothing is shared across models or contexts. Reused cells were computed in other
batch shapes, and llama.cpp's kernels round differently per shape: logits move by as much as when the same
prompt is read in other chunk sizes without any reuse (max 0.36 both ways on the 0.5B model), so greedy text
matches a full re-read except at near-ties, as it already differed between a quiet and a busy engine.

The KV cache is one pool of `n_ctx * parallel` cells, so a sequence may be longer than `n_ctx` (a whole PDF in
a Converse document block) when the others leave room: each admitted sequence reserves its prompt plus its
answer room, a sequence waits (first in, first out) until the reservations fit, and cached cells of idle slots
are dropped, least recently freed first, when the new reservation needs them.
"""

from __future__ import annotations

import collections
import ctypes
import logging
import os
import queue
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from outcrop.backends.base import BackendBusy, BackendError, BackendUnavailable
from outcrop.backends.chat_template import ChatTemplate
from outcrop.backends.llamacpp_sampling import SamplingPlan, SequenceSampler
from outcrop.backends.packaged import import_optional

EndReason = Literal["eog", "max_tokens", "cancelled", "error"]
_INSTALL = 'pip install "llama-cpp-python==0.3.36" (compiles llama.cpp; see requirements/models.txt)'


def llama_bindings() -> Any:
    """The llama_cpp bindings, imported on first use with llama.cpp's chatter silenced.

    llama.cpp's OpenMP threads spin while they wait by default; when anything else wants the same cores
    (another model, an embedding batch, the tests) decoding slowed twenty-fold here. Passive waiting keeps
    it steady; a user who sets OMP_WAIT_POLICY keeps their choice.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    module = import_optional("llama_cpp", _INSTALL)
    logging.getLogger("llama-cpp-python").setLevel(logging.ERROR)
    return module


@dataclass(frozen=True)
class LlamaSettings:
    n_ctx: int = 4096  # per sequence; one sequence may use up to n_ctx * parallel when the others leave room
    n_threads: int = field(default_factory=lambda: os.cpu_count() or 1)
    parallel: int = 4  # sequences decoded together
    max_queue: int = 16  # sequences waiting for a slot
    n_batch: int = 512  # tokens per decode step
    default_temperature: float = 0.7
    flash_attn: bool = True
    # llama.cpp's repacked weight layouts: batch 4 decodes 2.5x as fast as batch 1 with them on the 1.5B
    # model, 1.6x without. But a build with AMX kernels (-march=native on an AMX CPU) then runs those,
    # and they raise SIGILL on this VM; None means "on unless the build has AMX".
    repack_weights: bool | None = None
    # Grammar-constrained tool calls and JSON (see grammar.py); off only to measure what it costs.
    constrained: bool = True
    # Keep each slot's KV cells after its sequence ends and reuse the longest common prompt prefix; off
    # re-reads every prompt in full (to measure what reuse saves).
    prefix_cache: bool = True


@dataclass(frozen=True)
class End:
    reason: EndReason
    error: str | None = None


@dataclass
class EngineSequence:
    """One request inside the engine. Only the engine thread touches the mutable decode state."""

    prompt: list[int]
    max_new_tokens: int
    sampling: SamplingPlan
    cancel: threading.Event
    stop_requested: threading.Event = field(default_factory=threading.Event)
    output: queue.SimpleQueue[int | End] = field(default_factory=queue.SimpleQueue)
    slot: int = -1
    fed: int = 0  # prompt tokens already decoded (or found in the slot's cache)
    generated: int = 0
    last_token: int = -1
    # generated index -> the token the model chose there before the grammar refused it (the engine writes
    # an entry before it queues that index's token, so a reader of the token sees it)
    redrawn: dict[int, int] = field(default_factory=dict)
    sampler: SequenceSampler | None = None

    @property
    def abandoned(self) -> bool:
        return self.cancel.is_set() or self.stop_requested.is_set()

    @property
    def cells(self) -> int:
        """The KV cells this sequence may fill: its prompt and its answer room."""
        return len(self.prompt) + self.max_new_tokens


class LoadedModel:
    """The model weights plus the helpers that only read them (safe from any thread)."""

    def __init__(self, llama: Any, path: Path, *, repack_weights: bool) -> None:
        params = llama.llama_model_default_params()
        params.use_extra_bufts = repack_weights  # see LlamaSettings.repack_weights
        self.handle = llama.llama_model_load_from_file(str(path).encode(), params)
        if not self.handle:
            raise BackendUnavailable(f"llama.cpp could not load {path}: not a valid GGUF model?")
        self.vocab = llama.llama_model_get_vocab(self.handle)
        self._llama = llama
        template = llama.llama_model_chat_template(self.handle, None)
        if not template:
            raise BackendUnavailable(f"{path.name} has no chat template: it is not an instruct/chat model")
        self.template = ChatTemplate(
            template.decode("utf-8"),
            bos_token=self.piece(llama.llama_vocab_bos(self.vocab), special=True).decode("utf-8", "replace"),
            eos_token=self.piece(llama.llama_vocab_eos(self.vocab), special=True).decode("utf-8", "replace"),
        )

    def tokenize(self, text: str) -> list[int]:
        data = text.encode("utf-8")
        capacity = len(data) + 8
        buffer = (self._llama.llama_token * capacity)()
        count = self._llama.llama_tokenize(self.vocab, data, len(data), buffer, capacity, False, True)
        if count < 0:
            capacity = -count
            buffer = (self._llama.llama_token * capacity)()
            count = self._llama.llama_tokenize(self.vocab, data, len(data), buffer, capacity, False, True)
        return list(buffer[:count])

    def piece(self, token: int, *, special: bool = False) -> bytes:
        buffer = ctypes.create_string_buffer(64)
        size = self._llama.llama_token_to_piece(self.vocab, token, buffer, 64, 0, special)
        if size < 0:
            buffer = ctypes.create_string_buffer(-size)
            size = self._llama.llama_token_to_piece(self.vocab, token, buffer, -size, 0, special)
        return buffer.raw[:size]

    def is_end_of_generation(self, token: int) -> bool:
        return bool(self._llama.llama_vocab_is_eog(self.vocab, token))

    def close(self) -> None:
        if self.handle:
            self._llama.llama_model_free(self.handle)
            self.handle = None


class BatchEngine:
    """Owns one llama context and decodes every admitted sequence together, one step at a time."""

    def __init__(self, llama: Any, model: LoadedModel, settings: LlamaSettings) -> None:
        self._llama = llama
        self._model = model
        self._settings = settings
        self.tokens_generated = 0  # every token sampled since load: shows when decoding really stops
        self.grammar_resamples = 0  # tokens a grammar had to redraw (see llamacpp_sampling)
        self.grammar_seconds = 0.0  # time the grammars took, redraws included
        self.prompt_tokens_reused = 0  # prompt tokens found in a slot's KV cache
        self.prompt_tokens_evaluated = 0  # prompt tokens decoded
        params = llama.llama_context_default_params()
        params.n_ctx = settings.n_ctx * settings.parallel
        params.n_batch = settings.n_batch
        params.n_ubatch = settings.n_batch
        params.n_seq_max = settings.parallel
        params.n_threads = settings.n_threads
        params.n_threads_batch = settings.n_threads
        # One KV buffer shared by all sequences. With per-sequence buffers llama.cpp only puts sequences
        # with consecutive ids in one micro-batch, so once slot 1 frees up while 0 and 2 run, each step
        # would decode in two passes; the total n_ctx * parallel cells still bound every sequence.
        params.kv_unified = True
        params.no_perf = True
        params.flash_attn_type = (
            llama.LLAMA_FLASH_ATTN_TYPE_ENABLED
            if settings.flash_attn
            else llama.LLAMA_FLASH_ATTN_TYPE_DISABLED
        )
        self._context = llama.llama_init_from_model(model.handle, params)
        if not self._context:
            raise BackendUnavailable(
                "llama.cpp could not create a context (out of memory? lower n_ctx/parallel)"
            )
        self._memory = llama.llama_get_memory(self._context)
        self._batch = llama.llama_batch_init(settings.n_batch + settings.parallel, 0, 1)
        self._condition = threading.Condition()
        self._waiting: collections.deque[EngineSequence] = collections.deque()
        self._active: list[EngineSequence] = []
        self._free_slots = list(range(settings.parallel))  # least recently freed first
        # The tokens each slot's KV cells hold, at positions 0..len-1 (engine thread only).
        self._cached: list[list[int]] = [[] for _ in range(settings.parallel)]
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="llama-engine", daemon=True)
        self._thread.start()

    def submit(self, sequence: EngineSequence) -> None:
        with self._condition:
            if self._closed:
                raise BackendError("the model engine has been shut down")
            # Sequences whose caller has gone are not counted: the engine drops them within a step.
            live = sum(1 for entry in [*self._waiting, *self._active] if not entry.abandoned)
            if live >= self._settings.parallel + self._settings.max_queue:
                raise BackendBusy(
                    f"model is busy: {self._settings.parallel} sequences running and "
                    f"{self._settings.max_queue} waiting"
                )
            self._waiting.append(sequence)
            self._condition.notify()

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._condition.notify()
        self._thread.join()
        self._llama.llama_batch_free(self._batch)
        self._llama.llama_free(self._context)
        self._context = None

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._closed and not self._active and not self._waiting:
                    self._condition.wait()
                if self._closed:
                    break
                self._admit()
            self._retire_abandoned()
            if not self._active:
                continue
            try:
                self._step()
            except Exception as error:  # a failed decode must not kill the engine thread
                for sequence in list(self._active):
                    self._retire(sequence, End("error", f"{type(error).__name__}: {error}"))
        for sequence in [*self._active, *self._waiting]:
            self._retire(sequence, End("error", "the model engine was shut down"))

    def _admit(self) -> None:
        """Move waiting sequences into free slots (called with the condition held)."""
        for sequence in [entry for entry in self._waiting if entry.abandoned]:
            self._waiting.remove(sequence)
            sequence.output.put(End("cancelled"))
        while self._waiting and self._free_slots:
            sequence = self._waiting[0]
            reserved = sum(entry.cells for entry in self._active) + sequence.cells
            if reserved > self.capacity:
                break  # a long sequence waits for room, and those behind it wait their turn
            self._waiting.popleft()
            sequence.slot = self._choose_slot(sequence.prompt)
            self._free_slots.remove(sequence.slot)
            self._drop_idle_caches(room_needed=reserved)
            self._reuse_prefix(sequence)
            sequence.sampler = SequenceSampler(self._llama, self._model.vocab, sequence.sampling)
            self._active.append(sequence)

    @property
    def capacity(self) -> int:
        """KV cells in the context: the most one sequence may use, alone."""
        return self._settings.n_ctx * self._settings.parallel

    def _drop_idle_caches(self, room_needed: int) -> None:
        """Clear idle slots' cached cells, least recently freed first, until the active sequences'
        reservations (`room_needed`) and the caches left fit in the context."""
        for slot in list(self._free_slots):
            if room_needed + sum(len(self._cached[idle]) for idle in self._free_slots) <= self.capacity:
                return
            self._clear_slot(slot)

    def _choose_slot(self, prompt: list[int]) -> int:
        """The free slot whose cache shares the longest prefix with `prompt` (ties: the least recently
        freed). A prefix under half the prompt is only the chat template's header or a different
        conversation, so the least recently freed slot is overwritten instead, as llama.cpp's server does:
        a conversation's cache then survives a short unrelated request."""
        oldest = self._free_slots[0]
        if not self._settings.prefix_cache:
            return oldest
        best, best_shared = oldest, -1
        for slot in self._free_slots:
            shared = common_prefix(self._cached[slot], prompt)
            if shared > best_shared:
                best, best_shared = slot, shared
        return best if 2 * best_shared >= len(prompt) else oldest

    def _reuse_prefix(self, sequence: EngineSequence) -> None:
        """Keep the cached prefix the prompt shares (all but its last token, whose logits are needed)
        and remove the rest of the slot's cells. A seeded request decodes its whole prompt afresh, so the
        same seed gives the same sample: cells decoded in another batch shape differ in their last bits,
        which is enough to change a sampled token."""
        slot, cached = sequence.slot, self._cached[sequence.slot]
        keep = 0
        if self._settings.prefix_cache and sequence.sampling.seed is None:
            keep = min(common_prefix(cached, sequence.prompt), len(sequence.prompt) - 1)
        if keep < len(cached) and not self._llama.llama_memory_seq_rm(self._memory, slot, keep, -1):
            keep = 0  # this memory cannot drop a partial sequence: start the slot afresh
        if keep == 0 or self._llama.llama_memory_seq_pos_max(self._memory, slot) != keep - 1:
            self._clear_slot(slot)  # anything but the expected cells means the cache cannot be trusted
            keep = 0
        del cached[keep:]
        sequence.fed = keep
        self.prompt_tokens_reused += keep

    def _clear_slot(self, slot: int) -> None:
        self._llama.llama_memory_seq_rm(self._memory, slot, -1, -1)
        self._cached[slot].clear()

    def _retire_abandoned(self) -> None:
        for sequence in [entry for entry in self._active if entry.abandoned]:
            self._retire(sequence, End("cancelled"))

    def _retire(self, sequence: EngineSequence, end: End) -> None:
        """Free the sequence's sampler and slot (engine thread only), then tell its reader."""
        was_active = sequence in self._active
        if was_active:
            # The cells hold exactly the tokens decoded for this slot, even for a cancelled sequence; a
            # failed decode leaves them unknown, and without reuse they are of no further use.
            if end.reason == "error" or not self._settings.prefix_cache:
                self._clear_slot(sequence.slot)
            if sequence.sampler is not None:
                self.grammar_resamples += sequence.sampler.grammar_resamples
                self.grammar_seconds += sequence.sampler.grammar_seconds
                sequence.sampler.close()
                sequence.sampler = None
        with self._condition:
            if was_active:
                self._active.remove(sequence)
                self._free_slots.append(sequence.slot)
            elif sequence in self._waiting:
                self._waiting.remove(sequence)
        sequence.output.put(end)

    def _step(self) -> None:
        """Decode one batch: a token for every generating sequence, then prompt chunks in the room left."""
        batch = self._batch
        rows: list[tuple[EngineSequence, int]] = []
        fed: list[tuple[int, int]] = []  # (slot, token) in batch order: what the slots' cells will hold
        count = 0

        def add(token: int, position: int, slot: int, wants_logits: bool) -> None:
            nonlocal count
            fed.append((slot, token))
            batch.token[count] = token
            batch.pos[count] = position
            batch.n_seq_id[count] = 1
            batch.seq_id[count][0] = slot
            batch.logits[count] = 1 if wants_logits else 0
            count += 1

        for sequence in self._active:
            if sequence.fed == len(sequence.prompt):
                rows.append((sequence, count))
                add(sequence.last_token, len(sequence.prompt) + sequence.generated - 1, sequence.slot, True)
        room = self._settings.n_batch - count
        for sequence in self._active:
            remaining = len(sequence.prompt) - sequence.fed
            if remaining == 0 or room == 0:
                continue
            take = min(remaining, room)
            for offset in range(take):
                position = sequence.fed + offset
                last_of_prompt = position == len(sequence.prompt) - 1
                if last_of_prompt:
                    rows.append((sequence, count))
                add(sequence.prompt[position], position, sequence.slot, last_of_prompt)
            sequence.fed += take
            self.prompt_tokens_evaluated += take
            room -= take
        batch.n_tokens = count
        status = self._llama.llama_decode(self._context, batch)
        if status != 0:
            raise BackendError(f"llama_decode returned {status}")
        for slot, token in fed:
            self._cached[slot].append(token)
        for sequence, row in rows:
            assert sequence.sampler is not None
            token = sequence.sampler.sample(self._context, row, is_end=self._model.is_end_of_generation)
            if sequence.sampler.rejected is not None:
                sequence.redrawn[sequence.generated] = sequence.sampler.rejected
            sequence.generated += 1
            self.tokens_generated += 1
            if self._model.is_end_of_generation(token):
                self._retire(sequence, End("eog"))
                continue
            sequence.last_token = token
            sequence.output.put(token)
            if sequence.generated >= sequence.max_new_tokens:
                self._retire(sequence, End("max_tokens"))


def common_prefix(first: list[int], second: list[int]) -> int:
    """How many leading tokens the two lists share."""
    count = 0
    for a, b in zip(first, second, strict=False):
        if a != b:
            break
        count += 1
    return count
