"""The three vision kinds of the model registry, as Protocols, and the face they describe.

`ocr` models (a `TextReader`) read the lines and words of an RGB image; `faces` models (a `FaceDetector`)
find faces with landmarks, pose, quality and optionally an embedding to compare them by; `image-moderation`
models (an `ImageModerator`) give the probability that an image is sexually explicit. Nothing here knows
about AWS or about one runtime: RapidOCR, dlib, open_nsfw and the fakes (`fakes.py`) all fit these shapes.
Pixels are RGB `uint8` arrays of shape (height, width, 3); geometry is normalized to the image (0..1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from outcrop.backends.vision import Box, PageText, Point

# The landmarks every FaceDetector places, by Rekognition's names ("left" is the image's left).
LANDMARKS: tuple[str, ...] = (
    "eyeLeft",
    "eyeRight",
    "nose",
    "mouthLeft",
    "mouthRight",
    "leftEyeBrowLeft",
    "leftEyeBrowRight",
    "leftEyeBrowUp",
    "rightEyeBrowLeft",
    "rightEyeBrowRight",
    "rightEyeBrowUp",
    "leftEyeLeft",
    "leftEyeRight",
    "leftEyeUp",
    "leftEyeDown",
    "rightEyeLeft",
    "rightEyeRight",
    "rightEyeUp",
    "rightEyeDown",
    "noseLeft",
    "noseRight",
    "mouthUp",
    "mouthDown",
    "upperJawlineLeft",
    "midJawlineLeft",
    "chinBottom",
    "midJawlineRight",
    "upperJawlineRight",
)
BASIC_LANDMARKS = LANDMARKS[:5]


@dataclass
class Face:
    box: Box
    confidence: float  # 0..1
    landmarks: dict[str, Point]  # every name of LANDMARKS
    yaw: float  # degrees; positive turns toward the image's right
    pitch: float
    roll: float
    brightness: float  # 0..100
    sharpness: float  # 0..100
    eyes_open: tuple[bool, float]  # value, confidence 0..1
    mouth_open: tuple[bool, float]
    embedding: np.ndarray | None = field(default=None, repr=False)


@runtime_checkable
class TextReader(Protocol):
    """Printed text of an image. Safe to call from several threads (an implementation may serialise)."""

    model_id: str
    model_version: str  # what the services report as the text model's version

    def read(self, pixels: np.ndarray) -> PageText:
        """Lines and their words, in reading order (rows top to bottom, each left to right)."""
        ...


@runtime_checkable
class FaceDetector(Protocol):
    """Faces of an image and a similarity between their embeddings. Safe to call from several threads."""

    model_id: str
    model_version: str

    def detect(self, pixels: np.ndarray, *, embed: bool = False, upsample: int = 1) -> list[Face]:
        """Faces, largest first; `embed` also fills each face's embedding; `upsample` (>= 1) looks harder
        for small faces where the runtime can."""
        ...

    def similarity(self, a: np.ndarray, b: np.ndarray) -> float:
        """0..100 from two embeddings of this model: 50 at its same-person threshold, near 100 for one face
        twice. Embeddings are compared by Euclidean distance wherever they are stored and searched."""
        ...


@runtime_checkable
class ImageModerator(Protocol):
    """How likely an image is to be sexually explicit; a model that knows other categories adds methods."""

    model_id: str
    model_version: str

    def explicit_probability(self, pixels: np.ndarray) -> float:
        """0..1."""
        ...
