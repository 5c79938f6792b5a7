"""Amazon Comprehend's real-time text analysis, answered by packaged models on this machine.

Sentiment: a logistic head over all-MiniLM sentence vectors and VADER's reading (English; Spanish and
Catalan are first put into English by apertium, as VADER's authors suggest for other languages).
Entities, key phrases (noun chunks) and syntax: spaCy's small English and French pipelines. Personal
data: presidio-analyzer (English). Dominant language: langid.py (97 languages). Toxicity:
alt-profanity-check's offensive-language classifier (English).
Offsets are Python string indices, i.e. Unicode code points, into the text as it was sent. Languages
that AWS serves but no packaged model covers are refused with UnsupportedLanguageException.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from outcrop.backends.base import BackendError, BackendUnavailable
from outcrop.backends.nlp.protocols import (
    Analysis,
    LanguageIdentifier,
    PiiDetector,
    PiiFinding,
    SentimentAnalyzer,
    TextAnalyzer,
    ToxicityClassifier,
    Translator,
)
from outcrop.backends.registry import ModelRegistry, UnknownModel
from outcrop.protocol.errors import InternalServerException, ServiceError, ServiceUnavailableException
from outcrop.services.base import RequestContext, Service
from outcrop.services.comprehend.endpoints import ComprehendEndpoints
from outcrop.storage.objects import ObjectStore

T = TypeVar("T")


class InvalidRequestException(ServiceError, service="comprehend"): ...


class TextSizeLimitExceededException(ServiceError, service="comprehend"): ...


class UnsupportedLanguageException(ServiceError, service="comprehend"): ...


class BatchSizeLimitExceededException(ServiceError, service="comprehend"): ...


class ResourceUnavailableException(ServiceError, service="comprehend"): ...


# AWS's quotas for the built-in models, in UTF-8 bytes per document.
LARGE_DOCUMENT_BYTES = 100_000  # entities, key phrases, dominant language, PII
SMALL_DOCUMENT_BYTES = 5_000  # sentiment, syntax, and every document of a batch
BATCH_MAX_DOCUMENTS = 25
BATCH_ITEM_TOO_LARGE = "TEXT_SIZE_LIMIT_EXCEEDED"
TOXIC_SEGMENT_BYTES = 1_000
TOXIC_MAX_SEGMENTS = 10

# The catalog entries of the built-in models (see catalog.toml), the analyzers one per language.
ANALYZERS = {"en": "spacy-en", "fr": "spacy-fr"}
PII_MODEL = "presidio-en"
SENTIMENT_MODEL = "vader-en"
LANGUAGE_ID_MODEL = "langid"
TOXICITY_MODEL = "profanity-check-en"
TRANSLATOR = "apertium"

ANALYSIS_LANGUAGES = tuple(ANALYZERS)
PII_LANGUAGES = ("en",)
SENTIMENT_LANGUAGES = ("en",)
SENTIMENT_VIA_ENGLISH = ("es", "ca")  # served when the translator puts them into English
TOXICITY_LANGUAGES = ("en",)

# spaCy labels (OntoNotes for English, WikiNER for French) -> Comprehend's EntityType.
ENTITY_TYPES = {
    "PERSON": "PERSON",
    "PER": "PERSON",
    "ORG": "ORGANIZATION",
    "GPE": "LOCATION",
    "LOC": "LOCATION",
    "FAC": "LOCATION",
    "PRODUCT": "COMMERCIAL_ITEM",
    "EVENT": "EVENT",
    "DATE": "DATE",
    "TIME": "DATE",
    "QUANTITY": "QUANTITY",
    "PERCENT": "QUANTITY",
    "MONEY": "QUANTITY",
    "CARDINAL": "QUANTITY",
    "ORDINAL": "QUANTITY",
    "WORK_OF_ART": "TITLE",
}

# Universal Dependencies tags -> Comprehend's PartOfSpeechTagType ("O" is AWS's other; X has no twin).
_AWS_POS_TAGS = "ADJ ADP ADV AUX CONJ CCONJ DET INTJ NOUN NUM PART PRON PROPN PUNCT SCONJ SYM VERB"
POS_TAGS = {tag: tag for tag in _AWS_POS_TAGS.split(" ")}
POS_TAGS["X"] = "O"

# presidio entity -> Comprehend PiiEntityType. LOCATION stands for ADDRESS: AWS counts a city or a
# country as part of an address. Presidio entities with no AWS twin (NRP, CRYPTO...) are not reported.
PII_TYPES = {
    "PERSON": "NAME",
    "EMAIL_ADDRESS": "EMAIL",
    "PHONE_NUMBER": "PHONE",
    "CREDIT_CARD": "CREDIT_DEBIT_NUMBER",
    "IBAN_CODE": "INTERNATIONAL_BANK_ACCOUNT_NUMBER",
    "US_SSN": "SSN",
    "US_PASSPORT": "PASSPORT_NUMBER",
    "US_DRIVER_LICENSE": "DRIVER_ID",
    "US_BANK_NUMBER": "BANK_ACCOUNT_NUMBER",
    "US_ITIN": "US_INDIVIDUAL_TAX_IDENTIFICATION_NUMBER",
    "UK_NHS": "UK_NATIONAL_HEALTH_SERVICE_NUMBER",
    "IP_ADDRESS": "IP_ADDRESS",
    "MAC_ADDRESS": "MAC_ADDRESS",
    "URL": "URL",
    "DATE_TIME": "DATE_TIME",
    "LOCATION": "ADDRESS",
    "AGE": "AGE",
    # Outcrop's own finders (backends/nlp/pii_patterns.py): values named by the words before them
    "CARD_NUMBER": "CREDIT_DEBIT_NUMBER",
    "CARD_CVV": "CREDIT_DEBIT_CVV",
    "CARD_EXPIRY": "CREDIT_DEBIT_EXPIRY",
    "BANK_ACCOUNT": "BANK_ACCOUNT_NUMBER",
    "BANK_ROUTING": "BANK_ROUTING",
    "PIN": "PIN",
    "PASSWORD": "PASSWORD",
    "USERNAME": "USERNAME",
    "AWS_ACCESS_KEY": "AWS_ACCESS_KEY",
    "AWS_SECRET_KEY": "AWS_SECRET_KEY",
    "SWIFT_CODE": "SWIFT_CODE",
    "STREET_ADDRESS": "ADDRESS",
}


class Comprehend(ComprehendEndpoints, Service):
    service_name = "comprehend"

    def __init__(
        self, *, models: ModelRegistry, objects: ObjectStore, data_path: Callable[..., Path]
    ) -> None:
        self.models = models
        self._start_jobs(objects, data_path("comprehend"))  # topic, classifier and classification jobs

    def close(self) -> None:
        self.job_store.close()

    def _sentiment_languages(self, asked: str | None) -> tuple[str, ...]:
        """English, plus those of Spanish and Catalan that the translator puts into English (the
        translator is asked only when another language than English is)."""
        if not asked or asked in SENTIMENT_LANGUAGES:
            return SENTIMENT_LANGUAGES
        pairs = self._run_backend(lambda: self._translator().pairs())
        return (
            *SENTIMENT_LANGUAGES,
            *sorted(code for code in SENTIMENT_VIA_ENGLISH if (code, "en") in pairs),
        )

    # -- checks shared by every operation ------------------------------------------------------------------

    @staticmethod
    def _check_size(text: str, limit: int) -> None:
        size = len(text.encode("utf-8"))
        if size > limit:
            raise TextSizeLimitExceededException(
                f"Input text size exceeds limit. Max length of request text allowed is {limit} bytes "
                f"while in this request the text size is {size} bytes"
            )

    @staticmethod
    def _check_language(language: str | None, supported: tuple[str, ...], operation: str) -> str:
        if not language:
            raise InvalidRequestException("LanguageCode is required when the request carries Text.")
        if language not in supported:
            raise UnsupportedLanguageException(
                f"{operation} on this server supports {', '.join(supported)}; no packaged model here "
                f"serves language '{language}'."
            )
        return language

    @staticmethod
    def _check_batch(texts: list[str]) -> None:
        if len(texts) > BATCH_MAX_DOCUMENTS:
            raise BatchSizeLimitExceededException(
                f"The number of documents in the request ({len(texts)}) exceeds the limit of "
                f"{BATCH_MAX_DOCUMENTS}. Try your request again with fewer documents."
            )

    @staticmethod
    def _run_backend(work: Callable[[], T]) -> T:
        """Run a model call (its model loaded on first use); failures become AWS errors."""
        try:
            return work()
        except UnknownModel as error:
            raise ServiceUnavailableException(
                f"The model is not available on this server: {error}"
            ) from error
        except BackendUnavailable as error:
            raise ServiceUnavailableException(
                f"The model is not available on this server: {error}"
            ) from error
        except BackendError as error:
            raise InternalServerException(f"The model failed: {error}") from error

    def _batch(
        self, texts: list[str], one: Callable[[str], dict[str, Any]], *, limit: int = SMALL_DOCUMENT_BYTES
    ) -> dict[str, Any]:
        """Run `one` on each document; a document over the size limit becomes an ErrorList entry."""
        self._check_batch(texts)
        results: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for index, text in enumerate(texts):
            size = len(text.encode("utf-8"))
            if size > limit:
                errors.append(
                    {
                        "Index": index,
                        "ErrorCode": BATCH_ITEM_TOO_LARGE,
                        "ErrorMessage": f"Document {index} is {size} bytes; the limit is {limit} bytes.",
                    }
                )
                continue
            results.append({"Index": index, **one(text)})
        return {"ResultList": results, "ErrorList": errors}

    # -- model calls ---------------------------------------------------------------------------------------

    # Each call asks the registry for its model, so one instance per server is shared and its uses counted.

    def _translator(self) -> Translator:
        translator: Translator = self.models.get(TRANSLATOR, "translation")
        return translator

    def _analysis(self, text: str, language: str) -> Analysis:
        def analyze() -> Analysis:
            analyzer: TextAnalyzer = self.models.get(ANALYZERS[language], "nlp")
            return analyzer.analyze(text)

        return self._run_backend(analyze)

    def _sentiment_of(self, text: str, language: str) -> dict[str, Any]:
        def run() -> tuple[str, dict[str, float]]:
            english = text if language == "en" else self._translator().translate(text, (language, "en"))
            analyzer: SentimentAnalyzer = self.models.get(SENTIMENT_MODEL, "sentiment")
            return analyzer.classify(english)

        label, scores = self._run_backend(run)
        return {"Sentiment": label, "SentimentScore": scores}

    def _entities_of(self, text: str, language: str) -> dict[str, Any]:
        entities = [
            {
                "Score": span.score,
                "Type": ENTITY_TYPES.get(span.label, "OTHER"),
                "Text": span.text,
                "BeginOffset": span.start,
                "EndOffset": span.end,
            }
            for span in self._analysis(text, language).entities
        ]
        return {"Entities": entities}

    def _key_phrases_of(self, text: str, language: str) -> dict[str, Any]:
        phrases = [
            {"Score": span.score, "Text": span.text, "BeginOffset": span.start, "EndOffset": span.end}
            for span in self._analysis(text, language).noun_chunks
        ]
        return {"KeyPhrases": phrases}

    def _syntax_of(self, text: str, language: str) -> dict[str, Any]:
        tokens = [
            {
                "TokenId": number,
                "Text": token.text,
                "BeginOffset": token.start,
                "EndOffset": token.end,
                "PartOfSpeech": {"Tag": POS_TAGS.get(token.pos, "O"), "Score": token.score},
            }
            for number, token in enumerate(self._analysis(text, language).tokens, start=1)
        ]
        return {"SyntaxTokens": tokens}

    def _languages_of(self, text: str) -> dict[str, Any]:
        def rank() -> list[tuple[str, float]]:
            identifier: LanguageIdentifier = self.models.get(LANGUAGE_ID_MODEL, "language-id")
            return identifier.rank(text)

        ranked = self._run_backend(rank)
        # AWS lists the likely languages only; anything under 1 % is noise from the naive Bayes tail.
        languages = [{"LanguageCode": code, "Score": score} for code, score in ranked if score >= 0.01]
        return {"Languages": languages or [{"LanguageCode": ranked[0][0], "Score": ranked[0][1]}]}

    def _pii_of(self, text: str, language: str) -> list[tuple[str, int, int, float]]:
        def detect() -> list[PiiFinding]:
            detector: PiiDetector = self.models.get(PII_MODEL, "pii")
            return detector.detect(text, language)

        findings = self._run_backend(detect)
        return [
            (PII_TYPES[f.entity_type], f.start, f.end, f.score)
            for f in findings
            if f.entity_type in PII_TYPES
        ]

    # -- single documents ----------------------------------------------------------------------------------

    def detect_sentiment(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        text = params["Text"]
        language = self._check_language(
            params.get("LanguageCode"),
            self._sentiment_languages(params.get("LanguageCode")),
            "DetectSentiment",
        )
        self._check_size(text, SMALL_DOCUMENT_BYTES)
        return self._sentiment_of(text, language)

    def detect_entities(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("EndpointArn"):
            raise ResourceUnavailableException(
                f"Custom entity recognizer endpoints are not served by Outcrop: {params['EndpointArn']}"
            )
        if params.get("Bytes") is not None or params.get("DocumentReaderConfig") is not None:
            raise InvalidRequestException(
                "Bytes and DocumentReaderConfig need a custom entity recognizer endpoint; "
                "the built-in model takes Text."
            )
        text = params.get("Text")
        if not text:
            raise InvalidRequestException("Text is required when no EndpointArn is given.")
        language = self._check_language(params.get("LanguageCode"), ANALYSIS_LANGUAGES, "DetectEntities")
        self._check_size(text, LARGE_DOCUMENT_BYTES)
        return self._entities_of(text, language)

    def detect_key_phrases(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        text = params["Text"]
        language = self._check_language(params.get("LanguageCode"), ANALYSIS_LANGUAGES, "DetectKeyPhrases")
        self._check_size(text, LARGE_DOCUMENT_BYTES)
        return self._key_phrases_of(text, language)

    def detect_syntax(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        text = params["Text"]
        language = self._check_language(params.get("LanguageCode"), ANALYSIS_LANGUAGES, "DetectSyntax")
        self._check_size(text, SMALL_DOCUMENT_BYTES)
        return self._syntax_of(text, language)

    def detect_dominant_language(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        text = params["Text"]
        self._check_size(text, LARGE_DOCUMENT_BYTES)
        return self._languages_of(text)

    def detect_pii_entities(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        text = params["Text"]
        language = self._check_language(params.get("LanguageCode"), PII_LANGUAGES, "DetectPiiEntities")
        self._check_size(text, LARGE_DOCUMENT_BYTES)
        entities = [
            {"Score": score, "Type": kind, "BeginOffset": start, "EndOffset": end}
            for kind, start, end, score in self._pii_of(text, language)
        ]
        return {"Entities": entities}

    def contains_pii_entities(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        text = params["Text"]
        language = self._check_language(params.get("LanguageCode"), PII_LANGUAGES, "ContainsPiiEntities")
        self._check_size(text, LARGE_DOCUMENT_BYTES)
        best: dict[str, float] = {}
        for kind, _start, _end, score in self._pii_of(text, language):
            best[kind] = max(score, best.get(kind, 0.0))
        return {"Labels": [{"Name": kind, "Score": score} for kind, score in best.items()]}

    def detect_toxic_content(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """One offensive-language probability per segment, reported as Toxicity and as PROFANITY.

        The packaged classifier does not tell insults, threats or hate speech apart, so no other label
        is reported rather than a guessed split.
        """
        self._check_language(params.get("LanguageCode"), TOXICITY_LANGUAGES, "DetectToxicContent")
        texts = [segment["Text"] for segment in params["TextSegments"]]
        if len(texts) > TOXIC_MAX_SEGMENTS:
            raise InvalidRequestException(
                f"A request may hold at most {TOXIC_MAX_SEGMENTS} text segments, not {len(texts)}."
            )
        for text in texts:
            self._check_size(text, TOXIC_SEGMENT_BYTES)

        def score() -> list[float]:
            classifier: ToxicityClassifier = self.models.get(TOXICITY_MODEL, "toxicity")
            return classifier.scores(texts)

        scores = self._run_backend(score)
        return {
            "ResultList": [
                {"Labels": [{"Name": "PROFANITY", "Score": score}], "Toxicity": score} for score in scores
            ]
        }

    # -- batches -------------------------------------------------------------------------------------------

    def batch_detect_sentiment(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        language = self._check_language(
            params.get("LanguageCode"),
            self._sentiment_languages(params.get("LanguageCode")),
            "BatchDetectSentiment",
        )
        return self._batch(params["TextList"], lambda text: self._sentiment_of(text, language))

    def batch_detect_entities(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        language = self._check_language(params.get("LanguageCode"), ANALYSIS_LANGUAGES, "BatchDetectEntities")
        return self._batch(params["TextList"], lambda text: self._entities_of(text, language))

    def batch_detect_key_phrases(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        language = self._check_language(
            params.get("LanguageCode"), ANALYSIS_LANGUAGES, "BatchDetectKeyPhrases"
        )
        return self._batch(params["TextList"], lambda text: self._key_phrases_of(text, language))

    def batch_detect_syntax(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        language = self._check_language(params.get("LanguageCode"), ANALYSIS_LANGUAGES, "BatchDetectSyntax")
        return self._batch(params["TextList"], lambda text: self._syntax_of(text, language))

    def batch_detect_dominant_language(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._batch(params["TextList"], self._languages_of)
