"""Batch records that name a guardrail are screened through the same Guard as Converse and InvokeModel.

A Converse record carries Converse's own `guardrailConfig` (identifier, version, trace). A native record has
no headers to name its guardrail, so its `amazon-bedrock-guardrailConfig` names it: `guardrailIdentifier`
and `guardrailVersion` beside InvokeModel's `tagSuffix` (and `trace`: ENABLED, ENABLED_FULL or DISABLED,
as the trace header). A record whose guardrail cannot be honoured (none named, unknown, an embedding model)
raises a ServiceError, which the runner writes in the record's `.out` line: it never runs unscreened.
"""

from __future__ import annotations

import time
from typing import Any

from outcrop.catalog import BedrockModel
from outcrop.guardrails.enforce import GuardrailEngine
from outcrop.inference import Caller, Inference
from outcrop.protocol.errors import ValidationException
from outcrop.services.bedrock_runtime import converse
from outcrop.services.bedrock_runtime.guarded import BODY_CONFIG, converse_guard, invoke_guarding
from outcrop.services.bedrock_runtime.invoke import Invoked, converse_body, invoke_body
from outcrop.storage.objects import ObjectStore

BODY_KEYS = {"guardrailIdentifier", "guardrailVersion", "tagSuffix", "streamProcessingMode", "trace"}


def names_guardrail(model_input: dict[str, Any]) -> bool:
    """Whether a record asks for a guardrail, in either shape."""
    return "guardrailConfig" in model_input or BODY_CONFIG in model_input


def refuse_for_embedding(model: BedrockModel) -> ValidationException:
    return ValidationException(
        f"Guardrails apply to text generation models; {model.model_id} is an embedding model, so the "
        "record was not run."
    )


def converse_record(
    inference: Inference,
    engine: GuardrailEngine,
    caller: Caller,
    model: BedrockModel,
    params: dict[str, Any],
    objects: ObjectStore,
) -> Invoked:
    """A Converse record's answer: screened by its guardrailConfig as Converse screens one (stopReason
    guardrail_intervened, the blocked message, `trace.guardrail` when the trace is enabled)."""
    if "guardrailConfig" not in params:
        return converse_body(inference, caller, model, params, objects)
    config = params["guardrailConfig"]
    if not isinstance(config, dict) or not config:
        raise ValidationException(
            "guardrailConfig must be an object with guardrailIdentifier and guardrailVersion."
        )
    if config.get("trace", "disabled") not in ("enabled", "disabled", "enabled_full"):
        raise ValidationException(
            f"guardrailConfig.trace must be enabled, enabled_full or disabled, not {config['trace']!r}."
        )
    started = time.perf_counter()
    guard = converse_guard(engine, params, caller, streaming=False)
    request = converse.converse_request({**params, "modelId": model.model_id}, model, objects)
    result = inference.generate_blocking(caller, model, request, guard)
    output = converse.converse_output(result, int(1000 * (time.perf_counter() - started)))
    if guard is not None:
        trace = guard.converse_trace()
        if trace:
            output["trace"] = trace
        if guard.intervened:
            output["stopReason"] = "guardrail_intervened"
    return Invoked(output, result.input_tokens, result.output_tokens)


def invoke_record(
    inference: Inference,
    engine: GuardrailEngine,
    caller: Caller,
    model: BedrockModel,
    body: dict[str, Any],
) -> Invoked:
    """A native record's answer: screened as InvokeModel screens one when its body names a guardrail (the
    answer's `amazon-bedrock-guardrailAction` and, with a trace, `amazon-bedrock-trace`)."""
    if BODY_CONFIG not in body:
        return invoke_body(inference, caller, model, body)
    config = body[BODY_CONFIG]
    if not isinstance(config, dict):
        raise ValidationException(f"{BODY_CONFIG} must be a JSON object.")
    unknown = sorted(set(config) - BODY_KEYS)
    if unknown:
        raise ValidationException(
            f"{BODY_CONFIG} has unknown fields {', '.join(unknown)}; a batch record's guardrail takes "
            f"{', '.join(sorted(BODY_KEYS))}."
        )
    if not config.get("guardrailIdentifier") or not config.get("guardrailVersion"):
        raise ValidationException(
            f"A batch record has no headers: its {BODY_CONFIG} must name the guardrail with "
            "guardrailIdentifier and guardrailVersion."
        )
    if model.kind != "chat":
        raise refuse_for_embedding(model)
    headers = {
        "guardrailIdentifier": config["guardrailIdentifier"],
        "guardrailVersion": str(config["guardrailVersion"]),
        "trace": config.get("trace") or "DISABLED",
    }
    if headers["trace"] not in ("ENABLED", "DISABLED", "ENABLED_FULL"):
        raise ValidationException(
            f"{BODY_CONFIG}.trace must be ENABLED, ENABLED_FULL or DISABLED, not {headers['trace']!r}."
        )
    body = dict(body)  # invoke_guarding takes the config out of the body it is given
    guarding = invoke_guarding(engine, headers, body, model, streaming=False)
    return invoke_body(inference, caller, model, body, guarding)
