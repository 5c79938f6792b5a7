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

CallKey = tuple[str, str, str, str]  # access key, invocation id, operation, region


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


class SharedCalls:
    """The calls running or recently answered, by invocation: what retries join."""

    def __init__(self, grace_seconds: float, memory_seconds: float, memory_delivered: int) -> None:
        self.grace_seconds = grace_seconds  # how long a call whose client left waits for a retry to join it
        self.memory_seconds = memory_seconds  # how long a finished result is kept for a late retry
        self.memory_delivered = memory_delivered  # how many results their clients already got are kept
        self.calls: dict[CallKey, SharedCall] = {}

    def leave(self, key: CallKey, shared: SharedCall) -> None:
        """A waiting client went: once none is left, the call stops unless a retry joins it in time."""
        shared.waiters -= 1
        if shared.waiters == 0:
            asyncio.get_running_loop().call_later(self.grace_seconds, self._abandon, key, shared)

    def _abandon(self, key: CallKey, shared: SharedCall) -> None:
        if shared.waiters == 0 and not shared.task.done():
            shared.context.cancel.set()
            shared.task.cancel()
            self.calls.pop(key, None)

    def forget_old_results(self) -> None:
        """Answers wait for a retry `memory_seconds`, and those a client got only while among the newest
        `memory_delivered`: all for 120 s was ~9,000 (40 MiB) in a 64-client soak (issue 18)."""
        now, finished = time.monotonic(), [(k, s) for k, s in self.calls.items() if s.finished_at]
        delivered = [key for key, shared in finished if shared.waiters > 0]
        stale = set(delivered[: max(0, len(delivered) - self.memory_delivered)])
        for key, shared in finished:
            if key in stale or now - (shared.finished_at or now) > self.memory_seconds:
                del self.calls[key]
