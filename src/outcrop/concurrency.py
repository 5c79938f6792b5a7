"""Bridges between blocking model code and the event loop, so inference never blocks the server."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

_DONE = object()

# Service methods run here, not in asyncio's default pool (sized for the core count: 6 threads on 2 cores),
# so that slow model loads or long S3 writes cannot starve health checks and quick calls.
WORKERS = ThreadPoolExecutor(max_workers=64, thread_name_prefix="outcrop-worker")


async def run_blocking(function: Callable[[], T]) -> T:
    return await asyncio.get_running_loop().run_in_executor(WORKERS, function)


async def iterate_in_thread(
    make_iterator: Callable[[], Iterator[T]], cancel: threading.Event
) -> AsyncGenerator[T, None]:
    """Drive a blocking iterator in its own thread and yield its items on the event loop.

    If the consumer stops early (client gone, generator closed), `cancel` is set so the producer can stop.
    Exceptions raised by the iterator are re-raised here.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue()

    def post(item: object) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the loop closed after its consumer left: nobody is there to tell
            cancel.set()

    def produce() -> None:
        try:
            for item in make_iterator():
                post(item)
                if cancel.is_set():
                    break
        except BaseException as exc:  # handed to the consumer, who re-raises it
            post(_Failure(exc))
        finally:
            post(_DONE)

    thread = threading.Thread(target=produce, name="outcrop-stream", daemon=True)
    thread.start()
    finished = False
    try:
        while True:
            item = await queue.get()
            if item is _DONE:
                finished = True
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        if not finished:  # a stream that ran to its end leaves `cancel` alone for the next one
            cancel.set()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error
