"""TranslateText's and TranslateDocument's `Settings`: Profanity=MASK is honoured, as AWS does it, by
replacing each profane word or run of profane words in the translation with the grawlix "?$#@$"; the word
list is the guardrails' English one, so masking is served for English targets only. Formality and Brevity
need a model that can be steered that way, which no engine here is: they are refused, never ignored."""

from __future__ import annotations

import re
from typing import Any

from outcrop.guardrails.detectors.words import profanity_matches
from outcrop.protocol.errors import ServiceError

GRAWLIX = "?$#@$"
_TAG = re.compile(r"(<[^>]*>)")
_GAP = re.compile(r"\s*")


def checked_settings(
    settings: dict[str, Any] | None, target: str, invalid: type[ServiceError]
) -> dict[str, str]:
    """The settings this request asks for and Outcrop can apply; `invalid` (the operation's
    InvalidRequestException) for the rest."""
    settings = settings or {}
    for member in ("Formality", "Brevity"):
        if settings.get(member):
            raise invalid(
                f"Outcrop does not serve the {member} setting: no translation engine here can be "
                "steered that way."
            )
    if settings.get("Profanity") == "MASK":
        if target.split("-")[0] != "en":
            raise invalid(
                "Outcrop masks profanity in English translations only; it has no profanity list "
                f"for '{target}'."
            )
        return {"Profanity": "MASK"}
    return {}


def _mask_text(text: str) -> str:
    """Each profane word, or run of them separated by spaces only, becomes one grawlix."""
    pieces: list[str] = []
    last = 0
    for match in profanity_matches(text):
        if pieces and _GAP.fullmatch(text[last : match.start]):
            last = match.end  # joins the phrase already masked
            continue
        pieces += [text[last : match.start], GRAWLIX]
        last = match.end
    return "".join(pieces) + text[last:]


def apply_settings(translated: str, applied: dict[str, str], fmt: str) -> str:
    """The translation with the applied settings carried out (markup left as it is)."""
    if applied.get("Profanity") != "MASK":
        return translated
    if fmt == "html":
        return "".join(part if _TAG.fullmatch(part) else _mask_text(part) for part in _TAG.split(translated))
    return _mask_text(translated)
