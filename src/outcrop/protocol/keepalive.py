"""Long JSON answers start at once and keep the connection busy until their body is ready.

SDKs give up on a response that sends nothing for a while: boto3 waits 60 s for a byte, then retries. A local
model reading a 60-page PDF in a Converse call can take longer than that on a small machine. So an operation
whose whole answer is one JSON body (nothing in headers but the request id, and JSON allows leading
whitespace) sends its status line and headers once it has run `keepalive_seconds`, then a space every as many
seconds, then the body. A call that fails after the status line went out cannot turn it into an error: the
connection is closed before the body ends, so the client sees a broken response (botocore's standard retry
mode retries it), never a success without an answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from botocore.model import OperationModel

from outcrop.protocol.serialize import HttpResponse, serialize_output

JSON_PROTOCOLS = frozenset({"json", "rest-json"})


class AnswerLost(Exception):
    """The call failed after its 200 went out: the gateway closes the connection unfinished."""


def keeps_alive(operation: OperationModel, protocol: str) -> bool:
    """Whether every member of the operation's answer is in its JSON body (so leading spaces are harmless
    and nothing the call computes belongs in a header or the status)."""
    output = operation.output_shape
    if protocol not in JSON_PROTOCOLS or output is None or operation.has_event_stream_output:
        return False
    if output.serialization.get("payload"):
        return False
    return not any(member.serialization.get("location") for member in output.members.values())


def kept_alive(
    operation: OperationModel,
    protocol: str,
    request_id: str,
    task: asyncio.Task[HttpResponse],
    every: float,
    on_leave: Callable[[], None],
) -> HttpResponse:
    """A 200 whose body is spaces every `every` seconds, then the task's JSON. `on_leave` runs if the
    client goes before the task ends (to stop the work it started)."""
    headers = serialize_output(operation, {}, request_id, protocol).headers
    headers = {name: value for name, value in headers.items() if name.lower() != "content-length"}
    return HttpResponse(200, headers, _spaces_then_answer(task, every, on_leave))


async def _spaces_then_answer(
    task: asyncio.Task[HttpResponse], every: float, on_leave: Callable[[], None]
) -> AsyncIterator[bytes]:
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=every)
            if not task.done():
                yield b" "
        if task.cancelled() or task.exception() is not None:
            raise AnswerLost("the call was stopped after its 200 was sent")
        response = task.result()
        if response.status != 200 or not isinstance(response.body, bytes):
            raise AnswerLost(f"the call answered {response.status} after its 200 was sent")
        yield response.body
    finally:
        if not task.done():
            on_leave()
