"""ApplyGuardrail: a guardrail version evaluated on given content, without a model.

All of ApplyGuardrail's unqualified text is what the caller asks to check, so it counts as tagged user
input (the prompt-attack filter reads it on INPUT, as it reads `guard_content`). Image blocks are refused:
no content filter here classifies images.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from outcrop.guardrails.types import GuardrailNotFound, GuardText, Qualifier, Source
from outcrop.protocol.errors import ResourceNotFoundException, ValidationException

if TYPE_CHECKING:
    from outcrop.guardrails.guardrails import Guardrails
    from outcrop.inference import Caller

MAX_TEXT_CHARACTERS = 100_000  # a request past this is refused rather than held in the detectors


def _content(blocks: list[dict[str, Any]], source: Source) -> list[GuardText]:
    if not blocks:
        raise ValidationException("The content of an ApplyGuardrail request must have at least one block.")
    texts: list[GuardText] = []
    for block in blocks:
        if "image" in block:
            raise ValidationException(
                "Image content is not supported by this server's guardrails: no local classifier "
                "evaluates images. Send text blocks."
            )
        text = block.get("text")
        if text is None:
            raise ValidationException("Each content block of an ApplyGuardrail request must have text.")
        qualifiers: tuple[Qualifier, ...] = tuple(dict.fromkeys(text.get("qualifiers") or ()))
        if not qualifiers and source == "INPUT":
            qualifiers = ("guard_content",)
        texts.append(GuardText(text["text"], qualifiers))
    if sum(len(text.text) for text in texts) > MAX_TEXT_CHARACTERS:
        raise ValidationException(
            f"The content of an ApplyGuardrail request can have at most {MAX_TEXT_CHARACTERS} characters."
        )
    return texts


def apply_guardrail(guardrails: Guardrails, params: dict[str, Any], caller: Caller) -> dict[str, Any]:
    """The ApplyGuardrail response for its request params."""
    identifier = params.get("guardrailIdentifier") or ""
    version = params.get("guardrailVersion") or ""
    if not identifier or not version:
        raise ValidationException("guardrailIdentifier and guardrailVersion must not be empty.")
    source: Source = params["source"]
    content = _content(list(params.get("content") or []), source)
    try:
        guardrail = guardrails.version(identifier, version)
    except GuardrailNotFound as error:
        raise ResourceNotFoundException(str(error)) from None
    scope = params.get("outputScope") or "INTERVENTIONS"
    return guardrails.evaluate(guardrail, source, content, output_scope=scope, caller=caller).response()
