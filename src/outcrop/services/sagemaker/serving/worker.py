"""The worker process of one endpoint variant instance, started as
`python -m outcrop.services.sagemaker.serving.worker --fd N`.

It answers framed requests on the inherited socket one at a time: `load` (the variant's model, or just the
configuration of a multi-model endpoint), `load_model`/`unload_model` (multi-model), `invoke` and `ping`.
The user's prints and tracebacks go to stdout/stderr, which the server copies to CloudWatch Logs.
"""

from __future__ import annotations

import argparse
import gc
import os
import socket
import sys
import traceback
from pathlib import Path
from typing import Any

from outcrop.services.sagemaker.serving import wire
from outcrop.services.sagemaker.serving.codecs import InferenceFailure
from outcrop.services.sagemaker.serving.handlers import ModelHandler, RequestContext

SINGLE = ""  # the handler key of a single-model endpoint


def _failure(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, InferenceFailure):
        return {"type": "error", "status": exc.status, "message": exc.message}
    traceback.print_exc(file=sys.stderr)
    sys.stderr.flush()
    return {"type": "error", "status": 500, "message": f"{type(exc).__name__}: {exc}"}


class Worker:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.framework = "unknown"
        self.env: dict[str, str] = {}
        self.handlers: dict[str, ModelHandler] = {}

    def serve(self) -> None:
        while True:
            try:
                header, body = wire.receive(self.sock)
            except wire.ChannelClosed:
                return
            operation = header.get("op")
            try:
                if operation == "invoke":
                    self.invoke(header, body)
                    continue
                if operation == "load":
                    self.load(header)
                elif operation == "load_model":
                    self.handlers[header["name"]] = self._handler(header, unique=True)
                elif operation == "unload_model":
                    self.handlers.pop(header["name"], None)
                    gc.collect()
                wire.send(self.sock, {"type": "ok", "models": sorted(self.handlers)})
            except BaseException as exc:  # the user's code may raise anything, even SystemExit
                wire.send(self.sock, _failure(exc))
            sys.stdout.flush()

    def _handler(self, header: dict[str, Any], *, unique: bool) -> ModelHandler:
        script = Path(header["script"]) if header.get("script") else None
        print(
            f"Loading model from {header['model_dir']} with {script.name if script else 'default handlers'}"
        )
        return ModelHandler(self.framework, header["model_dir"], script, self.env, unique=unique)

    def load(self, header: dict[str, Any]) -> None:
        self.framework = header["framework"]
        self.env = header.get("env", {})
        os.environ.update(self.env)  # the model's Environment, as a container has it: user code reads it here
        if not header.get("multi_model"):
            self.handlers[SINGLE] = self._handler(header, unique=False)

    def invoke(self, header: dict[str, Any], body: bytes) -> None:
        streaming = bool(header.get("stream"))
        started = False
        try:
            handler = self.handlers.get(header.get("model") or SINGLE)
            if handler is None:
                raise InferenceFailure(f"Model {header.get('model')} is not loaded.", 404)
            context = RequestContext(header.get("custom_attributes"), header.get("headers") or {})
            content_type, parts = handler.answer(
                body, header.get("content_type"), header.get("accept"), context
            )
            if not streaming:
                data = b"".join(parts)
                answer = {"type": "result", "content_type": content_type}
                wire.send(self.sock, answer | {"custom_attributes": context.response_custom_attributes}, data)
                return
            start = {
                "type": "start",
                "content_type": content_type,
                "custom_attributes": context.response_custom_attributes,
            }
            for part in parts:
                if not started:
                    wire.send(self.sock, start)
                    started = True
                wire.send(self.sock, {"type": "part"}, part)
            if not started:
                wire.send(self.sock, start)
            wire.send(self.sock, {"type": "end"})
        except BaseException as exc:  # a ModelError for the caller; the worker lives on
            wire.send(self.sock, _failure(exc))
        finally:
            sys.stdout.flush()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fd", type=int, required=True)
    args = parser.parse_args(argv)
    Worker(socket.socket(fileno=args.fd)).serve()


if __name__ == "__main__":
    main()
