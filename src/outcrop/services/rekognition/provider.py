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
from outcrop.backends.vision import CorruptImage, ImageTooLarge, UnsupportedFormat, VisionError
from outcrop.backends.vision.face_index import (
    Collection,
    CollectionExists,
    FaceIndex,
    NoSuchCollection,
)
from outcrop.backends.vision.images import decode_image
from outcrop.backends.vision.protocols import Face, FaceDetector, ImageModerator, TextReader
from outcrop.config import Settings
from outcrop.services._inputs import InputErrors, bytes_or_s3_object
from outcrop.services.base import RequestContext, Service
from outcrop.services.paging import Pager
from outcrop.services.rekognition import shapes
from outcrop.services.rekognition.errors import (
    AccessDeniedException,
    ImageTooLargeException,
    InternalServerError,
    InvalidImageFormatException,
    InvalidPaginationTokenException,
    InvalidParameterException,
    InvalidS3ObjectException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
)
from outcrop.storage.objects import ObjectStore

Params = dict[str, Any]
Output = dict[str, Any]
MAX_S3_IMAGE_BYTES = 15 * 1024 * 1024
NO_FACE = "There are no faces in the image. Should be at least 1."
# Attributes a packaged model really measures; the rest (age, gender, emotions...) have no local model.
MAX_TEXT_WORDS = 100  # DetectText returns at most 100 words, as Rekognition does
FACES_MODEL, OCR_MODEL, MODERATION_MODEL = "dlib-resnet-faces", "rapidocr-pp-ocrv4", "open-nsfw"  # catalog


# Both celebrity operations model AccessDeniedException (400), which boto3 callers already handle; a
# celebrity index is a trained model of famous faces, and none ships in a package this server can install.
_NO_CELEBRITIES = (
    "Outcrop has no celebrity recognition model: RecognizeCelebrities and GetCelebrityInfo are not "
    "served. Faces, face collections, text and moderation work."
)
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


class Rekognition(Service):
    service_name = "rekognition"

    def __init__(
        self,
        *,
        models: ModelRegistry,
        objects: ObjectStore,
        settings: Settings,
        data_path: Callable[..., Path],
    ) -> None:
        self.models = models
        self.objects = objects
        self._index_dir = data_path("rekognition")
        self._place = (settings.account_id, settings.region)  # where collections from before regions go
        self._index: FaceIndex | None = None

    @property
    def index(self) -> FaceIndex:
        if self._index is None:
            self._index = FaceIndex(self._index_dir, account=self._place[0], region=self._place[1])
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

    def _pixels(self, ctx: RequestContext, image: Params) -> np.ndarray:
        """The image's pixels; an S3 image must be in a bucket of the request's region, as on AWS."""
        data = bytes_or_s3_object(
            self.objects,
            image,
            name="Image",
            limit=MAX_S3_IMAGE_BYTES,
            errors=_INPUT_ERRORS,
            region=ctx.region,
        )
        with _vision_errors():
            return decode_image(data)

    @staticmethod
    def _detect(detector: FaceDetector, pixels: np.ndarray, *, embed: bool = False) -> list[Face]:
        with _vision_errors():
            return detector.detect(pixels, embed=embed)

    # -- faces -----------------------------------------------------------------------------------------------

    def detect_faces(self, ctx: RequestContext, params: Params) -> Output:
        attributes = shapes.attributes(params.get("Attributes"))
        pixels = self._pixels(ctx, params["Image"])
        faces = self._detect(self._faces(), pixels)
        return {"FaceDetails": [shapes.face_detail(face, attributes) for face in faces]}

    def compare_faces(self, ctx: RequestContext, params: Params) -> Output:
        threshold = float(params.get("SimilarityThreshold", 80.0))
        quality = params.get("QualityFilter", "NONE")
        source_pixels = self._pixels(ctx, params["SourceImage"])
        detector = self._faces()
        sources = self._detect(detector, source_pixels, embed=True)
        if not sources:
            raise InvalidParameterException(NO_FACE)
        source = sources[0]
        targets = [
            f
            for f in self._detect(detector, self._pixels(ctx, params["TargetImage"]), embed=True)
            if not shapes.reasons(f, quality, 0)
        ]
        matches: list[Output] = []
        unmatched: list[Output] = []
        for target in targets:
            assert source.embedding is not None and target.embedding is not None
            score = detector.similarity(source.embedding, target.embedding)
            compared = shapes.compared_face(target)
            if score >= threshold:
                matches.append({"Similarity": score, "Face": compared})
            else:
                unmatched.append(compared)
        matches.sort(key=lambda m: float(m["Similarity"]), reverse=True)
        return {
            "SourceImageFace": {
                "BoundingBox": shapes.box_output(source.box),
                "Confidence": source.confidence * 100,
            },
            "FaceMatches": matches,
            "UnmatchedFaces": unmatched,
        }

    # -- text and moderation ---------------------------------------------------------------------------------

    def detect_text(self, ctx: RequestContext, params: Params) -> Output:
        pixels = self._pixels(ctx, params["Image"])
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
            words = [w for w in line.words if shapes.keep_word(w.box, w.confidence, word_filter, regions)]
            if words and len(words) <= budget:
                kept_lines.append((line, words))
                budget -= len(words)
        for line, _ in kept_lines:
            lines_out.append(
                shapes.text_detection(line.text, "LINE", next_id, None, line.confidence, line.polygon)
            )
            next_id += 1
        for parent, (_, words) in enumerate(kept_lines):
            for word in words:
                words_out.append(
                    shapes.text_detection(word.text, "WORD", next_id, parent, word.confidence, word.polygon)
                )
                next_id += 1
        return {"TextDetections": lines_out + words_out, "TextModelVersion": reader.model_version}

    def detect_moderation_labels(self, ctx: RequestContext, params: Params) -> Output:
        if params.get("ProjectVersion"):
            raise ResourceNotFoundException("Custom moderation adapters are not served by Outcrop.")
        if params.get("HumanLoopConfig"):
            raise InvalidParameterException("Human review (Amazon A2I) is not served by Outcrop.")
        minimum = float(params.get("MinConfidence", 50.0))
        pixels = self._pixels(ctx, params["Image"])
        moderator: ImageModerator = self._model(MODERATION_MODEL, "image-moderation")
        with _vision_errors():
            explicit = moderator.explicit_probability(pixels) * 100
        labels = []
        if explicit >= minimum:
            labels.append({"Confidence": explicit, "Name": "Explicit", "ParentName": "", "TaxonomyLevel": 1})
        return {"ModerationLabels": labels, "ModerationModelVersion": moderator.model_version}

    def detect_labels(self, ctx: RequestContext, params: Params) -> Output:
        # AccessDeniedException is DetectLabels' modelled error nearest "not available here", as for the
        # celebrity operations; the request's own members (Features, Settings, MaxLabels) are validated
        # against the model before this.
        raise AccessDeniedException(
            "DetectLabels is not served by Outcrop: it needs object-detection or image-classification "
            "weights, and none ship in a package this server can install; Outcrop does not invent labels. "
            "Faces, text and moderation work."
        )

    def recognize_celebrities(self, ctx: RequestContext, params: Params) -> Output:
        raise AccessDeniedException(_NO_CELEBRITIES)

    def get_celebrity_info(self, ctx: RequestContext, params: Params) -> Output:
        raise AccessDeniedException(_NO_CELEBRITIES)

    # -- collections -----------------------------------------------------------------------------------------

    def _collection_arn(self, ctx: RequestContext, collection_id: str) -> str:
        # Rekognition's own ARNs for collections start with "aws:", without the "arn:" prefix.
        return ctx.arn("rekognition", f"collection/{collection_id}").removeprefix("arn:")

    def create_collection(self, ctx: RequestContext, params: Params) -> Output:
        collection_id = params["CollectionId"]
        version = self._faces().model_version  # a collection holds the embeddings of one face model
        try:
            arn = self._collection_arn(ctx, collection_id)
            made = self.index.create(
                collection_id, arn, version, params.get("Tags", {}), where=(ctx.account_id, ctx.region)
            )
        except CollectionExists as exc:
            raise ResourceAlreadyExistsException(
                f"The collection id: {collection_id} already exists"
            ) from exc
        return {"StatusCode": 200, "CollectionArn": made.arn, "FaceModelVersion": made.model_version}

    def list_collections(self, ctx: RequestContext, params: Params) -> Output:
        found = self.index.list_collections(
            _COLLECTION_PAGES.after(params) or "",
            _COLLECTION_PAGES.limit(params),
            where=(ctx.account_id, ctx.region),
        )
        page, token = _COLLECTION_PAGES.keyed(found, params, lambda c: str(c.id))
        out: Output = {
            "CollectionIds": [c.id for c in page],
            "FaceModelVersions": [c.model_version for c in page],
        }
        if token:
            out["NextToken"] = token
        return out

    def _collection(self, ctx: RequestContext, collection_id: str) -> Collection:
        """The collection of that id in the request's account and region."""
        try:
            return self.index.find(collection_id, where=(ctx.account_id, ctx.region))
        except NoSuchCollection as exc:
            raise ResourceNotFoundException(f"The collection id: {collection_id} does not exist") from exc

    def describe_collection(self, ctx: RequestContext, params: Params) -> Output:
        found = self._collection(ctx, params["CollectionId"])
        return {
            "FaceCount": found.face_count,
            "FaceModelVersion": found.model_version,
            "CollectionARN": found.arn,
            "CreationTimestamp": datetime.fromtimestamp(found.created, UTC),
            "UserCount": 0,
        }

    def delete_collection(self, ctx: RequestContext, params: Params) -> Output:
        try:
            self.index.delete(self._collection(ctx, params["CollectionId"]).key)
        except NoSuchCollection as exc:
            raise ResourceNotFoundException(
                f"The collection id: {params['CollectionId']} does not exist"
            ) from exc
        return {"StatusCode": 200}

    # -- tags (collections are the taggable resource served here) --------------------------------------------

    def _tagged_collection(self, ctx: RequestContext, arn: str) -> str:
        """The key of the collection an ARN names, which must be of the request's account and region."""
        fields = arn.removeprefix("arn:").split(":")
        kind, _, collection_id = fields[-1].partition("/")
        if kind != "collection" or not collection_id:
            raise InvalidParameterException(f"{arn} is not a collection ARN this server can tag.")
        if len(fields) > 4 and (fields[2], fields[3]) != (ctx.region, ctx.account_id):
            raise ResourceNotFoundException(f"The collection id: {collection_id} does not exist")
        return self._collection(ctx, collection_id).key

    def list_tags_for_resource(self, ctx: RequestContext, params: Params) -> Output:
        return {"Tags": self.index.tags(self._tagged_collection(ctx, params["ResourceArn"]))}

    def tag_resource(self, ctx: RequestContext, params: Params) -> Output:
        key = self._tagged_collection(ctx, params["ResourceArn"])
        self.index.set_tags(key, {**self.index.tags(key), **params["Tags"]})
        return {}

    def untag_resource(self, ctx: RequestContext, params: Params) -> Output:
        key = self._tagged_collection(ctx, params["ResourceArn"])
        tags = self.index.tags(key)
        self.index.set_tags(key, {k: v for k, v in tags.items() if k not in params["TagKeys"]})
        return {}

    def index_faces(self, ctx: RequestContext, params: Params) -> Output:
        collection_id = params["CollectionId"]
        collection = self._collection(ctx, collection_id)
        attributes = shapes.attributes(params.get("DetectionAttributes"))
        quality = params.get("QualityFilter", "AUTO")
        max_faces = params.get("MaxFaces")
        pixels = self._pixels(ctx, params["Image"])
        detector = self._faces()
        faces = self._detect(detector, pixels, embed=True)
        keep: list[Face] = []
        unindexed: list[Output] = []
        for face in faces:
            reasons = shapes.reasons(face, quality, pixels.shape[1])
            if not reasons and max_faces is not None and len(keep) >= max_faces:
                reasons = ["EXCEEDS_MAX_FACES"]
            if reasons:
                unindexed.append({"Reasons": reasons, "FaceDetail": shapes.face_detail(face, attributes)})
            else:
                keep.append(face)
        try:
            stored = self.index.add_faces(
                collection.key,
                params.get("ExternalImageId"),
                [(f.box, f.confidence * 100, f.embedding) for f in keep if f.embedding is not None],
            )
        except NoSuchCollection as exc:
            raise ResourceNotFoundException(f"The collection id: {collection_id} does not exist") from exc
        records = [
            {
                "Face": shapes.stored_face(s, collection.model_version),
                "FaceDetail": shapes.face_detail(f, attributes),
            }
            for s, f in zip(stored, keep, strict=True)
        ]
        version = detector.model_version
        return {"FaceRecords": records, "FaceModelVersion": version, "UnindexedFaces": unindexed}

    def list_faces(self, ctx: RequestContext, params: Params) -> Output:
        collection_id = params["CollectionId"]
        collection = self._collection(ctx, collection_id)
        version = collection.model_version
        after, limit = _COLLECTION_PAGES.after(params) or "", _COLLECTION_PAGES.limit(params)
        if params.get("UserId"):
            raise InvalidParameterException(
                "Outcrop does not serve users (CreateUser, AssociateFaces): ListFaces cannot filter by "
                "UserId."
            )
        found = self.index.list_faces(collection.key, after, limit, params.get("FaceIds"))
        page, token = _COLLECTION_PAGES.keyed(found, params, lambda f: str(f.face_id))
        out: Output = {"Faces": [shapes.stored_face(f, version) for f in page], "FaceModelVersion": version}
        if token:
            out["NextToken"] = token
        return out

    def delete_faces(self, ctx: RequestContext, params: Params) -> Output:
        collection_id = params["CollectionId"]
        deleted = self.index.delete_faces(self._collection(ctx, collection_id).key, params["FaceIds"])
        missing = [
            {"FaceId": face_id, "Reasons": ["FACE_NOT_FOUND"]}
            for face_id in params["FaceIds"]
            if face_id not in deleted
        ]
        return {"DeletedFaces": deleted, "UnsuccessfulFaceDeletions": missing}

    def search_faces_by_image(self, ctx: RequestContext, params: Params) -> Output:
        collection_id = params["CollectionId"]
        collection = self._collection(ctx, collection_id)
        pixels = self._pixels(ctx, params["Image"])
        detector = self._faces()
        faces = self._detect(detector, pixels, embed=True)
        faces = [f for f in faces if not shapes.reasons(f, params.get("QualityFilter", "NONE"), 0)]
        if not faces or faces[0].embedding is None:
            raise InvalidParameterException(NO_FACE)
        matches = self._matches(detector, collection, faces[0].embedding, params, exclude=None)
        return {
            "SearchedFaceBoundingBox": shapes.box_output(faces[0].box),
            "SearchedFaceConfidence": faces[0].confidence * 100,
            "FaceMatches": matches,
            "FaceModelVersion": detector.model_version,
        }

    def search_faces(self, ctx: RequestContext, params: Params) -> Output:
        collection_id, face_id = params["CollectionId"], params["FaceId"]
        collection = self._collection(ctx, collection_id)
        embedding = self.index.embedding_of(collection.key, face_id)
        if embedding is None:
            raise InvalidParameterException(f"Face id {face_id} does not exist in collection {collection_id}")
        detector = self._faces()
        matches = self._matches(detector, collection, embedding, params, exclude=face_id)
        return {"SearchedFaceId": face_id, "FaceMatches": matches, "FaceModelVersion": detector.model_version}

    def _matches(
        self,
        detector: FaceDetector,
        collection: Collection,
        query: np.ndarray,
        params: Params,
        exclude: str | None,
    ) -> list[Output]:
        threshold = float(params.get("FaceMatchThreshold", 80.0))
        limit = int(params.get("MaxFaces", 100))
        matches = []
        for stored, embedding in self.index.nearest(collection.key, query, limit, exclude):
            score = detector.similarity(query, embedding)
            if score >= threshold:
                matches.append(
                    {"Similarity": score, "Face": shapes.stored_face(stored, collection.model_version)}
                )
        return matches
