"""Helpers for the tests that look for plaintext on disk: a server of a module's own (the test stops it to
read what is on disk) and the files holding a marker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server import RunningServer


def found_in(folder: Path, needle: bytes) -> list[Path]:
    """The files holding `needle`, but the audit log's (CloudTrail records request parameters as given)."""
    return [
        p
        for p in folder.rglob("*")
        if p.is_file() and "cloudtrail" not in p.parts and needle in p.read_bytes()
    ]


def own_server(factory: pytest.TempPathFactory, name: str) -> Iterator[RunningServer]:
    """A started server in a fresh data dir, stopped when the module's tests are done."""
    running = RunningServer(factory.mktemp(name) / "data").start()
    yield running
    running.stop()
