"""What every native body format shares: typed reads worded as Bedrock words its errors, ids, stop reasons.

Bedrock validates InvokeModel bodies against a JSON schema and reports the first violation in the
schema validator's words ("#/max_gen_len: expected type: Integer, found: String"), so clients that match
on those messages behave the same here. The formats read their bodies through `Fields` to get that.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import string
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from outcrop.backends.base import GenerationRequest, GenerationResult, Image, StopReason, ToolCall, ToolSpec
from outcrop.catalog import BedrockModel
from outcrop.protocol.errors import ValidationException

_ALPHABET = string.ascii_letters + string.digits

# How each family names the generic stop reasons.
STOP_OR_LENGTH: Mapping[StopReason, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "stop",
    "max_tokens": "length",
}
OPENAI_FINISH: Mapping[StopReason, str] = {**STOP_OR_LENGTH, "tool_use": "tool_calls"}

_IMAGE_MAGIC = {
    b"\x89PNG": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"GIF8": "image/gif",
}


def base64_image(value: Any, path: str) -> Image:
    """An image given as a base64 string (Llama 3.2 vision), its type known from its first bytes."""
    try:
        data = base64.b64decode(value if isinstance(value, str) else "", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise malformed(f"{path}: not valid base64") from exc
    media_type = next((kind for magic, kind in _IMAGE_MAGIC.items() if data.startswith(magic)), None)
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        media_type = "image/webp"
    if media_type is None:
        raise malformed(f"{path}: not a PNG, JPEG, GIF or WebP image")
    return Image(media_type, data)


def malformed(detail: str) -> ValidationException:
    return ValidationException(
        f"Malformed input request: {detail}, please reformat your input and try again."
    )


def json_type(value: Any) -> str:
    """The name the schema validator gives a JSON value's type."""
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Integer"
    if isinstance(value, float):
        return "BigDecimal"
    if isinstance(value, str):
        return "String"
    if isinstance(value, list):
        return "JSONArray"
    return "JSONObject"


class Fields:
    """Typed reads from one JSON object of a body; a bad value raises Bedrock's schema-violation message."""

    def __init__(self, value: Any, path: str = "#") -> None:
        if not isinstance(value, dict):
            raise malformed(f"{path}: expected type: JSONObject, found: {json_type(value)}")
        self.body: dict[str, Any] = value
        self.path = path

    def at(self, key: str | int) -> str:
        return f"{self.path}/{key}"

    def __contains__(self, key: str) -> bool:
        return key in self.body

    def only(self, allowed: Collection[str]) -> None:
        """Reject keys the schema does not list (families with a fixed, documented schema)."""
        for key in self.body:
            if key not in allowed:
                raise malformed(f"{self.path}: extraneous key [{key}] is not permitted")

    def require(self, *keys: str) -> None:
        """All of `keys` present; like the validator, several missing keys are reported as a count."""
        missing = [key for key in keys if key not in self.body]
        if len(missing) == 1:
            raise malformed(f"{self.path}: required key [{missing[0]}] not found")
        if missing:
            raise malformed(f"{self.path}: {len(missing)} schema violations found")

    def _typed(self, key: str, required: bool, ok: tuple[type, ...], name: str) -> Any:
        if key not in self.body:
            if required:
                raise malformed(f"{self.path}: required key [{key}] not found")
            return None
        value = self.body[key]
        if value is None and not required:
            return None
        if not isinstance(value, ok) or (isinstance(value, bool) and bool not in ok):
            raise malformed(f"{self.at(key)}: expected type: {name}, found: {json_type(value)}")
        return value

    def string(self, key: str, *, required: bool = False) -> str | None:
        value: str | None = self._typed(key, required, (str,), "String")
        return value

    def integer(self, key: str, *, required: bool = False) -> int | None:
        value: int | None = self._typed(key, required, (int,), "Integer")
        return value

    def number(self, key: str, *, required: bool = False) -> float | None:
        value = self._typed(key, required, (int, float), "Number")
        return None if value is None else float(value)

    def boolean(self, key: str, *, required: bool = False) -> bool | None:
        value: bool | None = self._typed(key, required, (bool,), "Boolean")
        return value

    def array(self, key: str, *, required: bool = False) -> list[Any] | None:
        value: list[Any] | None = self._typed(key, required, (list,), "JSONArray")
        return value

    def strings(self, key: str, *, required: bool = False) -> list[str] | None:
        values = self.array(key, required=required)
        if values is None:
            return None
        for index, value in enumerate(values):
            if not isinstance(value, str):
                raise malformed(f"{self.at(key)}/{index}: expected type: String, found: {json_type(value)}")
        return values

    def object(self, key: str) -> Fields | None:
        value = self._typed(key, False, (dict,), "JSONObject")
        return None if value is None else Fields(value, self.at(key))

    def child(self, key: str) -> Fields:
        """A required nested object."""
        return Fields(self._typed(key, True, (dict,), "JSONObject"), self.at(key))

    def one_of(self, key: str, allowed: Collection[Any], *, required: bool = False) -> Any:
        value = self.body.get(key)
        if key not in self.body and required:
            raise malformed(f"{self.path}: required key [{key}] not found")
        if key in self.body and value not in allowed:
            raise malformed(f"{self.at(key)}: {value} is not a valid enum value")
        return value


def max_tokens(fields: Fields, key: str, *, default: int, model: BedrockModel, required: bool = False) -> int:
    """The body's output limit: the provider's default when absent, never above what the model id allows."""
    value = fields.integer(key, required=required)
    if value is None:
        return min(default, model.max_tokens)
    if value > model.max_tokens:
        raise malformed(f"{fields.at(key)}: {value} is not less or equal to {model.max_tokens}")
    if value < 1:
        raise malformed(f"{fields.at(key)}: {value} is not greater or equal to 1")
    return value


def single_generation(fields: Fields, key: str) -> None:
    """Families that can ask for several samples: one local run gives one, so more is refused plainly."""
    count = fields.integer(key)
    if count is not None and count != 1:
        raise ValidationException(f"{key} must be 1 here: this server returns one generation per request.")


def named_tool(name: str, tools: Collection[ToolSpec]) -> str:
    """A tool choice that names one tool: it must be one of the tools given."""
    if name not in {tool.name for tool in tools}:
        raise ValidationException(f"The tool choice names {name}, which is not among the tools given.")
    return name


def random_id(length: int = 24) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def native_call_id(call: ToolCall, prefix: str, length: int = 24) -> str:
    """A tool call id in the family's own style; the backend's ids are never referred to again."""
    return call.id if call.id.startswith(prefix) else prefix + random_id(length)


@dataclass(frozen=True)
class NativeRequest(GenerationRequest):
    """A generic request that remembers what its response must echo from the native body.

    (The raw prompt a Cohere response repeats, which of two body shapes a family was sent, ...)
    """

    native: Mapping[str, Any] = field(default_factory=dict)


def echo(request: GenerationRequest, key: str, default: Any = None) -> Any:
    return request.native.get(key, default) if isinstance(request, NativeRequest) else default


def stop_name(result: GenerationResult, names: Mapping[StopReason, str]) -> str:
    return names[result.stop_reason]


class DeltaCounter:
    """Base of the stream encoders whose chunks carry a running output-token count.

    Until the result arrives the count is the number of deltas so far, a lower bound (a delta is at
    least one token); the closing chunk carries the backend's own count.
    """

    def __init__(self, input_tokens: int) -> None:
        self.input_tokens = input_tokens
        self.deltas = 0

    def start(self) -> list[dict[str, Any]]:
        return []

    def delta(self, text: str) -> list[dict[str, Any]]:
        if not text:
            return []
        self.deltas += 1
        return [self.chunk(text)]

    def chunk(self, text: str) -> dict[str, Any]:
        raise NotImplementedError

    def finish(self, result: GenerationResult) -> list[dict[str, Any]]:
        raise NotImplementedError
