"""Helpers for the Knowledge Bases tests: the guide's configuration, a document corpus, job polling."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from outcrop.backends.base import TextGenerator
from tests.backends.openai_server import fake_openai_server
from tests.rag.documents import make_docx
from tests.server import RunningServer

ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/AmazonBedrockExecutionRoleForKnowledgeBase_outcrop"
EMBEDDING_ARN = "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0"
CHAT_ARN = "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"
KB_CONFIGURATION = {
    "type": "VECTOR",
    "vectorKnowledgeBaseConfiguration": {"embeddingModelArn": EMBEDDING_ARN},
}
STORAGE_CONFIGURATION = {
    "type": "OPENSEARCH_SERVERLESS",
    "opensearchServerlessConfiguration": {
        "collectionArn": f"arn:aws:aoss:us-east-1:{ACCOUNT}:collection/outcropcollection",
        "vectorIndexName": "bedrock-knowledge-base-default-index",
        "fieldMapping": {
            "vectorField": "bedrock-knowledge-base-default-vector",
            "textField": "AMAZON_BEDROCK_TEXT_CHUNK",
            "metadataField": "AMAZON_BEDROCK_METADATA",
        },
    },
}

VOLCANO = (
    "Volcanoes erupt when magma rises through the crust. Basaltic lava flows are runny, while rhyolite "
    "magma is sticky and traps gas, which makes explosive eruptions."
)
DOCUMENTS: dict[str, bytes] = {
    "docs/volcanoes.txt": VOLCANO.encode(),
    "docs/coffee.md": (
        b"# Brewing coffee\n\nA pour-over needs water at ninety-four degrees and a medium-fine grind. "
        b"Bloom the grounds for thirty seconds before pouring the rest of the water.\n"
    ),
    "docs/cats.html": (
        b"<html><head><title>Cats</title></head><body><main><h1>Caring for cats</h1>"
        b"<p>Indoor cats need daily play with a feather wand, and fresh water every single day.</p>"
        b"</main></body></html>"
    ),
    "docs/planets.csv": b"planet,moons\nMars,2\nJupiter,95\nSaturn,146\n",
    "docs/report.docx": make_docx(),
    "docs/broken.pdf": b"%PDF-1.7\nthis is not really a pdf at all\n",
}
SIDECARS: dict[str, bytes] = {
    "docs/volcanoes.txt.metadata.json": (
        b'{"metadataAttributes": {"topic": "geology", "year": 2021, "tags": ["science", "earth"]}}'
    ),
    "docs/coffee.md.metadata.json": b'{"metadataAttributes": {"topic": "food", "year": 2024}}',
}


def create_knowledge_base(agent: Any, **overrides: Any) -> str:
    arguments = {
        "name": f"kb-{uuid.uuid4().hex[:8]}",
        "roleArn": ROLE_ARN,
        "knowledgeBaseConfiguration": KB_CONFIGURATION,
        "storageConfiguration": STORAGE_CONFIGURATION,
        **overrides,
    }
    response = agent.create_knowledge_base(**arguments)
    return str(response["knowledgeBase"]["knowledgeBaseId"])


def fill_bucket(s3: Any, objects: dict[str, bytes] | None = None) -> str:
    bucket = f"kb-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    for key, body in (objects if objects is not None else {**DOCUMENTS, **SIDECARS}).items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    return bucket


def create_data_source(agent: Any, kb_id: str, bucket: str, **overrides: Any) -> str:
    arguments = {
        "knowledgeBaseId": kb_id,
        "name": f"ds-{uuid.uuid4().hex[:8]}",
        "dataSourceConfiguration": {
            "type": "S3",
            "s3Configuration": {"bucketArn": f"arn:aws:s3:::{bucket}", "inclusionPrefixes": ["docs/"]},
        },
        "vectorIngestionConfiguration": {
            "chunkingConfiguration": {
                "chunkingStrategy": "FIXED_SIZE",
                "fixedSizeChunkingConfiguration": {"maxTokens": 100, "overlapPercentage": 10},
            }
        },
        **overrides,
    }
    return str(agent.create_data_source(**arguments)["dataSource"]["dataSourceId"])


def ingest(agent: Any, kb_id: str, ds_id: str, timeout: float = 60) -> dict[str, Any]:
    """Start a job and poll it to its end; returns the finished job."""
    job_id = agent.start_ingestion_job(knowledgeBaseId=kb_id, dataSourceId=ds_id)["ingestionJob"][
        "ingestionJobId"
    ]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = agent.get_ingestion_job(
            knowledgeBaseId=kb_id, dataSourceId=ds_id, ingestionJobId=job_id
        )["ingestionJob"]
        if job["status"] not in ("STARTING", "IN_PROGRESS", "STOPPING"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"ingestion job {job_id} did not finish in {timeout} s")


def read_rag_stream(response: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The text and the citation events of a RetrieveAndGenerateStream response, read to its end."""
    text, cited = "", []
    for event in response["stream"]:
        if "output" in event:
            text += event["output"]["text"]
        if "citation" in event:
            cited.append(event["citation"])
    return text, cited


@contextlib.contextmanager
def scripted_chat_server(root: Path, model: TextGenerator) -> Iterator[RunningServer]:
    """A real server whose CHAT_ARN id is answered by `model`, behind the test OpenAI-compatible server, for
    answers no real or fake model gives on demand."""
    with fake_openai_server() as remote:
        remote.model = model
        catalog = root / "catalog.toml"
        catalog.write_text(
            f"""
[local.remote]
runtime = "openai"
kind = "chat"
base_url = "{remote.base_url}"
remote_model = "scripted"

[[bedrock]]
id = "{CHAT_ARN.rsplit("/", 1)[-1]}"
name = "Scripted"
provider = "Anthropic"
format = "anthropic"
local = "remote"
"""
        )
        server = RunningServer(root / "data", fake_models=False, extra_env={"OUTCROP_CATALOG": str(catalog)})
        server.start()
        try:
            yield server
        finally:
            server.stop()
