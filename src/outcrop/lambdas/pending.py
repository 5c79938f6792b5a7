"""Asynchronous (`Event`) invocations written down before they are accepted, so a restart does not lose them.

Lambda queues an event durably and runs it at least once. Here each accepted event is a JSON file under
the data dir until its invocation ends; files left by a server that stopped mid-run are run again at the
next start, once the server answers (a handler's boto3 calls need it). An event whose function is gone is
dropped with a log line saying so.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

log = logging.getLogger("outcrop.lambda")
SERVER_WAIT_SECONDS = 120.0


class PendingEvents:
    def __init__(self, root: Path) -> None:
        self.root = root

    def save(self, function: str, event: Any, client_context: Any) -> Path:
        """`function` is the function's ARN (its name, in files written before functions had regions)."""
        path = self.root / f"{uuid.uuid4().hex}.json"
        temporary = path.with_suffix(".tmp")
        temporary.write_text(
            json.dumps({"function": function, "event": event, "client_context": client_context})
        )
        os.replace(temporary, path)
        return path

    @staticmethod
    def done(path: Path) -> None:
        path.unlink(missing_ok=True)

    def resume(self, health_url: str, run: Callable[[str, Any, Any], bool]) -> None:
        """Run what a previous server left, in a thread, once `health_url` answers; `run` returns False when
        the function no longer exists."""
        left = sorted(self.root.glob("*.json"), key=lambda p: p.stat().st_mtime)
        for stale in self.root.glob("*.tmp"):
            stale.unlink(missing_ok=True)
        if left:
            threading.Thread(target=self._resume, args=(left, health_url, run), daemon=True).start()

    def _resume(self, paths: list[Path], health_url: str, run: Callable[[str, Any, Any], bool]) -> None:
        deadline = time.monotonic() + SERVER_WAIT_SECONDS
        while time.monotonic() < deadline:
            try:
                if httpx.get(health_url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        for path in paths:
            try:
                job = json.loads(path.read_text())
            except (OSError, ValueError):
                self.done(path)
                continue
            log.info("running an asynchronous invocation of %s accepted before the restart", job["function"])
            if not run(job["function"], job["event"], job["client_context"]):
                log.warning("dropped an asynchronous invocation of %s: the function is gone", job["function"])
            self.done(path)
