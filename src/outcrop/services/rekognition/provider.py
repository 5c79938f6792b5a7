"""Amazon Rekognition (images): faces, face collections, text and moderation, on local packaged models.

Faces: dlib (detector, landmarks, ResNet embedding); text: RapidOCR (the OCR model Textract shares);
moderation: open_nsfw. DetectLabels answers a clear error: no object-detection or classification weights ship.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from outcrop.backends.base import BackendError
from outcrop.backends.registry import ModelRegistry, UnknownModel
from outcrop.backends.vision import Box, CorruptImage, ImageTooLarge, Point, UnsupportedFormat, VisionError
from outcrop.backends.vision.face_index import CollectionExists, FaceIndex, NoSuchCollection, StoredFace
from outcrop.backends.vision.images import decode_image
from outcrop.backends.vision.protocols import BASIC_LANDMARKS, Face, FaceDetector, ImageModerator, TextReader
from outcrop.services._inputs import InputErrors, bytes_or_s3_object
from outcrop.services.base import RequestContext, Service
from outcrop.services.paging import Pager
from outcrop.services.rekognition.errors import (
    ImageTooLargeException,
    InternalServerError,
    InvalidImageFormatException,
    InvalidPaginationTokenException,
    InvalidParameterException,
    InvalidS3ObjectException,
    LabelsNotServed,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
)
from outcrop.storage.objects import ObjectStore

Params = dict[str, Any]
Output = dict[str, Any]
MAX_S3_IMAGE_BYTES = 15 * 1024 * 1024
NO_FACE = "There are no faces in the image. Should be at least 1."
# Attributes a packaged model really measures; the rest (age, gender, emotions...) have no local model.
MEASURED_ATTRIBUTES = {"DEFAULT", "ALL", "EYES_OPEN", "MOUTH_OPEN"}
MAX_TEXT_WORDS = 100  # DetectText returns at most 100 words, as Rekognition does
QUALITY_MIN_CONFIDENCE = {"NONE": 0.0, "LOW": 0.5, "AUTO": 0.8, "MEDIUM": 0.8, "HIGH": 0.95}
QUALITY_MIN_PIXELS = {"NONE": 0, "LOW": 20, "AUTO": 40, "MEDIUM": 40, "HIGH": 60}
FACES_MODEL, OCR_MODEL, MODERATION_MODEL = "dlib-resnet-faces", "rapidocr-pp-ocrv4", "open-nsfw"  # catalog


_INPUT_ERRORS = InputErrors(InvalidParameterException, ImageTooLargeException, InvalidS3ObjectException)
_COLLECTION_PAGES = Pager(InvalidPaginationTokenException, "Invalid pagination token.", default=1000)


@contextlib.contextmanager
def _vision_errors() -> Iterator[None]:
    try:
        yield
    except (UnsupportedFormat, CorruptImage) as exc:
        raise InvalidImageFormatException(f"Request has invalid image format: {exc}") from exc
    except ImageTooLarge as exc:
        raise ImageTooLargeException(str(exc)) from exc
    except (BackendError, UnknownModel) as exc:
        raise InternalServerError(str(exc)) from exc
    except VisionError as exc:
        raise InvalidParameterException(str(exc)) from exc


def _box(box: Box) -> Output:
    return {"Width": box.width, "Height": box.height, "Left": box.left, "Top": box.top}


def _polygon(points: list[Point]) -> list[Output]:
    return [{"X": x, "Y": y} for x, y in points]


class Rekognition(Service):
    service_name = "rekognition"

    def __init__(
        self, *, models: ModelRegistry, objects: ObjectStore, data_path: Callable[..., Path]
    ) -> None:
        self.models = models
        self.objects = objects
        self._index_dir = data_path("rekognition")
        self._index: FaceIndex | None = None

    @property
    def index(self) -> FaceIndex:
        if self._index is None:
            self._index = FaceIndex(self._index_dir)
        return self._index

    def _model(self, name: str, kind: str) -> Any:
        """A catalog model, asked of the registry at each use: loaded once per server and shared."""
        with _vision_errors():
            return self.models.get(name, kind)

    def _faces(self) -> FaceDetector:
        detector: FaceDetector = self._model(FACES_MODEL, "faces")
        return detector

    def close(self) -> None:
        if self._index is not None:
            self._index.close()

    # -- inputs ----------------------------------------------------------------------------------------------

    def _pixels(self, image: Params) -> np.ndarray:
        data = self._image_bytes(image)
        with _vision_errors():
            return decode_image(data)

    def _image_bytes(self, image: Params) -> bytes:
        return bytes_or_s3_object(
            self.objects,
            image,
            name="Image",
            limit=MAX_S3_IMAGE_BYTES,
            errors=_INPUT_ERRORS,
        )

    @staticmethod
    def _detect(detector: FaceDetector, pixels: np.ndarray, *, embed: bool = False) -> list[Face]:
        with _vision_errors():
            return detector.detect(pixels, embed=embed)

    # -- faces -----------------------------------------------------------------------------------------------

    def detect_faces(self, ctx: RequestContext, params: Params) -> Output:
        attributes = _attributes(params.get("Attributes"))
        pixels = self._pixels(params["Image"])
        faces = self._detect(self._faces(), pixels)
        return {"FaceDetails": [_face_detail(face, attributes) for face in faces]}

    def compare_faces(self, ctx: RequestContext, params: Params) -> Output:
        threshold = float(params.get("SimilarityThreshold", 80.0))
        quality = params.get("QualityFilter", "NONE")
        source_pixels = self._pixels(params["SourceImage"])
        detector = self._faces()
        sources = self._detect(detector, source_pixels, embed=True)
        if not sources:
            raise InvalidParameterException(NO_FACE)
        source = sources[0]
        targets = [
            f
            for f in self._detect(detector, self._pixels(params["TargetImage"]), embed=True)
            if not _reasons(f, quality, 0)
        ]
        matches: list[Output] = []
        unmatched: list[Output] = []
        for target in targets:
            assert source.embedding is not None and target.embedding is not None
            score = detector.similarity(source.embedding, target.embedding)
            compared = _compared_face(target)
            if score >= threshold:
                matches.append({"Similarity": score, "Face": compared})
            else:
                unmatched.append(compared)
        matches.sort(key=lambda m: float(m["Similarity"]), reverse=True)
        return {
            "SourceImageFace": {"BoundingBox": _box(source.box), "Confidence": source.confidence * 100},
            "FaceMatches": matches,
            "UnmatchedFaces": unmatched,
        }

    # -- text and moderation ---------------------------------------------------------------------------------

    def detect_text(self, ctx: RequestContext, params: Params) -> Output:
        pixels = self._pixels(params["Image"])
        reader: TextReader = self._model(OCR_MODEL, "ocr")
        with _vision_errors():
            page = reader.read(pixels)
        filters = params.get("Filters", {})
        word_filter = filters.get("WordFilter", {})
        regions = [r for r in filters.get("RegionsOfInterest", []) if "BoundingBox" in r or "Polygon" in r]
        lines_out: list[Output] = []
        words_out: list[Output] = []
        next_id = 0
        kept_lines = []
        budget = MAX_TEXT_WORDS
        for line in page.lines:
            words = [w for w in line.words if _keep_word(w.box, w.confidence, word_filter, regions)]
            if words and len(words) <= budget:
                kept_lines.append((line, words))
                budget -= len(words)
        for line, _ in kept_lines:
            lines_out.append(_text_detection(line.text, "LINE", next_id, None, line.confidence, line.polygon))
            next_id += 1
        for parent, (_, words) in enumerate(kept_lines):
            for word in words:
                words_out.append(
                    _text_detection(word.text, "WORD", next_id, parent, word.confidence, word.polygon)
                )
                next_id += 1
        return {"TextDetections": lines_out + words_out, "TextModelVersion": reader.model_version}

    def detect_moderation_labels(self, ctx: RequestContext, params: Params) -> Output:
        if params.get("ProjectVersion"):
            raise ResourceNotFoundException("Custom moderation adapters are not served by Outcrop.")
        if params.get("HumanLoopConfig"):
            raise InvalidParameterException("Human review (Amazon A2I) is not served by Outcrop.")
        minimum = float(params.get("MinConfidence", 50.0))
        pixels = self._pixels(params["Image"])
        moderator: ImageModerator = self._model(MODERATION_MODEL, "image-moderation")
        with _vision_errors():
            explicit = moderator.explicit_probability(pixels) * 100
        labels = []
        if explicit >= minimum:
            labels.append({"Confidence": explicit, "Name": "Explicit", "ParentName": "", "TaxonomyLevel": 1})
        return {"ModerationLabels": labels, "ModerationModelVersion": moderator.model_version}

    def detect_labels(self, ctx: RequestContext, params: Params) -> Output:
        raise LabelsNotServed(
            "DetectLabels needs object-detection or image-classification weights, and none ship in a "
            "package this server can install; Outcrop does not invent labels. Faces, text and moderation "
            "work."
        )

    # -- collections -----------------------------------------------------------------------------------------

    def _collection_arn(self, ctx: RequestContext, collection_id: str) -> str:
        # Rekognition's own ARNs for collections start with "aws:", without the "arn:" prefix.
        return ctx.arn("rekognition", f"collection/{collection_id}").removeprefix("arn:")

    def create_collection(self, ctx: RequestContext, params: Params) -> Output:
        collection_id = params["CollectionId"]
        version = self._faces().model_version  # a collection holds the embeddings of one face model
        try:
            made = self.index.create(
                collection_id, self._collection_arn(ctx, collection_id), version, params.get("Tags", {})
            )
        except CollectionExists as exc:
            raise ResourceAlreadyExistsException(
                f"The collection id: {collection_id} already exists"
            ) from exc
        return {"StatusCode": 200, "CollectionArn": made.arn, "FaceModelVersion": made.model_version}

    def list_collections(self, ctx: RequestContext, params: Params) -> Output:
        found = self.index.list_collections(
            _COLLECTION_PAGES.after(params) or "", _COLLECTION_PAGES.limit(params)
        )
        page, token = _COLLECTION_PAGES.keyed(found, params, lambda c: str(c.id))
        out: Output = {
            "CollectionIds": [c.id for c in page],
            "FaceModelVersions": [c.model_version for c in page],
        }
        if token:
            out["NextToken"] = token
        return out

    def _collection(self, collection_id: str) -> Any:
        try:
            return self.index.get(collection_id)
        except NoSuchCollection as exc:
            raise ResourceNotFoundException(f"The collection id: {collection_id} does not exist") from exc

    def describe_collection(self, ctx: RequestContext, params: Params) -> Output:
        found = self._collection(params["CollectionId"])
        return {
            "FaceCount": found.face_count,
            "FaceModelVersion": found.model_version,
            "CollectionARN": found.arn,
            "CreationTimestamp": datetime.fromtimestamp(found.created, UTC),
            "UserCount": 0,
        }

    def delete_collection(self, ctx: RequestContext, params: Params) -> Output:
        self._collection(params["CollectionId"])
        try:
            self.index.delete(params["CollectionId"])
        except NoSuchCollection as exc:
            raise ResourceNotFoundException(
                f"The collection id: {params['CollectionId']} does not exist"
            ) from exc
        return {"StatusCode": 200}

    # -- tags (collections are the taggable resource served here) --------------------------------------------

    def _tagged_collection(self, arn: str) -> str:
        kind, _, collection_id = arn.rpartition(":")[2].partition("/")
        if kind != "collection" or not collection_id:
            raise InvalidParameterException(f"{arn} is not a collection ARN this server can tag.")
        self._collection(collection_id)
        return collection_id

    def list_tags_for_resource(self, ctx: RequestContext, params: Params) -> Output:
        return {"Tags": self.index.tags(self._tagged_collection(params["ResourceArn"]))}

    def tag_resource(self, ctx: RequestContext, params: Params) -> Output:
        collection_id = self._tagged_collection(params["ResourceArn"])
        self.index.set_tags(collection_id, {**self.index.tags(collection_id), **params["Tags"]})
        return {}

    def untag_resource(self, ctx: RequestContext, params: Params) -> Output:
        collection_id = self._tagged_collection(params["ResourceArn"])
        tags = self.index.tags(collection_id)
        self.index.set_tags(collection_id, {k: v for k, v in tags.items() if k not in params["TagKeys"]})
        return {}

    def index_faces(self, ctx: RequestContext, params: Params) -> Output:
        collection_id = params["CollectionId"]
        collection = self._collection(collection_id)
        attributes = _attributes(params.get("DetectionAttributes"))
        quality = params.get("QualityFilter", "AUTO")
        max_faces = params.get("MaxFaces")
        pixels = self._pixels(params["Image"])
        detector = self._faces()
        faces = self._detect(detector, pixels, embed=True)
        keep: list[Face] = []
        unindexed: list[Output] = []
        for face in faces:
            reasons = _reasons(face, quality, pixels.shape[1])
            if not reasons and max_faces is not None and len(keep) >= max_faces:
                reasons = ["EXCEEDS_MAX_FACES"]
            if reasons:
                unindexed.append({"Reasons": reasons, "FaceDetail": _face_detail(face, attributes)})
            else:
                keep.append(face)
        try:
            stored = self.index.add_faces(
                collection_id,
                params.get("ExternalImageId"),
                [(f.box, f.confidence * 100, f.embedding) for f in keep if f.embedding is not None],
            )
        except NoSuchCollection as exc:
            raise ResourceNotFoundException(f"The collection id: {collection_id} does not exist") from exc
        records = [
            {"Face": _stored_face(s, collection.model_version), "FaceDetail": _face_detail(f, attributes)}
            for s, f in zip(stored, keep, strict=True)
        ]
        version = detector.model_version
        return {"FaceRecords": records, "FaceModelVersion": version, "UnindexedFaces": unindexed}

    def list_faces(self, ctx: RequestContext, params: Params) -> Output:
        collection_id = params["CollectionId"]
        version = self._collection(collection_id).model_version
        after, limit = _COLLECTION_PAGES.after(params) or "", _COLLECTION_PAGES.limit(params)
        found = self.index.list_faces(collection_id, after, limit, params.get("FaceIds"))
        page, token = _COLLECTION_PAGES.keyed(found, params, lambda f: str(f.face_id))
        out: Output = {"Faces": [_stored_face(f, version) for f in page], "FaceModelVersion": version}
        if token:
            out["NextToken"] = token
        return out

    def delete_faces(self, ctx: RequestContext, params: Params) -> Output:
        collection_id = params["CollectionId"]
        self._collection(collection_id)
        deleted = self.index.delete_faces(collection_id, params["FaceIds"])
        missing = [
            {"FaceId": face_id, "Reasons": ["FACE_NOT_FOUND"]}
            for face_id in params["FaceIds"]
            if face_id not in deleted
        ]
        return {"DeletedFaces": deleted, "UnsuccessfulFaceDeletions": missing}

    def search_faces_by_image(self, ctx: RequestContext, params: Params) -> Output:
        collection_id = params["CollectionId"]
        collection = self._collection(collection_id)
        pixels = self._pixels(params["Image"])
        detector = self._faces()
        faces = self._detect(detector, pixels, embed=True)
        faces = [f for f in faces if not _reasons(f, params.get("QualityFilter", "NONE"), 0)]
        if not faces or faces[0].embedding is None:
            raise InvalidParameterException(NO_FACE)
        matches = self._matches(detector, collection, faces[0].embedding, params, exclude=None)
        return {
            "SearchedFaceBoundingBox": _box(faces[0].box),
            "SearchedFaceConfidence": faces[0].confidence * 100,
            "FaceMatches": matches,
            "FaceModelVersion": detector.model_version,
        }

    def search_faces(self, ctx: RequestContext, params: Params) -> Output:
        collection_id, face_id = params["CollectionId"], params["FaceId"]
        collection = self._collection(collection_id)
        embedding = self.index.embedding_of(collection_id, face_id)
        if embedding is None:
            raise InvalidParameterException(f"Face id {face_id} does not exist in collection {collection_id}")
        detector = self._faces()
        matches = self._matches(detector, collection, embedding, params, exclude=face_id)
        return {"SearchedFaceId": face_id, "FaceMatches": matches, "FaceModelVersion": detector.model_version}

    def _matches(
        self, detector: FaceDetector, collection: Any, query: np.ndarray, params: Params, exclude: str | None
    ) -> list[Output]:
        threshold = float(params.get("FaceMatchThreshold", 80.0))
        limit = int(params.get("MaxFaces", 100))
        matches = []
        for stored, embedding in self.index.nearest(collection.id, query, limit, exclude):
            score = detector.similarity(query, embedding)
            if score >= threshold:
                matches.append({"Similarity": score, "Face": _stored_face(stored, collection.model_version)})
        return matches


# -- output shapes ---------------------------------------------------------------------------------------


def _attributes(requested: list[str] | None) -> set[str]:
    wanted = set(requested or ["DEFAULT"])
    unmeasured = sorted(wanted - MEASURED_ATTRIBUTES)
    if unmeasured:
        raise InvalidParameterException(
            f"No local model estimates {', '.join(unmeasured)}; Outcrop measures BoundingBox, Confidence, "
            "Landmarks, Pose, Quality, EyesOpen and MouthOpen (ask for DEFAULT, ALL, EYES_OPEN or "
            "MOUTH_OPEN).",
        )
    return wanted


def _landmarks(face: Face, names: tuple[str, ...] | list[str]) -> list[Output]:
    return [{"Type": name, "X": face.landmarks[name][0], "Y": face.landmarks[name][1]} for name in names]


def _face_detail(face: Face, attributes: set[str]) -> Output:
    everything = "ALL" in attributes
    detail: Output = {
        "BoundingBox": _box(face.box),
        "Landmarks": _landmarks(face, list(face.landmarks) if everything else BASIC_LANDMARKS),
        "Pose": {"Roll": face.roll, "Yaw": face.yaw, "Pitch": face.pitch},
        "Quality": {"Brightness": face.brightness, "Sharpness": face.sharpness},
        "Confidence": face.confidence * 100,
    }
    if everything or "EYES_OPEN" in attributes:
        detail["EyesOpen"] = {"Value": face.eyes_open[0], "Confidence": face.eyes_open[1] * 100}
    if everything or "MOUTH_OPEN" in attributes:
        detail["MouthOpen"] = {"Value": face.mouth_open[0], "Confidence": face.mouth_open[1] * 100}
    return detail


def _compared_face(face: Face) -> Output:
    return {
        "BoundingBox": _box(face.box),
        "Confidence": face.confidence * 100,
        "Landmarks": _landmarks(face, BASIC_LANDMARKS),
        "Pose": {"Roll": face.roll, "Yaw": face.yaw, "Pitch": face.pitch},
        "Quality": {"Brightness": face.brightness, "Sharpness": face.sharpness},
    }


def _stored_face(face: StoredFace, model_version: str) -> Output:
    out: Output = {
        "FaceId": face.face_id,
        "BoundingBox": _box(face.box),
        "ImageId": face.image_id,
        "Confidence": face.confidence,
        "IndexFacesModelVersion": model_version,
    }
    if face.external_image_id:
        out["ExternalImageId"] = face.external_image_id
    return out


def _reasons(face: Face, quality: str, image_width: int) -> list[str]:
    """Why a face falls below the QualityFilter (empty when it passes)."""
    reasons = []
    if face.confidence < QUALITY_MIN_CONFIDENCE.get(quality, 0.8):
        reasons.append("LOW_CONFIDENCE")
    if image_width and face.box.width * image_width < QUALITY_MIN_PIXELS.get(quality, 40):
        reasons.append("SMALL_BOUNDING_BOX")
    return reasons


def _keep_word(box: Box, confidence: float, word_filter: Params, regions: list[Params]) -> bool:
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


def _text_detection(
    text: str, kind: str, ident: int, parent: int | None, confidence: float, polygon: list[Point]
) -> Output:
    out: Output = {
        "DetectedText": text,
        "Type": kind,
        "Id": ident,
        "Confidence": confidence * 100,
        "Geometry": {"BoundingBox": _box(Box.around(polygon)), "Polygon": _polygon(polygon)},
    }
    if parent is not None:
        out["ParentId"] = parent
    return out
