"""RetrieveAndGenerate's second try through boto3: when no sentence of the first answer passes the check (the
model recited the passage, or refused a question the passage answers), the model is asked once more for the
one sentence of the best passage that answers, and that sentence is checked like any other. A scripted chat
model (behind the test OpenAI-compatible server) writes each try's answer."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from outcrop.backends.base import ChatMessage, GenerationEvent, GenerationRequest, GenerationResult, ToolSpec
from outcrop.rag.generate import EXTRACTIVE_TEMPLATE
from outcrop.rag.grounding import FALLBACK
from tests.server import RunningServer
from tests.services.knowledge_bases import CHAT_ARN, read_rag_stream, scripted_chat_server

MILL = (
    "The Orlen windmill was built in 1764 by the miller Jonas Veck. Its sails span 24 metres. "
    "The mill grinds 3 tonnes of flour a week, and a tour costs 5 euros."
)
BUILT, SAILS, TOUR = (part.strip() + ("" if part.endswith(".") else ".") for part in MILL.split(". "))
# (a word of the question) -> (the first try's answer, the second try's answer)
SCRIPT = {
    "tour": ("The Orlen windmill was built in 1764 by the miller Jonas Veck. Its sails", TOUR),
    "built": ("The search results do not say who built the windmill.", BUILT),
    "painted": (BUILT, BUILT),  # a neighbouring fact, twice: no answer to who painted it
    "miller": ("I could not find the miller's age.", "NOT FOUND"),
    "span": ("Its sails span 24 metres. [1]", "Its sails span 24 metres."),
    "grind": ("The mill is old.", "24"),  # a bare value the passage holds, but not beside flour
}
EXTRACTIVE_START = EXTRACTIVE_TEMPLATE[:40]


class TwoTries:
    """Answers the first try and the extractive second try of each question from SCRIPT, counting both."""

    model_id = "scripted"

    def __init__(self) -> None:
        self.calls: Counter[tuple[str, bool]] = Counter()

    def count_tokens(self, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec] = ()) -> int:
        return sum(len(message.content.split()) for message in messages)

    def stream(self, request: GenerationRequest, cancel: threading.Event) -> Iterator[GenerationEvent]:
        question = request.messages[-1].content
        second = request.messages[0].content.startswith(EXTRACTIVE_START)
        word = next(word for word in SCRIPT if word in question)
        self.calls[word, second] += 1
        text = SCRIPT[word][second]
        words = text.split(" ")
        for index, piece in enumerate(words):
            yield GenerationEvent(text=piece if index == 0 else f" {piece}")
        yield GenerationEvent(done=GenerationResult(text, "end_turn", 10, len(words)))


@pytest.fixture(scope="module")
def scripted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, TwoTries]]:
    model = TwoTries()
    with scripted_chat_server(tmp_path_factory.mktemp("second_try"), model) as server:
        yield server, model


def ask(
    server: RunningServer, question: str, *, stream: bool, template: str | None = None
) -> tuple[str, list[dict[str, Any]]]:
    source = {
        "sourceType": "BYTE_CONTENT",
        "byteContent": {"identifier": "mill.txt", "contentType": "text/plain", "data": MILL.encode()},
    }
    external: dict[str, Any] = {"modelArn": CHAT_ARN, "sources": [source]}
    if template:
        external["generationConfiguration"] = {"promptTemplate": {"textPromptTemplate": template}}
    configuration = {"type": "EXTERNAL_SOURCES", "externalSourcesConfiguration": external}
    runtime = server.client("bedrock-agent-runtime")
    if stream:
        response = runtime.retrieve_and_generate_stream(
            input={"text": question}, retrieveAndGenerateConfiguration=configuration
        )
        return read_rag_stream(response)
    response = runtime.retrieve_and_generate(
        input={"text": question}, retrieveAndGenerateConfiguration=configuration
    )
    return response["output"]["text"], response["citations"]


def cited_text(citations: list[dict[str, Any]]) -> list[str]:
    return [ref["content"]["text"] for citation in citations for ref in citation["retrievedReferences"]]


@pytest.mark.parametrize("stream", [False, True])
def test_a_recited_passage_is_answered_by_the_second_try(
    scripted: tuple[RunningServer, TwoTries], stream: bool
) -> None:
    text, citations = ask(scripted[0], "How much does a tour of the Orlen windmill cost?", stream=stream)
    assert text == TOUR
    assert cited_text(citations) == [MILL]


@pytest.mark.parametrize("stream", [False, True])
def test_a_wrong_refusal_is_answered_by_the_second_try(
    scripted: tuple[RunningServer, TwoTries], stream: bool
) -> None:
    text, citations = ask(scripted[0], "Who built the Orlen windmill?", stream=stream)
    assert text == BUILT
    assert cited_text(citations) == [MILL]


@pytest.mark.parametrize(
    "question",
    [
        "Who painted the sails of the Orlen windmill?",  # the second try copies a neighbouring fact
        "How old was the miller of the Orlen windmill?",  # the second try says NOT FOUND
        "How much flour does the Orlen mill grind in a year?",  # a bare value not of flour
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_the_second_try_is_checked_too(
    scripted: tuple[RunningServer, TwoTries], question: str, stream: bool
) -> None:
    assert ask(scripted[0], question, stream=stream) == (FALLBACK, [])


def test_a_kept_answer_is_not_asked_again(scripted: tuple[RunningServer, TwoTries]) -> None:
    server, model = scripted
    text, _ = ask(server, "How far do the sails of the Orlen windmill span?", stream=False)
    assert text == SAILS
    assert (model.calls["span", False], model.calls["span", True]) == (1, 0)


def test_each_question_is_tried_twice_at_most(scripted: tuple[RunningServer, TwoTries]) -> None:
    server, model = scripted
    before = model.calls.copy()
    assert ask(server, "Who painted the sails of the Orlen windmill?", stream=False) == (FALLBACK, [])
    assert (model.calls - before) == Counter({("painted", False): 1, ("painted", True): 1})


def test_a_callers_own_template_gets_no_second_try(scripted: tuple[RunningServer, TwoTries]) -> None:
    server, model = scripted
    before = model.calls.copy()
    template = "Answer from these results only: $search_results$"
    text, citations = ask(
        server, "How much does a tour of the Orlen windmill cost?", stream=False, template=template
    )
    assert (text, citations) == (FALLBACK, [])
    assert (model.calls - before) == Counter({("tour", False): 1})


@pytest.mark.real
def test_real_small_model_answers_on_the_second_try_and_still_refuses(real_server: RunningServer) -> None:
    """Qwen2.5-Coder-0.5B (Claude 3 Haiku's id) at temperature 0: what its first try leaves unanswered (it
    recites the passage) is answered from the passage; what the passage does not say is still refused."""
    from tests.services.knowledge_bases import create_data_source, create_knowledge_base, fill_bucket, ingest

    agent, s3 = real_server.client("bedrock-agent"), real_server.client("s3")
    runtime = real_server.client("bedrock-agent-runtime")
    kb_id = create_knowledge_base(agent)
    text = (
        "The Vellmoor lighthouse stands on the Skarn peninsula. It was built in 1887 by the engineer "
        "Tobias Grell. The tower is 46 metres tall and the keeper climbed 212 steps to reach the lamp room. "
        "Its light is visible for 22 nautical miles. The lighthouse was automated in 1969 and is open to "
        "visitors from May to September; a ticket costs 7 euros."
    )
    bucket = fill_bucket(s3, {"docs/vellmoor.txt": text.encode()})
    job = ingest(agent, kb_id, create_data_source(agent, kb_id, bucket), timeout=300)
    assert job["status"] == "COMPLETE"
    configuration = {
        "type": "KNOWLEDGE_BASE",
        "knowledgeBaseConfiguration": {
            "knowledgeBaseId": kb_id,
            "modelArn": CHAT_ARN,  # Claude 3 Haiku's id: the 0.5B model
            "generationConfiguration": {
                "inferenceConfig": {"textInferenceConfig": {"maxTokens": 80, "temperature": 0}}
            },
        },
    }
    answered = runtime.retrieve_and_generate(
        input={"text": "How much is a ticket to visit the Vellmoor lighthouse?"},
        retrieveAndGenerateConfiguration=configuration,
    )
    assert "7" in answered["output"]["text"] and answered["citations"], answered
    assert cited_text(answered["citations"]) == [text]
    refused = runtime.retrieve_and_generate(
        input={"text": "How much did it cost to build the Vellmoor lighthouse?"},
        retrieveAndGenerateConfiguration=configuration,
    )
    assert (refused["output"]["text"], refused["citations"]) == (FALLBACK, []), refused
