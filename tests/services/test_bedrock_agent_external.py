"""RetrieveAndGenerate over EXTERNAL_SOURCES (inline bytes and an S3 object), with the fake chat model."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.services.knowledge_bases import CHAT_ARN, VOLCANO


def external(source: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "EXTERNAL_SOURCES",
        "externalSourcesConfiguration": {"modelArn": CHAT_ARN, "sources": [source]},
    }


def test_byte_content_source_is_cited(client: Callable[..., Any]) -> None:
    runtime = client("bedrock-agent-runtime")
    source = {
        "sourceType": "BYTE_CONTENT",
        "byteContent": {"identifier": "volcanoes.txt", "contentType": "text/plain", "data": VOLCANO.encode()},
    }
    response = runtime.retrieve_and_generate(
        input={"text": "Why do volcanoes erupt?"}, retrieveAndGenerateConfiguration=external(source)
    )
    assert response["output"]["text"]
    references = [ref for citation in response["citations"] for ref in citation["retrievedReferences"]]
    assert references, response
    assert references[0]["content"]["text"] == VOLCANO
    assert references[0]["location"] == {"type": "CUSTOM", "customDocumentLocation": {"id": "volcanoes.txt"}}


def test_s3_source_and_errors(client: Callable[..., Any]) -> None:
    runtime, s3 = client("bedrock-agent-runtime"), client("s3")
    bucket = f"ext-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="notes/volcano.md", Body=f"# Volcanoes\n\n{VOLCANO}\n".encode())
    uri = f"s3://{bucket}/notes/volcano.md"
    response = runtime.retrieve_and_generate(
        input={"text": "What makes eruptions explosive?"},
        retrieveAndGenerateConfiguration=external({"sourceType": "S3", "s3Location": {"uri": uri}}),
    )
    references = [ref for citation in response["citations"] for ref in citation["retrievedReferences"]]
    assert references and references[0]["location"] == {"type": "S3", "s3Location": {"uri": uri}}
    with pytest.raises(ClientError) as info:
        runtime.retrieve_and_generate(
            input={"text": "x"},
            retrieveAndGenerateConfiguration=external(
                {"sourceType": "S3", "s3Location": {"uri": f"s3://{bucket}/missing.txt"}}
            ),
        )
    assert info.value.response["Error"]["Code"] == "ValidationException"
