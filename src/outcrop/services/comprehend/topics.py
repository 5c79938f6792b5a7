"""Comprehend's topic detection: non-negative matrix factorization over the TF-IDF of the documents.

AWS fits an LDA model; NMF over TF-IDF finds comparable topics on the small collections a local server
sees and is deterministic for a given input. The output is what AWS writes: `topic-terms.csv` (each
topic's top terms with weights that sum to one over the topic's whole vocabulary) and `doc-topics.csv`
(each document's share of each topic it holds), in an `output.tar.gz`.
"""

from __future__ import annotations

import csv
import io
import tarfile
import time
from dataclasses import dataclass

import numpy as np

TERMS_PER_TOPIC = 10
MIN_PROPORTION = 0.01  # a document's topics under 1 % are numerical noise of the factorization
SEED = 0


class TopicsError(Exception):
    """The documents cannot be modelled; the message becomes the job's Message."""


@dataclass(frozen=True)
class Document:
    name: str  # the file name, or "file:line" (zero-based) for ONE_DOC_PER_LINE
    text: str


@dataclass(frozen=True)
class Topics:
    terms: list[list[tuple[str, float]]]  # per topic, its top terms and weights
    documents: list[tuple[str, list[tuple[int, float]]]]  # per document, (topic, proportion)


def detect_topics(documents: list[Document], number: int) -> Topics:
    """Fit `number` topics to the documents; TopicsError when the collection cannot hold them."""
    from sklearn.decomposition import NMF  # type: ignore[import-untyped]
    from sklearn.feature_extraction.text import TfidfVectorizer  # type: ignore[import-untyped]

    texts = [d.text for d in documents if d.text.strip()]
    if len(texts) < number:
        raise TopicsError(
            f"The input holds {len(texts)} non-empty documents, fewer than the {number} topics asked for."
        )
    vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=True, max_df=0.95, min_df=1)
    try:
        matrix = vectorizer.fit_transform(texts)
    except ValueError as exc:  # an empty vocabulary: nothing but stop words and punctuation
        raise TopicsError(f"The documents hold no words to model: {exc}") from None
    vocabulary = vectorizer.get_feature_names_out()
    if len(vocabulary) < number:
        raise TopicsError(
            f"The documents hold {len(vocabulary)} distinct words, too few for {number} topics."
        )
    model = NMF(n_components=number, init="nndsvda", random_state=SEED, max_iter=500)
    weights = model.fit_transform(matrix)
    terms: list[list[tuple[str, float]]] = []
    for component in model.components_:
        total = float(component.sum()) or 1.0
        top = np.argsort(component)[::-1][:TERMS_PER_TOPIC]
        terms.append([(str(vocabulary[i]), float(component[i]) / total) for i in top if component[i] > 0])
    shares: list[tuple[str, list[tuple[int, float]]]] = []
    names = [d.name for d in documents if d.text.strip()]
    for name, row in zip(names, weights, strict=True):
        total = float(row.sum())
        if total <= 0:
            continue  # no modelled word: the document belongs to no topic
        found = [(t, float(v) / total) for t, v in enumerate(row) if v / total >= MIN_PROPORTION]
        shares.append((name, sorted(found, key=lambda pair: -pair[1])))
    return Topics(terms, shares)


def archive(topics: Topics) -> bytes:
    """The job's output.tar.gz: topic-terms.csv and doc-topics.csv, topics numbered 000, 001..."""
    terms = io.StringIO()
    writer = csv.writer(terms, lineterminator="\n")
    writer.writerow(["topic", "term", "weight"])
    for number, top in enumerate(topics.terms):
        for term, weight in top:
            writer.writerow([f"{number:03d}", term, f"{weight:.6f}"])
    shares = io.StringIO()
    writer = csv.writer(shares, lineterminator="\n")
    writer.writerow(["docname", "topic", "proportion"])
    for name, found in topics.documents:
        for number, proportion in found:
            writer.writerow([name, f"{number:03d}", f"{proportion:.6f}"])
    return tar_gz({"topic-terms.csv": terms.getvalue(), "doc-topics.csv": shares.getvalue()})


def tar_gz(files: dict[str, str]) -> bytes:
    """A gzip-compressed tar of text files, as every Comprehend job writes its output."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = int(time.time())
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()
