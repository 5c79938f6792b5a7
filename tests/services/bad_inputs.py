"""Helpers shared by the bad-input tests: refusals checked for code, status and a readable message."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from tests.errors import error_of
from tests.server import RunningServer
from tests.services.test_sagemaker import scaler_archive

UNHANDLED = "unhandled error in "


def wait_for(read: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.3)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def refused(call: Any, code: str, status: int = 400, **kwargs: Any) -> dict[str, Any]:
    """The error of a call that must fail with `code`/`status` and a message a person can read."""
    error = error_of(call, **kwargs)
    assert (error["Code"], error["Status"]) == (code, status), error
    message = error.get("Message") or error.get("message") or ""
    assert len(message) > 10 and "Traceback" not in message and "internal error" not in message.lower()
    return error


def bad_inputs_bucket(server: RunningServer) -> str:
    """A bucket holding the careless user's files: noise named .wav, an odd extension, a junk model."""
    s3 = server.client("s3")
    name = unique("bad-inputs")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="noise.wav", Body=b"this is not audio " * 64)
    s3.put_object(Bucket=name, Key="notes.xyz", Body=b"x")
    s3.put_object(Bucket=name, Key="model/model.tar.gz", Body=scaler_archive(1))
    s3.put_object(Bucket=name, Key="junk/model.tar.gz", Body=b"not a tarball")
    return name


def unhandled_errors(server: RunningServer, since: int, *, allowed: str | None = None) -> list[str]:
    """The unhandled-error reports the server logged after byte `since`, less those naming `allowed`."""
    text = server.log_path.read_bytes()[since:].decode(errors="replace")
    blocks = [block[:3000] for block in text.split(UNHANDLED)[1:]]
    return [block for block in blocks if allowed is None or allowed not in block]
