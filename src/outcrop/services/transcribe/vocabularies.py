"""Transcribe's custom vocabularies: Create/Update/Get/List/DeleteVocabulary, in the request's region.

A vocabulary is kept in SQLite (see `jobs/transcription_vocabulary.py`) and its phrases as a text file
in Outcrop's bucket of the region, which GetVocabulary's DownloadUri points at.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

from outcrop.backends.speech.protocols import Transcriber
from outcrop.jobs.transcription import whisper_language
from outcrop.jobs.transcription_vocabulary import (
    Vocabulary,
    VocabularyError,
    VocabularyStore,
    check_phrases,
    phrases_from_file,
)
from outcrop.services.base import RequestContext
from outcrop.services.paging import Pager
from outcrop.services.transcribe.errors import BadRequestException, ConflictException, NotFoundException
from outcrop.services.transcribe.media import parse_media_uri
from outcrop.storage.objects import ObjectAttributes, ObjectStore, StoreError

MAX_VOCABULARY_FILE_BYTES = 50 * 1024  # Transcribe's limit on a custom vocabulary file
_PAGES = Pager(BadRequestException, "The NextToken is not valid", default=5)


class VocabularyOperations:
    """The vocabulary operations of the Transcribe provider, which supplies what is declared here."""

    objects: ObjectStore
    _vocabularies: VocabularyStore

    def _transcriber(self) -> Transcriber:
        raise NotImplementedError

    def _service_bucket(self, region: str) -> str:
        raise NotImplementedError

    def _object_url(self, ctx: RequestContext, bucket: str, key: str, ours: bool) -> str:
        raise NotImplementedError

    def create_vocabulary(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._put_vocabulary(ctx, params, create=True)

    def update_vocabulary(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._put_vocabulary(ctx, params, create=False)

    def _put_vocabulary(self, ctx: RequestContext, params: dict[str, Any], *, create: bool) -> dict[str, Any]:
        name, language = params["VocabularyName"], params["LanguageCode"]
        if (params.get("EncryptionConfiguration") or {}).get("KMSKey"):
            raise BadRequestException(
                "Outcrop does not serve EncryptionConfiguration: vocabularies are not encrypted with a "
                "KMS key"
            )
        if params.get("DataAccessRoleArn"):
            raise BadRequestException(
                "Outcrop does not serve DataAccessRoleArn: the VocabularyFileUri is read with the "
                "server's own access"
            )
        if whisper_language(language, self._transcriber().languages) is None:
            raise BadRequestException(f"The language {language} is not supported by the local Whisper model")
        if bool(params.get("Phrases")) == bool(params.get("VocabularyFileUri")):
            raise BadRequestException("Give either Phrases or a VocabularyFileUri")
        try:
            if params.get("Phrases"):
                phrases = check_phrases(params["Phrases"])
            else:
                bucket, key = parse_media_uri(params["VocabularyFileUri"], ctx.base_url)
                try:
                    size = self.objects.head_object(bucket, key).size
                    if size > MAX_VOCABULARY_FILE_BYTES:
                        raise BadRequestException(
                            f"The vocabulary file {params['VocabularyFileUri']} is {size} bytes; "
                            f"a vocabulary file may hold at most {MAX_VOCABULARY_FILE_BYTES} bytes"
                        )
                    text = self.objects.read_object(bucket, key).decode("utf-8-sig")
                except (StoreError, UnicodeDecodeError):
                    raise BadRequestException(
                        f"The vocabulary file {params['VocabularyFileUri']} doesn't exist or isn't UTF-8 text"
                    ) from None
                phrases = phrases_from_file(text)
        except VocabularyError as error:
            raise BadRequestException(str(error)) from None
        where = (ctx.account_id, ctx.region)
        vocabulary = self._vocabularies.put(name, language, phrases, create=create, where=where)
        if vocabulary is None and create:
            raise ConflictException("The requested vocabulary name already exists. Use a different name.")
        if vocabulary is None:
            raise NotFoundException(f"The vocabulary {name} doesn't exist")
        body = "\n".join(phrases).encode()
        self.objects.put_object(
            self._service_bucket(ctx.region),
            f"vocabularies/{name}.txt",
            body,
            ObjectAttributes(content_type="text/plain"),
        )
        return self._vocabulary(vocabulary)

    @staticmethod
    def _vocabulary(vocabulary: Vocabulary) -> dict[str, Any]:
        return {
            "VocabularyName": vocabulary.name,
            "LanguageCode": vocabulary.language,
            "VocabularyState": "READY",
            "LastModifiedTime": datetime.fromtimestamp(vocabulary.modified, UTC),
        }

    def get_vocabulary(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        vocabulary = self._vocabularies.get(params["VocabularyName"], where=(ctx.account_id, ctx.region))
        if vocabulary is None:
            raise NotFoundException(f"The vocabulary {params['VocabularyName']} doesn't exist")
        bucket = self._service_bucket(ctx.region)
        uri = self._object_url(ctx, bucket, f"vocabularies/{vocabulary.name}.txt", True)
        return self._vocabulary(vocabulary) | {"DownloadUri": uri}

    def list_vocabularies(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        found = self._vocabularies.list((ctx.account_id, ctx.region), params.get("NameContains"))
        if params.get("StateEquals") not in (None, "READY"):
            found = []  # every vocabulary is ready as soon as it is stored
        page, token = _PAGES.page(found, params)
        output: dict[str, Any] = {"Vocabularies": [self._vocabulary(v) for v in page]}
        if params.get("StateEquals"):
            output["Status"] = params["StateEquals"]
        if token:
            output["NextToken"] = token
        return output

    def delete_vocabulary(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if not self._vocabularies.delete(params["VocabularyName"], where=(ctx.account_id, ctx.region)):
            raise NotFoundException(f"The vocabulary {params['VocabularyName']} doesn't exist")
        with contextlib.suppress(StoreError):
            self.objects.delete_object(
                self._service_bucket(ctx.region), f"vocabularies/{params['VocabularyName']}.txt"
            )
        return {}
