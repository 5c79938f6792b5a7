from __future__ import annotations

from pathlib import Path

import outcrop
from outcrop.catalog import CHAT_FORMATS as CATALOG_CHAT_FORMATS
from outcrop.catalog import EMBED_FORMATS, load_catalog
from outcrop.services.bedrock_bodies.registry import CHAT_FORMATS, EMBEDDING_FORMATS


def test_every_catalog_format_name_has_a_translation() -> None:
    assert set(CHAT_FORMATS) == set(CATALOG_CHAT_FORMATS)
    assert set(EMBEDDING_FORMATS) == set(EMBED_FORMATS)
    assert all(name == chat_format.name for name, chat_format in CHAT_FORMATS.items())


def test_every_bundled_catalog_entry_resolves() -> None:
    catalog = load_catalog(Path(outcrop.__file__).parent / "catalog.toml")
    for entry in catalog.bedrock.values():
        registry = CHAT_FORMATS if entry.kind == "chat" else EMBEDDING_FORMATS
        assert entry.format in registry, entry.model_id
