"""The request members of Converse and InvokeModel that shape how a call is served, not what it says.

- `performanceConfig.latency` (InvokeModel: the X-Amzn-Bedrock-PerformanceConfig-Latency header). Bedrock
  documents that a request for `optimized` it cannot serve that way (quota reached, prompt too long, no
  optimized variant) is served at standard latency, and that the response says which applied. Here every
  model has one local variant, so `optimized` is served as `standard` and the response says `standard`.
- `serviceTier.type` (header X-Amzn-Bedrock-Service-Tier). Bedrock answers a ValidationException when the
  model does not offer the tier asked for, and "Reservation not found." for `reserved` without a
  reservation. Outcrop admits every request the same way (no priority queue, no discounted capacity),
  which is the default tier; `priority` and `flex` are refused rather than reported as honoured, and the
  response echoes `default` when it was asked for.
- `requestMetadata` (header X-Amzn-Bedrock-Request-Metadata, as JSON): checked against Bedrock's limits.
  It only labels model invocation logs, which this server does not keep (Bedrock, too, drops it when
  invocation logging is off), so a valid map changes nothing else.
- `projectIdentifier`: this server has only the default project; any other one does not exist.
- `additionalModelResponseFieldPaths`: JSON pointers into the model's native response body (the body
  InvokeModel returns for that model's family, built from the same result), whose values Converse returns
  in `additionalModelResponseFields`; a pointer to nothing is left out, as Bedrock leaves it out.
- `accept` (InvokeModel): the response body is JSON, so only JSON (or any type) is acceptable.
"""

from __future__ import annotations

import json
import re
from typing import Any

from outcrop.protocol.errors import ResourceNotFoundException, ValidationException

_METADATA_KEY = re.compile(r"[a-zA-Z0-9\s:_@$#=/+,\-.]{1,256}")
_METADATA_VALUE = re.compile(r"[a-zA-Z0-9\s:_@$#=/+,\-.]{0,256}")
_POINTER = re.compile(r"(/([^~/]|~[01])*)+")


def _checked_metadata(metadata: Any) -> dict[str, str]:
    if not isinstance(metadata, dict) or not 1 <= len(metadata) <= 16:
        raise ValidationException("requestMetadata must be a map of 1 to 16 string keys and values.")
    for key, value in metadata.items():
        if not isinstance(key, str) or not _METADATA_KEY.fullmatch(key):
            raise ValidationException(
                f"requestMetadata key {key!r} must be 1 to 256 letters, digits, spaces or :_@$#=/+,-. "
                "characters."
            )
        if not isinstance(value, str) or not _METADATA_VALUE.fullmatch(value):
            raise ValidationException(
                f"requestMetadata value of {key!r} must be at most 256 letters, digits, spaces or "
                ":_@$#=/+,-. characters."
            )
    return metadata


def metadata_header(text: str | None) -> dict[str, str] | None:
    """InvokeModel's X-Amzn-Bedrock-Request-Metadata header: a JSON object of string pairs."""
    if text is None:
        return None
    try:
        metadata = json.loads(text)
    except ValueError as exc:
        raise ValidationException("requestMetadata must be a JSON object of string keys and values.") from exc
    return _checked_metadata(metadata)


def _project(identifier: str | None) -> None:
    if identifier not in (None, "default"):
        raise ResourceNotFoundException(
            f"The project {identifier} does not exist. This server has only the default project; specify "
            "default or omit projectIdentifier."
        )


def served_latency(latency: str | None) -> str | None:
    """The latency mode a request is served at (None when it named none)."""
    return None if latency is None else "standard"


def served_tier(tier: str | None) -> str | None:
    """The service tier a request is served on (None when it named none); tiers this server lacks raise."""
    if tier is None or tier == "default":
        return tier
    if tier == "reserved":
        raise ValidationException("Reservation not found.")
    raise ValidationException(
        f"The service tier {tier} is not supported for this model on this server: every request is served "
        "on the default tier. Use the default tier or omit the service tier."
    )


def field_paths(paths: list[str] | None) -> list[str]:
    """additionalModelResponseFieldPaths, each a well-formed, non-empty JSON pointer (else 400)."""
    for path in paths or []:
        if not _POINTER.fullmatch(path):
            raise ValidationException(
                f"additionalModelResponseFieldPaths: {path!r} is not a valid JSON Pointer. Each path must be "
                "non-empty and start with '/', like /stop_sequence."
            )
    return list(paths or [])


def picked_fields(native: dict[str, Any], paths: list[str]) -> dict[str, Any] | None:
    """The values the pointers find in the native response, nested under their path's keys."""
    picked: dict[str, Any] = {}
    for path in paths:
        keys = [part.replace("~1", "/").replace("~0", "~") for part in path.split("/")[1:]]
        node: Any = native
        found = True
        for key in keys:
            if isinstance(node, dict) and key in node:
                node = node[key]
            elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
                node = node[int(key)]
            else:
                found = False
                break
        if not found:
            continue
        into = picked
        for key in keys[:-1]:
            into = into.setdefault(key, {})
        into[keys[-1]] = node
    return picked or None


def _accepts_json(accept: str) -> bool:
    ranges = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    return any(kind in ("application/json", "application/*", "*/*") for kind in ranges)


class ConverseOptions:
    """What a Converse or ConverseStream request asked of these members, checked; and what it gets back."""

    def __init__(self, params: dict[str, Any]) -> None:
        _project(params.get("projectIdentifier"))
        if params.get("requestMetadata") is not None:
            _checked_metadata(params["requestMetadata"])
        self.field_paths = field_paths(params.get("additionalModelResponseFieldPaths"))
        self.latency = served_latency((params.get("performanceConfig") or {}).get("latency"))
        self.tier = served_tier((params.get("serviceTier") or {}).get("type"))

    def served(self) -> dict[str, Any]:
        """performanceConfig and serviceTier as they applied, for the response (or the stream's metadata)."""
        out: dict[str, Any] = {}
        if self.latency is not None:
            out["performanceConfig"] = {"latency": self.latency}
        if self.tier is not None:
            out["serviceTier"] = {"type": self.tier}
        return out


class InvokeOptions:
    """The same members as InvokeModel's headers; `served` gives the response headers' members."""

    def __init__(self, params: dict[str, Any], *, accept: str | None) -> None:
        if accept and not _accepts_json(accept):
            raise ValidationException("The provided Accept Type is invalid or not supported for this model")
        _project(params.get("projectIdentifier"))
        metadata_header(params.get("requestMetadata"))
        self.latency = served_latency(params.get("performanceConfigLatency"))
        self.tier = served_tier(params.get("serviceTier"))

    def served(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.latency is not None:
            out["performanceConfigLatency"] = self.latency
        if self.tier is not None:
            out["serviceTier"] = self.tier
        return out


# Reasoning switches of the model families Bedrock serves (Claude, Nova 2, gpt-oss, DeepSeek): the local
# models have no reasoning phase, so asking for one is refused; switching it off is what they do anyway.
_REASONING = {"thinking": "type", "reasoning_config": "type", "reasoning_effort": None}


def additional_request_fields(extra: Any) -> int | None:
    """`additionalModelRequestFields` as Outcrop can serve them: the top_k it returns (Anthropic's `top_k`,
    Nova's `inferenceConfig.topK`); reasoning switched on, or any field the local models cannot take, is
    refused in Bedrock's words for an extraneous key, instead of being dropped."""
    if extra is None:
        return None
    if not isinstance(extra, dict):
        raise ValidationException("additionalModelRequestFields must be a JSON object.")
    top_k: Any = None
    for key, value in extra.items():
        if key == "top_k":
            top_k = value
        elif key == "inferenceConfig" and isinstance(value, dict) and set(value) <= {"topK"}:
            top_k = value.get("topK")
        elif key in _REASONING:
            switch = _REASONING[key]
            off = isinstance(value, dict) and switch is not None and value.get(switch) == "disabled"
            if not off:
                raise ValidationException(
                    f"additionalModelRequestFields.{key}: the local model has no reasoning mode, so "
                    "extended thinking cannot be turned on here."
                )
        else:
            raise ValidationException(
                f"Malformed input request: extraneous key [{key}] is not permitted, please reformat your "
                "input and try again."
            )
    if top_k is not None and (not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 0):
        raise ValidationException("additionalModelRequestFields: top_k must be a non-negative integer.")
    return top_k
