"""Sentence embeddings with onnxruntime: a BERT-style encoder, mean-pooled over the attention mask.

This is how sentence-transformers' all-MiniLM-L6-v2 makes its vectors, so an int8 ONNX export scores
like the PyTorch model without PyTorch. Tokenizing uses the model's own `tokenizer.json`.

A call's texts are run longest first in batches of similar length (a text joins a batch only if it is at
least half as long as the batch's longest), so a short text is never padded out to a long one's length: a
guardrail embeds a 500-character text with its ten sentences, and one padded batch of eleven took six times
as long as the text alone plus its sentences together. The vectors are the same either way (the attention
mask keeps padding out of every row).

Catalog key `quantize = "int8-dynamic"` runs a copy of the weights whose matrix products are int8 (weights
quantized once, activations per call, onnxruntime's dynamic quantization): derived from the packaged model at
first load and kept in the model cache under the source file's digest; with layer norms unfused (`_UNFUSED`)
it takes about a third of the float32 session's CPU on one core, its vectors within cosine 0.98 of the
float32 ones. The packaged all-MiniLM stores int8 weights but multiplies in float32, so this changes the
arithmetic, not what the weights hold. Entries without the key (Titan embeddings, knowledge bases) are
untouched.

Catalog key `workers = N` (the guardrails' one-thread session) runs a call's batches on up to N threads at
once, each on one onnxruntime thread: a call of several texts is cut into at least N batches of like length
(which also pads less) and the caller runs one share while helper threads run the others. A 950-character
guardrail text is about 19 sentences; its halves run side by side on two cores. onnxruntime's own intra-op
threads do this per operator, with a barrier after each of some 300 operators and spinning workers, which
on a loaded machine doubled the call's time; here a busy helper is not waited for (the caller runs that
share itself) and nothing spins.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from outcrop.backends.base import BackendError
from outcrop.backends.packaged import ModelFiles, import_optional, sha256_file, verify_sha256

QUANTIZATIONS = ("int8-dynamic",)
# a scale per output channel: vectors within cosine 0.98 of float32 on the guardrail bench's texts (one
# scale per matrix: 0.93); 7-bit weights, so CPUs without VNNI cannot saturate their 16-bit sums
_QUANTIZE_OPTIONS = {"per_channel": True, "reduce_range": True}
# the int8 session adds each residual and normalises in two kernels: onnxruntime 1.32's fused
# SkipLayerNormalization took 29% of its time, and unfused the same vectors cost 30% less CPU
_UNFUSED = ("SkipLayerNormFusion",)


class OnnxEmbedder:
    """An ONNX encoder plus its tokenizer; thread-safe (onnxruntime sessions may run concurrently)."""

    def __init__(
        self,
        model_id: str,
        model_path: Path,
        tokenizer_path: Path,
        *,
        max_length: int = 256,
        batch_size: int = 32,
        n_threads: int | None = None,
        disabled_optimizers: Sequence[str] = (),
        workers: int = 1,
    ) -> None:
        onnxruntime = import_optional("onnxruntime", "pip install onnxruntime")
        tokenizers = import_optional("tokenizers", "pip install tokenizers")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = n_threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        self._session: Any = onnxruntime.InferenceSession(
            str(model_path),
            sess_options=options,
            providers=["CPUExecutionProvider"],
            disabled_optimizers=list(disabled_optimizers),
        )
        self._input_names = {entry.name for entry in self._session.get_inputs()}
        width = self._session.get_outputs()[0].shape[-1]
        if not isinstance(width, int):
            raise BackendError(f"{model_path} does not declare its embedding width")
        self.model_id = model_id
        self.dimensions = width
        self._batch_size = batch_size
        self._counter: Any = tokenizers.Tokenizer.from_file(str(tokenizer_path))
        self._pad_id = int((self._counter.padding or {}).get("pad_id", 0))  # masked out: any id would do
        self._counter.no_truncation()
        self._counter.no_padding()
        self._tokenizer: Any = tokenizers.Tokenizer.from_file(str(tokenizer_path))
        self._tokenizer.enable_truncation(max_length=max_length)
        self._tokenizer.no_padding()  # padded per batch in `_embed_batch`
        self._workers = max(1, min(workers, os.cpu_count() or 1))
        self._helpers: ThreadPoolExecutor | None = None
        self._idle = threading.Semaphore(self._workers - 1)  # helpers free to take a share now
        if self._workers > 1:
            self._helpers = ThreadPoolExecutor(self._workers - 1, thread_name_prefix=f"embed-{model_id}")

    def close(self) -> None:
        """Stop the helper threads (the registry's shutdown)."""
        if self._helpers is not None:
            self._helpers.shutdown(wait=False, cancel_futures=True)

    def count_tokens(self, text: str) -> int:
        """Tokens in `text` before truncation, special tokens included."""
        return len(self._counter.encode(text).ids)

    def embed(self, texts: Sequence[str], *, normalize: bool = True) -> list[list[float]]:
        return self.embed_counted(texts, normalize=normalize)[0]

    def embed_counted(
        self, texts: Sequence[str], *, normalize: bool = True
    ) -> tuple[list[list[float]], list[int]]:
        """Vectors and each text's token count from one tokenization: a text that fits is counted by its
        tokens; only a truncated one is tokenized again, whole (Bedrock reports input tokens)."""
        encodings = self._tokenizer.encode_batch(list(texts))
        vectors: list[list[float]] = [[] for _ in encodings]

        def run(batches: list[list[int]]) -> None:
            for batch in batches:
                pooled = self._embed_batch([encodings[index] for index in batch])
                if normalize:
                    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
                    pooled = pooled / np.maximum(norms, 1e-12)
                for index, vector in zip(batch, pooled.tolist(), strict=True):
                    vectors[index] = vector

        lengths = [len(encoding.ids) for encoding in encodings]
        shares = self._shares(self._batches(lengths), lengths)
        helped: list[Future[None]] = []
        mine = shares[0]
        for share in shares[1:]:
            if self._helpers is not None and self._idle.acquire(blocking=False):
                helped.append(self._helpers.submit(self._helping, run, share))
            else:  # no helper free (other calls have them): the caller runs this share too
                mine = mine + share
        run(mine)
        for future in helped:
            future.result()
        counts = [
            self.count_tokens(text) if encoding.overflowing else len(encoding.ids)
            for text, encoding in zip(texts, encodings, strict=True)
        ]
        return vectors, counts

    def _helping(self, run: Any, share: list[list[int]]) -> None:
        try:
            run(share)
        finally:
            self._idle.release()

    def _shares(self, batches: list[list[int]], lengths: Sequence[int]) -> list[list[list[int]]]:
        """The batches dealt to `workers` threads: the largest batch cut in two (its longer and its shorter
        texts, where the two halves' work is most even) until there are as many batches as threads, then
        each batch, largest first, to the least loaded thread."""
        if self._workers == 1 or not batches:
            return [batches]

        def work(batch: list[int]) -> int:  # tokens run, padding included
            return len(batch) * lengths[batch[0]]  # a batch is longest first

        batches = list(batches)
        while len(batches) < self._workers:
            largest = max(batches, key=work)
            if len(largest) < 2:
                break
            batches.remove(largest)
            # cut where the halves' work is most even (the longer half's rows each cost more)
            cut = min(range(1, len(largest)), key=lambda at: max(work(largest[:at]), work(largest[at:])))
            batches += [largest[:cut], largest[cut:]]
        shares: list[list[list[int]]] = [[] for _ in range(min(self._workers, len(batches)))]
        loads = [0] * len(shares)
        for batch in sorted(batches, key=work, reverse=True):
            least = loads.index(min(loads))
            shares[least].append(batch)
            loads[least] += work(batch)
        return shares

    def _batches(self, lengths: Sequence[int]) -> list[list[int]]:
        """Indexes of the texts, longest first, in batches of at most `batch_size` whose shortest text is at
        least half as long as their longest (padding never more than doubles a batch's work)."""
        batches: list[list[int]] = []
        for index in sorted(range(len(lengths)), key=lambda at: -lengths[at]):
            current = batches[-1] if batches else None
            if (
                current is None
                or len(current) >= self._batch_size
                or 2 * lengths[index] < lengths[current[0]]
            ):
                batches.append([index])
            else:
                current.append(index)
        return batches

    def _embed_batch(self, encodings: Sequence[Any]) -> np.ndarray[Any, np.dtype[np.float32]]:
        """Mean-pooled vectors of tokenized texts, padded to the batch's longest."""
        width = max(len(encoding.ids) for encoding in encodings)
        input_ids = np.full((len(encodings), width), self._pad_id, dtype=np.int64)
        attention_mask = np.zeros((len(encodings), width), dtype=np.int64)
        type_ids = np.zeros((len(encodings), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            size = len(encoding.ids)
            input_ids[row, :size] = encoding.ids
            attention_mask[row, :size] = 1
            type_ids[row, :size] = encoding.type_ids
        feeds = {"input_ids": input_ids, "attention_mask": attention_mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = type_ids
        hidden: np.ndarray[Any, np.dtype[np.float32]] = self._session.run(None, feeds)[0]
        mask = attention_mask[:, :, None].astype(np.float32)
        summed = (hidden * mask).sum(axis=1)
        pooled: np.ndarray[Any, np.dtype[np.float32]] = summed / np.maximum(mask.sum(axis=1), 1e-9)
        return pooled


def quantized(model_path: Path, cache_dir: Path) -> Path:
    """The model with int8 matrix products (onnxruntime's dynamic quantization), made once from the packaged
    file and kept under `cache_dir`, named by the source's digest and onnxruntime's version."""
    onnxruntime = import_optional("onnxruntime", "pip install onnxruntime")
    recipe = f"{sha256_file(model_path)}:{onnxruntime.__version__}:{sorted(_QUANTIZE_OPTIONS.items())}:gelu"
    key = hashlib.sha256(recipe.encode()).hexdigest()
    target = cache_dir / "onnx-int8" / f"{model_path.stem}-{key[:16]}.onnx"
    if target.is_file():
        return target
    quantization = import_optional("onnxruntime.quantization", "pip install onnx==1.23.2")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        folded = Path(work) / "folded.onnx"  # the stored int8 weights folded back to float32 initializers
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(folded)
        onnxruntime.InferenceSession(
            str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        fused, partial = Path(work) / "fused.onnx", Path(work) / "quantized.onnx"
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # the quantizer logs advice on static pre-processing to the root logger
        try:
            _fuse_gelu(folded, fused)
            quantization.quantize_dynamic(
                str(fused),
                str(partial),
                weight_type=quantization.QuantType.QInt8,
                **_QUANTIZE_OPTIONS,
            )
        finally:
            root.setLevel(level)
        partial.replace(target)
    return target


def _fuse_gelu(source: Path, target: Path) -> None:
    """Each feed-forward bias and erf GELU as one BiasGelu kernel (onnxruntime's transformer optimizer finds
    the pattern this export spells out in five operators; a tenth less CPU); nothing else is fused."""
    optimizer = import_optional("onnxruntime.transformers.optimizer", "pip install onnx==1.23.2")
    fusion = import_optional("onnxruntime.transformers.fusion_options", "pip install onnx==1.23.2")
    options = fusion.FusionOptions("bert")
    for name in vars(options):
        if name.startswith("enable_"):
            setattr(options, name, name in ("enable_gelu", "enable_bias_gelu"))
    model = optimizer.optimize_model(
        str(source), model_type="bert", optimization_options=options, opt_level=0
    )
    model.save_model_to_file(str(target))


def load(name: str, config: Mapping[str, Any], files: ModelFiles) -> OnnxEmbedder:
    """The registry's loader: the model and tokenizer from installed packages (or paths), digest checked."""
    quantize = config.get("quantize")
    if quantize is not None and quantize not in QUANTIZATIONS:
        raise BackendError(f"{name}: quantize = {quantize!r} is not one of {', '.join(QUANTIZATIONS)}")
    model_path = files.packaged(config, "model")
    verify_sha256(model_path, config.get("sha256"))
    if quantize is not None:
        model_path = quantized(model_path, files.cache_dir)
    return OnnxEmbedder(
        name,
        model_path,
        files.packaged(config, "tokenizer"),
        max_length=int(config.get("max_length", 256)),
        batch_size=int(config.get("batch_size", 32)),
        n_threads=int(config["n_threads"]) if config.get("n_threads") else None,
        disabled_optimizers=_UNFUSED if quantize is not None else (),
        workers=int(config.get("workers", 1)),
    )
