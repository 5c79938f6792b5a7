"""Comprehend through boto3: on the packaged models (spaCy, presidio, VADER, langid, profanity-check,
apertium) for what they answer, and on the fakes of a --fake-models server for the checks and errors."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Barrier
from typing import Any

import httpx
import pytest

from tests.errors import error_of
from tests.server import RunningServer

real = pytest.mark.real

KNOWN = (
    "Hello, my name is Maria Garcia and you can reach me at maria.garcia@example.com "
    "or on 212-555-0199 any weekday."
)


@pytest.fixture(scope="module")
def comprehend(real_server: RunningServer) -> Any:
    return real_server.client("comprehend")


def _spans(text: str, items: list[dict[str, Any]]) -> dict[str, str]:
    return {item.get("Type", ""): text[item["BeginOffset"] : item["EndOffset"]] for item in items}


@real
def test_pii_finds_the_name_email_and_phone_at_their_offsets(comprehend: Any) -> None:
    entities = comprehend.detect_pii_entities(Text=KNOWN, LanguageCode="en")["Entities"]
    found = _spans(KNOWN, entities)
    assert found["NAME"] == "Maria Garcia"
    assert found["EMAIL"] == "maria.garcia@example.com"
    assert found["PHONE"] == "212-555-0199"
    assert all(0 < e["Score"] <= 1 for e in entities)
    assert "URL" not in found  # the e-mail's domain is not reported a second time as a URL

    labels = {
        label["Name"] for label in comprehend.contains_pii_entities(Text=KNOWN, LanguageCode="en")["Labels"]
    }
    assert {"NAME", "EMAIL", "PHONE"} <= labels
    plain = comprehend.contains_pii_entities(Text="The sky is blue and grass is green.", LanguageCode="en")
    assert plain["Labels"] == []


@real
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I absolutely love this phone, the camera is wonderful and the battery lasts forever!", "POSITIVE"),
        ("This was the worst hotel I have ever stayed in. Dirty, rude staff, horrible food.", "NEGATIVE"),
        ("The train leaves from platform four at nine o'clock.", "NEUTRAL"),
        ("The food was great but the service was awful.", "MIXED"),
        # one positive word ("support") in a plainly negative review was MIXED under the old rule
        ("This was a terrible, broken product and the support was awful.", "NEGATIVE"),
        # Outcrop's domain words: a verdict VADER's lexicon has no word for, and politeness that is no praise
        ("The shirt shrank after one wash and the colour faded.", "NEGATIVE"),
        ("Please send the quarterly report to finance by Friday.", "NEUTRAL"),
        # the fitted head: verdicts with no word VADER scores, and a fact with one warm word ("free")
        ("Two of the glasses arrived in pieces.", "NEGATIVE"),
        ("The lift has been out of service for a month.", "NEGATIVE"),
        ("Free parking is available behind the building.", "NEUTRAL"),
    ],
)
def test_sentiment_is_right_on_clear_texts_and_scores_sum_to_one(
    comprehend: Any, text: str, expected: str
) -> None:
    answer = comprehend.detect_sentiment(Text=text, LanguageCode="en")
    scores = answer["SentimentScore"]
    assert answer["Sentiment"] == expected
    assert set(scores) == {"Positive", "Negative", "Neutral", "Mixed"}
    assert math.isclose(sum(scores.values()), 1.0, abs_tol=1e-6)
    assert scores[expected.capitalize()] == max(scores.values())


@real
def test_spanish_sentiment_goes_through_a_translation_into_english(comprehend: Any) -> None:
    happy = comprehend.detect_sentiment(
        Text="Estoy muy contento con mi compra, es maravillosa.", LanguageCode="es"
    )
    sad = comprehend.detect_sentiment(
        Text="Fue el peor hotel de mi vida, sucio y horrible.", LanguageCode="es"
    )
    assert (happy["Sentiment"], sad["Sentiment"]) == ("POSITIVE", "NEGATIVE")


@real
def test_dominant_language_is_right_for_five_languages(comprehend: Any) -> None:
    samples = {
        "en": "The weather is lovely and we are going to the beach tomorrow.",
        "fr": "Il fait beau et nous allons à la plage demain avec les enfants.",
        "es": "Hace buen tiempo y mañana vamos a la playa con los niños.",
        "de": "Es ist schönes Wetter und wir gehen morgen mit den Kindern an den Strand.",
        "it": "Il tempo è bello e domani andiamo al mare con i bambini.",
        "pt": "O tempo está bom e amanhã vamos à praia com as crianças.",
    }
    for code, text in samples.items():
        languages = comprehend.detect_dominant_language(Text=text)["Languages"]
        assert languages[0]["LanguageCode"] == code, (text, languages)
        assert languages[0]["Score"] > 0.5
    batch = comprehend.batch_detect_dominant_language(TextList=list(samples.values()))
    assert [r["Languages"][0]["LanguageCode"] for r in batch["ResultList"]] == list(samples)
    assert batch["ErrorList"] == []


@real
def test_entities_key_phrases_and_syntax_offsets_point_at_their_text(comprehend: Any) -> None:
    text = "Angela Merkel visited Microsoft in Seattle on 3 May 2019."
    entities = comprehend.detect_entities(Text=text, LanguageCode="en")["Entities"]
    for entity in entities:
        assert text[entity["BeginOffset"] : entity["EndOffset"]] == entity["Text"]
    by_text = {e["Text"]: e["Type"] for e in entities}
    assert by_text["Angela Merkel"] == "PERSON"
    assert by_text["Microsoft"] == "ORGANIZATION"
    assert by_text["Seattle"] == "LOCATION"
    assert any(kind == "DATE" for kind in by_text.values())

    phrases = comprehend.detect_key_phrases(Text=text, LanguageCode="en")["KeyPhrases"]
    assert "Angela Merkel" in {p["Text"] for p in phrases}
    for phrase in phrases:
        assert text[phrase["BeginOffset"] : phrase["EndOffset"]] == phrase["Text"]

    tokens = comprehend.detect_syntax(Text="I love Paris. ¡Olé!", LanguageCode="en")["SyntaxTokens"]
    assert [t["TokenId"] for t in tokens] == list(range(1, len(tokens) + 1))
    for token in tokens:
        assert "I love Paris. ¡Olé!"[token["BeginOffset"] : token["EndOffset"]] == token["Text"]
    tags = {t["Text"]: t["PartOfSpeech"]["Tag"] for t in tokens}
    assert (tags["I"], tags["love"], tags["Paris"], tags["."]) == ("PRON", "VERB", "PROPN", "PUNCT")


@real
def test_french_entities_come_from_the_french_pipeline(comprehend: Any) -> None:
    text = "Emmanuel Macron est né à Amiens et il habite à Paris."
    entities = comprehend.detect_entities(Text=text, LanguageCode="fr")["Entities"]
    by_text = {e["Text"]: e["Type"] for e in entities}
    assert by_text["Emmanuel Macron"] == "PERSON"
    assert by_text["Amiens"] == "LOCATION"
    assert all(0 < e["Score"] <= 1 for e in entities)


@real
def test_batch_reports_the_oversized_document_in_the_error_list(comprehend: Any) -> None:
    texts = ["What a fantastic day, I am so happy!", "x " * 3000, "This is terrible and I hate it."]
    answer = comprehend.batch_detect_sentiment(TextList=texts, LanguageCode="en")
    assert [(r["Index"], r["Sentiment"]) for r in answer["ResultList"]] == [(0, "POSITIVE"), (2, "NEGATIVE")]
    assert len(answer["ErrorList"]) == 1
    assert answer["ErrorList"][0]["Index"] == 1
    assert answer["ErrorList"][0]["ErrorCode"] == "TEXT_SIZE_LIMIT_EXCEEDED"

    syntax = comprehend.batch_detect_syntax(TextList=["Dogs bark.", "Cats sleep."], LanguageCode="en")
    assert [r["SyntaxTokens"][0]["Text"] for r in syntax["ResultList"]] == ["Dogs", "Cats"]
    entities = comprehend.batch_detect_entities(TextList=["Paris is big."], LanguageCode="en")
    assert entities["ResultList"][0]["Entities"][0]["Type"] == "LOCATION"
    phrases = comprehend.batch_detect_key_phrases(TextList=["The red car stopped."], LanguageCode="en")
    assert phrases["ResultList"][0]["KeyPhrases"][0]["Text"] == "The red car"


def test_bad_inputs_get_the_aws_errors(server: RunningServer) -> None:
    comprehend = server.client("comprehend")
    unchecked = server.client("comprehend", parameter_validation=False)
    empty = error_of(unchecked.detect_sentiment, Text="", LanguageCode="en")
    assert (empty["Code"], empty["Status"]) == ("ValidationException", 400)

    too_big = error_of(comprehend.detect_sentiment, Text="é" * 2501, LanguageCode="en")
    assert (too_big["Code"], too_big["Status"]) == ("TextSizeLimitExceededException", 400)
    assert "5002 bytes" in too_big["Message"]
    assert comprehend.detect_sentiment(Text="é" * 2500, LanguageCode="en")["Sentiment"] == "NEUTRAL"
    big_entities = error_of(comprehend.detect_entities, Text="a" * 100_001, LanguageCode="en")
    assert big_entities["Code"] == "TextSizeLimitExceededException"

    unsupported = error_of(comprehend.detect_sentiment, Text="Hallo Freund", LanguageCode="de")
    assert (unsupported["Code"], unsupported["Status"]) == ("UnsupportedLanguageException", 400)
    pii_de = error_of(comprehend.detect_pii_entities, Text="Hallo", LanguageCode="de")
    assert pii_de["Code"] == "UnsupportedLanguageException"
    bogus = error_of(unchecked.detect_entities, Text="Hello", LanguageCode="xx")
    assert bogus["Code"] == "ValidationException"
    no_language = error_of(comprehend.detect_entities, Text="Hello")
    assert no_language["Code"] == "InvalidRequestException"

    too_many = error_of(comprehend.batch_detect_sentiment, TextList=["ok"] * 26, LanguageCode="en")
    assert (too_many["Code"], too_many["Status"]) == ("BatchSizeLimitExceededException", 400)

    segments = [{"Text": "hello"}] * 11
    toxic = error_of(comprehend.detect_toxic_content, TextSegments=segments, LanguageCode="en")
    assert (toxic["Code"], toxic["Status"]) == ("InvalidRequestException", 400)


@real
def test_toxic_content_scores_offensive_text_high(comprehend: Any) -> None:
    segments = [
        {"Text": "Thank you, that was a lovely evening."},
        {"Text": "Shut up, you stupid fucking idiot."},
    ]
    results = comprehend.detect_toxic_content(TextSegments=segments, LanguageCode="en")["ResultList"]
    polite, rude = (r["Toxicity"] for r in results)
    assert polite < 0.2 < 0.8 < rude
    assert results[1]["Labels"] == [{"Name": "PROFANITY", "Score": rude}]


def test_fake_models_answer_every_operation_by_their_rules(server: RunningServer) -> None:
    """A --fake-models server answers from the fakes (regular expressions, word lists, capitalised words)."""
    comprehend = server.client("comprehend")
    found = _spans(KNOWN, comprehend.detect_pii_entities(Text=KNOWN, LanguageCode="en")["Entities"])
    assert (found["EMAIL"], found["PHONE"]) == ("maria.garcia@example.com", "212-555-0199")
    assert (
        comprehend.detect_sentiment(Text="What a wonderful day, I love it.", LanguageCode="en")["Sentiment"]
        == "POSITIVE"
    )
    assert comprehend.detect_sentiment(Text="Estoy contento.", LanguageCode="es")["Sentiment"] == "NEUTRAL"
    assert comprehend.detect_dominant_language(Text="Hola amigos")["Languages"][0]["LanguageCode"] == "en"
    text = "Angela Merkel visited Seattle."
    entities = comprehend.detect_entities(Text=text, LanguageCode="fr")["Entities"]
    assert [e["Text"] for e in entities] == ["Angela Merkel", "Seattle"]
    tokens = comprehend.detect_syntax(Text=text, LanguageCode="en")["SyntaxTokens"]
    assert [t["Text"] for t in tokens] == ["Angela", "Merkel", "visited", "Seattle", "."]
    rude = comprehend.detect_toxic_content(TextSegments=[{"Text": "you stupid idiot"}], LanguageCode="en")
    assert rude["ResultList"][0]["Toxicity"] > 0.9
    models = httpx.get(f"{server.endpoint}/_outcrop/health", timeout=10).json()["models"]
    for name in ("spacy-en", "spacy-fr", "presidio-en", "vader-en", "langid", "profanity-check-en"):
        assert models[name]["runtime"] == "fake" and models[name]["uses"] > 0, name


@real
def test_concurrent_first_calls_load_spacy_once(tmp_path: Path) -> None:
    """The first DetectSyntax and DetectEntities calls of a fresh server, arriving together, all succeed
    (none sees a half-imported spaCy) and each pipeline is loaded once."""
    own = RunningServer(tmp_path / "data", fake_models=False).start()
    try:
        client = own.client("comprehend")
        calls = [("en", "syntax")] * 6 + [("fr", "entities")] * 4 + [("en", "pii")] * 2
        start = Barrier(len(calls))

        def call(job: tuple[str, str]) -> Any:
            language, what = job
            start.wait(timeout=60)
            if what == "syntax":
                return client.detect_syntax(Text="Dogs bark loudly.", LanguageCode=language)["SyntaxTokens"]
            if what == "entities":
                return client.detect_entities(Text="Il habite à Paris.", LanguageCode=language)["Entities"]
            return client.detect_pii_entities(Text="Write to a@example.com", LanguageCode=language)[
                "Entities"
            ]

        with ThreadPoolExecutor(len(calls)) as pool:
            answers = list(pool.map(call, calls))
        assert all(answer == answers[0] for answer in answers[:6])
        assert [t["Text"] for t in answers[0]] == ["Dogs", "bark", "loudly", "."]
        assert all(answer == answers[6] for answer in answers[6:10]) and answers[6][0]["Text"] == "Paris"
        models = httpx.get(f"{own.endpoint}/_outcrop/health", timeout=10).json()["models"]
        assert (models["spacy-en"]["loads"], models["spacy-fr"]["loads"], models["presidio-en"]["loads"]) == (
            1,
            1,
            1,
        )
    finally:
        own.stop()
