"""Amazon Textract: text, tables and forms of images and PDFs, synchronous and as background jobs.

Words come from the PDF's own text layer when it has one, otherwise from the catalog's OCR model (RapidOCR,
shared with Rekognition); tables are found from ruled lines and forms from "Key: value" layout
(backends/vision/layout.py). Blocks, their geometry and relationships follow Textract's documented shape.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson

from outcrop.backends.base import BackendError
from outcrop.backends.registry import ModelRegistry, UnknownModel
from outcrop.backends.vision import (
    Box,
    CorruptImage,
    ImageTooLarge,
    PageText,
    Point,
    UnsupportedFormat,
    VisionError,
    Word,
)
from outcrop.backends.vision.images import document_pages, sniff
from outcrop.backends.vision.layout import (
    KeyValue,
    Selection,
    Table,
    find_key_values,
    find_selections,
    find_tables,
    place_selections,
    without_marks,
)
from outcrop.backends.vision.protocols import TextReader
from outcrop.config import Settings
from outcrop.jobs.textract_jobs import Job, TextractJobs, TokenMismatch
from outcrop.protocol.errors import ServiceError
from outcrop.services._inputs import InputErrors, bytes_or_s3_object
from outcrop.services.base import RequestContext, Service
from outcrop.services.paging import Pager
from outcrop.storage.objects import ObjectAttributes, ObjectStore, StoreError

Params = dict[str, Any]
Output = dict[str, Any]
Block = dict[str, Any]
SYNC_MAX_BYTES = 10 * 1024 * 1024
ASYNC_MAX_BYTES = 500 * 1024 * 1024
ASYNC_MAX_PAGES = 3000
MAX_RESULTS = 1000
SERVED_FEATURES = {"TABLES", "FORMS"}
OCR_MODEL = "rapidocr-pp-ocrv4"  # the catalog entry that reads pages without a text layer


class BadDocumentException(ServiceError, service="textract"): ...


class DocumentTooLargeException(ServiceError, service="textract"): ...


class IdempotentParameterMismatchException(ServiceError, service="textract"): ...


class InternalServerError(ServiceError, service="textract"):
    status = 500


class InvalidJobIdException(ServiceError, service="textract"): ...


class InvalidParameterException(ServiceError, service="textract"): ...


class InvalidS3ObjectException(ServiceError, service="textract"): ...


class UnsupportedDocumentException(ServiceError, service="textract"): ...


_INPUT_ERRORS = InputErrors(InvalidParameterException, DocumentTooLargeException, InvalidS3ObjectException)
_BLOCK_PAGES = Pager(
    InvalidParameterException,
    "NextToken is not one this server gave.",
    default=MAX_RESULTS,
    maximum=MAX_RESULTS,
)


@contextlib.contextmanager
def _document_errors() -> Iterator[None]:
    try:
        yield
    except UnsupportedFormat as exc:
        raise UnsupportedDocumentException(f"Request has unsupported document format: {exc}") from exc
    except CorruptImage as exc:
        raise BadDocumentException(f"Unable to read the document: {exc}") from exc
    except ImageTooLarge as exc:
        raise DocumentTooLargeException(str(exc)) from exc
    except (BackendError, UnknownModel) as exc:
        raise InternalServerError(str(exc)) from exc
    except VisionError as exc:
        raise InvalidParameterException(str(exc)) from exc


def _features(params: Params) -> list[str]:
    features = list(dict.fromkeys(params.get("FeatureTypes", [])))
    if not features:
        raise InvalidParameterException("FeatureTypes must name at least one of TABLES and FORMS.")
    unserved = [f for f in features if f not in SERVED_FEATURES]
    if unserved:
        raise InvalidParameterException(
            f"Outcrop serves FeatureTypes TABLES and FORMS; {', '.join(unserved)} need models that no "
            "installable package carries.",
        )
    if params.get("AdaptersConfig"):
        raise InvalidParameterException("Custom adapters are not served by Outcrop.")
    if params.get("HumanLoopConfig"):
        raise InvalidParameterException("Human review (Amazon A2I) is not served by Outcrop.")
    if params.get("QueriesConfig"):  # QUERIES itself is refused above
        raise InvalidParameterException(
            "QueriesConfig needs the QUERIES feature type, which Outcrop does not serve."
        )
    return features


class Textract(Service):
    service_name = "textract"

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
        self.jobs = TextractJobs(
            data_path("textract"), self._run_job, account=settings.account_id, region=settings.region
        )
        self.jobs.resume()

    def _reader(self) -> TextReader:
        """The OCR model, asked of the registry at each use: one per server, shared with Rekognition."""
        with _document_errors():
            reader: TextReader = self.models.get(OCR_MODEL, "ocr")
        return reader

    def close(self) -> None:
        self.jobs.close()

    # -- synchronous -----------------------------------------------------------------------------------------

    def detect_document_text(self, ctx: RequestContext, params: Params) -> Output:
        data = self._document_bytes(params["Document"], SYNC_MAX_BYTES, ctx.region)
        reader = self._reader()
        blocks, pages = self._analyze(reader, data, set(), max_pages=1)
        return {
            "DocumentMetadata": {"Pages": pages},
            "Blocks": blocks,
            "DetectDocumentTextModelVersion": reader.model_version,
        }

    def analyze_document(self, ctx: RequestContext, params: Params) -> Output:
        features = _features(params)
        data = self._document_bytes(params["Document"], SYNC_MAX_BYTES, ctx.region)
        reader = self._reader()
        blocks, pages = self._analyze(reader, data, set(features), max_pages=1)
        return {
            "DocumentMetadata": {"Pages": pages},
            "Blocks": blocks,
            "AnalyzeDocumentModelVersion": reader.model_version,
        }

    # -- asynchronous ----------------------------------------------------------------------------------------

    def start_document_text_detection(self, ctx: RequestContext, params: Params) -> Output:
        return {"JobId": self._start(ctx, "text", params, [])}

    def start_document_analysis(self, ctx: RequestContext, params: Params) -> Output:
        return {"JobId": self._start(ctx, "analysis", params, _features(params))}

    def get_document_text_detection(self, ctx: RequestContext, params: Params) -> Output:
        return self._job_page(ctx, "text", params, "DetectDocumentTextModelVersion")

    def get_document_analysis(self, ctx: RequestContext, params: Params) -> Output:
        return self._job_page(ctx, "analysis", params, "AnalyzeDocumentModelVersion")

    def _start(self, ctx: RequestContext, kind: str, params: Params, features: list[str]) -> str:
        location = params["DocumentLocation"].get("S3Object")
        if not location or not location.get("Bucket") or not location.get("Name"):
            raise InvalidParameterException("DocumentLocation.S3Object needs a Bucket and a Name.")
        if params.get("NotificationChannel"):
            raise InvalidParameterException(
                "Outcrop does not serve NotificationChannel: there is no SNS here; poll the Get operation."
            )
        output = params.get("OutputConfig")
        if params.get("KMSKeyId") and output is None:
            raise InvalidParameterException(
                "KMSKeyId encrypts the OutputConfig objects: it needs an OutputConfig."
            )
        if output is not None:
            try:
                self.objects.get_bucket(output["S3Bucket"])
            except StoreError as exc:
                raise InvalidS3ObjectException(
                    f"The output bucket {output['S3Bucket']} does not exist."
                ) from exc
        # Fail fast, as Textract does, on a missing object or one that is too large or not a document.
        data = self._document_bytes({"S3Object": location}, ASYNC_MAX_BYTES, ctx.region)
        with _document_errors():
            _check_format(data)
        request = {"DocumentLocation": location, "FeatureTypes": features, "OutputConfig": output}
        for member in ("JobTag", "KMSKeyId"):
            if params.get(member):
                request[member] = params[member]
        try:
            version = self._reader().model_version  # a job reports the model it was started with
            return self.jobs.start(
                kind,
                request,
                params.get("ClientRequestToken"),
                model_version=version,
                where=(ctx.account_id, ctx.region),
            )
        except TokenMismatch as exc:
            raise IdempotentParameterMismatchException(
                "The ClientRequestToken was already used with different parameters.",
            ) from exc

    def _run_job(self, job: Job) -> tuple[list[Block], int]:
        data = self._document_bytes(
            {"S3Object": job.request["DocumentLocation"]}, ASYNC_MAX_BYTES, job.region
        )
        features = set(job.request["FeatureTypes"])
        blocks, pages = self._analyze(self._reader(), data, features, max_pages=ASYNC_MAX_PAGES)
        output = job.request.get("OutputConfig")
        if output:
            # As Textract does: one JSON file per page of results (1000 blocks), named 1, 2, 3...
            prefix = (output.get("S3Prefix") or "").rstrip("/")
            base = f"{prefix}/{job.job_id}" if prefix else job.job_id
            key = job.request.get("KMSKeyId")  # as Textract does: the objects encrypted with SSE-KMS
            attributes = ObjectAttributes(
                encryption={"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key} if key else {}
            )
            chunks = [blocks[i : i + MAX_RESULTS] for i in range(0, len(blocks), MAX_RESULTS)] or [[]]
            for number, chunk in enumerate(chunks, start=1):
                body: Output = {
                    "DocumentMetadata": {"Pages": pages},
                    "JobStatus": "SUCCEEDED",
                    "Blocks": chunk,
                }
                if number < len(chunks):
                    body["NextToken"] = Pager.offset_token(number * MAX_RESULTS)
                self.objects.put_object(
                    output["S3Bucket"], f"{base}/{number}", orjson.dumps(body), attributes
                )
        return blocks, pages

    def _job_page(self, ctx: RequestContext, kind: str, params: Params, version_member: str) -> Output:
        job = self.jobs.get(params["JobId"], kind, where=(ctx.account_id, ctx.region))
        if job is None:
            raise InvalidJobIdException(f"Job {params['JobId']} does not exist.")
        version = job.model_version or self._reader().model_version  # jobs from before versions were kept
        out: Output = {"JobStatus": job.status, version_member: version}
        if job.status == "FAILED":
            out["StatusMessage"] = job.status_message or "The job failed."
        if job.status != "SUCCEEDED":
            return out
        blocks, token = _BLOCK_PAGES.page(self.jobs.blocks(job.job_id), params)
        out["DocumentMetadata"] = {"Pages": job.pages}
        out["Blocks"] = blocks
        if token:
            out["NextToken"] = token
        return out

    # -- documents -------------------------------------------------------------------------------------------

    def _document_bytes(self, document: Params, limit: int, region: str) -> bytes:
        """The document's bytes; an S3 document must be in a bucket of the request's region."""
        return bytes_or_s3_object(
            self.objects, document, name="Document", limit=limit, errors=_INPUT_ERRORS, region=region
        )

    def _analyze(
        self, reader: TextReader, data: bytes, features: set[str], *, max_pages: int
    ) -> tuple[list[Block], int]:
        with _document_errors():
            pages = document_pages(data, max_pages=max_pages)
            blocks: list[Block] = []
            for number, page in enumerate(pages, start=1):
                text = page.text_layer or reader.read(page.pixels)
                pairs: list[KeyValue] = []
                tables: list[Table] = []
                # A check box misread as a letter is dropped from the text, whatever was asked for.
                selections = find_selections(page.pixels, text.lines)
                text = PageText(without_marks(text.lines, selections), text.source)
                if features:
                    tables = find_tables(page.pixels, text.lines)
                    loose = place_selections(tables, selections)
                    if "FORMS" in features:
                        pairs = find_key_values(text.lines, tables, loose)
                blocks += _page_blocks(number, text, tables if "TABLES" in features else [], pairs)
        return blocks, len(pages)


def _check_format(data: bytes) -> None:
    if sniff(data) is None:
        raise UnsupportedFormat("Request has unsupported document format")


# -- blocks ----------------------------------------------------------------------------------------------


def _geometry(box: Box, polygon: list[Point] | None = None) -> Output:
    points = polygon or box.corners()
    return {
        "BoundingBox": {"Width": box.width, "Height": box.height, "Left": box.left, "Top": box.top},
        "Polygon": [{"X": x, "Y": y} for x, y in points],
    }


def _new_id() -> str:
    return str(uuid.uuid4())


def _page_blocks(number: int, text: PageText, tables: list[Table], pairs: list[KeyValue]) -> list[Block]:
    """PAGE first, then each LINE followed by its WORDs, then TABLEs with their CELLs, then KEY_VALUE_SETs."""
    page: Block = {
        "BlockType": "PAGE",
        "Geometry": _geometry(Box(0.0, 0.0, 1.0, 1.0)),
        "Id": _new_id(),
        "Page": number,
    }
    blocks = [page]
    children: list[str] = []
    word_ids: dict[int, str] = {}
    for line in text.lines:
        line_block: Block = {
            "BlockType": "LINE",
            "Confidence": line.confidence * 100,
            "Text": line.text,
            "Geometry": _geometry(line.box, line.polygon),
            "Id": _new_id(),
            "Page": number,
        }
        words = []
        for word in line.words:
            word_block = _word_block(word, number)
            word_ids[id(word)] = word_block["Id"]
            words.append(word_block)
        if words:
            line_block["Relationships"] = [{"Type": "CHILD", "Ids": [w["Id"] for w in words]}]
        children.append(line_block["Id"])
        blocks += [line_block, *words]
    for table in tables:
        table_blocks = _table_blocks(table, number, word_ids)
        children.append(table_blocks[0]["Id"])
        blocks += table_blocks
    for pair in pairs:
        pair_blocks = _pair_blocks(pair, number, word_ids)
        children += [pair_blocks[0]["Id"], pair_blocks[1]["Id"]]
        blocks += pair_blocks
    if children:
        page["Relationships"] = [{"Type": "CHILD", "Ids": children}]
    return blocks


def _word_block(word: Word, number: int) -> Block:
    return {
        "BlockType": "WORD",
        "Confidence": word.confidence * 100,
        "Text": word.text,
        "TextType": "PRINTED",
        "Geometry": _geometry(word.box, word.polygon),
        "Id": _new_id(),
        "Page": number,
    }


def _table_blocks(table: Table, number: int, word_ids: dict[int, str]) -> list[Block]:
    confidence = table.confidence * 100
    cell_blocks: list[Block] = []
    selection_blocks: list[Block] = []
    cell_ids: dict[int, str] = {}
    for cell in table.cells:
        block: Block = {
            "BlockType": "CELL",
            "Confidence": confidence,
            "RowIndex": cell.row,
            "ColumnIndex": cell.column,
            "RowSpan": 1,
            "ColumnSpan": 1,
            "Geometry": _geometry(cell.box),
            "Id": _new_id(),
            "Page": number,
        }
        ids = [word_ids[id(w)] for w in cell.words if id(w) in word_ids]
        marks = [_selection_block(selection, number) for selection in cell.selections]
        ids += [mark["Id"] for mark in marks]
        if ids:
            block["Relationships"] = [{"Type": "CHILD", "Ids": ids}]
        cell_ids[id(cell)] = block["Id"]
        cell_blocks.append(block)
        selection_blocks.extend(marks)
    merged_blocks = [
        {
            "BlockType": "MERGED_CELL",
            "Confidence": confidence,
            "RowIndex": merged.row,
            "ColumnIndex": merged.column,
            "RowSpan": merged.row_span,
            "ColumnSpan": merged.column_span,
            "Geometry": _geometry(merged.box),
            "Id": _new_id(),
            "Relationships": [{"Type": "CHILD", "Ids": [cell_ids[id(c)] for c in merged.cells]}],
            "Page": number,
        }
        for merged in table.merged
    ]
    relationships = [{"Type": "CHILD", "Ids": [b["Id"] for b in cell_blocks]}]
    if merged_blocks:
        relationships.append({"Type": "MERGED_CELL", "Ids": [b["Id"] for b in merged_blocks]})
    table_block: Block = {
        "BlockType": "TABLE",
        "Confidence": confidence,
        "Geometry": _geometry(table.box),
        "Id": _new_id(),
        "Relationships": relationships,
        "EntityTypes": [table.kind],
        "Page": number,
    }
    return [table_block, *cell_blocks, *merged_blocks, *selection_blocks]


def _selection_block(selection: Selection, number: int) -> Block:
    return {
        "BlockType": "SELECTION_ELEMENT",
        "Confidence": selection.confidence * 100,
        "SelectionStatus": "SELECTED" if selection.selected else "NOT_SELECTED",
        "Geometry": _geometry(selection.box),
        "Id": _new_id(),
        "Page": number,
    }


def _pair_blocks(pair: KeyValue, number: int, word_ids: dict[int, str]) -> list[Block]:
    """KEY, VALUE, and the VALUE's SELECTION_ELEMENT when the value is a check box."""
    confidence = pair.confidence * 100
    key_box = Box.union([w.box for w in pair.key])
    selection = None if pair.selection is None else _selection_block(pair.selection, number)
    value_box = (
        Box.union([w.box for w in pair.value])
        if pair.value
        else Box(key_box.right, key_box.top, 0.0, key_box.height)
    )
    value: Block = {
        "BlockType": "KEY_VALUE_SET",
        "Confidence": confidence,
        "Geometry": _geometry(value_box),
        "Id": _new_id(),
        "EntityTypes": ["VALUE"],
        "Page": number,
    }
    value_children = [word_ids[id(w)] for w in pair.value if id(w) in word_ids]
    if selection is not None:
        value["Geometry"] = selection["Geometry"]
        value_children.append(selection["Id"])
    if value_children:
        value["Relationships"] = [{"Type": "CHILD", "Ids": value_children}]
    key: Block = {
        "BlockType": "KEY_VALUE_SET",
        "Confidence": confidence,
        "Geometry": _geometry(key_box),
        "Id": _new_id(),
        "Relationships": [
            {"Type": "VALUE", "Ids": [value["Id"]]},
            {"Type": "CHILD", "Ids": [word_ids[id(w)] for w in pair.key if id(w) in word_ids]},
        ],
        "EntityTypes": ["KEY"],
        "Page": number,
    }
    return [key, value] if selection is None else [key, value, selection]
