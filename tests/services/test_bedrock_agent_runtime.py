"""Retrieve and RetrieveAndGenerate through boto3: fake models here, and one real end-to-end test."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.server import RunningServer
from tests.services.knowledge_bases import (
    CHAT_ARN,
    create_data_source,
    create_knowledge_base,
    fill_bucket,
    ingest,
    read_rag_stream,
)


@pytest.fixture(scope="module")
def corpus(server: RunningServer) -> tuple[str, str]:
    """A knowledge base over the test documents, ingested once: (knowledge base id, bucket)."""
    agent, s3 = server.client("bedrock-agent"), server.client("s3")
    kb_id = create_knowledge_base(agent)
    bucket = fill_bucket(s3)
    job = ingest(agent, kb_id, create_data_source(agent, kb_id, bucket))
    assert job["status"] == "COMPLETE"
    return kb_id, bucket


@pytest.fixture
def runtime(client: Callable[..., Any]) -> Any:
    return client("bedrock-agent-runtime")


def retrieve(runtime: Any, kb_id: str, text: str, **vector: Any) -> list[dict[str, Any]]:
    configuration = {"vectorSearchConfiguration": vector} if vector else {}
    response = runtime.retrieve(
        knowledgeBaseId=kb_id,
        retrievalQuery={"text": text},
        **({"retrievalConfiguration": configuration} if configuration else {}),
    )
    results: list[dict[str, Any]] = response["retrievalResults"]
    return results


def sources(results: list[dict[str, Any]]) -> list[str]:
    return [r["location"]["s3Location"]["uri"].rpartition("/")[2] for r in results]


def error_of(call: Callable[..., Any], **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]


def test_retrieve_finds_the_right_document(runtime: Any, corpus: tuple[str, str]) -> None:
    kb_id, bucket = corpus
    results = retrieve(runtime, kb_id, "why is rhyolite magma explosive")
    top = results[0]
    assert top["location"] == {"type": "S3", "s3Location": {"uri": f"s3://{bucket}/docs/volcanoes.txt"}}
    assert "rhyolite" in top["content"]["text"] and top["content"]["type"] == "TEXT"
    assert top["metadata"]["x-amz-bedrock-kb-source-uri"] == f"s3://{bucket}/docs/volcanoes.txt"
    assert top["metadata"]["x-amz-bedrock-kb-chunk-id"]
    assert top["metadata"]["topic"] == "geology" and top["metadata"]["year"] == 2021
    assert 0 < results[-1]["score"] <= top["score"] <= 1
    assert sources(retrieve(runtime, kb_id, "feather wand play for indoor cats", numberOfResults=1)) == [
        "cats.html"
    ]
    assert sources(retrieve(runtime, kb_id, "revenue grew cloud services", overrideSearchType="HYBRID"))[
        0
    ] == ("report.docx")
    assert "planets.csv" in sources(retrieve(runtime, kb_id, "how many moons does Saturn have"))[:2]


@pytest.mark.parametrize(
    ("filter", "expected"),
    [
        ({"equals": {"key": "topic", "value": "food"}}, {"coffee.md"}),
        (
            {"notEquals": {"key": "topic", "value": "food"}},
            {"volcanoes.txt", "cats.html", "planets.csv", "report.docx"},
        ),
        ({"greaterThan": {"key": "year", "value": 2022}}, {"coffee.md"}),
        ({"lessThanOrEquals": {"key": "year", "value": 2021}}, {"volcanoes.txt"}),
        ({"in": {"key": "topic", "value": ["geology", "food"]}}, {"volcanoes.txt", "coffee.md"}),
        ({"listContains": {"key": "tags", "value": "earth"}}, {"volcanoes.txt"}),
        ({"stringContains": {"key": "topic", "value": "olog"}}, {"volcanoes.txt"}),
        ({"startsWith": {"key": "x-amz-bedrock-kb-source-uri", "value": "s3://"}}, None),
        (
            {
                "andAll": [
                    {"equals": {"key": "topic", "value": "geology"}},
                    {"greaterThan": {"key": "year", "value": 2022}},
                ]
            },
            set(),
        ),
        (
            {
                "orAll": [
                    {"equals": {"key": "topic", "value": "geology"}},
                    {"greaterThan": {"key": "year", "value": 2022}},
                ]
            },
            {"volcanoes.txt", "coffee.md"},
        ),
    ],
)
def test_retrieve_filters(
    runtime: Any, corpus: tuple[str, str], filter: dict[str, Any], expected: set[str] | None
) -> None:
    found = set(sources(retrieve(runtime, corpus[0], "water", numberOfResults=20, filter=filter)))
    assert found == (
        expected
        if expected is not None
        else {"volcanoes.txt", "coffee.md", "cats.html", "planets.csv", "report.docx"}
    )


def test_retrieve_bad_inputs(client: Callable[..., Any], corpus: tuple[str, str]) -> None:
    runtime = client("bedrock-agent-runtime", parameter_validation=False)
    kb_id = corpus[0]
    code, _ = error_of(runtime.retrieve, knowledgeBaseId="NOSUCHKB00", retrievalQuery={"text": "x"})
    assert code == "ResourceNotFoundException"
    for count in (0, 101):
        code, _ = error_of(
            runtime.retrieve,
            knowledgeBaseId=kb_id,
            retrievalQuery={"text": "x"},
            retrievalConfiguration={"vectorSearchConfiguration": {"numberOfResults": count}},
        )
        assert code == "ValidationException"
    code, message = error_of(
        runtime.retrieve,
        knowledgeBaseId=kb_id,
        retrievalQuery={"text": "x"},
        retrievalConfiguration={
            "vectorSearchConfiguration": {"filter": {"greaterThan": {"key": "year", "value": "recent"}}}
        },
    )
    assert code == "ValidationException" and "greaterThan" in message


def test_hierarchical_chunking_returns_parent_chunks(server: RunningServer, runtime: Any) -> None:
    agent, s3 = server.client("bedrock-agent"), server.client("s3")
    kb_id = create_knowledge_base(agent)
    colours = ["red", "blue", "green", "white"] * 3
    sentences = [f"Fact {n}: the {colour} lighthouse has {n} windows." for n, colour in enumerate(colours)]
    bucket = fill_bucket(s3, {"docs/long.txt": " ".join(sentences).encode()})
    ds_id = create_data_source(
        agent,
        kb_id,
        bucket,
        vectorIngestionConfiguration={
            "chunkingConfiguration": {
                "chunkingStrategy": "HIERARCHICAL",
                "hierarchicalChunkingConfiguration": {
                    "levelConfigurations": [{"maxTokens": 80}, {"maxTokens": 20}],
                    "overlapTokens": 5,
                },
            }
        },
    )
    assert ingest(agent, kb_id, ds_id)["status"] == "COMPLETE"
    results = retrieve(runtime, kb_id, "Fact 5 blue lighthouse windows", numberOfResults=3)
    assert "Fact 5:" in results[0]["content"]["text"]
    assert len(results[0]["content"]["text"].split()) > 30  # the parent, not the 20-token child
    agent.delete_knowledge_base(knowledgeBaseId=kb_id)


def test_semantic_and_no_chunking(server: RunningServer, runtime: Any) -> None:
    agent, s3 = server.client("bedrock-agent"), server.client("s3")
    kb_id = create_knowledge_base(agent)
    text = (
        "Penguins live in the southern hemisphere. Penguins cannot fly but swim very well. "
        "Penguins eat fish and krill.\n\nThe stock market fell sharply on Monday. Investors sold bank "
        "shares. Bond yields rose as markets closed."
    )
    bucket = fill_bucket(s3, {"docs/mixed.txt": text.encode()})
    semantic = {
        "chunkingStrategy": "SEMANTIC",
        "semanticChunkingConfiguration": {
            "maxTokens": 300,
            "bufferSize": 0,
            "breakpointPercentileThreshold": 60,
        },
    }
    for chunking in (semantic, {"chunkingStrategy": "NONE"}):
        ds_id = create_data_source(
            agent, kb_id, bucket, vectorIngestionConfiguration={"chunkingConfiguration": chunking}
        )
        assert ingest(agent, kb_id, ds_id)["statistics"]["numberOfNewDocumentsIndexed"] == 1
    results = retrieve(runtime, kb_id, "penguins swim and eat krill", numberOfResults=10)
    by_source = {r["metadata"]["x-amz-bedrock-kb-data-source-id"]: r for r in results}
    assert len(by_source) == 2
    texts = [r["content"]["text"] for r in results]
    assert text.strip() in texts  # NONE: the whole document is one chunk
    assert any("Penguins" in t and "stock" not in t for t in texts)  # SEMANTIC split the two topics apart
    agent.delete_knowledge_base(knowledgeBaseId=kb_id)


def rag_configuration(kb_id: str, **generation: Any) -> dict[str, Any]:
    configuration: dict[str, Any] = {"knowledgeBaseId": kb_id, "modelArn": CHAT_ARN}
    if generation:
        configuration["generationConfiguration"] = generation
    return {"type": "KNOWLEDGE_BASE", "knowledgeBaseConfiguration": configuration}


def check_citations(response: dict[str, Any], uri_suffix: str) -> None:
    text = response["output"]["text"]
    assert response["citations"]
    uris = set()
    for citation in response["citations"]:
        part = citation["generatedResponsePart"]["textResponsePart"]
        span = part["span"]
        assert 0 <= span["start"] <= span["end"] < len(text)
        assert text[span["start"] : span["end"] + 1] == part["text"]
        uris |= {ref["location"]["s3Location"]["uri"] for ref in citation["retrievedReferences"]}
    assert any(uri.endswith(uri_suffix) for uri in uris)


def test_retrieve_and_generate_cites_its_sources(runtime: Any, corpus: tuple[str, str]) -> None:
    kb_id = corpus[0]
    first = runtime.retrieve_and_generate(
        input={"text": "What makes rhyolite magma eruptions explosive?"},
        retrieveAndGenerateConfiguration=rag_configuration(kb_id),
    )
    assert first["output"]["text"].startswith("You said: ")
    check_citations(first, "/docs/volcanoes.txt")
    uuid.UUID(first["sessionId"])
    follow = runtime.retrieve_and_generate(
        input={"text": "Why bloom the coffee grounds before pouring?"},  # every word in the source
        sessionId=first["sessionId"],
        retrieveAndGenerateConfiguration=rag_configuration(
            kb_id, promptTemplate={"textPromptTemplate": "Answer from these results only: $search_results$"}
        ),
    )
    assert follow["sessionId"] == first["sessionId"]
    check_citations(follow, "/docs/coffee.md")


def test_retrieve_and_generate_bad_inputs(runtime: Any, corpus: tuple[str, str]) -> None:
    kb_id = corpus[0]
    code, message = error_of(
        runtime.retrieve_and_generate,
        input={"text": "x"},
        retrieveAndGenerateConfiguration=rag_configuration(
            kb_id, promptTemplate={"textPromptTemplate": "No placeholder here"}
        ),
    )
    assert code == "ValidationException" and "$search_results$" in message
    code, _ = error_of(
        runtime.retrieve_and_generate,
        input={"text": "x"},
        retrieveAndGenerateConfiguration=rag_configuration("NOSUCHKB00"),
    )
    assert code == "ResourceNotFoundException"
    code, _ = error_of(
        runtime.retrieve_and_generate,
        input={"text": "x"},
        sessionId=str(uuid.uuid4()),
        retrieveAndGenerateConfiguration=rag_configuration(kb_id),
    )
    assert code == "ResourceNotFoundException"


def test_retrieve_and_generate_stream(runtime: Any, corpus: tuple[str, str]) -> None:
    response = runtime.retrieve_and_generate_stream(
        input={"text": "Why do indoor cats need a feather wand?"},
        retrieveAndGenerateConfiguration=rag_configuration(corpus[0]),
    )
    text, cited = read_rag_stream(response)
    assert text.startswith("You said: ")
    check_citations(
        {"output": {"text": text}, "citations": [c["citation"] for c in cited]}, "/docs/cats.html"
    )
    assert response["sessionId"]


@pytest.mark.real
def test_real_models_retrieve_and_answer_with_citations(real_server: RunningServer) -> None:
    agent, s3 = real_server.client("bedrock-agent"), real_server.client("s3")
    runtime = real_server.client("bedrock-agent-runtime")
    kb_id = create_knowledge_base(agent)
    bucket = fill_bucket(
        s3,
        {
            "docs/lighthouse.txt": (
                b"The Harbor Point lighthouse was built in 1871. Its lamp is visible for eighteen nautical "
                b"miles, and the keeper climbs 112 steps to reach the lantern room."
            ),
            "docs/bread.txt": (
                b"Sourdough bread rises with a wild yeast starter. The dough ferments for twelve hours "
                b"before it is baked at 250 degrees Celsius in a covered pot."
            ),
        },
    )
    job = ingest(agent, kb_id, create_data_source(agent, kb_id, bucket), timeout=300)
    assert job["status"] == "COMPLETE" and job["statistics"]["numberOfNewDocumentsIndexed"] == 2
    results = retrieve(runtime, kb_id, "When was the lighthouse built?")
    assert sources(results)[0] == "lighthouse.txt"
    started = time.monotonic()
    answer = runtime.retrieve_and_generate(
        input={"text": "When was the Harbor Point lighthouse built?"},
        retrieveAndGenerateConfiguration=rag_configuration(
            kb_id, inferenceConfig={"textInferenceConfig": {"maxTokens": 80, "temperature": 0}}
        ),
    )
    assert "1871" in answer["output"]["text"], answer
    check_citations(answer, "/docs/lighthouse.txt")
    assert time.monotonic() - started < 300
