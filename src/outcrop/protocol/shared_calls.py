"""A call that SDK retries (the same `amz-sdk-invocation-id`) may join instead of running it twice.

Only answers that did something are worth keeping for a late retry: a retry of an error (a throttled call,
an endpoint not ready yet, a 5xx) must run the call again, or every retry an SDK makes would read the same
error back.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from outcrop.protocol.serialize import HttpResponse
from outcrop.services.base import RequestContext


@dataclass
class SharedCall:
    """A call retries may join: its task, how many clients wait for it, when it finished and how."""

    task: asyncio.Task[HttpResponse]
    context: RequestContext
    waiters: int = 1
    finished_at: float | None = None
    failed: bool = False  # answered an error: a retry runs the call again

    def mark_finished(self, task: asyncio.Task[HttpResponse]) -> None:
        self.finished_at = time.monotonic()
        self.failed = task.cancelled() or task.exception() is not None or task.result().status >= 400
