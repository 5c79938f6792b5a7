"""One loaded model and the user's handler functions around it, as the inference toolkits call them.

The script may define `model_fn`, `input_fn`, `predict_fn`, `output_fn` or `transform_fn`; what it leaves
out comes from the framework's defaults. A function may take one more argument than the toolkit passes: it
then gets a `RequestContext` (custom attributes and headers), as newer toolkits allow. A `predict_fn` that
returns a generator streams: each item becomes one part of InvokeEndpointWithResponseStream's answer.
Runs inside the worker process.
"""

from __future__ import annotations

import importlib.util
import inspect
import itertools
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from outcrop.services.sagemaker.serving.codecs import (
    ENCODABLE,
    TEXT_TYPES,
    InferenceFailure,
    choose_accept,
    encode,
    media_type,
)
from outcrop.services.sagemaker.serving.frameworks import defaults_for

_module_counter = itertools.count()


CUSTOM_ATTRIBUTES = "x-amzn-sagemaker-custom-attributes"


@dataclass
class RequestContext:
    """What a handler function that asks for a context gets (the toolkits' `context`)."""

    custom_attributes: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    model_dir: str = ""
    response_headers: dict[str, str] = field(default_factory=dict)

    def set_response_header(self, *args: Any) -> None:
        """`(name, value)`, or TorchServe's `(index, name, value)`; the custom-attributes header reaches
        the caller as InvokeEndpoint's CustomAttributes."""
        name, value = args[-2], args[-1]
        self.response_headers[str(name).lower()] = str(value)

    @property
    def response_custom_attributes(self) -> str | None:
        return self.response_headers.get(CUSTOM_ATTRIBUTES)


def load_script(path: Path, *, unique: bool) -> ModuleType:
    """Import the user's script; its folder goes on sys.path so its sibling modules import too."""
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = f"{path.stem}_{next(_module_counter)}" if unique else path.stem
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise InferenceFailure(f"Cannot import the inference script {path.name}.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _takes_context(function: Callable[..., Any], plain_arity: int) -> bool:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) > plain_arity


def _is_stream(value: Any) -> bool:
    if isinstance(value, str | bytes | bytearray | dict | list | tuple | np.ndarray):
        return False
    return inspect.isgenerator(value) or (isinstance(value, Iterator) and not hasattr(value, "shape"))


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str):
        return value.encode()
    return encode(value, "application/json")


class ModelHandler:
    """Loads the model with model_fn at construction; `answer` runs one request through the pipeline."""

    def __init__(
        self, framework: str, model_dir: str, script: Path | None, env: dict[str, str], *, unique: bool
    ) -> None:
        defaults = defaults_for(framework)
        module = load_script(script, unique=unique) if script is not None else None
        self.script_name = script.name if script is not None else None

        def pick(name: str, fallback: Any) -> Any:
            found = getattr(module, name, None) if module is not None else None
            return found if callable(found) else fallback

        self.model_fn: Callable[..., Any] | None = pick("model_fn", defaults.model_fn)
        self.input_fn: Callable[..., Any] = pick("input_fn", defaults.input_fn)
        self.predict_fn: Callable[..., Any] = pick("predict_fn", defaults.predict_fn)
        self.output_fn: Callable[..., Any] = pick("output_fn", defaults.output_fn)
        self.transform_fn: Callable[..., Any] | None = pick("transform_fn", None)
        self.custom_output = self.output_fn is not defaults.output_fn or self.transform_fn is not None
        self.content_type = defaults.content_type
        self.accept = media_type(env.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT")) or defaults.accept
        self.model_dir = model_dir
        self.model = self._call(self.model_fn, RequestContext(model_dir=model_dir), model_dir)

    def _call(self, function: Callable[..., Any] | None, context: RequestContext, *args: Any) -> Any:
        if function is None:
            raise InferenceFailure("The inference script does not define this function.")
        if _takes_context(function, len(args)):
            return function(*args, context)
        return function(*args)

    def answer(
        self, body: bytes, content_type: str | None, accept: str | None, context: RequestContext
    ) -> tuple[str, Iterator[bytes]]:
        """The response content type and its parts (one part unless predict_fn streams)."""
        context.model_dir = self.model_dir
        ctype = media_type(content_type) or self.content_type
        chosen = choose_accept(accept, self.accept, None if self.custom_output else ENCODABLE)
        data: str | bytes = body
        if ctype in TEXT_TYPES:
            try:
                data = body.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InferenceFailure(f"The {ctype} body is not valid UTF-8: {exc}", 400) from exc
        if self.transform_fn is not None:
            result = self._call(self.transform_fn, context, self.model, data, ctype, chosen)
            return self._parts(result, chosen, context)
        inputs = self._call(self.input_fn, context, data, ctype)
        prediction = self._call(self.predict_fn, context, inputs, self.model)
        if _is_stream(prediction):
            return chosen, (self._chunk(item, chosen, context) for item in prediction)
        return self._parts(self._call(self.output_fn, context, prediction, chosen), chosen, context)

    def _parts(self, result: Any, accept: str, context: RequestContext) -> tuple[str, Iterator[bytes]]:
        response_type = accept
        if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], str):
            result, response_type = result
        if _is_stream(result):
            return response_type, (_as_bytes(item) for item in result)
        return response_type, iter([_as_bytes(result)])

    def _chunk(self, item: Any, accept: str, context: RequestContext) -> bytes:
        if isinstance(item, bytes | bytearray | str):
            return _as_bytes(item)
        result = self._call(self.output_fn, context, item, accept)
        return _as_bytes(result[0] if isinstance(result, tuple) else result)
