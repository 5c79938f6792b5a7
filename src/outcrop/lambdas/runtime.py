"""The main of a function's worker process: imports the handler once, then runs one event per request.

It speaks one JSON line per message on two pipes handed over by the parent (never stdout: the handler's
own stdout and stderr go to the worker's log file, which the parent turns into CloudWatch Logs events).
Kept free of Outcrop imports so a worker starts as fast as the handler's own imports allow.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import resource
import sys
import time
import traceback
from typing import Any


class LambdaContext:
    """The `context` argument Lambda's Python runtime passes to handlers, from the reserved variables the
    server set for this worker process (`FunctionRegistry.environment`), as Lambda's runtime reads them."""

    def __init__(self, request: dict[str, Any]) -> None:
        self.aws_request_id: str = request["id"]
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
        self.invoked_function_arn: str = request["arn"]
        self.memory_limit_in_mb = os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        self.log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.client_context: Any = request.get("client_context")
        self.identity: Any = None
        self._deadline_ms: int = request["deadline_ms"]

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


class _RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


def _install_logging() -> _RequestIdFilter:
    """Lambda's root handler: `[LEVEL]\\ttime\\trequest-id\\tmessage`, on stdout."""
    request_filter = _RequestIdFilter()
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
            "%Y-%m-%dT%H:%M:%S",
        )
    )
    handler.formatter.converter = time.gmtime  # type: ignore[union-attr]
    handler.addFilter(request_filter)
    logging.getLogger().addHandler(handler)
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL")
    if level:
        logging.getLogger().setLevel(level.upper())
    return request_filter


def _error(exc: BaseException, error_type: str | None = None) -> dict[str, Any]:
    frames = traceback.extract_tb(exc.__traceback__)
    frames = traceback.StackSummary.from_list([f for f in frames if f.filename != __file__])
    return {
        "errorMessage": str(exc),
        "errorType": error_type or type(exc).__name__,
        "stackTrace": [line for line in traceback.format_list(frames)],
    }


def _print_error(error: dict[str, Any]) -> None:
    """The runtime's one-event error line: `[ERROR] Type: message` then the traceback."""
    stack = "".join(error.get("stackTrace") or [])
    trace = f"\nTraceback (most recent call last):\n{stack}" if stack else ""
    sys.stdout.write(f"[ERROR] {error['errorType']}: {error['errorMessage']}{trace}\n".replace("\n", "\r"))
    sys.stdout.write("\n")


def _load_handler(spec: str) -> Any:
    module_name, _, function_name = spec.rpartition(".")
    module = importlib.import_module(module_name.replace("/", "."))
    handler = getattr(module, function_name, None)
    if handler is None:
        raise AttributeError(f"Handler '{function_name}' missing on module '{module_name}'")
    return handler


def main() -> None:
    requests_fd, replies_fd = int(sys.argv[1]), int(sys.argv[2])
    requests = os.fdopen(requests_fd, "rb")
    replies = os.fdopen(replies_fd, "wb")
    sys.path.insert(0, os.environ["LAMBDA_TASK_ROOT"])
    request_filter = _install_logging()

    def reply(message: dict[str, Any]) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        replies.write(json.dumps(message).encode() + b"\n")
        replies.flush()

    handler: Any = None
    init_error: dict[str, Any] | None = None
    try:
        handler = _load_handler(os.environ["_HANDLER"])
    except Exception as exc:  # the handler's import failed: every invocation answers this error
        kind = "Runtime.HandlerNotFound" if isinstance(exc, AttributeError) else "Runtime.ImportModuleError"
        init_error = _error(exc, kind)
        init_error["errorMessage"] = f"Unable to import module '{os.environ['_HANDLER']}': {exc}"
        _print_error(init_error)
    reply({"ready": True})

    for line in requests:
        request = json.loads(line)
        request_filter.request_id = request["id"]
        if init_error is not None:
            reply({"error": init_error, "max_memory_mb": _max_memory_mb()})
            continue
        try:
            result = handler(request["event"], LambdaContext(request))
        except Exception as exc:
            _fail(reply, _error(exc), request["id"])
            continue
        try:
            payload = json.dumps(result)
        except (TypeError, ValueError) as exc:
            error = {
                "errorMessage": f"Unable to marshal response: {exc}",
                "errorType": "Runtime.MarshalError",
            }
            _fail(reply, error, request["id"])
            continue
        reply({"payload": payload, "max_memory_mb": _max_memory_mb()})


def _fail(reply: Any, error: dict[str, Any], request_id: str) -> None:
    _print_error(error)
    reply({"error": {**error, "requestId": request_id}, "max_memory_mb": _max_memory_mb()})


def _max_memory_mb() -> int:
    """This process's own peak resident memory since it started, in MB.

    ru_maxrss is no good here: Linux carries the parent's peak across fork and exec, so a worker started by
    a 2 GB server would report 2 GB. VmHWM is the high-water mark of this process's own address space."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return max(1, round(int(line.split()[1]) / 1024))
    except (OSError, ValueError, IndexError):
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # no /proc (not Linux)


if __name__ == "__main__":
    main()
