from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.server import RunningServer

# The crawler tests crawl a local test site: the shared servers allow private crawl targets (the default
# refuses them; tests/rag/test_web_ssrf.py checks that on a server of its own).
CRAWL_LOCAL = {"OUTCROP_CRAWL_PRIVATE_TARGETS": "true"}


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One server with deterministic fake models, shared by the fast tests."""
    running = RunningServer(tmp_path_factory.mktemp("outcrop") / "data", extra_env=CRAWL_LOCAL).start()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def real_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One server on the real default models (llama.cpp and ONNX), for tests marked `real`."""
    data = tmp_path_factory.mktemp("outcrop-real") / "data"
    running = RunningServer(data, fake_models=False, extra_env=CRAWL_LOCAL).start()
    yield running
    running.stop()


@pytest.fixture
def client(server: RunningServer) -> Callable[..., Any]:
    return server.client
