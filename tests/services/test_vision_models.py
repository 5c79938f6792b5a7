"""Textract and Rekognition share one registry: each vision model is loaded once per server, counted per use.

The fast tests run on the fake server, whose fakes read fixed lines, find one face in any picture that is
not blank (embedded by a hash of its pixels) and find nothing explicit; the real test proves that one real
server holds one OCR engine, used by both services.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from PIL import Image

from outcrop.backends.vision.fakes import FAKE_LINES
from tests.errors import error_of
from tests.fixtures.vision.documents import encoded, invoice_image
from tests.fixtures.vision.photos import astronaut, coffee, sign, to_bytes
from tests.server import RunningServer

OCR = "rapidocr-pp-ocrv4"


def _models(server: RunningServer) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = httpx.get(f"{server.endpoint}/_outcrop/health", timeout=10).json()[
        "models"
    ]
    return found


def _lines(detections: list[dict[str, Any]]) -> list[str]:
    return [d["DetectedText"] for d in detections if d["Type"] == "LINE"]


def test_fake_text_is_read_alike_by_both_services(server: RunningServer) -> None:
    page = encoded(invoice_image(), "PNG")
    answer = server.client("textract").detect_document_text(Document={"Bytes": page})
    assert [b["Text"] for b in answer["Blocks"] if b["BlockType"] == "LINE"] == list(FAKE_LINES)
    assert answer["DetectDocumentTextModelVersion"] == "fake-ocr"
    detected = server.client("rekognition").detect_text(Image={"Bytes": to_bytes(sign("ANYTHING"))})
    assert _lines(detected["TextDetections"]) == list(FAKE_LINES)
    assert detected["TextModelVersion"] == "fake-ocr"
    blank = to_bytes(Image.new("RGB", (300, 200), "white"))
    assert server.client("rekognition").detect_text(Image={"Bytes": blank})["TextDetections"] == []
    ocr = _models(server)[OCR]
    assert ocr["runtime"] == "fake" and ocr["kind"] == "ocr"
    assert ocr["loads"] == 1 and ocr["uses"] >= 2


def test_fake_faces_match_the_same_picture_only(server: RunningServer) -> None:
    rekognition = server.client("rekognition")
    portrait, other = to_bytes(astronaut()), to_bytes(coffee(), "JPEG")
    (face,) = rekognition.detect_faces(Image={"Bytes": portrait}, Attributes=["ALL"])["FaceDetails"]
    assert len(face["Landmarks"]) == 28 and face["Confidence"] > 90
    blank = to_bytes(Image.new("RGB", (300, 200), "gray"))
    assert rekognition.detect_faces(Image={"Bytes": blank})["FaceDetails"] == []
    same = rekognition.compare_faces(SourceImage={"Bytes": portrait}, TargetImage={"Bytes": portrait})
    assert [round(m["Similarity"]) for m in same["FaceMatches"]] == [100]
    different = rekognition.compare_faces(SourceImage={"Bytes": portrait}, TargetImage={"Bytes": other})
    assert different["FaceMatches"] == [] and len(different["UnmatchedFaces"]) == 1
    faceless = error_of(rekognition.compare_faces, SourceImage={"Bytes": blank}, TargetImage={"Bytes": other})
    assert faceless["Code"] == "InvalidParameterException"

    name = f"fake-{uuid.uuid4().hex[:8]}"
    assert rekognition.create_collection(CollectionId=name)["FaceModelVersion"] == "fake-faces"
    (record,) = rekognition.index_faces(CollectionId=name, Image={"Bytes": portrait})["FaceRecords"]
    assert record["Face"]["IndexFacesModelVersion"] == "fake-faces"
    found = rekognition.search_faces_by_image(CollectionId=name, Image={"Bytes": portrait})
    assert [m["Face"]["FaceId"] for m in found["FaceMatches"]] == [record["Face"]["FaceId"]]
    assert rekognition.search_faces_by_image(CollectionId=name, Image={"Bytes": other})["FaceMatches"] == []
    listed = rekognition.list_faces(CollectionId=name)
    assert listed["FaceModelVersion"] == "fake-faces" and len(listed["Faces"]) == 1
    faces = _models(server)["dlib-resnet-faces"]
    assert faces["runtime"] == "fake" and faces["loads"] == 1 and faces["uses"] >= 6


def test_fake_moderation_finds_nothing_explicit(server: RunningServer) -> None:
    rekognition = server.client("rekognition")
    portrait = to_bytes(astronaut())
    answer = rekognition.detect_moderation_labels(Image={"Bytes": portrait})
    assert answer["ModerationLabels"] == [] and answer["ModerationModelVersion"] == "fake-moderation"
    (label,) = rekognition.detect_moderation_labels(Image={"Bytes": portrait}, MinConfidence=0)[
        "ModerationLabels"
    ]
    assert label["Name"] == "Explicit" and label["Confidence"] == pytest.approx(1.0)


def test_celebrity_operations_answer_a_modelled_access_denied(server: RunningServer) -> None:
    """No local model knows celebrities: both operations answer the AccessDeniedException they model,
    which boto3 parses into a ClientError, instead of an unmodelled NotImplemented 501."""
    rekognition = server.client("rekognition")
    recognized = error_of(rekognition.recognize_celebrities, Image={"Bytes": to_bytes(astronaut())})
    assert recognized["Code"] == "AccessDeniedException" and recognized["Status"] == 400
    assert "no celebrity recognition model" in recognized["Message"]
    info = error_of(rekognition.get_celebrity_info, Id="1ZO4Hk6")
    assert info["Code"] == "AccessDeniedException" and info["Status"] == 400


def test_a_text_job_reports_the_model_it_started_with(server: RunningServer) -> None:
    s3, textract = server.client("s3"), server.client("textract")
    bucket = f"fake-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="page.png", Body=encoded(invoice_image(), "PNG"))
    job_id = textract.start_document_text_detection(
        DocumentLocation={"S3Object": {"Bucket": bucket, "Name": "page.png"}}
    )["JobId"]
    status = textract.get_document_text_detection(JobId=job_id)
    assert status["DetectDocumentTextModelVersion"] == "fake-ocr"


@pytest.mark.real
def test_one_real_server_loads_the_ocr_engine_once(real_server: RunningServer) -> None:
    page = encoded(invoice_image(), "PNG")
    blocks = real_server.client("textract").detect_document_text(Document={"Bytes": page})
    assert "INVOICE" in [b.get("Text") for b in blocks["Blocks"] if b["BlockType"] == "LINE"]
    detected = real_server.client("rekognition").detect_text(Image={"Bytes": to_bytes(sign("ONE ENGINE"))})
    assert _lines(detected["TextDetections"]) == ["ONE ENGINE"]
    models = _models(real_server)
    readers = {name: state for name, state in models.items() if state["kind"] == "ocr"}
    assert list(readers) == [OCR]
    assert readers[OCR]["runtime"] == "rapidocr" and readers[OCR]["state"] == "ready"
    assert readers[OCR]["loads"] == 1 and readers[OCR]["uses"] >= 2
