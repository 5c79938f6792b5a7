"""Faces with dlib and the models packaged as `face_recognition_models`.

Detection is dlib's HOG frontal-face detector; landmarks come from the 68-point shape predictor; the
embedding is dlib's ResNet (128-d, 99.38% on LFW), computed on faces aligned with the 5-point predictor.
Pose is solved from six landmarks against a generic 3-D face (OpenCV solvePnP); brightness and sharpness are
measured on the face's pixels. Nothing here estimates age, gender or emotions: no packaged model does.

runtime = "dlib-faces" (kind faces); catalog keys:
    model_package   the wheel holding dlib's model files ("face-recognition-models")
    encoder_file    the ResNet embedding ("models/dlib_face_recognition_resnet_model_v1.dat"), or encoder_path
    landmarks_file  the 68-point predictor, aligner_file the 5-point one (or landmarks_path, aligner_path)
    sha256          digest of the encoder, whose vectors collections store; landmarks_sha256 and
                    aligner_sha256 pin the predictors
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from typing import Any

import numpy as np

from outcrop.backends.packaged import ModelFiles, import_optional, verify_sha256
from outcrop.backends.vision import Box
from outcrop.backends.vision.protocols import Face

MODEL_VERSION = "dlib-20.0/resnet-v1"
INSTALL = "pip install -r requirements/py-vision.txt"
PACKAGE = "face-recognition-models"
FILES = {
    "encoder": "models/dlib_face_recognition_resnet_model_v1.dat",
    "landmarks": "models/shape_predictor_68_face_landmarks.dat",
    "aligner": "models/shape_predictor_5_face_landmarks.dat",
}
MAX_DETECT_SIDE = 1600  # larger photos are scaled down first: HOG time grows with the pixel count
MIN_SCORE = 0.3  # HOG margin; between 0 and 0.3 sat a false face on a mission patch in the test photo
SAME_PERSON_DISTANCE = 0.6  # dlib's documented threshold on the embedding distance

# Each of the Protocol's LANDMARKS by its 68-point (iBUG 300-W) indices (averaged where several).
LANDMARKS_68: dict[str, tuple[int, ...]] = {
    "eyeLeft": (36, 37, 38, 39, 40, 41),
    "eyeRight": (42, 43, 44, 45, 46, 47),
    "nose": (30,),
    "mouthLeft": (48,),
    "mouthRight": (54,),
    "leftEyeBrowLeft": (17,),
    "leftEyeBrowRight": (21,),
    "leftEyeBrowUp": (19,),
    "rightEyeBrowLeft": (22,),
    "rightEyeBrowRight": (26,),
    "rightEyeBrowUp": (24,),
    "leftEyeLeft": (36,),
    "leftEyeRight": (39,),
    "leftEyeUp": (37, 38),
    "leftEyeDown": (40, 41),
    "rightEyeLeft": (42,),
    "rightEyeRight": (45,),
    "rightEyeUp": (43, 44),
    "rightEyeDown": (46, 47),
    "noseLeft": (31,),
    "noseRight": (35,),
    "mouthUp": (51,),
    "mouthDown": (57,),
    "upperJawlineLeft": (1,),
    "midJawlineLeft": (4,),
    "chinBottom": (8,),
    "midJawlineRight": (12,),
    "upperJawlineRight": (15,),
}

# A generic face in millimetres (nose tip, chin, eye outer corners, mouth corners), for solvePnP.
_MODEL_POINTS = np.array(
    [
        (0.0, 0.0, 0.0),
        (0.0, -63.6, -12.5),
        (-43.3, 32.7, -26.0),
        (43.3, 32.7, -26.0),
        (-28.9, -28.9, -24.1),
        (28.9, -28.9, -24.1),
    ],
    dtype=np.float64,
)
_POSE_INDICES = (30, 8, 36, 45, 48, 54)


class DlibFaces:
    """dlib's detector, predictors and encoder, shared by all requests."""

    model_version = MODEL_VERSION

    def __init__(self, model_id: str, parts: dict[str, Any]) -> None:
        self.model_id = model_id
        self._parts = parts
        self._run_lock = threading.Lock()

    def detect(self, pixels: np.ndarray, *, embed: bool = False, upsample: int = 1) -> list[Face]:
        """Faces of an RGB image, largest first; `embed` also computes each face's 128-d descriptor.

        Calls are serialized: dlib's ResNet keeps its activations in the network object between layers.
        """
        with self._run_lock:
            return self._detect(self._parts, pixels, embed, upsample)

    def similarity(self, a: np.ndarray, b: np.ndarray) -> float:
        """0..100 from the embedding distance: 50 at dlib's same-person threshold, ~100 for one face twice."""
        distance = float(np.linalg.norm(a.astype(np.float64) - b.astype(np.float64)))
        return 100.0 / (1.0 + math.exp((distance - SAME_PERSON_DISTANCE) / 0.05))

    def _detect(self, parts: dict[str, Any], pixels: np.ndarray, embed: bool, upsample: int) -> list[Face]:
        if max(pixels.shape[:2]) > MAX_DETECT_SIDE:
            pixels = _shrink(pixels, MAX_DETECT_SIDE)  # geometry is normalized, so nothing needs scaling back
        if max(pixels.shape[:2]) < 400:
            upsample = max(upsample, 2)  # small images hide small faces
        rects, scores, _ = parts["detector"].run(pixels, upsample, 0.0)
        faces = []
        for rect, score in zip(rects, scores, strict=True):
            if score < MIN_SCORE:
                continue
            faces.append(self._describe(parts, pixels, rect, float(score), embed))
        faces.sort(key=lambda f: f.box.width * f.box.height, reverse=True)
        return faces

    def _describe(
        self, parts: dict[str, Any], pixels: np.ndarray, rect: Any, score: float, embed: bool
    ) -> Face:
        height, width = pixels.shape[:2]
        shape = parts["shape68"](pixels, rect)
        points = np.array([(shape.part(i).x, shape.part(i).y) for i in range(68)], dtype=np.float64)
        landmarks = {
            name: (float(points[list(idx), 0].mean()) / width, float(points[list(idx), 1].mean()) / height)
            for name, idx in LANDMARKS_68.items()
        }
        left, top = max(rect.left(), 0), max(rect.top(), 0)
        right, bottom = min(rect.right(), width - 1), min(rect.bottom(), height - 1)
        box = Box(left / width, top / height, (right - left) / width, (bottom - top) / height)
        yaw, pitch, roll = _pose(points, width, height)
        brightness, sharpness = _quality(pixels[top : bottom + 1, left : right + 1])
        embedding = None
        if embed:
            aligned = parts["shape5"](pixels, rect)
            embedding = np.array(parts["encoder"].compute_face_descriptor(pixels, aligned), dtype=np.float32)
        return Face(
            box=box,
            confidence=1.0 / (1.0 + math.exp(-6.0 * (score - 0.05))),
            landmarks=landmarks,
            yaw=yaw,
            pitch=pitch,
            roll=roll,
            brightness=brightness,
            sharpness=sharpness,
            eyes_open=_eyes_open(points),
            mouth_open=_mouth_open(points),
            embedding=embedding,
        )


def _shrink(pixels: np.ndarray, side: int) -> np.ndarray:
    import cv2

    scale = side / max(pixels.shape[:2])
    size = (max(1, round(pixels.shape[1] * scale)), max(1, round(pixels.shape[0] * scale)))
    return np.asarray(cv2.resize(pixels, size, interpolation=cv2.INTER_AREA))


def _pose(points: np.ndarray, width: int, height: int) -> tuple[float, float, float]:
    """Yaw, pitch and roll in degrees from six landmarks; positive yaw turns toward the image's right."""
    import cv2

    image_points = points[list(_POSE_INDICES)]
    camera = np.array([[width, 0, width / 2], [0, width, height / 2], [0, 0, 1]], dtype=np.float64)
    ok, rotation, _ = cv2.solvePnP(
        _MODEL_POINTS, image_points, camera, np.zeros(4), flags=cv2.SOLVEPNP_ITERATIVE
    )
    if not ok:
        return 0.0, 0.0, 0.0
    matrix, _ = cv2.Rodrigues(rotation)
    # Image y points down and the model's y up: flip y and z so the angles read as a viewer sees them.
    matrix = matrix @ np.diag([1.0, -1.0, -1.0])
    pitch = math.degrees(math.atan2(matrix[2, 1], matrix[2, 2]))
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, -matrix[2, 0]))))
    eye_left, eye_right = points[36:42].mean(axis=0), points[42:48].mean(axis=0)
    roll = math.degrees(math.atan2(eye_right[1] - eye_left[1], eye_right[0] - eye_left[0]))
    pitch = (pitch + 180.0) % 360.0 - 180.0
    if abs(pitch) > 90:
        pitch = pitch - math.copysign(180.0, pitch)
    return float(yaw), float(-pitch), float(roll)


def _quality(face: np.ndarray) -> tuple[float, float]:
    """Mean luminance (0..100) and a sharpness score from the variance of the Laplacian (0..100)."""
    import cv2

    if face.size == 0:
        return 0.0, 0.0
    gray = cv2.cvtColor(np.ascontiguousarray(face), cv2.COLOR_RGB2GRAY)
    brightness = float(gray.mean()) / 255 * 100
    variance = float(cv2.Laplacian(cv2.resize(gray, (128, 128)), cv2.CV_64F).var())
    return brightness, 100.0 * (1.0 - math.exp(-variance / 300.0))


def _aspect(points: np.ndarray, vertical: tuple[tuple[int, int], ...], corners: tuple[int, int]) -> float:
    spans = [np.linalg.norm(points[a] - points[b]) for a, b in vertical]
    return float(np.mean(spans) / max(np.linalg.norm(points[corners[0]] - points[corners[1]]), 1e-6))


def _eyes_open(points: np.ndarray) -> tuple[bool, float]:
    """Eye aspect ratio (lid gap over eye width); about 0.3 when open and under 0.15 when shut."""
    ratio = (
        _aspect(points, ((37, 41), (38, 40)), (36, 39)) + _aspect(points, ((43, 47), (44, 46)), (42, 45))
    ) / 2
    return ratio > 0.2, min(1.0, 0.5 + abs(ratio - 0.2) * 5)


def _mouth_open(points: np.ndarray) -> tuple[bool, float]:
    """Inner-lip gap over mouth width; closed lips meet (near 0)."""
    ratio = _aspect(points, ((61, 67), (62, 66), (63, 65)), (48, 54))
    return ratio > 0.1, min(1.0, 0.5 + abs(ratio - 0.1) * 5)


def load(name: str, config: Mapping[str, Any], files: ModelFiles) -> DlibFaces:
    """The registry's loader: dlib's HOG detector and the packaged predictors and encoder, digests checked."""
    dlib = import_optional("dlib", INSTALL)
    package = str(config.get("model_package", PACKAGE))
    paths = {part: files.packaged(config, part, (package, default)) for part, default in FILES.items()}
    verify_sha256(paths["encoder"], config.get("sha256"))
    verify_sha256(paths["landmarks"], config.get("landmarks_sha256"))
    verify_sha256(paths["aligner"], config.get("aligner_sha256"))
    parts = {
        "detector": dlib.get_frontal_face_detector(),
        "shape68": dlib.shape_predictor(str(paths["landmarks"])),
        "shape5": dlib.shape_predictor(str(paths["aligner"])),
        "encoder": dlib.face_recognition_model_v1(str(paths["encoder"])),
    }
    return DlibFaces(name, parts)
