"""Rekognition's output shapes (face details, stored faces, text detections) and the filters on them."""

from __future__ import annotations

from typing import Any

from outcrop.backends.vision import Box, Point
from outcrop.backends.vision.face_index import StoredFace
from outcrop.backends.vision.protocols import BASIC_LANDMARKS, Face
from outcrop.services.rekognition.errors import InvalidParameterException

Params = dict[str, Any]
Output = dict[str, Any]
MEASURED_ATTRIBUTES = {"DEFAULT", "ALL", "EYES_OPEN", "MOUTH_OPEN"}
QUALITY_MIN_CONFIDENCE = {"NONE": 0.0, "LOW": 0.5, "AUTO": 0.8, "MEDIUM": 0.8, "HIGH": 0.95}
QUALITY_MIN_PIXELS = {"NONE": 0, "LOW": 20, "AUTO": 40, "MEDIUM": 40, "HIGH": 60}


def box_output(box: Box) -> Output:
    return {"Width": box.width, "Height": box.height, "Left": box.left, "Top": box.top}


def polygon_output(points: list[Point]) -> list[Output]:
    return [{"X": x, "Y": y} for x, y in points]


# -- faces and text ---------------------------------------------------------------------------------------


def attributes(requested: list[str] | None) -> set[str]:
    wanted = set(requested or ["DEFAULT"])
    unmeasured = sorted(wanted - MEASURED_ATTRIBUTES)
    if unmeasured:
        raise InvalidParameterException(
            f"No local model estimates {', '.join(unmeasured)}; Outcrop measures BoundingBox, Confidence, "
            "Landmarks, Pose, Quality, EyesOpen and MouthOpen (ask for DEFAULT, ALL, EYES_OPEN or "
            "MOUTH_OPEN).",
        )
    return wanted


def landmarks(face: Face, names: tuple[str, ...] | list[str]) -> list[Output]:
    return [{"Type": name, "X": face.landmarks[name][0], "Y": face.landmarks[name][1]} for name in names]


def face_detail(face: Face, attributes: set[str]) -> Output:
    everything = "ALL" in attributes
    detail: Output = {
        "BoundingBox": box_output(face.box),
        "Landmarks": landmarks(face, list(face.landmarks) if everything else BASIC_LANDMARKS),
        "Pose": {"Roll": face.roll, "Yaw": face.yaw, "Pitch": face.pitch},
        "Quality": {"Brightness": face.brightness, "Sharpness": face.sharpness},
        "Confidence": face.confidence * 100,
    }
    if everything or "EYES_OPEN" in attributes:
        detail["EyesOpen"] = {"Value": face.eyes_open[0], "Confidence": face.eyes_open[1] * 100}
    if everything or "MOUTH_OPEN" in attributes:
        detail["MouthOpen"] = {"Value": face.mouth_open[0], "Confidence": face.mouth_open[1] * 100}
    return detail


def compared_face(face: Face) -> Output:
    return {
        "BoundingBox": box_output(face.box),
        "Confidence": face.confidence * 100,
        "Landmarks": landmarks(face, BASIC_LANDMARKS),
        "Pose": {"Roll": face.roll, "Yaw": face.yaw, "Pitch": face.pitch},
        "Quality": {"Brightness": face.brightness, "Sharpness": face.sharpness},
    }


def stored_face(face: StoredFace, model_version: str) -> Output:
    out: Output = {
        "FaceId": face.face_id,
        "BoundingBox": box_output(face.box),
        "ImageId": face.image_id,
        "Confidence": face.confidence,
        "IndexFacesModelVersion": model_version,
    }
    if face.external_image_id:
        out["ExternalImageId"] = face.external_image_id
    return out


def reasons(face: Face, quality: str, image_width: int) -> list[str]:
    """Why a face falls below the QualityFilter (empty when it passes)."""
    reasons = []
    if face.confidence < QUALITY_MIN_CONFIDENCE.get(quality, 0.8):
        reasons.append("LOW_CONFIDENCE")
    if image_width and face.box.width * image_width < QUALITY_MIN_PIXELS.get(quality, 40):
        reasons.append("SMALL_BOUNDING_BOX")
    return reasons


def keep_word(box: Box, confidence: float, word_filter: Params, regions: list[Params]) -> bool:
    if confidence * 100 < float(word_filter.get("MinConfidence", 0.0)):
        return False
    if box.height < float(word_filter.get("MinBoundingBoxHeight", 0.0)):
        return False
    if box.width < float(word_filter.get("MinBoundingBoxWidth", 0.0)):
        return False
    if not regions:
        return True
    x, y = box.center
    for region in regions:
        if "BoundingBox" in region:
            r = region["BoundingBox"]
            area = Box(r.get("Left", 0.0), r.get("Top", 0.0), r.get("Width", 1.0), r.get("Height", 1.0))
        else:
            area = Box.around([(p.get("X", 0.0), p.get("Y", 0.0)) for p in region["Polygon"]])
        if area.left <= x <= area.right and area.top <= y <= area.bottom:
            return True
    return False


def text_detection(
    text: str, kind: str, ident: int, parent: int | None, confidence: float, polygon: list[Point]
) -> Output:
    out: Output = {
        "DetectedText": text,
        "Type": kind,
        "Id": ident,
        "Confidence": confidence * 100,
        "Geometry": {"BoundingBox": box_output(Box.around(polygon)), "Polygon": polygon_output(polygon)},
    }
    if parent is not None:
        out["ParentId"] = parent
    return out
