"""A server started with Lambda apps, for the Lambda, API Gateway and example tests.

The session fixtures start servers without apps; these tests start their own with `OUTCROP_APPS`, on a copy
of the apps (so a test may edit handler code), and stop it at the end.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.server import REPOSITORY, RunningServer

APPS = Path(__file__).resolve().parent / "apps"
GUIDE_CHAT = REPOSITORY / "examples" / "guide-chat"


@contextmanager
def app_server(
    tmp: Path, *apps: Path, fake_models: bool = True, extra_env: dict[str, str] | None = None
) -> Iterator[tuple[RunningServer, dict[str, Path]]]:
    """A running server serving copies of `apps` (folders holding a template.yaml); yields the copies."""
    copies: dict[str, Path] = {}
    for folder in apps:
        copy = tmp / "apps" / folder.name
        shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("__pycache__"))
        copies[folder.name] = copy
    env = {"OUTCROP_APPS": ",".join(str(c / "template.yaml") for c in copies.values()), **(extra_env or {})}
    server = RunningServer(tmp / "data", fake_models=fake_models, extra_env=env).start()
    try:
        yield server, copies
    finally:
        server.stop()


def api_ids(server: RunningServer) -> dict[str, dict[str, str]]:
    """app -> API logical type/stage -> id, as `/_apps/` describes them."""
    described = httpx.get(f"{server.endpoint}/_apps/", timeout=10).json()["apps"]
    return {
        app["name"]: {f"{api['type']}:{api['stage']}": api["id"] for api in app["apis"]} for app in described
    }
