"""DetectSyntax and DetectKeyPhrases give each item its own confidence (the tagger's probabilities),
through boto3 on the packaged spaCy pipelines."""

from __future__ import annotations

from typing import Any

import pytest

from tests.server import RunningServer

pytestmark = pytest.mark.real

AMBIGUOUS = "Time flies like an arrow; fruit flies like a banana. Mohan desrves a MVP award for this year."


@pytest.fixture(scope="module")
def comprehend(real_server: RunningServer) -> Any:
    return real_server.client("comprehend")


def test_syntax_scores_are_per_token_and_lower_where_the_tag_is_in_doubt(comprehend: Any) -> None:
    tokens = comprehend.detect_syntax(Text=AMBIGUOUS, LanguageCode="en")["SyntaxTokens"]
    scores = [token["PartOfSpeech"]["Score"] for token in tokens]
    assert all(0 < score <= 1 for score in scores)
    assert len({round(score, 4) for score in scores}) > 3
    by_text = {token["Text"]: token["PartOfSpeech"]["Score"] for token in tokens}
    # an article is never in doubt; a misspelt verb ("desrves") is less sure than it
    assert by_text["desrves"] < by_text["an"]
    batch = comprehend.batch_detect_syntax(TextList=[AMBIGUOUS], LanguageCode="en")["ResultList"][0]
    assert [t["PartOfSpeech"]["Score"] for t in batch["SyntaxTokens"]] == scores


def test_key_phrase_scores_differ_between_phrases(comprehend: Any) -> None:
    phrases = comprehend.detect_key_phrases(Text=AMBIGUOUS, LanguageCode="en")["KeyPhrases"]
    scores = {phrase["Text"]: phrase["Score"] for phrase in phrases}
    assert all(0 < score <= 1 for score in scores.values())
    assert len({round(score, 4) for score in scores.values()}) > 1
    assert scores["this year"] > scores["a MVP award"]


def test_french_syntax_scores_come_from_the_morphologizer(comprehend: Any) -> None:
    text = "Le chat noir dort sur le canapé de Marie."
    tokens = comprehend.detect_syntax(Text=text, LanguageCode="fr")["SyntaxTokens"]
    scores = [token["PartOfSpeech"]["Score"] for token in tokens]
    assert all(0 < score <= 1 for score in scores)
    assert len({round(score, 4) for score in scores}) > 1
