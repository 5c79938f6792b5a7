"""Ships function logs to CloudWatch Logs off the invocation's path, as Lambda's own log delivery does.

Each store write is a durable SQLite commit; doing one per invocation on the request path made the log
store, not the handler, the limit of a busy function. Lines queue here and a thread writes them in batches,
one `put` per stream, usually within milliseconds.
"""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Callable, Sequence

Scope = tuple[str, str]  # (account, region) of the function whose lines these are
Sink = Callable[[Scope, str, str, Sequence[tuple[int, str]]], None]
_STOP: tuple[Scope, str, str, Sequence[tuple[int, str]]] = (("", ""), "", "", ())


class LogShipper:
    def __init__(self, sink: Sink) -> None:
        self._sink = sink
        self._queue: queue.Queue[tuple[Scope, str, str, Sequence[tuple[int, str]]]] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="outcrop-lambda-logs", daemon=True)
        self._thread.start()

    def put(self, scope: Scope, group: str, stream: str, events: Sequence[tuple[int, str]]) -> None:
        self._queue.put((scope, group, stream, events))

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued, then stop."""
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            batches: dict[tuple[Scope, str, str], list[tuple[int, str]]] = {}
            item = self._queue.get()
            stopping = item is _STOP
            while not stopping:
                scope, group, stream, events = item
                batches.setdefault((scope, group, stream), []).extend(events)
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                stopping = item is _STOP
            for (scope, group, stream), events in batches.items():
                try:
                    self._sink(scope, group, stream, events)
                except Exception as exc:  # a failed write loses those lines, never the invocation
                    print(f"outcrop: could not write {group} logs: {exc}", file=sys.stderr)
            if stopping:
                return
