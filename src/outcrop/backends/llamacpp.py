"""Chat generation with llama.cpp: prompts rendered with the model's own template, replies read as text,
tool calls or constrained JSON, decoded by the continuously batching engine in llamacpp_engine.py.

Text handling (chat template, stop sequences, tool-call parsing) runs in the caller's thread, so the
engine loop does nothing but decode and sample.
"""

from __future__ import annotations

import codecs
import dataclasses
import os
import queue
import re
import threading
import weakref
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

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
from outcrop.backends.chat_template import OutputScanner, forced_tool_prefix, parse_tool_calls
from outcrop.backends.grammar import Grammar, json_grammar, text_grammar, tool_call_grammar
from outcrop.backends.llamacpp_engine import (
    BatchEngine,
    End,
    EndReason,
    EngineSequence,
    LlamaSettings,
    LoadedModel,
    llama_bindings,
)
from outcrop.backends.llamacpp_sampling import SamplingPlan
from outcrop.backends.packaged import ModelFiles

__all__ = ["LlamaCppGenerator", "LlamaSettings", "load"]
_POLL_SECONDS = 0.05


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
        llama = llama_bindings()
        llama.llama_backend_init()
        repack = self.settings.repack_weights
        if repack is None:
            repack = b"AMX_INT8 = 1" not in llama.llama_print_system_info()
        self._model = LoadedModel(llama, path, repack_weights=repack)
        self.invented_calls = 0  # replies whose call named a tool not offered, answered as text instead
        try:
            self._engine = BatchEngine(llama, self._model, self.settings)
        except BaseException:
            self._model.close()
            raise

    def close(self) -> None:
        self._engine.close()
        self._model.close()

    def _grammar(self, request: GenerationRequest) -> Grammar | None:
        """What constrains this reply: a tool-call grammar when tools are offered, else JSON mode's."""
        if not self.settings.constrained:
            return None
        if request.tools:
            after_result = bool(request.messages) and request.messages[-1].role == "tool"
            return tool_call_grammar(request.tools, request.tool_choice, after_result=after_result)
        if request.json_mode or request.json_schema is not None:
            return json_grammar(request.json_schema)
        return None

    @property
    def tokens_generated(self) -> int:
        return self._engine.tokens_generated

    @property
    def prompt_cache(self) -> dict[str, int]:
        """Prompt tokens found in the KV cache vs decoded since load (the health report shows them)."""
        return {
            "reused_tokens": self._engine.prompt_tokens_reused,
            "evaluated_tokens": self._engine.prompt_tokens_evaluated,
        }

    @property
    def grammar_stats(self) -> dict[str, float]:
        """What constrained decoding cost since load: redrawn tokens and seconds in the grammar, and the
        calls to tools that were not offered, answered as text instead."""
        return {
            "resamples": self._engine.grammar_resamples,
            "seconds": round(self._engine.grammar_seconds, 4),
            "invented_calls_answered_as_text": self.invented_calls,
        }

    def count_tokens(self, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec] = ()) -> int:
        return len(self._model.tokenize(self._model.template.render(messages, tools)))

    def stream(self, request: GenerationRequest, cancel: threading.Event) -> Iterator[GenerationEvent]:
        """Queue the request now (so BackendBusy or a too-long prompt raises here), then stream it."""
        forced = forced_tool_prefix(request.tool_choice, request.tools)
        prompt = self._model.tokenize(self._model.template.render(request.messages, request.tools) + forced)
        longest = self._engine.capacity
        if len(prompt) >= longest:
            raise ContextLengthExceeded(
                f"the prompt is {len(prompt)} tokens; model {self.model_id} takes at most {longest - 1}"
            )
        room = answer_room(len(prompt), request.max_tokens, self.settings.n_ctx, longest)
        temperature = (
            self.settings.default_temperature if request.temperature is None else request.temperature
        )
        sampling = SamplingPlan(
            temperature=temperature,
            top_p=request.top_p,
            top_k=request.top_k,
            seed=request.seed,
            grammar=self._grammar(request),
        )
        sequence = EngineSequence(prompt, room, sampling, cancel)
        self._engine.submit(sequence)
        events = self._events(sequence, request, forced)
        # A stream dropped before its first read still frees its slot.
        weakref.finalize(events, sequence.stop_requested.set)
        return events

    def _events(
        self, sequence: EngineSequence, request: GenerationRequest, forced: str
    ) -> Iterator[GenerationEvent]:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        scanner = OutputScanner(request.stop, detect_tool_calls=bool(request.tools), tool_prefix=forced)
        # the offered names (loosely), while the call a reply opens may still name a tool not offered
        rescuable = sequence.sampling.grammar is not None and not forced
        names = [_loose(tool.name) for tool in request.tools] if rescuable else []
        prompt_tokens = len(sequence.prompt)
        emitted: list[str] = []
        output_tokens = received = 0  # received: tokens read from the current sequence
        end: End | None = None
        try:
            while end is None:
                try:
                    item = sequence.output.get(timeout=_POLL_SECONDS)
                except queue.Empty:
                    end = End("cancelled") if sequence.cancel.is_set() else None
                    continue
                if isinstance(item, End):
                    end = item
                    break
                if names and self._invents_a_name(sequence, received, scanner, names):
                    text = "".join(emitted) + scanner.gap
                    replacement = self._go_on_as_text(sequence, request, text, output_tokens)
                    if replacement is not None:
                        self.invented_calls += 1
                        sequence.stop_requested.set()
                        sequence, received, names = replacement, 0, []
                        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
                        if scanner.gap:
                            emitted.append(scanner.gap)
                            yield GenerationEvent(text=scanner.gap)
                        scanner = OutputScanner(request.stop, detect_tool_calls=False)
                        continue
                received += 1
                output_tokens += 1
                safe = scanner.feed(decoder.decode(self._model.piece(item)))
                if safe:
                    emitted.append(safe)
                    yield GenerationEvent(text=safe)
                if scanner.finished or sequence.cancel.is_set():
                    end = End("cancelled")
        finally:
            sequence.stop_requested.set()
        assert end is not None
        if end.reason == "error":
            raise BackendError(f"model {self.model_id} failed while generating: {end.error}")
        tail = scanner.feed(decoder.decode(b"", final=True)) + scanner.flush()
        tool_calls = parse_tool_calls(scanner.tool_text, request.tools) if scanner.in_tool_call else []
        if scanner.in_tool_call and not tool_calls:
            # Not a valid call after all (cut short, or written freely and wrong): as Bedrock does with a
            # model that fumbles a call, the reply ends as text, never as a toolUse that would break.
            tail += scanner.gap + scanner.tool_text
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
                input_tokens=prompt_tokens,
                output_tokens=output_tokens,
                stop_sequence=scanner.stop_sequence,
                tool_calls=tool_calls,
            )
        )

    def _invents_a_name(
        self, sequence: EngineSequence, index: int, scanner: OutputScanner, names: list[str]
    ) -> bool:
        """Whether the grammar refused the model's own token `index` while it wrote the reply's first tool
        name, and the name so far fits none of the offered ones even loosely (case, `_`, `-` and spaces
        aside): the model was calling a tool it made up (`say_hello` for "say hello"), which the grammar
        would bend into an offered tool. A loose fit (`weather_tool` for `Weather_Tool`) is bent, and so is
        a later call of the reply, so its earlier calls stand."""
        wanted = sequence.redrawn.get(index)  # tool_text stays empty until a call opens
        if wanted is None or scanner.tool_text.count('"name"') != 1:
            return False
        so_far = _name_so_far(scanner.tool_text)
        if so_far is None:
            return False
        candidate = _loose(so_far + self._model.piece(wanted).decode("utf-8", "replace"))
        return bool(candidate) and not any(
            name.startswith(candidate) or candidate.startswith(name) for name in names
        )

    def _go_on_as_text(
        self, sequence: EngineSequence, request: GenerationRequest, text: str, used: int
    ) -> EngineSequence | None:
        """A sequence that goes on from the reply's `text`, asked as if no tool had been offered (told of
        tools, a small model that wants one it lacks keeps writing call-shaped JSON, in any form) and with a
        grammar that opens no call, in the room the first had left; None when there is no room or no place
        in the queue, and the call stays as the grammar bent it."""
        room = sequence.max_new_tokens - used
        if room < 1:
            return None
        prompt = self._model.tokenize(self._model.template.render(request.messages, ()) + text)
        plan = dataclasses.replace(sequence.sampling, grammar=text_grammar())
        replacement = EngineSequence(prompt, room, plan, sequence.cancel)
        try:
            self._engine.submit(replacement)
        except BackendBusy:
            return None
        return replacement


_AT_NAME = re.compile(r'"name"\s*:\s*("[^"]*)?$')


def _loose(name: str) -> str:
    """A tool name with case and everything but letters and digits left out, to compare names loosely."""
    return re.sub(r"[\W_]+", "", name.lower())


def _name_so_far(tool_text: str) -> str | None:
    """The tool name a call has written so far (from its opening quote), or None if it is not at its name."""
    match = _AT_NAME.search(tool_text)
    return None if match is None else match.group(1) or ""


def answer_room(prompt_tokens: int, max_tokens: int, n_ctx: int, longest: int) -> int:
    """How many tokens a reply may take. Within `n_ctx` a sequence runs beside the others as always, and
    a short prompt's answer stops at `n_ctx` as before (so a large default max_tokens does not make every
    call long). A prompt that leaves less than a quarter of `n_ctx` for its answer runs long: it gets its
    whole max_tokens, up to the `longest` sequence the context holds, and the engine admits it when the
    others leave room."""
    if prompt_tokens + max_tokens <= n_ctx or n_ctx - prompt_tokens >= n_ctx // 4:
        return max(1, min(max_tokens, n_ctx - prompt_tokens))
    return max(1, min(max_tokens, longest - prompt_tokens))


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
        constrained=bool(config.get("constrained_decoding", True)),
        prefix_cache=bool(config.get("prefix_cache", True)),
    )
    return LlamaCppGenerator(name, gguf, settings)
