"""Amazon Translate: TranslateText, TranslateDocument (text/plain, text/html), ListLanguages, terminologies.

Apertium's Debian pairs do the translating, and the local chat model covers the few pairs it was measured
to do well (see `backends/translation_engines.py`). `SourceLanguageCode=auto` is identified by langid.py.
Terminologies are kept as JSON files under the data dir, each in the account and region that imported
it, and applied around whichever engine runs.
Every model comes from the registry at each request; the chat model is called through the inference path.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from outcrop.backends.base import BackendBusy, BackendError, BackendUnavailable, ContextLengthExceeded
from outcrop.backends.nlp.protocols import LanguageIdentifier, Translator
from outcrop.backends.registry import ModelRegistry, UnknownModel
from outcrop.backends.translation_engines import (
    LANGUAGE_NAMES,
    Format,
    TranslationEngines,
    html_text,
    map_html_text,
)
from outcrop.backends.translation_terms import (
    GlossaryError,
    StoredTerminology,
    TerminologyStore,
    matching_terms,
    parse_glossary,
    protect_terms,
    render_glossary,
    restore_terms,
    terms_present,
)
from outcrop.config import Settings
from outcrop.inference import Inference
from outcrop.protocol.errors import (
    InternalServerException,
    ResourceNotFoundException,
    ServiceError,
    ServiceUnavailableException,
    ThrottlingException,
)
from outcrop.services.base import RequestContext, Service
from outcrop.services.paging import Pager
from outcrop.services.translate.settings import apply_settings, checked_settings

LLM_MODEL = "qwen2.5-coder-1.5b"  # the default chat model of the bundled catalog
TRANSLATOR = "apertium"  # the catalog entries of the translation and language-id models
LANGUAGE_ID_MODEL = "langid"
TEXT_LIMIT_BYTES = 10_000
AUTO_MIN_CONFIDENCE = 0.5
DISPLAY_NAMES: dict[str, dict[str, str]] = {
    "en": LANGUAGE_NAMES,
    "es": {"en": "Inglés", "es": "Español", "ca": "Catalán", "fr": "Francés", "pt": "Portugués",
           "it": "Italiano", "de": "Alemán", "nl": "Neerlandés"},
    "fr": {"en": "Anglais", "es": "Espagnol", "ca": "Catalan", "fr": "Français", "pt": "Portugais",
           "it": "Italien", "de": "Allemand", "nl": "Néerlandais"},
    "de": {"en": "Englisch", "es": "Spanisch", "ca": "Katalanisch", "fr": "Französisch",
           "pt": "Portugiesisch", "it": "Italienisch", "de": "Deutsch", "nl": "Niederländisch"},
    "it": {"en": "Inglese", "es": "Spagnolo", "ca": "Catalano", "fr": "Francese", "pt": "Portoghese",
           "it": "Italiano", "de": "Tedesco", "nl": "Olandese"},
    "pt": {"en": "Inglês", "es": "Espanhol", "ca": "Catalão", "fr": "Francês", "pt": "Português",
           "it": "Italiano", "de": "Alemão", "nl": "Holandês"},
}  # fmt: skip
CONTENT_FORMATS: dict[str, Format] = {"text/plain": "txt", "text/html": "html"}


class InvalidRequestException(ServiceError, service="translate"): ...


class InvalidParameterValueException(ServiceError, service="translate"): ...


class TextSizeLimitExceededException(ServiceError, service="translate"): ...


class UnsupportedLanguagePairException(ServiceError, service="translate"): ...


class DetectedLanguageLowConfidenceException(ServiceError, service="translate"): ...


class UnsupportedDisplayLanguageCodeException(ServiceError, service="translate"): ...


_TOKEN_ERROR = "NextToken is not one this server issued."
_LANGUAGE_PAGES = Pager(InvalidParameterValueException, _TOKEN_ERROR, default=500)
_TERMINOLOGY_PAGES = Pager(InvalidParameterValueException, _TOKEN_ERROR, default=100)


def _raise_engine_error(error: BackendError | ContextLengthExceeded) -> NoReturn:
    if isinstance(error, BackendBusy):
        raise ThrottlingException(f"The translation model is busy: {error}") from error
    if isinstance(error, ContextLengthExceeded):
        raise TextSizeLimitExceededException(
            f"A sentence is too long for the translation model: {error}"
        ) from error
    if isinstance(error, BackendUnavailable):
        raise ServiceUnavailableException(f"The translation engine is not available: {error}") from error
    raise InternalServerException(f"The translation engine failed: {error}") from error


@contextlib.contextmanager
def _engine_errors() -> Iterator[None]:
    """Engine failures as Translate answers them. The chat model's come through the inference path already
    mapped, in Bedrock's terms; their backend cause is what decides Translate's error."""
    try:
        yield
    except UnknownModel as error:
        raise ServiceUnavailableException(f"The translation engine is not available: {error}") from error
    except ServiceError as error:
        cause = error.__cause__
        if isinstance(cause, BackendError | ContextLengthExceeded):
            _raise_engine_error(cause)
        raise
    except (BackendError, ContextLengthExceeded) as error:
        _raise_engine_error(error)


class Translate(Service):
    service_name = "translate"

    def __init__(
        self,
        *,
        models: ModelRegistry,
        inference: Inference,
        settings: Settings,
        data_path: Callable[..., Path],
    ) -> None:
        self.models = models
        self.inference = inference
        self._offers_llm = not settings.fake_models and LLM_MODEL in models.names("chat")
        self._data_path = data_path
        self._place = (settings.account_id, settings.region)  # where terminologies from before regions go
        self._terms: TerminologyStore | None = None

    @property
    def terminologies(self) -> TerminologyStore:
        if self._terms is None:
            account, region = self._place
            root = self._data_path("translate", "terminologies")
            self._terms = TerminologyStore(root, account=account, region=region)
        return self._terms

    def _engines(self, ctx: RequestContext) -> TranslationEngines:
        """This request's engines: the registry's translator, and the chat model called through the
        inference path (admitted, metered, stopped when the caller leaves) where it is offered."""
        with _engine_errors():
            translator: Translator = self.models.get(TRANSLATOR, "translation")
        chat = None
        if self._offers_llm:
            chat = self.inference.chat(ctx.caller, self.inference.local_chat(LLM_MODEL))
        return TranslationEngines(translator, chat)

    # -- language pairs ------------------------------------------------------------------------------------

    def _source_language(self, code: str, text: str) -> str:
        if code != "auto":
            return code
        try:
            identifier: LanguageIdentifier = self.models.get(LANGUAGE_ID_MODEL, "language-id")
            detected, confidence = identifier.rank(text, top=1)[0]
        except (BackendError, UnknownModel) as error:
            raise ServiceUnavailableException(f"Language identification is not available: {error}") from error
        if confidence < AUTO_MIN_CONFIDENCE:
            raise DetectedLanguageLowConfidenceException(
                f"The source language could not be identified with confidence (best guess '{detected}', "
                f"{confidence:.2f}). Give SourceLanguageCode explicitly.",
                extra={"DetectedLanguageCode": detected},
            )
        return detected

    @staticmethod
    def _check_pair(engines: TranslationEngines, source: str, target: str) -> None:
        if source != target and (source, target) not in engines.pairs():
            offered = ", ".join(f"{s}-{t}" for s, t in sorted(engines.pairs()))
            raise UnsupportedLanguagePairException(
                f"Unsupported language pair: {source} to {target}. This server translates {offered}.",
                extra={"SourceLanguageCode": source, "TargetLanguageCode": target},
            )

    def _terminologies(self, ctx: RequestContext, names: list[str]) -> list[StoredTerminology]:
        found = []
        for name in names:
            stored = self.terminologies.get(name, where=(ctx.account_id, ctx.region))
            if stored is None:
                raise ResourceNotFoundException(f"The terminology {name!r} does not exist.")
            found.append(stored)
        return found

    def _translate(
        self,
        ctx: RequestContext,
        engines: TranslationEngines,
        text: str,
        pair: tuple[str, str],
        fmt: Format,
        names: list[str],
    ) -> tuple[str, list[dict[str, Any]]]:
        """The translation and the AppliedTerminologies entries (only terminologies that matched)."""
        source, target = pair
        terminologies = self._terminologies(ctx, names)
        if source == target:
            return text, []
        visible = html_text(text) if fmt == "html" else text
        found: list[tuple[str, list[tuple[str, str]]]] = []
        chosen: dict[str, str] = {}  # source term -> target term; the first terminology naming it wins
        for stored in terminologies:
            glossary = stored.glossary
            one_way_mismatch = stored.directionality == "UNI" and glossary.languages[0] != source
            if one_way_mismatch or target not in glossary.languages or source not in glossary.languages:
                continue
            terms = [(s, t) for s, t in matching_terms(glossary, visible, source, target) if s not in chosen]
            if terms:
                chosen.update(terms)
                found.append((stored.name, terms))
        replacements: dict[str, str] = {}
        placeholders = engines.keeps_placeholders(source, target)

        def protect(piece: str) -> str:
            protected, new = protect_terms(piece, list(chosen.items()))
            replacements.update(new)
            return protected

        if chosen and placeholders:
            text = map_html_text(text, protect) if fmt == "html" else protect(text)
        prompt_terms = [] if placeholders else list(chosen.items())
        with _engine_errors():
            translated = engines.translate(text, source, target, fmt, ctx.cancel, prompt_terms)
        if placeholders:
            translated, came_back = restore_terms(translated, replacements)
        else:
            came_back = terms_present(
                html_text(translated) if fmt == "html" else translated, list(chosen.values())
            )
        applied = [
            {"Name": name, "Terms": [{"SourceText": s, "TargetText": t} for s, t in terms if t in came_back]}
            for name, terms in found
            if any(t in came_back for _s, t in terms)
        ]
        return translated, applied

    # -- translation ---------------------------------------------------------------------------------------

    def translate_text(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        text: str = params["Text"]
        size = len(text.encode("utf-8"))
        if size > TEXT_LIMIT_BYTES:
            raise TextSizeLimitExceededException(
                f"Input text size exceeds limit. Max length of request text allowed is {TEXT_LIMIT_BYTES} "
                f"bytes while in this request the text size is {size} bytes"
            )
        source = self._source_language(params["SourceLanguageCode"], text)
        target = params["TargetLanguageCode"]
        wanted = checked_settings(params.get("Settings"), target, InvalidRequestException)
        engines = self._engines(ctx)
        self._check_pair(engines, source, target)
        translated, applied = self._translate(
            ctx, engines, text, (source, target), "txt", params.get("TerminologyNames") or []
        )
        output: dict[str, Any] = {
            "TranslatedText": apply_settings(translated, wanted, "txt"),
            "SourceLanguageCode": source,
            "TargetLanguageCode": target,
        }
        if applied:
            output["AppliedTerminologies"] = applied
        if wanted:
            output["AppliedSettings"] = wanted
        return output

    def translate_document(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        document = params["Document"]
        content_type = document["ContentType"].split(";")[0].strip().lower()
        fmt = CONTENT_FORMATS.get(content_type)
        if fmt is None:
            raise InvalidRequestException(
                f"ContentType {document['ContentType']!r} is not supported here: use text/plain or text/html "
                "(Word documents are not translated by this server)."
            )
        try:
            content = bytes(document["Content"]).decode("utf-8")
        except UnicodeDecodeError as error:
            raise InvalidRequestException(f"The document is not UTF-8 text: {error}") from error
        if not content.strip():
            raise InvalidRequestException("The document is empty.")
        visible = html_text(content) if fmt == "html" else content
        source = self._source_language(params["SourceLanguageCode"], visible)
        target = params["TargetLanguageCode"]
        wanted = checked_settings(params.get("Settings"), target, InvalidRequestException)
        engines = self._engines(ctx)
        self._check_pair(engines, source, target)
        translated, applied = self._translate(
            ctx, engines, content, (source, target), fmt, params.get("TerminologyNames") or []
        )
        output: dict[str, Any] = {
            "TranslatedDocument": {"Content": apply_settings(translated, wanted, fmt).encode("utf-8")},
            "SourceLanguageCode": source,
            "TargetLanguageCode": target,
        }
        if applied:
            output["AppliedTerminologies"] = applied
        if wanted:
            output["AppliedSettings"] = wanted
        return output

    def list_languages(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        display = params.get("DisplayLanguageCode") or "en"
        names = DISPLAY_NAMES.get(display)
        if names is None:
            raise UnsupportedDisplayLanguageCodeException(
                f"Language names are available here in {', '.join(DISPLAY_NAMES)}, not '{display}'.",
                extra={"DisplayLanguageCode": display},
            )
        codes = ["auto", *self._engines(ctx).languages()]
        languages = [
            {
                "LanguageName": "Auto" if code == "auto" else names.get(code, LANGUAGE_NAMES[code]),
                "LanguageCode": code,
            }
            for code in codes
        ]
        page, token = _LANGUAGE_PAGES.page(languages, params)
        output: dict[str, Any] = {"Languages": page, "DisplayLanguageCode": display}
        if token:
            output["NextToken"] = token
        return output

    # -- terminologies -------------------------------------------------------------------------------------

    def _properties(self, ctx: RequestContext, stored: StoredTerminology) -> dict[str, Any]:
        return {
            "Name": stored.name,
            "Description": stored.description,
            "Arn": ctx.arn("translate", f"terminology/{stored.name}/LATEST"),
            "SourceLanguageCode": stored.source_language,
            "TargetLanguageCodes": stored.target_languages,
            "SizeBytes": stored.size_bytes,
            "TermCount": len(stored.glossary.rows),
            "SkippedTermCount": stored.glossary.skipped,
            "CreatedAt": datetime.fromtimestamp(stored.created_at, UTC),
            "LastUpdatedAt": datetime.fromtimestamp(stored.updated_at, UTC),
            "Directionality": stored.directionality,
            "Format": stored.format,
        }

    def import_terminology(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        for member in ("EncryptionKey", "Tags"):  # MergeStrategy's one value, OVERWRITE, is what happens
            if params.get(member):
                raise InvalidParameterValueException(
                    f"Outcrop does not serve {member} on terminologies (no KMS encryption of them, no tags)."
                )
        data = params["TerminologyData"]
        raw = bytes(data["File"])
        try:
            glossary = parse_glossary(raw, data["Format"])
        except GlossaryError as error:
            raise InvalidParameterValueException(
                f"The terminology file could not be read: {error}"
            ) from error
        if not glossary.rows:
            raise InvalidParameterValueException("The terminology file holds no usable term.")
        now = time.time()
        where = (ctx.account_id, ctx.region)
        previous = self.terminologies.get(params["Name"], where=where)
        stored = StoredTerminology(
            name=params["Name"],
            description=params.get("Description") or "",
            format=data["Format"],
            directionality=data.get("Directionality") or "UNI",
            created_at=previous.created_at if previous else now,
            updated_at=now,
            size_bytes=len(raw),
            glossary=glossary,
            download_token=secrets.token_urlsafe(16),
        )
        self.terminologies.put(stored, where=where)
        return {"TerminologyProperties": self._properties(ctx, stored)}

    def get_terminology(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        stored = self._terminologies(ctx, [params["Name"]])[0]
        fmt = params.get("TerminologyDataFormat") or stored.format
        url = (
            f"{ctx.base_url}/_outcrop/translate/terminologies/{stored.name}?format={fmt}"
            f"&account={ctx.account_id}&region={ctx.region}&token={stored.download_token}"
        )
        return {
            "TerminologyProperties": self._properties(ctx, stored),
            "TerminologyDataLocation": {"RepositoryType": "S3", "Location": url},
        }

    def terminology_file(self, name: str, fmt: str, token: str, where: tuple[str, str]) -> bytes | None:
        """The stored terminology rendered in `fmt`, for the download link GetTerminology hands out."""
        stored = self.terminologies.get(name, where=where)
        if stored is None or not secrets.compare_digest(stored.download_token, token):
            return None
        return render_glossary(stored.glossary, fmt if fmt in ("CSV", "TSV", "TMX") else stored.format)

    def list_terminologies(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        where = (ctx.account_id, ctx.region)
        names = self.terminologies.names(where=where)
        stored = [t for t in (self.terminologies.get(n, where=where) for n in names) if t]
        page, token = _TERMINOLOGY_PAGES.page(stored, params)
        output: dict[str, Any] = {"TerminologyPropertiesList": [self._properties(ctx, t) for t in page]}
        if token:
            output["NextToken"] = token
        return output

    def delete_terminology(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if not self.terminologies.delete(params["Name"], where=(ctx.account_id, ctx.region)):
            raise ResourceNotFoundException(f"The terminology {params['Name']!r} does not exist.")
        return {}
