"""What Bedrock Runtime's model calls read of a guardrail: Converse's `guardrailConfig` and guardContent
blocks, InvokeModel's guardrail headers and the body's `amazon-bedrock-guardrailConfig` with its tagged input,
and the guardrail fields of their answers. The screening itself is `outcrop.guardrails.enforce.Guard`, run by
the inference path.

Which text is screened on input, as AWS documents it: with guardContent blocks (in messages or system),
only those; otherwise the text of every message (the system prompt only through guardContent). Tool
results, tool definitions and tool-call arguments are not screened. InvokeModel: with a tagSuffix, only the
text inside `<amazon-bedrock-guardrails-guardContent_{suffix}>` tags (the tags are removed before the model
reads the prompt); otherwise the whole prompt.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from typing import Any, get_args

from outcrop.backends.base import GenerationRequest, GenerationResult
from outcrop.catalog import BedrockModel
from outcrop.guardrails.enforce import Guard, GuardrailEngine, Mode, Trace, refuse_async_masking, resolve
from outcrop.guardrails.types import GuardText, Qualifier
from outcrop.inference import Caller
from outcrop.protocol.errors import ValidationException
from outcrop.services.bedrock_runtime.bodies import ChatFormat

BODY_CONFIG = "amazon-bedrock-guardrailConfig"
_QUALIFIERS = set(get_args(Qualifier))
_INVOKE_MODES: dict[str, Mode] = {"SYNCHRONOUS": "sync", "ASYNCHRONOUS": "async"}
_INVOKE_TRACE: dict[str, Trace] = {
    "ENABLED": "enabled",
    "DISABLED": "disabled",
    "ENABLED_FULL": "enabled_full",
}


def _guard_text(block: dict[str, Any]) -> GuardText:
    if "text" not in block:
        raise ValidationException(
            "Only text guardContent blocks are evaluated by this server's guardrails; remove the image "
            "guardContent block and try again."
        )
    text = block["text"]
    qualifiers = tuple(q for q in text.get("qualifiers") or () if q in _QUALIFIERS)
    return GuardText(str(text["text"]), qualifiers or ("guard_content",))  # guarded user input


def converse_inputs(params: dict[str, Any]) -> list[GuardText]:
    """The texts a guardrail screens on a Converse request's input."""
    system = [_guard_text(b["guardContent"]) for b in params.get("system") or [] if "guardContent" in b]
    messages = params.get("messages") or []
    guarded = [
        _guard_text(block["guardContent"])
        for message in messages
        for block in message.get("content") or []
        if "guardContent" in block
    ]
    if guarded:
        return system + guarded
    plain = [
        GuardText(str(block["text"]))
        for message in messages
        for block in message.get("content") or []
        if block.get("text")
    ]
    return system + plain


def converse_guard(
    engine: GuardrailEngine, params: dict[str, Any], caller: Caller, *, streaming: bool
) -> Guard | None:
    """The Guard a Converse (or ConverseStream) request asks for, or None without guardrailConfig."""
    config = params.get("guardrailConfig")
    if not config:
        return None
    guardrail = resolve(engine, config.get("guardrailIdentifier"), config.get("guardrailVersion"))
    mode: Mode = "whole"
    if streaming:
        mode = "async" if config.get("streamProcessingMode") == "async" else "sync"
        refuse_async_masking(guardrail, mode)
    trace: Trace = config.get("trace") or "disabled"
    return Guard(engine, guardrail, converse_inputs(params), caller, trace=trace, mode=mode)


# -- InvokeModel ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InvokeGuarding:
    """InvokeModel's guardrail settings, read before the body is parsed; `guard` builds the Guard once the
    generic request exists (the tagged spans are found in its messages)."""

    engine: GuardrailEngine
    identifier: str
    version: str
    trace: Trace
    tag_suffix: str | None
    mode: Mode

    def guard(self, request: GenerationRequest, caller: Caller) -> tuple[GenerationRequest, Guard]:
        guardrail = resolve(self.engine, self.identifier, self.version)
        refuse_async_masking(guardrail, self.mode)
        inputs: list[GuardText] = []
        messages = list(request.messages)
        if self.tag_suffix:
            tag = re.escape(f"amazon-bedrock-guardrails-guardContent_{self.tag_suffix}")
            pattern = re.compile(f"<{tag}>(.*?)</{tag}>", re.DOTALL)
            for index, message in enumerate(messages):
                found = pattern.findall(message.content)
                inputs += [GuardText(span, ("guard_content",)) for span in found]
                if found:
                    messages[index] = dataclasses.replace(
                        message, content=pattern.sub(r"\1", message.content)
                    )
                if re.search(f"</?{tag}>", messages[index].content):
                    raise ValidationException(
                        f"The input tag <amazon-bedrock-guardrails-guardContent_{self.tag_suffix}> is not "
                        "closed (or closed without being opened). Close each input tag and try again."
                    )
        if not inputs:  # no tags: the whole prompt is screened
            inputs = [GuardText(m.content) for m in messages if m.role != "tool" and m.content.strip()]
        guard = Guard(self.engine, guardrail, inputs, caller, trace=self.trace, mode=self.mode)
        return dataclasses.replace(request, messages=messages), guard


def invoke_guarding(
    engine: GuardrailEngine,
    params: dict[str, Any],
    body: dict[str, Any],
    model: BedrockModel,
    *,
    streaming: bool,
) -> InvokeGuarding | None:
    """The guardrail an InvokeModel request asks for (headers and the body's config, which is taken out of
    the body), or None; refuses what AWS refuses."""
    config = body.pop(BODY_CONFIG, None)
    identifier, version = params.get("guardrailIdentifier"), params.get("guardrailVersion")
    if not identifier:
        if config is not None:
            raise ValidationException(
                f"The {BODY_CONFIG} field in the request body needs a guardrail: send the "
                "X-Amzn-Bedrock-GuardrailIdentifier and X-Amzn-Bedrock-GuardrailVersion headers."
            )
        return None
    if model.kind != "chat":
        raise ValidationException(f"Guardrails apply to text generation models; {model.model_id} is not one.")
    if config is not None and not isinstance(config, dict):
        raise ValidationException(f"{BODY_CONFIG} must be a JSON object.")
    config = config or {}
    suffix = config.get("tagSuffix")
    if suffix is not None and (
        not isinstance(suffix, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,20}", suffix)
    ):
        raise ValidationException(
            f"{BODY_CONFIG}.tagSuffix must be 1 to 20 letters, digits, hyphens or underscores."
        )
    processing = config.get("streamProcessingMode", "SYNCHRONOUS")
    if processing not in _INVOKE_MODES:
        raise ValidationException(
            f"{BODY_CONFIG}.streamProcessingMode must be SYNCHRONOUS or ASYNCHRONOUS, not {processing!r}."
        )
    mode = _INVOKE_MODES[processing] if streaming else "whole"
    trace = _INVOKE_TRACE.get(str(params.get("trace") or "DISABLED").upper(), "disabled")
    return InvokeGuarding(engine, identifier, version or "", trace, suffix, mode)


def invoke_fields(
    guard: Guard,
    chat_format: ChatFormat,
    result: GenerationResult,
    request: GenerationRequest,
    model: BedrockModel,
) -> dict[str, Any]:
    """The guardrail fields of an InvokeModel answer: `amazon-bedrock-guardrailAction` and, with the trace
    header, `amazon-bedrock-trace` (the model's own answer in `modelOutput` when the guardrail changed it)."""
    fields: dict[str, Any] = {"amazon-bedrock-guardrailAction": guard.action}
    if guard.trace == "disabled":
        return fields
    key = guard.guardrail.guardrail_id
    trace: dict[str, Any] = {}
    if guard.input_screening is not None:
        trace["input"] = {key: guard.assessment(guard.input_screening)}
    if guard.output_screenings:
        trace["outputs"] = [{key: guard.assessment(s)} for s in guard.output_screenings]
    if guard.output_blocked or (guard.output_screenings and guard.intervened):
        original = dataclasses.replace(result, text="".join(guard.raw_output))
        trace["modelOutput"] = [json.dumps(chat_format.response(original, request, model))]
    trace["actionReason"] = guard.action_reason
    fields["amazon-bedrock-trace"] = {"guardrail": trace}
    return fields
