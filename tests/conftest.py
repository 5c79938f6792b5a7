from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.server import RunningServer

# The crawler tests crawl a local test site: the shared servers allow private crawl targets (the default
# refuses them; tests/rag/test_web_ssrf.py checks that on a server of its own).
CRAWL_LOCAL = {"OUTCROP_CRAWL_PRIVATE_TARGETS": "true"}
_LOG_OFFSETS = pytest.StashKey[dict[str, int]]()


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


def _servers(item: pytest.Item) -> dict[str, RunningServer]:
    funcargs = getattr(item, "funcargs", {})
    return {n: s for n in ("server", "real_server") if isinstance(s := funcargs.get(n), RunningServer)}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """Note where each server's log stands, so a failure shows only what the server logged during the test."""
    item.stash[_LOG_OFFSETS] = {
        name: running.log_path.stat().st_size if running.log_path.exists() else 0
        for name, running in _servers(item).items()
    }
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failed test shows what its server logged meanwhile (CI keeps nothing else of a server's log)."""
    report = yield
    if report.failed and call.when == "call":
        offsets = item.stash.get(_LOG_OFFSETS, {})
        for name, running in _servers(item).items():
            if running.log_path.exists():
                with running.log_path.open("rb") as log:
                    log.seek(offsets.get(name, 0))
                    logged = log.read().decode(errors="replace").strip()
                if logged:
                    report.sections.append((f"{name} log during the test", logged[-8000:]))
    return report
