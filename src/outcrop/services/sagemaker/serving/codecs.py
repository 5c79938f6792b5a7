"""Request decoding and response encoding as the SageMaker inference toolkits do it by default.

JSON, CSV and NPY (plus NPZ in) map to NumPy arrays; anything else needs the user's own `input_fn` or
`output_fn`. Runs inside the worker process.
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np

JSON = "application/json"
CSV = "text/csv"
NPY = "application/x-npy"
NPZ = "application/x-npz"
ANY = "*/*"
TEXT_TYPES = (JSON, CSV)  # bodies of these types reach input_fn as str, others as bytes
DECODABLE = (JSON, CSV, NPY, NPZ)
ENCODABLE = (JSON, CSV, NPY)


class InferenceFailure(Exception):
    """An error the model server answers with its own HTTP status (415, 406, 400, 500)."""

    def __init__(self, message: str, status: int = 500) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def media_type(value: str | None) -> str:
    """`application/json; charset=utf-8` -> `application/json`."""
    return (value or "").split(";", 1)[0].strip().lower()


def choose_accept(accept: str | None, default: str, supported: tuple[str, ...] | None) -> str:
    """The first acceptable type of a (possibly comma-separated) Accept header; `*/*` means the default."""
    if not accept:
        return default
    for candidate in (media_type(part) for part in accept.split(",")):
        if candidate == ANY:
            return default
        if supported is None or candidate in supported:
            return candidate
    return media_type(accept.split(",", 1)[0])


def decode(data: str | bytes, content_type: str) -> Any:
    """The request body as a NumPy array."""
    try:
        if content_type == JSON:
            return np.array(json.loads(data))
        if content_type == CSV:
            text = data.decode() if isinstance(data, bytes) else data
            array = np.genfromtxt(io.StringIO(text), delimiter=",", dtype=np.float32)
            if np.isnan(array).any():
                raise ValueError("the CSV holds values that are not numbers")
            return array
        if content_type in (NPY, NPZ):
            raw = data.encode() if isinstance(data, str) else data
            loaded = np.load(io.BytesIO(raw), allow_pickle=False)
            if content_type == NPZ:
                return loaded[loaded.files[0]]
            return loaded
    except (ValueError, OSError, IndexError) as exc:
        raise InferenceFailure(f"Could not decode the {content_type} request body: {exc}", 400) from exc
    raise InferenceFailure(
        f"Content type {content_type or '(none)'} is not supported by this model server's default input_fn "
        f"(it decodes {', '.join(DECODABLE)}). Define input_fn in the inference script for other types.",
        415,
    )


def _as_numpy(prediction: Any) -> Any:
    if hasattr(prediction, "detach"):  # a torch tensor, without importing torch here
        return prediction.detach().cpu().numpy()
    return prediction


def encode(prediction: Any, accept: str) -> bytes:
    """A prediction (array, tensor, list, scalar) in the accepted type."""
    value = _as_numpy(prediction)
    if accept == JSON:
        if isinstance(value, np.ndarray | np.generic):
            value = value.tolist()
        return json.dumps(value).encode()
    if accept == CSV:
        stream = io.StringIO()
        array = np.asarray(value)
        np.savetxt(stream, array.reshape(1) if array.ndim == 0 else array, delimiter=",", fmt="%s")
        return stream.getvalue().encode()
    if accept == NPY:
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(value), allow_pickle=False)
        return buffer.getvalue()
    raise InferenceFailure(
        f"Accept type {accept} is not supported by this model server's default output_fn "
        f"(it encodes {', '.join(ENCODABLE)}). Define output_fn in the inference script for other types.",
        406,
    )
