"""WEB data sources and EXTERNAL_SOURCES on the real models: real embeddings rank the crawled page, the real
LLM answers from an inline document and cites it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.rag.web_site import web_site
from tests.server import RunningServer
from tests.services.knowledge_bases import create_knowledge_base, ingest
from tests.services.test_bedrock_agent_web import web_source

pytestmark = pytest.mark.real
# Claude 3 Sonnet is served by Qwen2.5-Coder 1.5B; the 0.5B model behind Haiku copies the "[1][3]" example.
SONNET_ARN = "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-sonnet-20240229-v1:0"


def test_crawled_pages_are_ranked_by_real_embeddings(real_server: RunningServer, tmp_path: Path) -> None:
    agent, runtime = real_server.client("bedrock-agent"), real_server.client("bedrock-agent-runtime")
    with web_site(tmp_path) as base:
        kb_id = create_knowledge_base(agent)
        job = ingest(agent, kb_id, web_source(agent, kb_id, f"{base}/docs/index.html"), timeout=300)
        assert job["status"] == "COMPLETE", job
    for question, page in (
        ("Why are some eruptions explosive?", "volcano.html"),
        ("How hot should the water be for pour-over coffee?", "coffee.html"),
    ):
        results = runtime.retrieve(knowledgeBaseId=kb_id, retrievalQuery={"text": question})[
            "retrievalResults"
        ]
        assert results[0]["location"]["webLocation"]["url"] == f"{base}/docs/{page}", (question, results)


def test_external_source_answer_comes_from_the_document(real_server: RunningServer) -> None:
    runtime = real_server.client("bedrock-agent-runtime")
    document = (
        "Orchard Street Library opens at 9 in the morning on weekdays and closes at 6 in the evening. "
        "On Saturdays it opens at 10 and closes at 2. It is closed on Sundays."
    )
    source = {
        "sourceType": "BYTE_CONTENT",
        "byteContent": {"identifier": "hours.txt", "contentType": "text/plain", "data": document.encode()},
    }
    response = runtime.retrieve_and_generate(
        input={"text": "What time does Orchard Street Library close on Saturdays?"},
        retrieveAndGenerateConfiguration={
            "type": "EXTERNAL_SOURCES",
            "externalSourcesConfiguration": {
                "modelArn": SONNET_ARN,
                "sources": [source],
                "generationConfiguration": {"inferenceConfig": {"textInferenceConfig": {"temperature": 0}}},
            },
        },
    )
    answer = response["output"]["text"]
    assert "2" in answer or "two" in answer.lower(), answer
    references = [ref for citation in response["citations"] for ref in citation["retrievedReferences"]]
    assert references and all(
        ref["location"] == {"type": "CUSTOM", "customDocumentLocation": {"id": "hours.txt"}}
        for ref in references
    )
    spans = [
        citation["generatedResponsePart"]["textResponsePart"]["span"] for citation in response["citations"]
    ]
    assert all(0 <= span["start"] <= span["end"] <= len(answer) for span in spans)
