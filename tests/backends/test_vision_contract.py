"""The vision contracts run against the fakes and against the bundled catalog's real vision models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from outcrop.backends.registry import ModelRegistry
from outcrop.backends.vision.fakes import FAKE_LINES, FakeFaceDetector, FakeImageModerator, FakeTextReader
from outcrop.backends.vision.protocols import FaceDetector, ImageModerator, TextReader
from outcrop.catalog import BUNDLED, load_catalog

from .conftest import model_dir
from .vision_contract import FaceDetectorContract, ImageModeratorContract, TextReaderContract

VISION_KINDS = ("ocr", "faces", "image-moderation")
OCR, FACES, MODERATION = "rapidocr-pp-ocrv4", "dlib-resnet-faces", "open-nsfw"
real = pytest.mark.real


def vision_entries() -> dict[str, dict[str, object]]:
    return {n: t for n, t in load_catalog(BUNDLED).local.items() if t.get("kind") in VISION_KINDS}


@pytest.fixture(scope="session")
def vision_registry() -> Iterator[ModelRegistry]:
    """The bundled catalog's vision models, real (digests checked), loaded once for the whole session."""
    registry = ModelRegistry(vision_entries(), model_dir())
    yield registry
    registry.close()


class TestFakeTextReader(TextReaderContract):
    @pytest.fixture
    def reader(self) -> TextReader:
        return FakeTextReader("fake-ocr")


@real
class TestRapidOcr(TextReaderContract):
    @pytest.fixture
    def reader(self, vision_registry: ModelRegistry) -> TextReader:
        found: TextReader = vision_registry.get(OCR, "ocr")
        return found


class TestFakeFaceDetector(FaceDetectorContract):
    @pytest.fixture
    def detector(self) -> FaceDetector:
        return FakeFaceDetector("fake-faces")


@real
class TestDlibFaces(FaceDetectorContract):
    @pytest.fixture
    def detector(self, vision_registry: ModelRegistry) -> FaceDetector:
        found: FaceDetector = vision_registry.get(FACES, "faces")
        return found


class TestFakeImageModerator(ImageModeratorContract):
    @pytest.fixture
    def moderator(self) -> ImageModerator:
        return FakeImageModerator("fake-moderation")


@real
class TestOpenNsfw(ImageModeratorContract):
    @pytest.fixture
    def moderator(self, vision_registry: ModelRegistry) -> ImageModerator:
        found: ImageModerator = vision_registry.get(MODERATION, "image-moderation")
        return found


def test_fake_mode_serves_the_vision_fakes(tmp_path: Path) -> None:
    registry = ModelRegistry(vision_entries(), tmp_path, fake=True)
    reader = registry.get(OCR, "ocr")
    assert isinstance(reader, FakeTextReader)
    assert isinstance(registry.get(FACES, "faces"), FakeFaceDetector)
    assert isinstance(registry.get(MODERATION, "image-moderation"), FakeImageModerator)
    assert registry.get(OCR, "ocr") is reader  # loaded once, then shared
    states = registry.states()
    assert {states[name]["kind"] for name in (OCR, FACES, MODERATION)} == set(VISION_KINDS)
    assert states[OCR]["runtime"] == "fake" and states[OCR]["loads"] == 1 and states[OCR]["uses"] == 2
    assert list(tmp_path.iterdir()) == []


def test_the_fake_reader_reads_its_fixed_lines_on_any_picture() -> None:
    pixels = np.zeros((100, 200, 3), dtype=np.uint8)
    pixels[40:60, 20:180] = 255
    assert [line.text for line in FakeTextReader("ocr").read(pixels).lines] == list(FAKE_LINES)


def test_the_fake_face_embedding_tells_images_apart() -> None:
    detector = FakeFaceDetector("faces")
    first = np.zeros((64, 64, 3), dtype=np.uint8)
    first[10:20, 10:20] = 200
    second = first.copy()
    second[30, 30] = 1
    (a,), (b,) = detector.detect(first, embed=True), detector.detect(second, embed=True)
    assert a.embedding is not None and b.embedding is not None
    assert detector.similarity(a.embedding, b.embedding) < 50


@pytest.mark.parametrize("name", [OCR, FACES, MODERATION])
def test_a_bad_digest_is_refused(tmp_path: Path, name: str) -> None:
    entry = dict(vision_entries()[name]) | {"sha256": "0" * 64}
    registry = ModelRegistry({name: entry}, tmp_path)
    with pytest.raises(Exception, match="SHA-256"):
        registry.get(name, str(entry["kind"]))
    assert registry.states()[name]["state"] == "failed"


def test_the_catalog_pins_every_file_a_runtime_loads() -> None:
    entries = vision_entries()
    assert {entries[name]["runtime"] for name in (OCR, FACES, MODERATION)} == {
        "rapidocr",
        "dlib-faces",
        "open-nsfw",
    }
    for key in ("sha256", "det_sha256", "cls_sha256"):
        assert len(str(entries[OCR][key])) == 64
    for key in ("sha256", "landmarks_sha256", "aligner_sha256"):
        assert len(str(entries[FACES][key])) == 64
    assert len(str(entries[MODERATION]["sha256"])) == 64
