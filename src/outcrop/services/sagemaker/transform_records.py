"""How batch transform cuts an input file into requests and puts the answers back together.

SplitType None sends each file whole; Line makes each line a record. BatchStrategy SingleRecord sends one
record per request; MultiRecord packs as many whole records as fit in MaxPayloadInMB into each request.
AssembleWith Line ends each answer with a newline (unless it already ends with one), None concatenates them.
"""

from __future__ import annotations

from collections.abc import Iterator

MB = 1024 * 1024


class RecordTooLarge(Exception):
    """A single record is bigger than MaxPayloadInMB: the job fails, as SageMaker's does."""


def records(data: bytes, split_type: str) -> list[bytes]:
    """The records of one input file."""
    if split_type == "None":
        return [data] if data else []
    lines = data.splitlines(keepends=True)
    return [line for line in lines if line.strip()]


def batches(items: list[bytes], strategy: str, max_payload_mb: int, where: str) -> Iterator[bytes]:
    """Request bodies: each record alone, or records packed whole up to the payload limit."""
    limit = max_payload_mb * MB if max_payload_mb else None  # 0: no limit (streamed, as AWS allows)
    batch: list[bytes] = []
    size = 0
    for record in items:
        if limit is not None and len(record) > limit:
            raise RecordTooLarge(
                f"ClientError: a record of {where} is {len(record)} bytes, over MaxPayloadInMB "
                f"({max_payload_mb} MB). Split the input (SplitType Line) or raise MaxPayloadInMB."
            )
        if strategy == "SingleRecord":
            yield record
            continue
        if batch and limit is not None and size + len(record) > limit:
            yield b"".join(batch)
            batch, size = [], 0
        if batch and not batch[-1].endswith(b"\n"):
            batch[-1] += b"\n"
        batch.append(record)
        size += len(record)
    if batch:
        yield b"".join(batch)


def assemble(answers: list[bytes], assemble_with: str) -> bytes:
    """The output file from the answers, in input order."""
    if assemble_with == "Line":
        return b"".join(a if a.endswith(b"\n") else a + b"\n" for a in answers)
    return b"".join(answers)


def output_key(prefix: str, input_key: str, input_prefix: str) -> str:
    """`<output prefix>/<path below the input prefix>.out`, as SageMaker names each output object."""
    relative = input_key[len(input_prefix) :].lstrip("/") if input_key != input_prefix else ""
    relative = relative or input_key.rsplit("/", 1)[-1]
    return "/".join(part for part in (prefix.rstrip("/"), relative + ".out") if part)
