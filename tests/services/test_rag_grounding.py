"""RetrieveAndGenerate's grounding check through boto3: unsupported sentences are dropped, an answer with
nothing supported (or that the model itself refuses) becomes Bedrock's fallback text, citations name only
supporting passages, and the stream says what the plain operation says. A scripted chat model behind the
test OpenAI-compatible server writes the answers; the fake and the real models run the same path."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest

from outcrop.backends.base import ChatMessage, GenerationEvent, GenerationRequest, GenerationResult, ToolSpec
from outcrop.rag.grounding import FALLBACK
from tests.server import RunningServer
from tests.services.knowledge_bases import (
    CHAT_ARN,
    VOLCANO,
    create_data_source,
    create_knowledge_base,
    fill_bucket,
    ingest,
    read_rag_stream,
    scripted_chat_server,
)

SUPPORTED = "Rhyolite magma is sticky and traps gas."
# (a word of the question, the scripted answer)
SCRIPT = {
    "explosive": f"{SUPPORTED} [1] Such eruptions happen every 40 years. [1] Bloom the grounds for 30 s. [1]",
    "founded": "The volcano was founded by Anna Berg. [1]",
    "colour": "The search results do not mention the colour of lava. Magma rises through the crust. [1]",
    "crust": f"Magma rises through the crust. [2] {SUPPORTED} [1] I could not find more about it.",
    # true sentences of the source, recited for a question they do not answer (how often: no number)
    "often": "Volcanoes erupt when magma rises through the crust. [1] Basaltic lava flows are runny. [1]",
}


class Scripted:
    """Answers each question with its SCRIPT line, token by token (words), and counts the calls."""

    model_id = "scripted"

    def __init__(self) -> None:
        self.calls = 0

    def count_tokens(self, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec] = ()) -> int:
        return sum(len(message.content.split()) for message in messages)

    def stream(self, request: GenerationRequest, cancel: threading.Event) -> Iterator[GenerationEvent]:
        self.calls += 1
        question = request.messages[-1].content
        text = next(answer for word, answer in SCRIPT.items() if word in question)
        words = text.split(" ")
        for index, word in enumerate(words):
            yield GenerationEvent(text=word if index == 0 else f" {word}")
        yield GenerationEvent(done=GenerationResult(text, "end_turn", 10, len(words)))


@pytest.fixture(scope="module")
def scripted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, Scripted]]:
    model = Scripted()
    with scripted_chat_server(tmp_path_factory.mktemp("grounding"), model) as server:
        yield server, model


def sources(*texts: str) -> dict[str, Any]:
    return {
        "type": "EXTERNAL_SOURCES",
        "externalSourcesConfiguration": {
            "modelArn": CHAT_ARN,
            "sources": [
                {
                    "sourceType": "BYTE_CONTENT",
                    "byteContent": {
                        "identifier": f"doc{n}.txt",
                        "contentType": "text/plain",
                        "data": t.encode(),
                    },
                }
                for n, t in enumerate(texts)
            ],
        },
    }


def ask(server: RunningServer, question: str, *, stream: bool) -> tuple[str, list[dict[str, Any]]]:
    runtime = server.client("bedrock-agent-runtime")
    configuration = sources(VOLCANO)
    if stream:
        response = runtime.retrieve_and_generate_stream(
            input={"text": question}, retrieveAndGenerateConfiguration=configuration
        )
        return read_rag_stream(response)
    response = runtime.retrieve_and_generate(
        input={"text": question}, retrieveAndGenerateConfiguration=configuration
    )
    return response["output"]["text"], response["citations"]


def spans(text: str, citations: list[dict[str, Any]]) -> list[str]:
    found = []
    for citation in citations:
        part = citation["generatedResponsePart"]["textResponsePart"]
        assert text[part["span"]["start"] : part["span"]["end"] + 1] == part["text"]
        found.append(part["text"])
    return found


@pytest.mark.parametrize("stream", [False, True])
def test_unsupported_sentences_are_dropped(scripted: tuple[RunningServer, Scripted], stream: bool) -> None:
    # a number from nowhere, and a sentence no passage holds: both go; the supported one stays, cited
    text, citations = ask(scripted[0], "What makes eruptions explosive?", stream=stream)
    assert text == SUPPORTED
    assert spans(text, citations) == [SUPPORTED]
    assert citations[0]["retrievedReferences"][0]["content"]["text"] == VOLCANO


@pytest.mark.parametrize("stream", [False, True])
def test_nothing_supported_gives_the_fallback(scripted: tuple[RunningServer, Scripted], stream: bool) -> None:
    text, citations = ask(scripted[0], "Who founded the volcano?", stream=stream)
    assert (text, citations) == (FALLBACK, [])


@pytest.mark.parametrize("stream", [False, True])
def test_true_sentences_that_do_not_answer_give_the_fallback(
    scripted: tuple[RunningServer, Scripted], stream: bool
) -> None:
    text, citations = ask(scripted[0], "How often does the volcano erupt?", stream=stream)
    assert (text, citations) == (FALLBACK, [])


@pytest.mark.parametrize("stream", [False, True])
def test_a_refusal_first_gives_the_fallback(scripted: tuple[RunningServer, Scripted], stream: bool) -> None:
    # the model says the sources do not answer: a true sentence after that does not make it an answer
    text, citations = ask(scripted[0], "What colour is the lava?", stream=stream)
    assert (text, citations) == (FALLBACK, [])


@pytest.mark.parametrize("stream", [False, True])
def test_a_refusal_after_an_answer_is_dropped(scripted: tuple[RunningServer, Scripted], stream: bool) -> None:
    text, citations = ask(scripted[0], "How does magma reach the crust?", stream=stream)
    assert text == f"Magma rises through the crust. {SUPPORTED}"
    assert spans(text, citations) == [text]  # one run: both sentences cite the one passage
    assert citations[0]["retrievedReferences"][0]["content"]["text"] == VOLCANO


def test_fake_models_fall_back_when_the_sources_do_not_say(client: Callable[..., Any]) -> None:
    runtime = client("bedrock-agent-runtime")
    question = {"text": "Who painted the Mona Lisa?"}  # the fake echoes it: no source holds those names
    response = runtime.retrieve_and_generate(
        input=question, retrieveAndGenerateConfiguration=sources(VOLCANO)
    )
    assert (response["output"]["text"], response["citations"]) == (FALLBACK, [])
    streamed = runtime.retrieve_and_generate_stream(
        input=question, retrieveAndGenerateConfiguration=sources(VOLCANO)
    )
    assert read_rag_stream(streamed) == (FALLBACK, [])


def test_nothing_retrieved_answers_the_fallback_without_the_model(client: Callable[..., Any]) -> None:
    agent, runtime = client("bedrock-agent"), client("bedrock-agent-runtime")
    kb_id = create_knowledge_base(agent)  # never ingested: nothing to retrieve
    configuration = {
        "type": "KNOWLEDGE_BASE",
        "knowledgeBaseConfiguration": {"knowledgeBaseId": kb_id, "modelArn": CHAT_ARN},
    }
    response = runtime.retrieve_and_generate(
        input={"text": "Why do volcanoes erupt?"}, retrieveAndGenerateConfiguration=configuration
    )
    assert (response["output"]["text"], response["citations"]) == (FALLBACK, [])


@pytest.mark.real
def test_real_models_refuse_what_the_sources_do_not_say(real_server: RunningServer) -> None:
    agent, s3 = real_server.client("bedrock-agent"), real_server.client("s3")
    runtime = real_server.client("bedrock-agent-runtime")
    kb_id = create_knowledge_base(agent)
    text = (
        "The Vellmoor lighthouse was built in 1887 by the engineer Tobias Grell. The tower is 46 metres "
        "tall, and a ticket for visitors costs 7 euros."
    )
    bucket = fill_bucket(s3, {"docs/vellmoor.txt": text.encode()})
    job = ingest(agent, kb_id, create_data_source(agent, kb_id, bucket), timeout=300)
    assert job["status"] == "COMPLETE"
    configuration = {
        "type": "KNOWLEDGE_BASE",
        "knowledgeBaseConfiguration": {
            "knowledgeBaseId": kb_id,
            "modelArn": "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-sonnet-20240229-v1:0",
            "generationConfiguration": {
                "inferenceConfig": {"textInferenceConfig": {"maxTokens": 60, "temperature": 0}}
            },
        },
    }
    answered = runtime.retrieve_and_generate(
        input={"text": "Who built the Vellmoor lighthouse?"}, retrieveAndGenerateConfiguration=configuration
    )
    assert "Grell" in answered["output"]["text"] and answered["citations"], answered
    refused = runtime.retrieve_and_generate(
        input={"text": "Who designed the lamp of the Vellmoor lighthouse?"},
        retrieveAndGenerateConfiguration=configuration,
    )
    assert (refused["output"]["text"], refused["citations"]) == (FALLBACK, []), refused
    recited = runtime.retrieve_and_generate(  # the model recites the passage: true, but no answer
        input={"text": "How much did it cost to build the Vellmoor lighthouse?"},
        retrieveAndGenerateConfiguration=configuration,
    )
    assert (recited["output"]["text"], recited["citations"]) == (FALLBACK, []), recited
