"""The TextReader, FaceDetector and ImageModerator contracts: every vision runtime (the fakes, RapidOCR, dlib,
open_nsfw) passes these by providing the fixture each class names."""

from __future__ import annotations

import numpy as np
import pytest

from outcrop.backends.vision import Box, rows_of
from outcrop.backends.vision.protocols import LANDMARKS, FaceDetector, ImageModerator, TextReader
from tests.fixtures.vision.photos import astronaut, sign

SIGN = "OUTCROP READS SIGNS"


def blank() -> np.ndarray:
    return np.full((240, 320, 3), 235, dtype=np.uint8)


def inside(box: Box) -> bool:
    return 0 <= box.left <= box.right <= 1.0001 and 0 <= box.top <= box.bottom <= 1.0001


class TextReaderContract:
    """Subclass and provide a `reader` fixture."""

    def test_is_a_text_reader(self, reader: TextReader) -> None:
        assert isinstance(reader, TextReader)
        assert reader.model_id and reader.model_version

    def test_a_blank_image_holds_no_text(self, reader: TextReader) -> None:
        assert reader.read(blank()).lines == []

    def test_lines_are_their_words_with_geometry_in_the_image(self, reader: TextReader) -> None:
        page = reader.read(np.asarray(sign(SIGN)))
        assert page.lines and page.source == "ocr"
        for line in page.lines:
            assert line.words and line.text == " ".join(word.text for word in line.words)
            assert len(line.polygon) == 4 and inside(line.box) and 0 < line.confidence <= 1
            lefts = [word.box.left for word in line.words]
            assert lefts == sorted(lefts)
            assert all(len(w.polygon) == 4 and inside(w.box) and 0 < w.confidence <= 1 for w in line.words)

    def test_lines_come_in_reading_order_and_the_same_each_time(self, reader: TextReader) -> None:
        pixels = np.asarray(sign(SIGN))
        page = reader.read(pixels)
        assert [line.text for line in page.lines] == [ln.text for row in rows_of(page.lines) for ln in row]
        assert [line.text for line in reader.read(pixels).lines] == [line.text for line in page.lines]


class FaceDetectorContract:
    """Subclass and provide a `detector` fixture."""

    @pytest.fixture
    def portrait(self) -> np.ndarray:
        return np.asarray(astronaut())

    def test_is_a_face_detector(self, detector: FaceDetector) -> None:
        assert isinstance(detector, FaceDetector)
        assert detector.model_id and detector.model_version

    def test_a_blank_image_holds_no_face(self, detector: FaceDetector) -> None:
        assert detector.detect(blank()) == []

    def test_a_portrait_has_one_described_face(self, detector: FaceDetector, portrait: np.ndarray) -> None:
        (face,) = detector.detect(portrait)
        assert inside(face.box) and face.box.width > 0 and face.box.height > 0
        assert 0 < face.confidence <= 1
        assert set(face.landmarks) == set(LANDMARKS)
        assert all(0 <= x <= 1 and 0 <= y <= 1 for x, y in face.landmarks.values())
        assert 0 <= face.brightness <= 100 and 0 <= face.sharpness <= 100
        assert all(-180 <= angle <= 180 for angle in (face.yaw, face.pitch, face.roll))
        assert all(0 <= confidence <= 1 for _, confidence in (face.eyes_open, face.mouth_open))
        assert face.embedding is None  # computed only when asked for

    def test_one_face_twice_is_the_same_person(self, detector: FaceDetector, portrait: np.ndarray) -> None:
        (first,) = detector.detect(portrait, embed=True)
        (again,) = detector.detect(portrait.copy(), embed=True)
        assert first.embedding is not None and again.embedding is not None
        assert first.embedding.ndim == 1 and first.embedding.size >= 64
        assert detector.similarity(first.embedding, again.embedding) > 90
        other = np.roll(first.embedding, 1) * -1
        score = detector.similarity(first.embedding, other)
        assert 0 <= score < 50 and score == pytest.approx(detector.similarity(other, first.embedding))


class ImageModeratorContract:
    """Subclass and provide a `moderator` fixture."""

    def test_is_an_image_moderator(self, moderator: ImageModerator) -> None:
        assert isinstance(moderator, ImageModerator)
        assert moderator.model_id and moderator.model_version

    def test_a_portrait_is_not_explicit_and_scores_alike_twice(self, moderator: ImageModerator) -> None:
        pixels = np.asarray(astronaut())
        probability = moderator.explicit_probability(pixels)
        assert 0 <= probability < 0.2
        assert moderator.explicit_probability(pixels.copy()) == pytest.approx(probability)
        assert 0 <= moderator.explicit_probability(blank()) <= 1
