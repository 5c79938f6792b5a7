"""OCR with RapidOCR (PP-OCRv4 detection and recognition, ONNX models inside the rapidocr wheel).

RapidOCR reads text lines; with `return_word_box` it also gives each character's box and score, from
which words are rebuilt (characters between spaces), so Textract's WORD blocks and Rekognition's WORD
detections have their own geometry. Its recognizer often drops the space between words of tight or italic
type ("SystemAdministration"): CTC's blank wins the frame, though the space class is clearly the runner-up
there. Such a frame is read as the space the recognizer itself half-saw (`SPACE_FLOOR`).

runtime = "rapidocr" (kind ocr); catalog keys:
    model_package   the wheel holding the three ONNX files ("rapidocr-onnxruntime")
    det_file, rec_file, cls_file   the detector, recognizer and angle classifier inside it (or det_path...)
    sha256          digest of the recognizer, the weights that decide the text; det_sha256, cls_sha256 pin
                    the other two
    threads         onnxruntime threads per model, default min(4, cores)
"""

from __future__ import annotations

import itertools
import os
import threading
import unicodedata
from collections.abc import Mapping
from typing import Any

import numpy as np

from outcrop.backends.packaged import ModelFiles, import_optional, verify_sha256
from outcrop.backends.vision import Line, PageText, Point, Word, rows_of

MODEL_VERSION = "rapidocr-1.4.4/PP-OCRv4"
INSTALL = "pip install --no-deps -r requirements/nodeps-vision.txt"
PACKAGE = "rapidocr-onnxruntime"
_DIGITS = frozenset("0123456789")
_NUMERIC = _DIGITS | frozenset(".,-")
SPACE_FLOOR = 0.1  # a blank frame between two letters whose space probability is at least this is a space
GAP_OVER_USUAL = 2.5  # a word gap is at least this many times the median blank run of its line
FILES = {
    "det": "models/ch_PP-OCRv4_det_infer.onnx",
    "rec": "models/ch_PP-OCRv4_rec_infer.onnx",
    "cls": "models/ch_ppocr_mobile_v2.0_cls_infer.onnx",
}


class RapidOcrReader:
    """One RapidOCR engine; calls are serialized (the engine keeps per-call state)."""

    model_version = MODEL_VERSION

    def __init__(self, model_id: str, engine: Any) -> None:
        self.model_id = model_id
        self._engine = engine
        self._lock = threading.Lock()

    def read(self, pixels: np.ndarray) -> PageText:
        """Lines and words of an RGB image, in reading order (top to bottom, then left to right)."""
        height, width = pixels.shape[:2]
        bgr = np.ascontiguousarray(pixels[:, :, ::-1])
        with self._lock:
            decoder = _SpaceRecovery.around(self._engine)
            decoder.active = True
            try:
                result, _ = self._engine(bgr, return_word_box=True)
            finally:
                decoder.active = False
        gray = pixels.mean(axis=2) if pixels.ndim == 3 else pixels.astype(np.float64)
        lines = [_line(item, width, height, _word_gaps(gray, item[0])) for item in result or []]
        lines = [line for line in lines if line.text.strip()]
        return PageText(_reading_order(lines), "ocr")


class _SpaceRecovery:
    """Wraps the recognizer's CTC decoder: where no frame between two characters decodes to a space but
    one of them gives the space class at least SPACE_FLOOR, that frame decodes to a space.

    Active only during `RapidOcrReader.read`, so the engine called directly still gives its own reading."""

    def __init__(self, decode: Any) -> None:
        self.decode = decode
        self.active = False
        self.space = len(decode.character) - 1  # RapidOCR appends " " as the last class
        if decode.character[self.space] != " ":
            raise ValueError("the recognizer's last class is not a space")

    @classmethod
    def around(cls, engine: Any) -> _SpaceRecovery:
        current = engine.text_rec.postprocess_op
        if not isinstance(current, cls):
            current = cls(current)
            engine.text_rec.postprocess_op = current
        return current

    def __call__(self, preds: np.ndarray, *args: Any, **kwargs: Any) -> Any:
        if self.active:
            preds = np.array(preds, copy=True)
            for frames in preds:
                self._recover(frames)
        return self.decode(preds, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.decode, name)

    def _recover(self, frames: np.ndarray) -> None:
        best = frames.argmax(axis=1)
        letters = [t for t, k in enumerate(best) if k not in (0, self.space)]
        for before, after in itertools.pairwise(letters):
            between = range(before + 1, after)
            if not between or any(best[t] == self.space for t in between):
                continue
            left, right = self.decode.character[best[before]], self.decode.character[best[after]]
            if (left in _DIGITS and right in _NUMERIC) or (left in _NUMERIC and right in _DIGITS):
                continue  # inside a number ("4471-B"), as _joins keeps pixel gaps
            frame = max(between, key=lambda t: float(frames[t, self.space]))
            if frames[frame, self.space] >= SPACE_FLOOR and best[frame] == 0:
                frames[frame, self.space] = frames[frame].max() + 1e-3


def load(name: str, config: Mapping[str, Any], files: ModelFiles) -> RapidOcrReader:
    """The registry's loader: the wheel's three ONNX models, digests checked, in one RapidOCR engine."""
    module = import_optional("rapidocr_onnxruntime", INSTALL)
    package = str(config.get("model_package", PACKAGE))
    paths = {part: files.packaged(config, part, (package, default)) for part, default in FILES.items()}
    verify_sha256(paths["rec"], config.get("sha256"))
    verify_sha256(paths["det"], config.get("det_sha256"))
    verify_sha256(paths["cls"], config.get("cls_sha256"))
    threads = int(config.get("threads") or min(4, os.cpu_count() or 1))
    engine = module.RapidOCR(
        det_model_path=str(paths["det"]),
        rec_model_path=str(paths["rec"]),
        cls_model_path=str(paths["cls"]),
        intra_op_num_threads=threads,
        inter_op_num_threads=1,
    )
    return RapidOcrReader(name, engine)


def _norm(points: Any, width: int, height: int) -> list[Point]:
    return [(float(x) / width, float(y) / height) for x, y in points]


def _word_gaps(gray: np.ndarray, polygon: Any) -> list[tuple[float, float]]:
    """Blank column runs inside a line's box at least a quarter of its height wide: the spaces between words.

    The recognizer sometimes drops a space ("InvoiceNumber:"); the pixels still show it.
    """
    xs = [p[0] for p in polygon]
    ys = [p[1] for p in polygon]
    left, right = max(int(min(xs)), 0), min(int(max(xs)) + 1, gray.shape[1])
    top, bottom = max(int(min(ys)), 0), min(int(max(ys)) + 1, gray.shape[0])
    crop = gray[top:bottom, left:right]
    if crop.size == 0:
        return []
    dark = crop < (crop.max() + crop.min()) / 2  # ink is darker than the midpoint of the line's range
    if dark.mean() > 0.5:
        dark = ~dark  # light text on a dark background
    ink = dark.any(axis=0)
    runs: list[tuple[int, int]] = []
    start: int | None = None
    for x, has_ink in enumerate(ink):
        if not has_ink and start is None:
            start = x
        elif has_ink and start is not None:
            if start > 0:
                runs.append((start, x))
            start = None
    # Narrow glyphs ("1", "I") leave blank columns as wide as a thin space beside them; a space between
    # words is also clearly wider than the line's usual gap between letters.
    usual = float(np.median([end - begin for begin, end in runs])) if runs else 0.0
    minimum = max(3, 0.25 * (bottom - top), GAP_OVER_USUAL * usual)
    return [(float(left + begin), float(left + end)) for begin, end in runs if end - begin >= minimum]


def _line(item: list[Any], width: int, height: int, gaps: list[tuple[float, float]]) -> Line:
    polygon, text, score = item[0], unicodedata.normalize("NFKC", str(item[1])), float(item[2])
    char_boxes = item[3] if len(item) > 3 else []
    chars = [unicodedata.normalize("NFKC", c) for c in item[4]] if len(item) > 4 else []
    char_scores = item[5] if len(item) > 5 else []
    words: list[Word] = []
    current: list[tuple[Any, float, str]] = []

    def end_word() -> None:
        if current:
            xs = [x for box, _, _ in current for x, _ in box]
            ys = [y for box, _, _ in current for _, y in box]
            corners = [(min(xs), min(ys)), (max(xs), min(ys)), (max(xs), max(ys)), (min(xs), max(ys))]
            confidence = float(np.mean([s for _, s, _ in current]))
            words.append(Word("".join(c for _, _, c in current), _norm(corners, width, height), confidence))
            current.clear()

    if len(chars) == len(char_boxes) == len(char_scores) and chars:
        segment = None
        for box, char, char_score in zip(char_boxes, chars, char_scores, strict=True):
            center = (min(x for x, _ in box) + max(x for x, _ in box)) / 2
            here = sum(1 for _, gap_end in gaps if gap_end <= center)
            if char.isspace():
                end_word()
            else:
                if segment is not None and here != segment and not _joins(current, char):
                    end_word()
                segment = here
                current.append((box, float(char_score), char))
        end_word()
    if "".join(w.text for w in words) != "".join(text.split()):
        words = _words_by_width(text, _norm(polygon, width, height), score)
    return Line(" ".join(w.text for w in words), _norm(polygon, width, height), score, words)


def _joins(current: list[tuple[Any, float, str]], char: str) -> bool:
    """Whether a pixel gap between the word so far and `char` is inside a number ("4471-B", "11 x"): a
    narrow "1", wide in a monospace cell, leaves a blank as wide as a space on either side."""
    if not current:
        return False
    before = current[-1][2]
    return (before in _DIGITS and char in _NUMERIC) or (before in _NUMERIC and char in _DIGITS)


def _words_by_width(text: str, polygon: list[Point], score: float) -> list[Word]:
    """When the recognizer gives no character boxes, share the line's width among its words by length."""
    tokens = text.split()
    total = max(len(text), 1)
    (x0, y0), (x1, _), _, (_, y3) = polygon[0], polygon[1], polygon[2], polygon[3]
    words, offset = [], 0
    for token in tokens:
        start = text.index(token, offset)
        offset = start + len(token)
        left = x0 + (x1 - x0) * start / total
        right = x0 + (x1 - x0) * offset / total
        words.append(Word(token, [(left, y0), (right, y0), (right, y3), (left, y3)], score))
    return words


def _reading_order(lines: list[Line]) -> list[Line]:
    """Rows of lines top to bottom, each row left to right."""
    return [line for row in rows_of(lines) for line in row]
