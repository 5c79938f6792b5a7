"""Translate through boto3: apertium pairs, auto source, terminologies, documents, and the LLM pairs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from outcrop.backends.base import ContextLengthExceeded
from outcrop.backends.registry import ModelRegistry
from outcrop.catalog import Catalog
from outcrop.config import load_settings
from outcrop.inference import Inference
from outcrop.services.base import RequestContext
from outcrop.services.translate.provider import LLM_MODEL, TextSizeLimitExceededException, Translate
from tests.errors import error_of
from tests.server import RunningServer

real = pytest.mark.real

GLOSSARY_CSV = "en,es\ncat,michi\ncredit card,tarjeta de crédito\n".encode()
GLOSSARY_TMX = b"""<?xml version="1.0" encoding="UTF-8"?>
<tmx version="1.4"><header srclang="en" datatype="plaintext" segtype="phrase" adminlang="en"
 creationtool="test" creationtoolversion="1" o-tmf="test"/>
<body>
<tu><tuv xml:lang="en"><seg>Outcrop</seg></tuv><tuv xml:lang="es"><seg>Afloramiento</seg></tuv></tu>
<tu><tuv xml:lang="en"><seg>table</seg></tuv><tuv xml:lang="es"><seg>pupitre</seg></tuv></tu>
</body></tmx>"""


@pytest.fixture(scope="module")
def translate(real_server: RunningServer) -> Any:
    """Translate on the real engines (apertium, langid, the local chat model)."""
    return real_server.client("translate")


@pytest.fixture(scope="module")
def fake_translate(server: RunningServer) -> Any:
    """Translate on a --fake-models server, for the checks and errors that need no real engine."""
    return server.client("translate")


@real
def test_english_to_spanish_and_back_keeps_the_meaning(translate: Any) -> None:
    sentence = "The cat is sleeping on the table and the dog is eating."
    spanish = translate.translate_text(Text=sentence, SourceLanguageCode="en", TargetLanguageCode="es")
    assert spanish["SourceLanguageCode"] == "en"
    words = spanish["TranslatedText"].lower()
    assert all(word in words for word in ("gato", "mesa", "perro")), words
    english = translate.translate_text(
        Text=spanish["TranslatedText"], SourceLanguageCode="es", TargetLanguageCode="en"
    )
    back = english["TranslatedText"].lower()
    assert all(word in back for word in ("cat", "table", "dog")), back
    assert "AppliedTerminologies" not in english


@real
def test_auto_source_identifies_the_language(translate: Any) -> None:
    answer = translate.translate_text(
        Text="El gato duerme en la mesa de la cocina.", SourceLanguageCode="auto", TargetLanguageCode="en"
    )
    assert answer["SourceLanguageCode"] == "es"
    assert "cat" in answer["TranslatedText"].lower()
    unchanged = translate.translate_text(
        Text="The dog is eating in the garden.", SourceLanguageCode="auto", TargetLanguageCode="en"
    )
    assert unchanged["TranslatedText"] == "The dog is eating in the garden."


@real
def test_terminologies_override_the_engine_and_are_reported(translate: Any) -> None:
    csv_props = translate.import_terminology(
        Name="pets-csv",
        MergeStrategy="OVERWRITE",
        Description="pet words",
        TerminologyData={"File": GLOSSARY_CSV, "Format": "CSV"},
    )["TerminologyProperties"]
    assert (csv_props["SourceLanguageCode"], csv_props["TargetLanguageCodes"]) == ("en", ["es"])
    assert csv_props["TermCount"] == 2
    assert csv_props["Arn"].endswith(":terminology/pets-csv/LATEST")
    translate.import_terminology(
        Name="office-tmx", MergeStrategy="OVERWRITE", TerminologyData={"File": GLOSSARY_TMX, "Format": "TMX"}
    )

    answer = translate.translate_text(
        Text="My cat sits on the table and Outcrop pays with a credit card.",
        SourceLanguageCode="en",
        TargetLanguageCode="es",
        TerminologyNames=["pets-csv", "office-tmx"],
    )
    text = answer["TranslatedText"]
    assert "michi" in text and "tarjeta de crédito" in text and "pupitre" in text and "Afloramiento" in text
    assert "gato" not in text
    applied = {entry["Name"]: entry["Terms"] for entry in answer["AppliedTerminologies"]}
    assert {"SourceText": "cat", "TargetText": "michi"} in applied["pets-csv"]
    assert {"SourceText": "table", "TargetText": "pupitre"} in applied["office-tmx"]

    names = [t["Name"] for t in translate.list_terminologies()["TerminologyPropertiesList"]]
    assert {"pets-csv", "office-tmx"} <= set(names)
    located = translate.get_terminology(Name="pets-csv", TerminologyDataFormat="CSV")
    assert located["TerminologyProperties"]["Description"] == "pet words"
    download = httpx.get(located["TerminologyDataLocation"]["Location"], timeout=10)
    assert download.status_code == 200
    assert download.content.decode().splitlines()[:2] == ["en,es", "cat,michi"]

    translate.delete_terminology(Name="office-tmx")
    missing = error_of(translate.get_terminology, Name="office-tmx")
    assert (missing["Code"], missing["Status"]) == ("ResourceNotFoundException", 404)
    unknown = error_of(
        translate.translate_text,
        Text="Hi",
        SourceLanguageCode="en",
        TargetLanguageCode="es",
        TerminologyNames=["nope"],
    )
    assert unknown["Code"] == "ResourceNotFoundException"
    broken = error_of(
        translate.import_terminology,
        Name="broken",
        MergeStrategy="OVERWRITE",
        TerminologyData={"File": b"<tmx><body>", "Format": "TMX"},
    )
    assert broken["Code"] == "InvalidParameterValueException"


@real
def test_documents_keep_their_html_markup(translate: Any) -> None:
    page = b'<html><body><h1 class="t">Good morning</h1><p>The <b>dog</b> is eating.</p></body></html>'
    answer = translate.translate_document(
        Document={"Content": page, "ContentType": "text/html"},
        SourceLanguageCode="en",
        TargetLanguageCode="es",
    )
    html = answer["TranslatedDocument"]["Content"].decode()
    assert (
        html.startswith('<html><body><h1 class="t">')
        and "<b>" in html
        and html.endswith("</p></body></html>")
    )
    assert "perro" in html.lower()
    plain = translate.translate_document(
        Document={"Content": b"The dog is eating.\n", "ContentType": "text/plain"},
        SourceLanguageCode="auto",
        TargetLanguageCode="es",
    )
    assert plain["SourceLanguageCode"] == "en"
    assert "perro" in plain["TranslatedDocument"]["Content"].decode().lower()
    translate.import_terminology(
        Name="furniture",
        MergeStrategy="OVERWRITE",
        TerminologyData={"File": b"en,es\ntable,pupitre\n", "Format": "CSV"},
    )
    table = translate.translate_document(
        Document={
            "Content": b"<table><tr><td>The table is red.</td></tr></table>",
            "ContentType": "text/html",
        },
        SourceLanguageCode="en",
        TargetLanguageCode="es",
        TerminologyNames=["furniture"],
    )
    markup = table["TranslatedDocument"]["Content"].decode()
    assert markup.startswith("<table><tr><td>") and markup.endswith("</td></tr></table>"), markup
    assert "pupitre" in markup
    assert table["AppliedTerminologies"][0]["Terms"] == [{"SourceText": "table", "TargetText": "pupitre"}]
    docx = error_of(
        translate.translate_document,
        Document={
            "Content": b"PK..",
            "ContentType": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        },
        SourceLanguageCode="en",
        TargetLanguageCode="es",
    )
    assert docx["Code"] == "InvalidRequestException"


@real
def test_list_languages_offers_only_working_pairs(translate: Any) -> None:
    codes = [lang["LanguageCode"] for lang in translate.list_languages()["Languages"]]
    assert {"auto", "en", "es", "ca", "fr", "pt", "it"} <= set(codes)
    assert "de" in codes  # the local LLM's de->en and en->de (measured chrF 79.9 and 59.7)
    assert "ja" not in codes and "zh" not in codes  # no engine here translates them
    first = translate.list_languages(MaxResults=2)
    second = translate.list_languages(MaxResults=2, NextToken=first["NextToken"])
    assert len(first["Languages"]) == 2 and second["Languages"][0] not in first["Languages"]
    french = {
        lang["LanguageCode"]: lang["LanguageName"]
        for lang in translate.list_languages(DisplayLanguageCode="fr")["Languages"]
    }
    assert french["es"] == "Espagnol"


def test_bad_requests_get_the_aws_errors(fake_translate: Any) -> None:
    translate = fake_translate
    pair = error_of(translate.translate_text, Text="Hello", SourceLanguageCode="en", TargetLanguageCode="ja")
    assert (pair["Code"], pair["Status"]) == ("UnsupportedLanguagePairException", 400)
    with pytest.raises(ClientError) as info:
        translate.translate_text(Text="Hello", SourceLanguageCode="en", TargetLanguageCode="ja")
    assert (info.value.response["SourceLanguageCode"], info.value.response["TargetLanguageCode"]) == (
        "en",
        "ja",
    )
    too_big = error_of(
        translate.translate_text, Text="é" * 5001, SourceLanguageCode="en", TargetLanguageCode="es"
    )
    assert (too_big["Code"], too_big["Status"]) == ("TextSizeLimitExceededException", 400)
    unsure = error_of(
        translate.translate_text, Text="12345 !!! 678", SourceLanguageCode="auto", TargetLanguageCode="es"
    )
    assert (unsure["Code"], unsure["Status"]) == ("DetectedLanguageLowConfidenceException", 400)
    assert "best guess" in unsure["Message"]
    display = error_of(translate.list_languages, DisplayLanguageCode="ja")
    assert display["Code"] == "UnsupportedDisplayLanguageCodeException"


@real
def test_the_local_llm_translates_french_into_english(real_server: RunningServer) -> None:
    translate = real_server.client("translate")
    codes = {lang["LanguageCode"] for lang in translate.list_languages()["Languages"]}
    assert {"fr", "it", "nl"} <= codes
    answer = translate.translate_text(
        Text="Le chat dort sur la table.", SourceLanguageCode="fr", TargetLanguageCode="en"
    )
    text = answer["TranslatedText"].lower()
    assert "cat" in text and "table" in text, text
    translate.import_terminology(
        Name="fr-pets",
        MergeStrategy="OVERWRITE",
        TerminologyData={"File": b"fr,en\nchat,kitty\n", "Format": "CSV"},
    )
    with_terms = translate.translate_text(
        Text="Le chat dort sur la table.",
        SourceLanguageCode="fr",
        TargetLanguageCode="en",
        TerminologyNames=["fr-pets"],
    )
    assert "kitty" in with_terms["TranslatedText"].lower(), with_terms["TranslatedText"]
    assert with_terms["AppliedTerminologies"] == [
        {"Name": "fr-pets", "Terms": [{"SourceText": "chat", "TargetText": "kitty"}]}
    ]
    page = translate.translate_document(
        Document={
            "Content": b"<p>Le <b>chien</b> mange dans le jardin.</p>",
            "ContentType": "text/html",
        },
        SourceLanguageCode="fr",
        TargetLanguageCode="en",
    )["TranslatedDocument"]["Content"].decode()
    assert page.startswith("<p>") and page.endswith("</p>") and "<b>" in page and "</b>" in page, page
    assert "dog" in page.lower() and "garden" in page.lower(), page
    wrong_way = error_of(
        translate.translate_text, Text="Hello", SourceLanguageCode="en", TargetLanguageCode="nl"
    )
    assert wrong_way["Code"] == "UnsupportedLanguagePairException"  # nl->en only: en->nl was not measured


@real
def test_the_local_llm_translates_german_both_ways(translate: Any) -> None:
    """de->en and en->de go to the chat model (greedy decoding), which measured chrF 79.9 and 59.7."""
    english = translate.translate_text(
        Text="Die Katze schläft auf dem Tisch.", SourceLanguageCode="de", TargetLanguageCode="en"
    )["TranslatedText"].lower()
    assert "cat" in english and "table" in english, english
    german = translate.translate_text(
        Text="The dog is sleeping in the garden.", SourceLanguageCode="en", TargetLanguageCode="de"
    )["TranslatedText"]
    assert "Hund" in german and "Garten" in german, german


def test_terminologies_survive_a_restart(tmp_path: Path) -> None:
    own = RunningServer(tmp_path / "data").start()
    try:
        client = own.client("translate")
        client.import_terminology(
            Name="kept",
            MergeStrategy="OVERWRITE",
            TerminologyData={"File": b"en,es\ndog,chucho\n", "Format": "CSV"},
        )
        own.restart()
        client = own.client("translate")
        assert [t["Name"] for t in client.list_terminologies()["TerminologyPropertiesList"]] == ["kept"]
        answer = client.translate_text(
            Text="The dog sleeps.",
            SourceLanguageCode="en",
            TargetLanguageCode="es",
            TerminologyNames=["kept"],
        )
        assert "chucho" in answer["TranslatedText"]
    finally:
        own.stop()


def _service_with_a_fake_llm(root: Path) -> tuple[Translate, Inference, ModelRegistry]:
    """Translate as the server builds it, its LLM pairs on (as on real models) but every model a fake."""
    local = {
        LLM_MODEL: {"runtime": "fake", "kind": "chat"},
        "apertium": {"runtime": "fake", "kind": "translation"},
        "langid": {"runtime": "fake", "kind": "language-id"},
    }
    models = ModelRegistry(local, root / "models")
    inference = Inference(Catalog(local=local), models, max_in_flight=2)

    def data_path(*parts: str) -> Path:
        path = root.joinpath("data", *parts)
        path.mkdir(parents=True, exist_ok=True)
        return path

    settings = load_settings(overrides={"data_dir": root / "data", "fake_models": False})
    service = Translate(models=models, inference=inference, settings=settings, data_path=data_path)
    return service, inference, models


def test_llm_pairs_call_the_chat_model_through_the_inference_path(tmp_path: Path) -> None:
    service, inference, models = _service_with_a_fake_llm(tmp_path)
    ctx = RequestContext("translate", "TranslateText", "r-1", "us-east-1", access_key="AKIDTRANSLATE")
    params = {"Text": "Le chat dort.", "SourceLanguageCode": "fr", "TargetLanguageCode": "en"}
    answer = service.translate_text(ctx, params)
    assert "Le chat dort." in answer["TranslatedText"]  # the fake chat model echoes its prompt
    assert inference.usage.callers()["AKIDTRANSLATE"][LLM_MODEL]["calls"] == 1
    assert models.states()[LLM_MODEL]["uses"] == 1

    def too_long(*args: Any, **kwargs: Any) -> Any:
        raise ContextLengthExceeded("4100 tokens do not fit 4096")

    models.get(LLM_MODEL, "chat").stream = too_long
    with pytest.raises(TextSizeLimitExceededException):
        service.translate_text(ctx, params)


def test_pairs_without_a_direct_mode_go_through_spanish(fake_translate: Any) -> None:
    """English to French has no apertium pair: it runs English->Spanish, then Spanish->French, and is
    listed; German has no apertium route (the chat model's pairs are off with fake models) and is refused."""
    answer = fake_translate.translate_text(
        Text="Hello there.", SourceLanguageCode="en", TargetLanguageCode="fr"
    )
    assert answer["TranslatedText"] == "[es-fr] [en-es] Hello there."
    back = fake_translate.translate_text(Text="Bonjour.", SourceLanguageCode="ca", TargetLanguageCode="en")
    assert back["TranslatedText"] == "[es-en] [ca-es] Bonjour."  # measured better than apertium's ca-en
    codes = {lang["LanguageCode"] for lang in fake_translate.list_languages()["Languages"]}
    assert {"en", "fr", "pt", "it", "ca"} <= codes
    refused = error_of(
        fake_translate.translate_text, Text="Hi", SourceLanguageCode="en", TargetLanguageCode="de"
    )
    assert refused["Code"] == "UnsupportedLanguagePairException"


@pytest.mark.parametrize(
    ("content", "fmt", "why"),
    [
        (b"A" * 150_000, "CSV", "not well-formed CSV"),  # the fuzzer's blob: one field over csv's limit
        (b"en\tes\n" + b"A" * 150_000 + b"\tb\n", "TSV", "not well-formed TSV"),
        (b"en,es\n" + b"cat," + b"m" * 201 + b"\n", "CSV", "over 200 bytes"),
        (b"english,spanish\ncat,gato\n", "CSV", "not a language code"),
        (b",".join([b"en", *(b"es" + bytes([97 + i]) for i in range(11))]) + b"\n", "CSV", "at most 10"),
    ],
)
def test_import_terminology_refuses_files_past_translates_limits(
    fake_translate: Any, content: bytes, fmt: str, why: str
) -> None:
    """Found by the fuzzer (issue 18): a field over the csv module's 131,072-character limit answered 500."""
    refused = error_of(
        fake_translate.import_terminology,
        Name="fuzzed",
        MergeStrategy="OVERWRITE",
        TerminologyData={"File": content, "Format": fmt},
    )
    assert (refused["Code"], refused["Status"]) == ("InvalidParameterValueException", 400)
    assert why in refused["Message"]
    assert error_of(fake_translate.get_terminology, Name="fuzzed")["Code"] == "ResourceNotFoundException"
