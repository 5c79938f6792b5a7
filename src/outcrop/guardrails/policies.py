"""A guardrail's policies as CreateGuardrail/UpdateGuardrail give them, checked as AWS checks them, and
turned into GetGuardrail's shape with every default filled in (what the engine evaluates).

The protocol layer has already checked what the botocore model states (lengths, enums, list sizes); the
checks here are AWS's own rules beyond the model (PROMPT_ATTACK answers no output strength, at most 10
regexes, grounding thresholds up to 0.99, no duplicates) and this server's honesty rule: a policy or option
no local detector can honour (image modality, the STANDARD tier's extra languages, PII types nothing here
finds reliably, automated reasoning) is refused naming what is not supported, never accepted and ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from outcrop.guardrails.detectors.pii import SUPPORTED as SUPPORTED_PII
from outcrop.guardrails.detectors.regexes import compiled
from outcrop.guardrails.detectors.regexes import error as regex_error
from outcrop.protocol.errors import ValidationException

MAX_REGEXES = 10
MAX_THRESHOLD = 0.99
POLICY_CONFIGS = {
    "topicPolicyConfig": "topicPolicy",
    "contentPolicyConfig": "contentPolicy",
    "wordPolicyConfig": "wordPolicy",
    "sensitiveInformationPolicyConfig": "sensitiveInformationPolicy",
    "contextualGroundingPolicyConfig": "contextualGroundingPolicy",
}
IMAGE_FILTERS: frozenset[str] = frozenset()  # content filter types a local image classifier serves


def _directions(item: dict[str, Any], default_action: str) -> dict[str, Any]:
    """The per-direction action and switch of one policy entry, defaults filled in."""
    return {
        "inputAction": item.get("inputAction", default_action),
        "outputAction": item.get("outputAction", default_action),
        "inputEnabled": item.get("inputEnabled", True),
        "outputEnabled": item.get("outputEnabled", True),
    }


def pattern_error(value: str, path: str, pattern: str) -> ValidationException:
    """AWS's wording for a value its pattern does not match whole (the model's patterns are unanchored)."""
    return ValidationException(
        f"1 validation error detected: Value '{value}' at '{path}' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {pattern}"
    )


NAME_PATTERN = "[0-9a-zA-Z-_]+"
TOPIC_NAME_PATTERN = "[0-9a-zA-Z-_ !?.]+"


def _unique(values: Iterable[str], what: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValidationException(f"The {what} {value} is specified more than once.")
        seen.add(value)


def _tier(config: dict[str, Any], policy: str) -> dict[str, str]:
    name = (config.get("tierConfig") or {}).get("tierName", "CLASSIC")
    if name != "CLASSIC":
        raise ValidationException(
            f"The {name} tier of the {policy} is not supported by this server: its detectors are English-"
            "only, so only the CLASSIC tier is offered."
        )
    return {"tierName": name}


def _topics(config: dict[str, Any]) -> dict[str, Any]:
    topics = config["topicsConfig"]
    _unique((topic["name"] for topic in topics), "topic name")
    stored = []
    for index, topic in enumerate(topics, 1):
        if not re.fullmatch(TOPIC_NAME_PATTERN, topic["name"]):
            raise pattern_error(
                topic["name"], f"topicPolicyConfig.topicsConfig.{index}.member.name", TOPIC_NAME_PATTERN
            )
        entry = {"name": topic["name"], "definition": topic["definition"], "type": topic.get("type", "DENY")}
        if topic.get("examples"):
            entry["examples"] = list(topic["examples"])
        stored.append({**entry, **_directions(topic, "BLOCK")})
    return {"topics": stored, "tier": _tier(config, "topic policy")}


def _modalities(item: dict[str, Any], key: str) -> list[str]:
    modalities = list(item.get(key) or ["TEXT"])
    if "IMAGE" in modalities and item["type"] not in IMAGE_FILTERS:
        raise ValidationException(
            f"The IMAGE modality of the {item['type']} content filter is not supported by this server: "
            "no local image classifier serves it. Use the TEXT modality."
        )
    return modalities


def _content(config: dict[str, Any]) -> dict[str, Any]:
    filters = config["filtersConfig"]
    _unique((item["type"] for item in filters), "content filter type")
    stored = []
    for item in filters:
        if item["type"] == "PROMPT_ATTACK" and item["outputStrength"] != "NONE":
            raise ValidationException("PROMPT_ATTACK content filter outputStrength must be NONE.")
        stored.append(
            {
                "type": item["type"],
                "inputStrength": item["inputStrength"],
                "outputStrength": item["outputStrength"],
                "inputModalities": _modalities(item, "inputModalities"),
                "outputModalities": _modalities(item, "outputModalities"),
                **_directions(item, "BLOCK"),
            }
        )
    return {"filters": stored, "tier": _tier(config, "content policy")}


def _words(config: dict[str, Any]) -> dict[str, Any]:
    words = config.get("wordsConfig") or []
    managed = config.get("managedWordListsConfig") or []
    if not words and not managed:
        raise ValidationException("The word policy must have at least one word or managed word list.")
    _unique((" ".join(word["text"].lower().split()) for word in words), "word")
    _unique((item["type"] for item in managed), "managed word list")
    for word in words:
        if not word["text"].strip():
            raise ValidationException("A word in the word policy must not be blank.")
    stored: dict[str, Any] = {}
    if words:
        stored["words"] = [{"text": word["text"], **_directions(word, "BLOCK")} for word in words]
    stored["managedWordLists"] = [{"type": item["type"], **_directions(item, "BLOCK")} for item in managed]
    return stored


def _with_action(item: dict[str, Any]) -> dict[str, Any]:
    return {"action": item["action"], **_directions(item, item["action"])}


def _sensitive(config: dict[str, Any]) -> dict[str, Any]:
    entities = config.get("piiEntitiesConfig") or []
    regexes = config.get("regexesConfig") or []
    if not entities and not regexes:
        raise ValidationException(
            "The sensitive information policy must have at least one PII entity or regex."
        )
    _unique((entity["type"] for entity in entities), "PII entity type")
    unsupported = sorted({entity["type"] for entity in entities} - SUPPORTED_PII)
    if unsupported:
        raise ValidationException(
            f"The PII entity types {', '.join(unsupported)} are not supported by this server: no local "
            f"detector finds them reliably. Supported types: {', '.join(sorted(SUPPORTED_PII))}."
        )
    if len(regexes) > MAX_REGEXES:
        raise ValidationException(
            f"The sensitive information policy can have at most {MAX_REGEXES} regexes; "
            f"{len(regexes)} were given."
        )
    _unique((regex["name"] for regex in regexes), "regex name")
    stored_regexes = []
    for regex in regexes:
        try:
            compiled(regex["pattern"])
        except (regex_error, RecursionError, OverflowError) as error:
            raise ValidationException(f"The regex {regex['name']} has an invalid pattern: {error}.") from None
        entry = {"name": regex["name"], "pattern": regex["pattern"]}
        if regex.get("description"):
            entry["description"] = regex["description"]
        stored_regexes.append({**entry, **_with_action(regex)})
    stored: dict[str, Any] = {}
    if entities:
        stored["piiEntities"] = [{"type": entity["type"], **_with_action(entity)} for entity in entities]
    stored["regexes"] = stored_regexes
    return stored


def _grounding(config: dict[str, Any]) -> dict[str, Any]:
    filters = config["filtersConfig"]
    _unique((item["type"] for item in filters), "contextual grounding filter type")
    for item in filters:
        if not 0 <= item["threshold"] <= MAX_THRESHOLD:
            raise ValidationException(
                f"The {item['type']} threshold must be between 0 and {MAX_THRESHOLD}; "
                f"got {item['threshold']}."
            )
    stored: dict[str, Any] = {
        "filters": [
            {
                "type": item["type"],
                "threshold": float(item["threshold"]),
                "action": item.get("action", "BLOCK"),
                "enabled": item.get("enabled", True),
            }
            for item in filters
        ]
    }
    if config.get("tierConfig"):
        stored["tier"] = _tier(config, "contextual grounding policy")
    return stored


_BUILDERS = {
    "topicPolicyConfig": _topics,
    "contentPolicyConfig": _content,
    "wordPolicyConfig": _words,
    "sensitiveInformationPolicyConfig": _sensitive,
    "contextualGroundingPolicyConfig": _grounding,
}


def build_policies(params: dict[str, Any]) -> dict[str, Any]:
    """The checked policies of a CreateGuardrail/UpdateGuardrail request, in GetGuardrail's shape."""
    if not re.fullmatch(NAME_PATTERN, params["name"]):
        raise pattern_error(params["name"], "name", NAME_PATTERN)
    if params.get("automatedReasoningPolicyConfig"):
        raise ValidationException(
            "automatedReasoningPolicyConfig is not supported by this server: it has no automated reasoning "
            "checks."
        )
    policies = {
        POLICY_CONFIGS[key]: build(params[key]) for key, build in _BUILDERS.items() if params.get(key)
    }
    if not policies:
        raise ValidationException(
            "The guardrail must have at least one policy: topic, content, word, sensitive information or "
            "contextual grounding."
        )
    return policies
