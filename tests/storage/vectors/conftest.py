"""The PostgreSQL the pgvector tests run on: the bundled server, started once per session in a temporary
directory (CI starts with nothing running), or the server named by OUTCROP_TEST_POSTGRES (a libpq
connection string) for those who bring their own."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def cluster_dir() -> Iterator[Path]:
    """A folder for a PostgreSQL cluster outside pytest's tmp_path. Run as root, pgserver starts the server
    as an unprivileged user and opens the parent folders to it, but each pytest session (others may run at
    the same time) resets /tmp/pytest-of-root to 0700, which would lock that user out mid-run."""
    path = Path(tempfile.mkdtemp(prefix="outcrop-pg-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    external = os.environ.get("OUTCROP_TEST_POSTGRES")
    if external:
        yield external
        return
    from outcrop.storage.vectors.pgserver import EmbeddedPostgres

    with cluster_dir() as root:
        server = EmbeddedPostgres(root / "pgdata")
        yield server.start()
        server.stop()


@pytest.fixture
def pg_tmp() -> Iterator[Path]:
    with cluster_dir() as root:
        yield root
