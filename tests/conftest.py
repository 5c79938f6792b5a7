from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.server import RunningServer


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One server with deterministic fake models, shared by the fast tests."""
    running = RunningServer(tmp_path_factory.mktemp("outcrop") / "data").start()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def real_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One server on the real default models (llama.cpp and ONNX), for tests marked `real`."""
    running = RunningServer(tmp_path_factory.mktemp("outcrop-real") / "data", fake_models=False).start()
    yield running
    running.stop()


@pytest.fixture
def client(server: RunningServer) -> Callable[..., Any]:
    return server.client
