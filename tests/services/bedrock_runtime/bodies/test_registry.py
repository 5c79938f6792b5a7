from __future__ import annotations

from pathlib import Path

import pytest

import outcrop
from outcrop.catalog import CatalogError, load_catalog
from outcrop.services.bedrock_runtime.bodies.registry import BODY_FORMATS, CHAT_FORMATS, EMBEDDING_FORMATS


def test_every_catalog_format_name_has_a_translation(tmp_path: Path) -> None:
    assert all(name == chat_format.name for name, chat_format in CHAT_FORMATS.items())
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(
        '[local.m]\nruntime = "fake"\nkind = "chat"\n'
        '[[bedrock]]\nid = "x.model-v1:0"\nformat = "no-such-body"\nlocal = "m"\n'
    )
    with pytest.raises(CatalogError, match="no-such-body"):
        load_catalog(catalog, BODY_FORMATS)


def test_every_bundled_catalog_entry_resolves() -> None:
    catalog = load_catalog(Path(outcrop.__file__).parent / "catalog.toml", BODY_FORMATS)
    for entry in catalog.bedrock.values():
        registry = CHAT_FORMATS if entry.kind == "chat" else EMBEDDING_FORMATS
        assert entry.format in registry, entry.model_id
