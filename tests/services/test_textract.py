"""Textract through boto3 on a generated invoice (image, PDF with a text layer, scanned PDF), real OCR.

The tests that read pixels run on `real_server` (real models); a PDF's own text layer needs no model.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.errors import error_of
from tests.fixtures.vision.documents import (
    INVOICE_CHECKS,
    INVOICE_FIELDS,
    INVOICE_LINES,
    INVOICE_TABLE,
    INVOICE_TOTAL,
    TERMS_LINES,
    encoded,
    invoice_image,
    invoice_text_pdf,
)
from tests.server import RunningServer

pytestmark = pytest.mark.real

Blocks = list[dict[str, Any]]


@pytest.fixture(scope="module")
def documents(real_server: RunningServer) -> dict[str, Any]:
    """The invoice in every form, uploaded to a fresh bucket, plus the png bytes for direct calls."""
    s3 = real_server.client("s3")
    bucket = f"textract-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    image = invoice_image()
    forms = {
        "invoice.png": encoded(image, "PNG"),
        "invoice.jpg": encoded(image, "JPEG"),
        "invoice.pdf": invoice_text_pdf(),
        "scan.pdf": encoded(image, "PDF"),
        "borderless.png": encoded(invoice_image(ruled=False), "PNG"),
    }
    for key, body in forms.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    return {"bucket": bucket, **forms}


@pytest.fixture(scope="module")
def textract(real_server: RunningServer) -> Any:
    return real_server.client("textract")


def by_id(blocks: Blocks) -> dict[str, dict[str, Any]]:
    return {b["Id"]: b for b in blocks}


def children(
    block: dict[str, Any], index: dict[str, dict[str, Any]], kind: str = "CHILD"
) -> list[dict[str, Any]]:
    return [index[i] for rel in block.get("Relationships", []) if rel["Type"] == kind for i in rel["Ids"]]


def text_of(block: dict[str, Any], index: dict[str, dict[str, Any]]) -> str:
    return " ".join(w["Text"] for w in children(block, index) if w["BlockType"] == "WORD")


def table_texts(blocks: Blocks) -> list[list[str]]:
    index = by_id(blocks)
    (table,) = [b for b in blocks if b["BlockType"] == "TABLE"]
    cells = children(table, index)
    rows = max(c["RowIndex"] for c in cells)
    columns = max(c["ColumnIndex"] for c in cells)
    grid = [[""] * columns for _ in range(rows)]
    for cell in cells:
        grid[cell["RowIndex"] - 1][cell["ColumnIndex"] - 1] = text_of(cell, index)
    return grid


def key_values(blocks: Blocks) -> dict[str, str]:
    index = by_id(blocks)
    pairs = {}
    for block in blocks:
        if block["BlockType"] == "KEY_VALUE_SET" and "KEY" in block["EntityTypes"]:
            (value,) = children(block, index, "VALUE")
            assert value["EntityTypes"] == ["VALUE"]
            boxes = [c for c in children(value, index) if c["BlockType"] == "SELECTION_ELEMENT"]
            answer = boxes[0]["SelectionStatus"] if boxes else text_of(value, index)
            pairs[text_of(block, index).rstrip(":")] = answer
    return pairs


def check_structure(blocks: Blocks) -> None:
    """Every id unique, every relationship resolves, geometry normalized, confidences in 0..100."""
    index = by_id(blocks)
    assert len(index) == len(blocks)
    for block in blocks:
        for relationship in block.get("Relationships", []):
            assert all(i in index for i in relationship["Ids"])
        box = block["Geometry"]["BoundingBox"]
        assert 0 <= box["Left"] <= 1 and 0 <= box["Top"] <= 1
        assert box["Left"] + box["Width"] <= 1.0001 and box["Top"] + box["Height"] <= 1.0001
        assert len(block["Geometry"]["Polygon"]) == 4
        if "Confidence" in block:
            assert 0 <= block["Confidence"] <= 100
    pages = [b for b in blocks if b["BlockType"] == "PAGE"]
    lines = [b for b in blocks if b["BlockType"] == "LINE"]
    assert pages and all(
        line["Id"] in {i for p in pages for i in p["Relationships"][0]["Ids"]} for line in lines
    )
    for line in lines:
        assert text_of(line, index) == line["Text"]


EXPECTED_FIELDS = {
    **INVOICE_FIELDS,
    INVOICE_TOTAL[0]: INVOICE_TOTAL[1],
    **{label: "SELECTED" if ticked else "NOT_SELECTED" for label, ticked in INVOICE_CHECKS.items()},
}


def test_detect_document_text_reads_every_line(textract: Any, documents: dict[str, Any]) -> None:
    answer = textract.detect_document_text(Document={"Bytes": documents["invoice.png"]})
    assert answer["DocumentMetadata"] == {"Pages": 1}
    blocks = answer["Blocks"]
    check_structure(blocks)
    lines = [b["Text"] for b in blocks if b["BlockType"] == "LINE"]
    assert set(INVOICE_LINES) <= set(lines)
    assert {cell for row in INVOICE_TABLE for cell in row} <= set(lines)
    assert not [b for b in blocks if b["BlockType"] in ("TABLE", "KEY_VALUE_SET")]
    title = next(b for b in blocks if b.get("Text") == "INVOICE")
    assert title["Geometry"]["BoundingBox"]["Top"] < 0.15 and title["Confidence"] > 90


@pytest.mark.parametrize("key", ["invoice.jpg", "invoice.pdf"])
def test_analyze_document_finds_table_and_forms(textract: Any, documents: dict[str, Any], key: str) -> None:
    answer = textract.analyze_document(
        Document={"S3Object": {"Bucket": documents["bucket"], "Name": key}}, FeatureTypes=["TABLES", "FORMS"]
    )
    blocks = answer["Blocks"]
    check_structure(blocks)
    assert table_texts(blocks) == INVOICE_TABLE
    assert key_values(blocks) == EXPECTED_FIELDS
    if key.endswith(".pdf"):  # words of the PDF's own text layer are certain
        assert all(b["Confidence"] == 100 for b in blocks if b["BlockType"] == "WORD")
        forms_only = textract.analyze_document(
            Document={"S3Object": {"Bucket": documents["bucket"], "Name": key}}, FeatureTypes=["FORMS"]
        )["Blocks"]
        assert not [b for b in forms_only if b["BlockType"] in ("TABLE", "CELL")]
        assert key_values(forms_only) == EXPECTED_FIELDS  # table words stay out of the forms


def test_analyze_document_on_png_bytes_finds_the_ticked_box(textract: Any, documents: dict[str, Any]) -> None:
    """AWS's textract_wrapper.analyze_file sends image bytes; in a lossless PNG the reader's line box for
    "Paid" reaches back over the tick, and the check box still takes that line as its key."""
    blocks = textract.analyze_document(
        Document={"Bytes": documents["invoice.png"]}, FeatureTypes=["TABLES", "FORMS"]
    )["Blocks"]
    check_structure(blocks)
    assert table_texts(blocks) == INVOICE_TABLE
    assert key_values(blocks) == EXPECTED_FIELDS


def test_table_without_rules_is_found_by_alignment(textract: Any, documents: dict[str, Any]) -> None:
    blocks = textract.analyze_document(
        Document={"Bytes": documents["borderless.png"]}, FeatureTypes=["TABLES"]
    )["Blocks"]
    check_structure(blocks)
    assert table_texts(blocks) == INVOICE_TABLE
    (table,) = [b for b in blocks if b["BlockType"] == "TABLE"]
    assert table["EntityTypes"] == ["SEMI_STRUCTURED_TABLE"]
    assert not [b for b in blocks if b["BlockType"] == "KEY_VALUE_SET"]  # FORMS was not asked for


def test_analysis_job_on_a_scan_pages_through_results(textract: Any, documents: dict[str, Any]) -> None:
    location = {"S3Object": {"Bucket": documents["bucket"], "Name": "scan.pdf"}}
    job_id = textract.start_document_analysis(
        DocumentLocation=location, FeatureTypes=["TABLES", "FORMS"], ClientRequestToken="scan-1"
    )["JobId"]
    again = textract.start_document_analysis(
        DocumentLocation=location, FeatureTypes=["TABLES", "FORMS"], ClientRequestToken="scan-1"
    )
    assert again["JobId"] == job_id
    assert error_of(
        textract.start_document_analysis,
        DocumentLocation=location,
        FeatureTypes=["TABLES"],
        ClientRequestToken="scan-1",
    )["Code"] == ("IdempotentParameterMismatchException")
    deadline = time.monotonic() + 120
    status = textract.get_document_analysis(JobId=job_id)
    while status["JobStatus"] == "IN_PROGRESS" and time.monotonic() < deadline:
        time.sleep(0.5)
        status = textract.get_document_analysis(JobId=job_id)
    assert status["JobStatus"] == "SUCCEEDED", status
    blocks: Blocks = []
    token: str | None = None
    while True:
        page = textract.get_document_analysis(
            JobId=job_id, MaxResults=20, **({"NextToken": token} if token else {})
        )
        assert len(page["Blocks"]) <= 20
        blocks += page["Blocks"]
        token = page.get("NextToken")
        if not token:
            break
    assert page["DocumentMetadata"] == {"Pages": 1}
    check_structure(blocks)
    assert table_texts(blocks) == INVOICE_TABLE
    assert key_values(blocks) == EXPECTED_FIELDS


def test_bad_documents_get_textract_errors(
    textract: Any, documents: dict[str, Any], real_server: RunningServer
) -> None:
    corrupt = documents["invoice.png"][:200]
    assert (
        error_of(textract.detect_document_text, Document={"Bytes": corrupt})["Code"] == "BadDocumentException"
    )
    unsupported = error_of(textract.detect_document_text, Document={"Bytes": b"PK\x03\x04 a zip, not a page"})
    assert unsupported["Code"] == "UnsupportedDocumentException" and unsupported["Status"] == 400
    missing = {"S3Object": {"Bucket": documents["bucket"], "Name": "nowhere.png"}}
    assert error_of(textract.detect_document_text, Document=missing)["Code"] == "InvalidS3ObjectException"
    assert error_of(textract.start_document_text_detection, DocumentLocation=missing)["Code"] == (
        "InvalidS3ObjectException"
    )
    queries = error_of(
        textract.analyze_document, Document={"Bytes": documents["invoice.png"]}, FeatureTypes=["QUERIES"]
    )
    assert queries["Code"] == "InvalidParameterException" and "QUERIES" in queries["Message"]
    assert error_of(textract.get_document_analysis, JobId="no-such-job")["Code"] == "InvalidJobIdException"
    server_s3 = real_server.client("s3")
    server_s3.put_object(
        Bucket=documents["bucket"], Key="huge.png", Body=b"\x89PNG\r\n\x1a\n" + bytes(11 << 20)
    )
    huge = {"S3Object": {"Bucket": documents["bucket"], "Name": "huge.png"}}
    assert error_of(textract.detect_document_text, Document=huge)["Code"] == "DocumentTooLargeException"
    two_pages = encoded(invoice_image(), "TIFF")
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.open(io.BytesIO(two_pages)).save(
        buffer, format="TIFF", save_all=True, append_images=[invoice_image()]
    )
    many = error_of(textract.detect_document_text, Document={"Bytes": buffer.getvalue()})
    assert many["Code"] == "UnsupportedDocumentException"


def test_job_on_a_broken_pdf_ends_failed_with_a_reason(textract: Any, real_server: RunningServer) -> None:
    s3 = real_server.client("s3")
    bucket = f"broken-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="broken.pdf", Body=b"%PDF-1.7\n this is not a PDF body")
    job_id = textract.start_document_text_detection(
        DocumentLocation={"S3Object": {"Bucket": bucket, "Name": "broken.pdf"}}
    )["JobId"]
    deadline = time.monotonic() + 60
    status = textract.get_document_text_detection(JobId=job_id)
    while status["JobStatus"] == "IN_PROGRESS" and time.monotonic() < deadline:
        time.sleep(0.2)
        status = textract.get_document_text_detection(JobId=job_id)
    assert status["JobStatus"] == "FAILED" and "PDF" in status["StatusMessage"]
    assert "Blocks" not in status or status["Blocks"] == []


def test_text_job_survives_a_restart(tmp_path: Any) -> None:
    running = RunningServer(tmp_path / "data").start()
    try:
        s3, textract = running.client("s3"), running.client("textract")
        s3.create_bucket(Bucket="docs")
        s3.put_object(Bucket="docs", Key="invoice.pdf", Body=invoice_text_pdf(with_terms_page=True))
        job_id = textract.start_document_text_detection(
            DocumentLocation={"S3Object": {"Bucket": "docs", "Name": "invoice.pdf"}},
            OutputConfig={"S3Bucket": "docs", "S3Prefix": "out"},
        )["JobId"]
        running.restart()
        textract = running.client("textract")
        deadline = time.monotonic() + 60
        status = textract.get_document_text_detection(JobId=job_id)
        while status["JobStatus"] == "IN_PROGRESS" and time.monotonic() < deadline:
            time.sleep(0.3)
            status = textract.get_document_text_detection(JobId=job_id)
        assert status["JobStatus"] == "SUCCEEDED" and status["DocumentMetadata"] == {"Pages": 2}, status
        lines = [(b["Page"], b["Text"]) for b in status["Blocks"] if b["BlockType"] == "LINE"]
        assert {text for page, text in lines if page == 1} >= set(INVOICE_LINES)
        assert [text for page, text in lines if page == 2] == TERMS_LINES
        assert [b["Page"] for b in status["Blocks"] if b["BlockType"] == "PAGE"] == [1, 2]
        written = running.client("s3").get_object(Bucket="docs", Key=f"out/{job_id}/1")["Body"].read()
        assert b'"JobStatus":"SUCCEEDED"' in written
    finally:
        running.stop()
