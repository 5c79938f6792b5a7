"""Deterministic fakes of the three vision kinds, for `--fake-models` servers and fast tests.

They look at the image only enough to stay honest: a blank (single-colour) image holds no text and no face;
any other image gets the same fixed reading and one face in a fixed place, and its face embedding is seeded
by a hash of the pixels, so one image matches itself and nothing else. The moderator sees nothing explicit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from outcrop.backends.vision import Box, Line, PageText, Word
from outcrop.backends.vision.protocols import LANDMARKS, Face

FAKE_LINES = ("FAKE TEXT READER", "NO MODEL READ THIS")
FACE_BOX = Box(0.3, 0.2, 0.4, 0.5)
EMBEDDING_SIZE = 128
EXPLICIT_PROBABILITY = 0.01

# Where each landmark sits in the fake face's box (x, y as fractions of its width and height).
_PLACES: dict[str, tuple[float, float]] = {
    "eyeLeft": (0.3, 0.35),
    "eyeRight": (0.7, 0.35),
    "nose": (0.5, 0.55),
    "mouthLeft": (0.35, 0.75),
    "mouthRight": (0.65, 0.75),
    "leftEyeBrowLeft": (0.15, 0.22),
    "leftEyeBrowRight": (0.42, 0.22),
    "leftEyeBrowUp": (0.28, 0.18),
    "rightEyeBrowLeft": (0.58, 0.22),
    "rightEyeBrowRight": (0.85, 0.22),
    "rightEyeBrowUp": (0.72, 0.18),
    "leftEyeLeft": (0.2, 0.35),
    "leftEyeRight": (0.4, 0.35),
    "leftEyeUp": (0.3, 0.31),
    "leftEyeDown": (0.3, 0.39),
    "rightEyeLeft": (0.6, 0.35),
    "rightEyeRight": (0.8, 0.35),
    "rightEyeUp": (0.7, 0.31),
    "rightEyeDown": (0.7, 0.39),
    "noseLeft": (0.42, 0.58),
    "noseRight": (0.58, 0.58),
    "mouthUp": (0.5, 0.71),
    "mouthDown": (0.5, 0.8),
    "upperJawlineLeft": (0.02, 0.4),
    "midJawlineLeft": (0.1, 0.75),
    "chinBottom": (0.5, 0.98),
    "midJawlineRight": (0.9, 0.75),
    "upperJawlineRight": (0.98, 0.4),
}


def _blank(pixels: np.ndarray) -> bool:
    return pixels.size == 0 or bool((pixels == pixels.reshape(-1, *pixels.shape[2:])[0]).all())


class FakeTextReader:
    """Reads FAKE_LINES on any image that is not blank, laid out top left, one character 2% wide."""

    model_version = "fake-ocr"

    def __init__(self, model_id: str) -> None:
        self.model_id = model_id

    def read(self, pixels: np.ndarray) -> PageText:
        if _blank(pixels):
            return PageText([], "ocr")
        lines = []
        for row, text in enumerate(FAKE_LINES):
            top, height, left = 0.05 + 0.1 * row, 0.06, 0.05
            words = []
            for token in text.split():
                box = Box(left, top, 0.02 * len(token), height)
                words.append(Word(token, box.corners(), 0.9))
                left = box.right + 0.02
            line_box = Box.union([word.box for word in words])
            lines.append(Line(text, line_box.corners(), 0.9, words))
        return PageText(lines, "ocr")


class FakeFaceDetector:
    """One frontal face in FACE_BOX of any image that is not blank; its embedding is a hash of the pixels."""

    model_version = "fake-faces"

    def __init__(self, model_id: str) -> None:
        self.model_id = model_id

    def detect(self, pixels: np.ndarray, *, embed: bool = False, upsample: int = 1) -> list[Face]:
        if _blank(pixels):
            return []
        box = FACE_BOX
        landmarks = {
            name: (box.left + box.width * _PLACES[name][0], box.top + box.height * _PLACES[name][1])
            for name in LANDMARKS
        }
        embedding = None
        if embed:
            seed = hashlib.blake2b(np.ascontiguousarray(pixels).tobytes(), digest_size=8).digest()
            vector = np.random.default_rng(int.from_bytes(seed, "little")).standard_normal(EMBEDDING_SIZE)
            embedding = (vector / np.linalg.norm(vector)).astype(np.float32)
        return [
            Face(
                box=box,
                confidence=0.99,
                landmarks=landmarks,
                yaw=0.0,
                pitch=0.0,
                roll=0.0,
                brightness=float(pixels.mean()) / 255 * 100,
                sharpness=50.0,
                eyes_open=(True, 0.9),
                mouth_open=(False, 0.9),
                embedding=embedding,
            )
        ]

    def similarity(self, a: np.ndarray, b: np.ndarray) -> float:
        """100 for one embedding twice, 50 at distance 1, 0 for opposite unit vectors."""
        distance = float(np.linalg.norm(a.astype(np.float64) - b.astype(np.float64)))
        return max(0.0, 100.0 * (1.0 - distance / 2.0))


class FakeImageModerator:
    """Finds nothing explicit: the same low probability for every image."""

    model_version = "fake-moderation"

    def __init__(self, model_id: str) -> None:
        self.model_id = model_id

    def explicit_probability(self, pixels: np.ndarray) -> float:
        return EXPLICIT_PROBABILITY


def fake_text_reader(name: str, config: Mapping[str, Any]) -> FakeTextReader:
    """The ocr kind's fake."""
    return FakeTextReader(name)


def fake_face_detector(name: str, config: Mapping[str, Any]) -> FakeFaceDetector:
    """The faces kind's fake."""
    return FakeFaceDetector(name)


def fake_image_moderator(name: str, config: Mapping[str, Any]) -> FakeImageModerator:
    """The image-moderation kind's fake."""
    return FakeImageModerator(name)
