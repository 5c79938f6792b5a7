"""Comprehend's custom classifiers: TF-IDF and logistic regression trained on the user's labelled CSV.

MULTI_CLASS fits one multinomial logistic regression; MULTI_LABEL one binary regression per label
(one-vs-rest), a label applying at a probability of 0.5 or more. As AWS does, a tenth of the training
documents is held out (stratified by label where the classes allow) when no test set is given, and the
classifier's EvaluationMetrics are measured on it by the model that is then served.
"""

from __future__ import annotations

import csv
import io
import json
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

MIN_DOCUMENTS_PER_LABEL = 10  # AWS's minimum per label
HELD_OUT = 0.1
TOP_CLASSES = 3  # a multi-class prediction lists the three likeliest classes, as AWS's output does
LABEL_THRESHOLD = 0.5


class TrainingError(Exception):
    """The training data cannot make a classifier; the message becomes the classifier's Message."""


@dataclass(frozen=True)
class Example:
    labels: tuple[str, ...]
    text: str


def read_csv(data: bytes, name: str, *, multi_label: bool, delimiter: str) -> list[Example]:
    """COMPREHEND_CSV: one `label,text` row per document, no header; labels split by `delimiter`."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise TrainingError(f"{name} is not UTF-8 text.") from None
    examples = []
    for line, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or not any(cell.strip() for cell in row):
            continue
        if len(row) < 2:
            raise TrainingError(f"{name} line {line} has no text after its label.")
        label, document = row[0].strip(), ",".join(row[1:]).strip()
        labels = [part.strip() for part in label.split(delimiter)] if multi_label else [label]
        if not all(labels) or not document:
            raise TrainingError(f"{name} line {line} has an empty label or an empty document.")
        examples.append(Example(tuple(dict.fromkeys(labels)), document))
    return examples


@dataclass
class Trained:
    model: Any  # the fitted sklearn pipeline
    labels: list[str]
    multi_label: bool
    metrics: dict[str, float]
    trained: int
    tested: int
    confusion: dict[str, Any]


def train(examples: list[Example], test: list[Example] | None, *, multi_label: bool, seed_of: str) -> Trained:
    """Fit the classifier on `examples` and measure it on `test` (or on a held-out tenth of them)."""
    from sklearn.model_selection import train_test_split  # type: ignore[import-untyped]

    counts: dict[str, int] = {}
    for example in examples:
        for label in example.labels:
            counts[label] = counts.get(label, 0) + 1
    if len(counts) < 2:
        raise TrainingError(f"The training data names {len(counts)} label; a classifier needs at least 2.")
    few = sorted(label for label, count in counts.items() if count < MIN_DOCUMENTS_PER_LABEL)
    if few:
        raise TrainingError(
            f"Each label needs at least {MIN_DOCUMENTS_PER_LABEL} training documents; "
            f"too few for: {', '.join(few[:10])}."
        )
    labels = sorted(counts)
    seed = zlib.crc32(seed_of.encode()) % (2**31)
    if test is None:
        stratify = None if multi_label else [e.labels[0] for e in examples]
        size = max(round(len(examples) * HELD_OUT), len(labels) if stratify else 1)
        fit_on, test = train_test_split(examples, test_size=size, random_state=seed, stratify=stratify)
    else:
        fit_on = examples
    if not test:
        raise TrainingError("The test data holds no documents.")
    model = _pipeline(multi_label, seed)
    texts = [e.text for e in fit_on]
    if multi_label:
        from sklearn.preprocessing import MultiLabelBinarizer  # type: ignore[import-untyped]

        binarizer = MultiLabelBinarizer(classes=labels)
        model.fit(texts, binarizer.fit_transform([e.labels for e in fit_on]))
    else:
        model.fit(texts, [e.labels[0] for e in fit_on])
    trained = Trained(model, labels, multi_label, {}, len(fit_on), len(test), {})
    trained.metrics, trained.confusion = _evaluate(trained, test)
    return trained


def _pipeline(multi_label: bool, seed: int) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer  # type: ignore[import-untyped]
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
    from sklearn.multiclass import OneVsRestClassifier  # type: ignore[import-untyped]
    from sklearn.pipeline import make_pipeline  # type: ignore[import-untyped]

    regression = LogisticRegression(max_iter=2000, C=10.0, random_state=seed)
    classifier = OneVsRestClassifier(regression) if multi_label else regression
    vectorizer = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=1)
    return make_pipeline(vectorizer, classifier)


def probabilities(trained: Trained, texts: list[str]) -> np.ndarray[Any, Any]:
    """One row per text, one column per label in `trained.labels` order."""
    scores = np.asarray(trained.model.predict_proba(texts), dtype=float)
    if trained.multi_label:
        return scores
    order = [list(trained.model.classes_).index(label) for label in trained.labels]
    return scores[:, order]


def predict(trained: Trained, texts: list[str]) -> list[list[tuple[str, float]]]:
    """Per text, the likeliest classes (multi-class, three) or the labels that apply (multi-label)."""
    answers = []
    for row in probabilities(trained, texts):
        ranked = sorted(zip(trained.labels, row.tolist(), strict=True), key=lambda pair: -pair[1])
        if trained.multi_label:
            answers.append([(label, score) for label, score in ranked if score >= LABEL_THRESHOLD])
        else:
            answers.append(ranked[:TOP_CLASSES])
    return answers


def _evaluate(trained: Trained, test: list[Example]) -> tuple[dict[str, float], dict[str, Any]]:
    """AWS's EvaluationMetrics on the test documents, and the confusion matrix it writes beside them."""
    from sklearn.metrics import (  # type: ignore[import-untyped]
        accuracy_score,
        confusion_matrix,
        hamming_loss,
        precision_recall_fscore_support,
    )
    from sklearn.preprocessing import MultiLabelBinarizer

    rows = probabilities(trained, [e.text for e in test])
    binarizer = MultiLabelBinarizer(classes=trained.labels)
    truth = binarizer.fit_transform([[label for label in e.labels if label in trained.labels] for e in test])
    if trained.multi_label:
        guess = (rows >= LABEL_THRESHOLD).astype(int)
    else:
        guess = np.zeros_like(truth)
        guess[np.arange(len(rows)), rows.argmax(axis=1)] = 1
    metrics = {"Accuracy": float(accuracy_score(truth, guess))}
    for prefix, average in (("", "macro"), ("Micro", "micro")):
        precision, recall, f1, _ = precision_recall_fscore_support(
            truth, guess, average=average, zero_division=0
        )
        metrics[f"{prefix}Precision"] = float(precision)
        metrics[f"{prefix}Recall"] = float(recall)
        metrics[f"{prefix}F1Score"] = float(f1)
    metrics["HammingLoss"] = float(hamming_loss(truth, guess))
    if trained.multi_label:
        confusion = {"type": "multi_label", "labels": trained.labels}
    else:
        matrix = confusion_matrix(
            truth.argmax(axis=1), guess.argmax(axis=1), labels=range(len(trained.labels))
        )
        confusion = {"type": "multi_class", "labels": trained.labels, "confusion_matrix": matrix.tolist()}
    return metrics, confusion


def save(trained: Trained, path: Path) -> None:
    """Write the model atomically: a classifier is TRAINED only once its file is whole on disk."""
    import joblib  # type: ignore[import-untyped]

    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    with temporary.open("wb") as handle:
        joblib.dump(trained, handle)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)


def load(path: Path) -> Trained:
    """A model this server wrote itself (joblib runs what a file says: never load a user's file)."""
    import joblib

    with path.open("rb") as handle:
        trained: Trained = joblib.load(handle)
    return trained


def confusion_json(trained: Trained) -> str:
    return json.dumps(trained.confusion)
