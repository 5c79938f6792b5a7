"""The model catalog: which local models exist, and which Bedrock model ids they answer for.

A TOML file the user can edit (the bundled one is `catalog.toml`). `[local.NAME]` tables describe what runs
here (the backends registry reads them); `[[bedrock]]` entries map an AWS model id to a local model and
say which native body format its InvokeModel speaks, which cross-region inference profiles AWS defines for
it, and whether AWS serves the id on demand. An entry without `local` names an id Bedrock serves that runs
nowhere here (image and video generation): it is listed, and calls to it are refused plainly.
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The prefixes of AWS's system-defined cross-region inference profile ids ("us.", "global."...).
PROFILE_GEOS = ("us", "eu", "apac", "global", "us-gov", "jp", "au", "ca")
GENERATION_KINDS = {"IMAGE": "image", "VIDEO": "video"}


class CatalogError(ValueError):
    """The catalog file is inconsistent; the message names the entry."""


@dataclass(frozen=True)
class BedrockModel:
    model_id: str
    name: str
    provider: str
    format: str
    local: str
    kind: str  # "chat" or "embedding"; "image" or "video" for generation ids not served here
    input_modalities: tuple[str, ...] = ("TEXT",)
    output_modalities: tuple[str, ...] = ("TEXT",)
    streaming: bool = True
    dimensions: int | None = None  # the native output size an embedding id promises (e.g. 1536 for Titan v1)
    max_tokens: int = 4096  # the largest max_tokens a request may ask for
    context_tokens: int = 4096
    lifecycle: str = "ACTIVE"
    # The geos ("us", "eu", "global"...) of the system-defined inference profiles AWS defines for this id;
    # None for an entry that does not say (a user's catalog): then any geo prefix is taken.
    profiles: tuple[str, ...] | None = None
    on_demand: bool = True  # False where AWS serves the id only through an inference profile

    def arn(self, region: str) -> str:
        return f"arn:aws:bedrock:{region}::foundation-model/{self.model_id}"

    @property
    def inference_types(self) -> list[str]:
        """`inferenceTypesSupported` as AWS reports it."""
        return ["ON_DEMAND"] if self.on_demand else ["INFERENCE_PROFILE"]

    def has_profile(self, geo: str) -> bool:
        return geo in PROFILE_GEOS if self.profiles is None else geo in self.profiles


@dataclass
class Catalog:
    local: dict[str, dict[str, Any]]
    bedrock: dict[str, BedrockModel] = field(default_factory=dict)
    unserved: dict[str, BedrockModel] = field(default_factory=dict)  # generation ids: listed, not run

    def find(self, model_id: str) -> BedrockModel | None:
        """Look a model up by id or foundation-model ARN, or by a system-defined inference profile's id or
        ARN (`us.` + id) where AWS defines that profile."""
        return self._lookup(model_id, self.bedrock)

    def find_unserved(self, model_id: str) -> BedrockModel | None:
        """The generation id (image, video) a model id or profile names, if it is one."""
        return self._lookup(model_id, self.unserved)

    @staticmethod
    def _lookup(model_id: str, table: Mapping[str, BedrockModel]) -> BedrockModel | None:
        if model_id.startswith("arn:"):
            resource, _, model_id = model_id.partition("/")
            if not resource.endswith((":foundation-model", ":inference-profile")):
                return None
        found = table.get(model_id)
        if found is None and "." in model_id:
            geo, _, rest = model_id.partition(".")
            base = table.get(rest)
            if base is not None and base.has_profile(geo):
                found = base
        return found

    def system_profiles(self) -> list[tuple[str, str, BedrockModel]]:
        """Every system-defined inference profile: (profile id, geo, model), in catalog order."""
        return [
            (f"{geo}.{model.model_id}", geo, model)
            for model in [*self.bedrock.values(), *self.unserved.values()]
            for geo in model.profiles or ()
        ]


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


def _profiles(path: Path, model_id: str, entry: Mapping[str, Any]) -> tuple[str, ...] | None:
    if "profiles" not in entry:
        return None
    geos = tuple(str(geo) for geo in entry["profiles"])
    unknown = sorted(set(geos) - set(PROFILE_GEOS))
    if unknown:
        raise CatalogError(f"{path}: {model_id} names profile geos {unknown}; known: {list(PROFILE_GEOS)}")
    return geos


def _unserved(path: Path, model_id: str, entry: Mapping[str, Any]) -> BedrockModel:
    """An entry without `local`: an image or video generation id, listed but not run here."""
    outputs = tuple(entry.get("output_modalities", ()))
    kinds = [GENERATION_KINDS[modality] for modality in outputs if modality in GENERATION_KINDS]
    if not kinds:
        raise CatalogError(
            f"{path}: {model_id} has no local model; only image or video generation ids may go without one"
        )
    return BedrockModel(
        model_id=model_id,
        name=entry.get("name", model_id),
        provider=entry.get("provider", model_id.split(".")[0].title()),
        format="",
        local="",
        kind=kinds[0],
        input_modalities=tuple(entry.get("input_modalities", ["TEXT"])),
        output_modalities=outputs,
        streaming=False,
        lifecycle=entry.get("lifecycle", "ACTIVE"),
        profiles=_profiles(path, model_id, entry),
        on_demand=bool(entry.get("on_demand", True)),
    )


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
        if model_id in catalog.bedrock or model_id in catalog.unserved:
            raise CatalogError(f"{path}: {model_id} has two [[bedrock]] entries")
        local_name = entry.get("local")
        if local_name is None:
            catalog.unserved[model_id] = _unserved(path, model_id, entry)
            continue
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
            profiles=_profiles(path, model_id, entry),
            on_demand=bool(entry.get("on_demand", True)),
        )
    return catalog
