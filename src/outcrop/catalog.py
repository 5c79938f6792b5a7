"""The model catalog: which local models exist, and which Bedrock model ids they answer for.

A TOML file the user can edit (the bundled one is `catalog.toml`). `[local.NAME]` tables describe what runs
here (the backends registry reads them); `[[bedrock]]` entries map an AWS model id to a local model and
say which native body format its InvokeModel speaks.
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class CatalogError(ValueError):
    """The catalog file is inconsistent; the message names the entry."""


@dataclass(frozen=True)
class BedrockModel:
    model_id: str
    name: str
    provider: str
    format: str
    local: str
    kind: str  # "chat" or "embedding"
    input_modalities: tuple[str, ...] = ("TEXT",)
    output_modalities: tuple[str, ...] = ("TEXT",)
    streaming: bool = True
    dimensions: int | None = None  # the native output size an embedding id promises (e.g. 1536 for Titan v1)
    max_tokens: int = 4096  # the largest max_tokens a request may ask for
    context_tokens: int = 4096
    lifecycle: str = "ACTIVE"

    def arn(self, region: str) -> str:
        return f"arn:aws:bedrock:{region}::foundation-model/{self.model_id}"


@dataclass
class Catalog:
    local: dict[str, dict[str, Any]]
    bedrock: dict[str, BedrockModel] = field(default_factory=dict)

    def find(self, model_id: str) -> BedrockModel | None:
        """Look a model up by id or foundation-model ARN; cross-region profile ids (us./eu./global.) too."""
        if model_id.startswith("arn:"):
            model_id = model_id.rpartition("/")[2]
        found = self.bedrock.get(model_id)
        if found is None and "." in model_id:
            prefix, _, rest = model_id.partition(".")
            if prefix in ("us", "eu", "apac", "global", "us-gov", "jp", "au", "ca"):
                found = self.bedrock.get(rest)
        return found


BUNDLED = Path(__file__).with_name("catalog.toml")
BEDROCK_KINDS = ("chat", "embedding")


def with_service_models(catalog: Catalog, bundled: Catalog) -> Catalog:
    """A user's catalog plus the bundled models of the kinds it does not name (speech, vision, NLP...), so
    that a catalog written for Bedrock ids still leaves Polly, Textract or Comprehend their models."""
    given = {str(table.get("kind", "chat")) for table in catalog.local.values()}
    for name, table in bundled.local.items():
        kind = str(table.get("kind", "chat"))
        if kind not in BEDROCK_KINDS and kind not in given and name not in catalog.local:
            catalog.local[name] = table
    return catalog


def load_catalog(path: Path, body_formats: Mapping[str, Collection[str]] | None = None) -> Catalog:
    """The catalog at `path`. With `body_formats` (kind -> the format names Bedrock Runtime translates,
    from its body registry), every `[[bedrock]]` entry's format is checked against them here."""
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    local = {name: dict(table) for name, table in data.get("local", {}).items()}
    catalog = Catalog(local=local)
    for entry in data.get("bedrock", []):
        model_id = entry.get("id")
        if not model_id:
            raise CatalogError(f"{path}: a [[bedrock]] entry has no id")
        local_name = entry.get("local")
        if local_name not in local:
            raise CatalogError(
                f"{path}: {model_id} names local model {local_name!r}, which has no [local] table"
            )
        kind = str(local[local_name].get("kind", "chat"))
        body_format = entry.get("format")
        allowed = sorted((body_formats or {}).get(kind, ()))
        if body_formats is not None and body_format not in allowed:
            raise CatalogError(f"{path}: {model_id} has format {body_format!r}; {kind} formats are {allowed}")
        catalog.bedrock[model_id] = BedrockModel(
            model_id=model_id,
            name=entry.get("name", model_id),
            provider=entry.get("provider", model_id.split(".")[0].title()),
            format=body_format,
            local=local_name,
            kind=kind,
            input_modalities=tuple(entry.get("input_modalities", ["TEXT"])),
            output_modalities=tuple(
                entry.get("output_modalities", ["EMBEDDING"] if kind == "embedding" else ["TEXT"])
            ),
            streaming=bool(entry.get("streaming", kind == "chat")),
            dimensions=entry.get("dimensions"),
            max_tokens=int(entry.get("max_tokens", 4096)),
            context_tokens=int(entry.get("context_tokens", local[local_name].get("n_ctx", 4096))),
            lifecycle=entry.get("lifecycle", "ACTIVE"),
        )
    return catalog
