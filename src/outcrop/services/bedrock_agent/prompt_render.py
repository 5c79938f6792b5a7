"""A managed prompt's variant rendered into Converse fields: `{{variable}}` filled, TEXT or CHAT template.

Used where a prompt runs: Converse and ConverseStream given a prompt ARN as `modelId` (with
`promptVariables`), and a flow's Prompt node. The result is an ordinary Converse request, so a prompt runs
through the same translation and inference path as any other conversation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from outcrop.protocol.errors import ResourceNotFoundException, ValidationException
from outcrop.services.bedrock_agent.resource_store import DRAFT, AgentResourceStore

VARIABLE = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")
PROMPT_ARN = re.compile(
    r"arn:aws(?:-[^:]+)?:bedrock:(?P<region>[a-z0-9-]{1,20}):(?P<account>[0-9]{12}):prompt/"
    r"(?P<id>[0-9a-zA-Z]{10})(?::(?P<version>[0-9]{1,5}))?"
)
# Converse fields a managed prompt defines itself (the Converse API reference says they are not allowed)
_PROMPT_OWNED = ("additionalModelRequestFields", "inferenceConfig", "system", "toolConfig")


def variables_of(text: str) -> list[str]:
    return [match.group(1) for match in VARIABLE.finditer(text)]


def fill(text: str, values: Mapping[str, str]) -> str:
    """The template with each `{{name}}` replaced; a variable without a value is refused, not left in."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise ValidationException(
                f"The prompt variable {name} has no value. Give a value for every variable of the prompt."
            )
        return values[name]

    return VARIABLE.sub(value, text)


def template_variables(variant: Mapping[str, Any]) -> list[str]:
    """The variables a variant's template uses, in order of first use."""
    config = variant.get("templateConfiguration") or {}
    texts: list[str] = []
    if "text" in config:
        texts.append(config["text"].get("text", ""))
    if "chat" in config:
        chat = config["chat"]
        texts += [block.get("text", "") for block in chat.get("system") or []]
        for message in chat.get("messages") or []:
            texts += [block.get("text", "") for block in message.get("content") or []]
    names: list[str] = []
    for text in texts:
        names += [name for name in variables_of(text) if name not in names]
    return names


def render_variant(variant: Mapping[str, Any], values: Mapping[str, str]) -> dict[str, Any]:
    """The Converse fields (modelId, messages, system, inferenceConfig, toolConfig...) of one variant."""
    config = variant["templateConfiguration"]
    out: dict[str, Any] = {"modelId": variant.get("modelId")}
    if variant["templateType"] == "TEXT":
        out["messages"] = [{"role": "user", "content": [{"text": fill(config["text"]["text"], values)}]}]
    else:
        chat = config["chat"]
        out["messages"] = [
            {
                "role": message["role"],
                "content": [
                    {**block, "text": fill(block["text"], values)} if "text" in block else block
                    for block in message["content"]
                    if "cachePoint" not in block
                ],
            }
            for message in chat["messages"]
        ]
        system = [{"text": fill(b["text"], values)} for b in chat.get("system") or [] if "text" in b]
        if system:
            out["system"] = system
        if chat.get("toolConfiguration"):
            out["toolConfig"] = chat["toolConfiguration"]
    inference = (variant.get("inferenceConfiguration") or {}).get("text")
    if inference:
        out["inferenceConfig"] = inference
    if variant.get("additionalModelRequestFields"):
        out["additionalModelRequestFields"] = variant["additionalModelRequestFields"]
    return out


def default_variant(body: Mapping[str, Any]) -> dict[str, Any]:
    variants: list[dict[str, Any]] = body.get("variants") or []
    if not variants:
        raise ValidationException(f"The prompt {body.get('name')} has no variant to run.")
    wanted = body.get("defaultVariant")
    for variant in variants:
        if variant["name"] == wanted:
            return variant
    return variants[0]


def stored_prompt(store: AgentResourceStore, arn: str) -> dict[str, Any] | None:
    """The body of the prompt (version) an ARN names; None when the id is not a prompt ARN."""
    match = PROMPT_ARN.fullmatch(arn)
    if match is None:
        return None
    version = match["version"] or DRAFT
    found = store.get("prompt", match["id"], version, match["account"], match["region"])
    if found is None:
        raise ResourceNotFoundException(f"The prompt {arn} does not exist.")
    return found.body


def prompt_converse(params: dict[str, Any], store: AgentResourceStore) -> dict[str, Any]:
    """A Converse request whose modelId is a prompt ARN, as the request of the prompt's default variant
    (the caller's `messages` appended); any other request unchanged."""
    body = stored_prompt(store, str(params["modelId"]))
    if body is None:  # the API reference: promptVariables is ignored when modelId is not a prompt
        return {k: v for k, v in params.items() if k != "promptVariables"}
    given = [name for name in _PROMPT_OWNED if params.get(name)]
    if given:
        raise ValidationException(
            f"When modelId is a prompt from Prompt management, the request can't include {', '.join(given)}: "
            "these fields are defined by the prompt."
        )
    variant = default_variant(body)
    if not variant.get("modelId"):
        raise ValidationException(f"The prompt variant {variant['name']} names no modelId to run.")
    values = {
        name: str(value.get("text", "")) for name, value in (params.get("promptVariables") or {}).items()
    }
    rendered = render_variant(variant, values)
    messages = list(rendered["messages"])
    for message in params.get("messages") or []:
        if messages and messages[-1]["role"] == message["role"]:
            messages[-1] = {**messages[-1], "content": [*messages[-1]["content"], *message["content"]]}
        else:
            messages.append(message)
    rest = {k: v for k, v in params.items() if k not in ("promptVariables", "messages")}
    return {**rest, **rendered, "messages": messages}
