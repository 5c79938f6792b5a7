"""RetrieveAndGenerate when the model answers with source markers alone ("[1][3]", as the 0.5B model sometimes
does): the answer is asked for again without markers, in both the plain and the streaming operation.

The chat model is a scripted one behind the test OpenAI-compatible server, reached through a catalog entry
with `runtime = "openai"`, so the server under test runs its real remote backend.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from outcrop.backends.base import ChatMessage, GenerationEvent, GenerationRequest, GenerationResult, ToolSpec
from tests.server import RunningServer
from tests.services.knowledge_bases import CHAT_ARN, VOLCANO, read_rag_stream, scripted_chat_server

ANSWER = "Magma rises through the crust and sticky rhyolite magma traps gas."


class MarkersFirst:
    """Answers "[1][3]" when asked to number its sources, and a real sentence when not."""

    model_id = "scripted"

    def __init__(self) -> None:
        self.systems: list[str] = []

    def count_tokens(self, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec] = ()) -> int:
        return sum(len(message.content.split()) for message in messages)

    def stream(self, request: GenerationRequest, cancel: threading.Event) -> Iterator[GenerationEvent]:
        system = request.messages[0].content
        self.systems.append(system)
        text = "[1][3]" if "square brackets" in system else ANSWER
        for word in text.split(" "):
            yield GenerationEvent(text=word if word == text.split(" ")[0] else f" {word}")
        yield GenerationEvent(done=GenerationResult(text, "end_turn", 10, len(text.split())))


@pytest.fixture(scope="module")
def scripted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, MarkersFirst]]:
    model = MarkersFirst()
    with scripted_chat_server(tmp_path_factory.mktemp("markers"), model) as server:
        yield server, model


def configuration() -> dict[str, Any]:
    source = {
        "sourceType": "BYTE_CONTENT",
        "byteContent": {"identifier": "volcanoes.txt", "contentType": "text/plain", "data": VOLCANO.encode()},
    }
    return {
        "type": "EXTERNAL_SOURCES",
        "externalSourcesConfiguration": {"modelArn": CHAT_ARN, "sources": [source]},
    }


def test_markers_only_answer_is_asked_again(scripted: tuple[RunningServer, MarkersFirst]) -> None:
    server, model = scripted
    before = len(model.systems)
    response = server.client("bedrock-agent-runtime").retrieve_and_generate(
        input={"text": "Why do volcanoes erupt?"}, retrieveAndGenerateConfiguration=configuration()
    )
    assert response["output"]["text"] == ANSWER
    asked = model.systems[before:]
    assert len(asked) == 2 and "square brackets" in asked[0] and "square brackets" not in asked[1]
    # without markers the citation comes from the words the answer shares with the source
    (citation,) = response["citations"]
    span = citation["generatedResponsePart"]["textResponsePart"]["span"]
    assert ANSWER[span["start"] : span["end"] + 1] == ANSWER
    assert citation["retrievedReferences"][0]["content"]["text"] == VOLCANO


def test_markers_only_answer_is_asked_again_when_streaming(
    scripted: tuple[RunningServer, MarkersFirst],
) -> None:
    server, model = scripted
    before = len(model.systems)
    response = server.client("bedrock-agent-runtime").retrieve_and_generate_stream(
        input={"text": "Why do volcanoes erupt?"}, retrieveAndGenerateConfiguration=configuration()
    )
    text, citations = read_rag_stream(response)
    assert text == ANSWER
    assert len(model.systems) - before == 2
    assert citations and citations[0]["retrievedReferences"][0]["content"]["text"] == VOLCANO
