"""Chat generation with llama.cpp, continuously batched: one decode thread per model serves many streams.

One llama context is not thread-safe, and decoding one token for four sequences costs little more than
for one (the weights are read once per step), so every model gets a single engine thread that owns the
context. Each `stream` call becomes a sequence with its own KV-cache slot (seq_id) and sampler; every
step the engine packs one new token per decoding sequence plus a chunk of any prompt still being read
into one `llama_batch`, decodes it, and samples each sequence from its own logits row. A finished
sequence's KV cells are cleared and its slot goes to the next waiting request. Past `parallel` active
and `max_queue` waiting sequences, `stream` raises BackendBusy at once.

Text handling (chat template, stop sequences, tool-call parsing) runs in the caller's thread, so the
engine loop does nothing but decode and sample.
"""

from __future__ import annotations

import codecs
import collections
import ctypes
import logging
import os
import queue
import random
import threading
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from outcrop.backends.base import (
    BackendBusy,
    BackendError,
    BackendUnavailable,
    ChatMessage,
    ContextLengthExceeded,
    GenerationEvent,
    GenerationRequest,
    GenerationResult,
    StopReason,
    ToolSpec,
)
from outcrop.backends.chat_template import ChatTemplate, OutputScanner, forced_tool_prefix, parse_tool_calls
from outcrop.backends.packaged import ModelFiles, import_optional

EndReason = Literal["eog", "max_tokens", "cancelled", "error"]
_POLL_SECONDS = 0.05
_INSTALL = 'pip install "llama-cpp-python==0.3.36" (compiles llama.cpp; see requirements/models.txt)'


def _llama() -> Any:
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
    n_ctx: int = 4096  # per sequence
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


@dataclass(frozen=True)
class SamplingPlan:
    temperature: float
    top_p: float | None
    top_k: int | None
    seed: int | None
    json_grammar: bool


@dataclass(frozen=True)
class _End:
    reason: EndReason
    error: str | None = None


@dataclass
class _Sequence:
    """One request inside the engine. Only the engine thread touches the mutable decode state."""

    prompt: list[int]
    max_new_tokens: int
    sampling: SamplingPlan
    cancel: threading.Event
    stop_requested: threading.Event = field(default_factory=threading.Event)
    output: queue.SimpleQueue[int | _End] = field(default_factory=queue.SimpleQueue)
    slot: int = -1
    fed: int = 0  # prompt tokens already decoded
    generated: int = 0
    last_token: int = -1
    sampler: Any = None

    @property
    def abandoned(self) -> bool:
        return self.cancel.is_set() or self.stop_requested.is_set()


class _LoadedModel:
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

    def __init__(self, llama: Any, model: _LoadedModel, settings: LlamaSettings) -> None:
        self._llama = llama
        self._model = model
        self._settings = settings
        self.tokens_generated = 0  # every token sampled since load: shows when decoding really stops
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
        self._waiting: collections.deque[_Sequence] = collections.deque()
        self._active: list[_Sequence] = []
        self._free_slots = list(range(settings.parallel))
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="llama-engine", daemon=True)
        self._thread.start()

    def submit(self, sequence: _Sequence) -> None:
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
                    self._retire(sequence, _End("error", f"{type(error).__name__}: {error}"))
        for sequence in [*self._active, *self._waiting]:
            self._retire(sequence, _End("error", "the model engine was shut down"))

    def _admit(self) -> None:
        """Move waiting sequences into free slots (called with the condition held)."""
        for sequence in [entry for entry in self._waiting if entry.abandoned]:
            self._waiting.remove(sequence)
            sequence.output.put(_End("cancelled"))
        while self._waiting and self._free_slots:
            sequence = self._waiting.popleft()
            sequence.slot = self._free_slots.pop(0)
            sequence.sampler = self._new_sampler(sequence.sampling)
            self._active.append(sequence)

    def _retire_abandoned(self) -> None:
        for sequence in [entry for entry in self._active if entry.abandoned]:
            self._retire(sequence, _End("cancelled"))

    def _retire(self, sequence: _Sequence, end: _End) -> None:
        """Free the sequence's KV cells, sampler and slot (engine thread only), then tell its reader."""
        was_active = sequence in self._active
        if was_active:
            self._llama.llama_memory_seq_rm(self._memory, sequence.slot, -1, -1)
            if sequence.sampler:
                self._llama.llama_sampler_free(sequence.sampler)
                sequence.sampler = None
        with self._condition:
            if was_active:
                self._active.remove(sequence)
                self._free_slots.append(sequence.slot)
            elif sequence in self._waiting:
                self._waiting.remove(sequence)
        sequence.output.put(end)

    def _new_sampler(self, plan: SamplingPlan) -> Any:
        llama = self._llama
        chain = llama.llama_sampler_chain_init(llama.llama_sampler_chain_default_params())
        if plan.json_grammar:
            from llama_cpp.llama_grammar import JSON_GBNF

            grammar = llama.llama_sampler_init_grammar(self._model.vocab, JSON_GBNF.encode(), b"root")
            llama.llama_sampler_chain_add(chain, grammar)
        if plan.temperature <= 0:
            llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_greedy())
            return chain
        if plan.top_k:
            llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_top_k(plan.top_k))
        if plan.top_p is not None and plan.top_p < 1.0:
            llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_top_p(plan.top_p, 1))
        llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_temp(plan.temperature))
        seed = plan.seed if plan.seed is not None else random.getrandbits(32)
        llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_dist(seed & 0xFFFFFFFF))
        return chain

    def _step(self) -> None:
        """Decode one batch: a token for every generating sequence, then prompt chunks in the room left."""
        batch = self._batch
        rows: list[tuple[_Sequence, int]] = []
        count = 0

        def add(token: int, position: int, slot: int, wants_logits: bool) -> None:
            nonlocal count
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
            room -= take
        batch.n_tokens = count
        status = self._llama.llama_decode(self._context, batch)
        if status != 0:
            raise BackendError(f"llama_decode returned {status}")
        for sequence, row in rows:
            token = self._llama.llama_sampler_sample(sequence.sampler, self._context, row)
            sequence.generated += 1
            self.tokens_generated += 1
            if self._model.is_end_of_generation(token):
                self._retire(sequence, _End("eog"))
                continue
            sequence.last_token = token
            sequence.output.put(token)
            if sequence.generated >= sequence.max_new_tokens:
                self._retire(sequence, _End("max_tokens"))


_STOP_REASONS: dict[EndReason, StopReason] = {
    "eog": "end_turn",
    "max_tokens": "max_tokens",
    "cancelled": "end_turn",
    "error": "end_turn",
}


class LlamaCppGenerator:
    """A GGUF chat model: renders its own chat template, streams deltas, parses tool calls."""

    def __init__(self, model_id: str, path: Path, settings: LlamaSettings | None = None) -> None:
        self.model_id = model_id
        self.settings = settings or LlamaSettings()
        llama = _llama()
        llama.llama_backend_init()
        repack = self.settings.repack_weights
        if repack is None:
            repack = b"AMX_INT8 = 1" not in llama.llama_print_system_info()
        self._model = _LoadedModel(llama, path, repack_weights=repack)
        try:
            self._engine = BatchEngine(llama, self._model, self.settings)
        except BaseException:
            self._model.close()
            raise

    def close(self) -> None:
        self._engine.close()
        self._model.close()

    @property
    def tokens_generated(self) -> int:
        return self._engine.tokens_generated

    def count_tokens(self, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec] = ()) -> int:
        return len(self._model.tokenize(self._model.template.render(messages, tools)))

    def stream(self, request: GenerationRequest, cancel: threading.Event) -> Iterator[GenerationEvent]:
        """Queue the request now (so BackendBusy or a too-long prompt raises here), then stream it."""
        forced = forced_tool_prefix(request.tool_choice, request.tools)
        prompt = self._model.tokenize(self._model.template.render(request.messages, request.tools) + forced)
        room = self.settings.n_ctx - len(prompt)
        if room < 1:
            raise ContextLengthExceeded(
                f"the prompt is {len(prompt)} tokens; model {self.model_id} "
                f"takes at most {self.settings.n_ctx - 1}"
            )
        temperature = (
            self.settings.default_temperature if request.temperature is None else request.temperature
        )
        sampling = SamplingPlan(
            temperature=temperature,
            top_p=request.top_p,
            top_k=request.top_k,
            seed=request.seed,
            json_grammar=request.json_mode and not request.tools,
        )
        sequence = _Sequence(prompt, max(1, min(request.max_tokens, room)), sampling, cancel)
        self._engine.submit(sequence)
        events = self._events(sequence, request, forced)
        # A stream dropped before its first read still frees its slot.
        weakref.finalize(events, sequence.stop_requested.set)
        return events

    def _events(
        self, sequence: _Sequence, request: GenerationRequest, forced: str
    ) -> Iterator[GenerationEvent]:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        scanner = OutputScanner(request.stop, detect_tool_calls=bool(request.tools), tool_prefix=forced)
        emitted: list[str] = []
        output_tokens = 0
        end: _End | None = None
        try:
            while end is None:
                try:
                    item = sequence.output.get(timeout=_POLL_SECONDS)
                except queue.Empty:
                    end = _End("cancelled") if sequence.cancel.is_set() else None
                    continue
                if isinstance(item, _End):
                    end = item
                    break
                output_tokens += 1
                safe = scanner.feed(decoder.decode(self._model.piece(item)))
                if safe:
                    emitted.append(safe)
                    yield GenerationEvent(text=safe)
                if scanner.finished or sequence.cancel.is_set():
                    end = _End("cancelled")
        finally:
            sequence.stop_requested.set()
        assert end is not None
        if end.reason == "error":
            raise BackendError(f"model {self.model_id} failed while generating: {end.error}")
        tail = scanner.feed(decoder.decode(b"", final=True)) + scanner.flush()
        tool_names = [tool.name for tool in request.tools]
        tool_calls = parse_tool_calls(scanner.tool_text, tool_names) if scanner.in_tool_call else []
        if scanner.in_tool_call and not tool_calls:
            tail += scanner.tool_text  # not a well-formed call after all: show what the model wrote
        if tail:
            emitted.append(tail)
            yield GenerationEvent(text=tail)
        stop_reason: StopReason = _STOP_REASONS[end.reason]
        if scanner.stop_sequence is not None:
            stop_reason = "stop_sequence"
        elif tool_calls:
            stop_reason = "tool_use"
        yield GenerationEvent(
            done=GenerationResult(
                text="".join(emitted),
                stop_reason=stop_reason,
                input_tokens=len(sequence.prompt),
                output_tokens=output_tokens,
                stop_sequence=scanner.stop_sequence,
                tool_calls=tool_calls,
            )
        )


def load(name: str, config: Mapping[str, Any], files: ModelFiles) -> LlamaCppGenerator:
    """The registry's loader: a GGUF at `path`, or assembled into the model cache from package parts."""
    from outcrop.backends.gguf import PartedModel, assemble_gguf, ensure_verified

    sha256 = config.get("sha256")
    direct = files.path(config, "path")
    if direct is not None:
        if not direct.is_file():
            raise BackendUnavailable(f"GGUF file {direct} does not exist")
        ensure_verified(direct, sha256)
        gguf = direct
    else:
        if "file" not in config or "package_prefix" not in config:
            raise ValueError(
                "a llamacpp model needs `path`, or `file` with `package_prefix` and `package_parts`"
            )
        parts = PartedModel(str(config["package_prefix"]), int(config.get("package_parts", 1)))
        gguf = assemble_gguf(parts, files.cache_dir / str(config["file"]), sha256)
    settings = LlamaSettings(
        n_ctx=int(config.get("n_ctx", 4096)),
        n_threads=int(config.get("n_threads") or os.cpu_count() or 1),
        parallel=int(config.get("parallel", 4)),
        max_queue=int(config.get("max_queue", 16)),
        n_batch=int(config.get("n_batch", 512)),
        default_temperature=float(config.get("temperature", 0.7)),
        repack_weights=None if config.get("repack_weights") is None else bool(config["repack_weights"]),
    )
    return LlamaCppGenerator(name, gguf, settings)
