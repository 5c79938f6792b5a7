from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from outcrop.backends import registry as registry_module
from outcrop.backends.base import BackendUnavailable, Embedder, TextGenerator
from outcrop.backends.fake import FakeChat, FakeEmbedder
from outcrop.backends.registry import ModelRegistry, UnknownModel

from .conftest import REAL_MODELS

CATALOG: dict[str, dict[str, Any]] = {
    "chat": {"runtime": "fake-chat", "kind": "chat"},
    "embed": {"runtime": "fake-embed", "kind": "embedding", "dimensions": 32},
}


def test_fake_mode_serves_every_model_with_a_fake(tmp_path: Path) -> None:
    registry = ModelRegistry(REAL_MODELS, tmp_path, fake=True)
    assert isinstance(registry.generator("qwen2.5-coder-0.5b"), FakeChat)
    embedder = registry.embedder("minilm")
    assert isinstance(embedder, FakeEmbedder) and embedder.dimensions == 384
    assert registry.states()["minilm"]["state"] == "ready"
    assert list((tmp_path).iterdir()) == []  # nothing assembled


def test_names_and_states(tmp_path: Path) -> None:
    registry = ModelRegistry(CATALOG, tmp_path)
    assert registry.names("chat") == ["chat"] and registry.names("embedding") == ["embed"]
    assert registry.states()["chat"] == {
        "runtime": "fake-chat",
        "kind": "chat",
        "state": "not_loaded",
        "error": None,
        "load_seconds": None,
        "loads": 0,
        "uses": 0,
        "generated_tokens": None,
        "prompt_cache": None,
        "grammar": None,
    }
    assert isinstance(registry.generator("chat"), TextGenerator)
    assert isinstance(registry.embedder("embed"), Embedder)
    assert registry.states()["chat"]["state"] == "ready"
    assert registry.embedder("embed").dimensions == 32


def test_unknown_names_and_wrong_kinds_are_clear_errors(tmp_path: Path) -> None:
    registry = ModelRegistry(CATALOG, tmp_path)
    with pytest.raises(UnknownModel, match=r"no model named 'nope'.*known: chat, embed"):
        registry.generator("nope")
    with pytest.raises(ValueError, match="is a embedding model"):
        registry.generator("embed")


def test_bad_catalog_entries_fail_at_construction(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="runtime must be one of"):
        ModelRegistry({"x": {"runtime": "tensorflow", "kind": "chat"}}, tmp_path)
    with pytest.raises(ValueError, match="serves"):
        ModelRegistry({"x": {"runtime": "llamacpp", "kind": "embedding"}}, tmp_path)


def test_missing_package_fails_with_an_install_hint_and_is_retried(tmp_path: Path) -> None:
    catalog = {
        "e": {
            "runtime": "onnx-embed",
            "kind": "embedding",
            "model_package": "no-such-pkg",
            "model_file": "m.onnx",
        }
    }
    registry = ModelRegistry(catalog, tmp_path)
    for _ in range(2):
        with pytest.raises(BackendUnavailable, match="pip install"):
            registry.embedder("e")
        state = registry.states()["e"]
        assert state["state"] == "failed" and "no-such-pkg" in state["error"]


def test_concurrent_first_calls_load_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[str] = []
    seen_states: list[str] = []

    def slow_loader(name: str, config: Mapping[str, Any], model_dir: Path) -> FakeChat:
        loads.append(name)
        time.sleep(0.2)
        return FakeChat(name)

    monkeypatch.setitem(registry_module._resolved, "outcrop.backends.registry:load_fake", slow_loader)
    registry = ModelRegistry(CATALOG, tmp_path)
    results: list[TextGenerator] = []
    threads = [threading.Thread(target=lambda: results.append(registry.generator("chat"))) for _ in range(6)]
    for thread in threads:
        thread.start()
    time.sleep(0.05)
    seen_states.append(registry.states()["chat"]["state"])
    for thread in threads:
        thread.join()
    assert loads == ["chat"]
    assert len({id(model) for model in results}) == 1
    assert seen_states == ["loading"]
    assert registry.states()["chat"]["load_seconds"] >= 0.2


def test_catalog_dimensions_must_match_the_model(tmp_path: Path) -> None:
    catalog = {"e": {"runtime": "openai", "kind": "embedding", "base_url": "http://x/v1", "dimensions": 8}}
    registry = ModelRegistry(catalog, tmp_path)
    assert registry.embedder("e").dimensions == 8
    missing = ModelRegistry(
        {"e": {"runtime": "openai", "kind": "embedding", "base_url": "http://x"}}, tmp_path
    )
    with pytest.raises(BackendUnavailable, match="needs `dimensions`"):
        missing.embedder("e")
