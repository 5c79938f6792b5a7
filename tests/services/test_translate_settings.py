"""Translate's Settings and terminology options: Profanity=MASK is honoured (AWS's grawlix per profane word
or phrase, English targets); Formality and Brevity, a terminology's EncryptionKey and Tags are refused, never
ignored. On the fake translator, which keeps every word, so what the mask did is visible."""

from __future__ import annotations

from typing import Any

import pytest

from tests.errors import error_of
from tests.server import RunningServer


@pytest.fixture(scope="module")
def translate(server: RunningServer) -> Any:
    return server.client("translate")


def test_profanity_is_masked_with_a_grawlix(translate: Any) -> None:
    answer = translate.translate_text(
        Text="Este damn  shit es crap.",
        SourceLanguageCode="es",
        TargetLanguageCode="en",
        Settings={"Profanity": "MASK"},
    )
    assert answer["TranslatedText"] == "[es-en] Este ?$#@$ es ?$#@$."
    assert answer["AppliedSettings"] == {"Profanity": "MASK"}
    plain = translate.translate_text(Text="Este crap.", SourceLanguageCode="es", TargetLanguageCode="en")
    assert plain["TranslatedText"] == "[es-en] Este crap." and "AppliedSettings" not in plain
    document = translate.translate_document(
        Document={"Content": b'<p title="crap">crap aqui</p>', "ContentType": "text/html"},
        SourceLanguageCode="es",
        TargetLanguageCode="en",
        Settings={"Profanity": "MASK"},
    )
    assert document["TranslatedDocument"]["Content"] == b'<p title="crap">[es-en] ?$#@$ aqui</p>'
    assert document["AppliedSettings"] == {"Profanity": "MASK"}


@pytest.mark.parametrize(
    ("settings", "target", "named"),
    [
        ({"Formality": "FORMAL"}, "es", "Formality"),
        ({"Brevity": "ON"}, "es", "Brevity"),
        ({"Profanity": "MASK"}, "es", "English"),
    ],
)
def test_settings_outcrop_cannot_honour_are_refused(
    translate: Any, settings: dict[str, str], target: str, named: str
) -> None:
    error = error_of(
        translate.translate_text,
        Text="The cat.",
        SourceLanguageCode="en",
        TargetLanguageCode=target,
        Settings=settings,
    )
    assert error["Code"] == "InvalidRequestException" and named in error["Message"]
    error = error_of(
        translate.translate_document,
        Document={"Content": b"The cat.", "ContentType": "text/plain"},
        SourceLanguageCode="en",
        TargetLanguageCode=target,
        Settings=settings,
    )
    assert error["Code"] == "InvalidRequestException" and named in error["Message"]


def test_terminology_options_outcrop_cannot_honour_are_refused(translate: Any) -> None:
    data = {"File": b"en,es\ncat,gato\n", "Format": "CSV"}
    for extra, named in [
        ({"EncryptionKey": {"Type": "KMS", "Id": "alias/translate"}}, "EncryptionKey"),
        ({"Tags": [{"Key": "team", "Value": "docs"}]}, "Tags"),
    ]:
        error = error_of(
            translate.import_terminology,
            Name="refused",
            MergeStrategy="OVERWRITE",
            TerminologyData=data,
            **extra,
        )
        assert error["Code"] == "InvalidParameterValueException" and named in error["Message"]
    names = [t["Name"] for t in translate.list_terminologies()["TerminologyPropertiesList"]]
    assert "refused" not in names
