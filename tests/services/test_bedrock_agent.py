"""Knowledge Bases control plane and ingestion through boto3, against a server with fake models."""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.server import RunningServer
from tests.services.knowledge_bases import (
    DOCUMENTS,
    EMBEDDING_ARN,
    KB_CONFIGURATION,
    ROLE_ARN,
    SIDECARS,
    STORAGE_CONFIGURATION,
    create_data_source,
    create_knowledge_base,
    fill_bucket,
    ingest,
)


@pytest.fixture
def agent(client: Callable[..., Any]) -> Any:
    return client("bedrock-agent")


@pytest.fixture
def s3(client: Callable[..., Any]) -> Any:
    return client("s3")


def error_code(call: Callable[..., Any], **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]


def test_knowledge_base_lifecycle_with_the_guides_configuration(agent: Any) -> None:
    name = f"kb-{uuid.uuid4().hex[:8]}"
    created = agent.create_knowledge_base(
        name=name,
        description="docs",
        roleArn=ROLE_ARN,
        knowledgeBaseConfiguration=KB_CONFIGURATION,
        storageConfiguration=STORAGE_CONFIGURATION,
    )["knowledgeBase"]
    kb_id = created["knowledgeBaseId"]
    assert created["status"] == "CREATING"
    assert created["knowledgeBaseArn"].endswith(f":knowledge-base/{kb_id}")
    got = agent.get_knowledge_base(knowledgeBaseId=kb_id)["knowledgeBase"]
    assert got["status"] == "ACTIVE"
    assert got["storageConfiguration"] == STORAGE_CONFIGURATION
    summaries = agent.list_knowledge_bases()["knowledgeBaseSummaries"]
    assert any(s["knowledgeBaseId"] == kb_id and s["name"] == name for s in summaries)
    assert (
        error_code(
            agent.create_knowledge_base,
            name=name,
            roleArn=ROLE_ARN,
            knowledgeBaseConfiguration=KB_CONFIGURATION,
            storageConfiguration=STORAGE_CONFIGURATION,
        )[0]
        == "ConflictException"
    )
    updated = agent.update_knowledge_base(
        knowledgeBaseId=kb_id,
        name=name + "-2",
        roleArn=ROLE_ARN,
        knowledgeBaseConfiguration=KB_CONFIGURATION,
        storageConfiguration=STORAGE_CONFIGURATION,
    )["knowledgeBase"]
    assert updated["name"] == name + "-2" and "description" not in updated
    deleted = agent.delete_knowledge_base(knowledgeBaseId=kb_id)
    assert deleted["status"] == "DELETING"
    assert error_code(agent.get_knowledge_base, knowledgeBaseId=kb_id)[0] == "ResourceNotFoundException"


def test_bad_knowledge_base_configurations(agent: Any) -> None:
    chat = "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"
    code, message = error_code(
        agent.create_knowledge_base,
        name="kb-bad-model",
        roleArn=ROLE_ARN,
        knowledgeBaseConfiguration={
            "type": "VECTOR",
            "vectorKnowledgeBaseConfiguration": {"embeddingModelArn": chat},
        },
    )
    assert code == "ValidationException" and "embedding model" in message
    pinecone = {
        "type": "PINECONE",
        "pineconeConfiguration": {
            "connectionString": "https://example.pinecone.io",
            "credentialsSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:pinecone",
            "fieldMapping": {"textField": "text", "metadataField": "metadata"},
        },
    }
    code, message = error_code(
        agent.create_knowledge_base,
        name="kb-bad-store",
        roleArn=ROLE_ARN,
        knowledgeBaseConfiguration=KB_CONFIGURATION,
        storageConfiguration=pinecone,
    )
    assert code == "ValidationException" and "OPENSEARCH_SERVERLESS" in message
    assert (
        error_code(agent.get_knowledge_base, knowledgeBaseId="NOSUCHKB00")[0] == "ResourceNotFoundException"
    )


def test_data_source_lifecycle_and_chunking_validation(agent: Any) -> None:
    kb_id = create_knowledge_base(agent)
    ds_id = create_data_source(agent, kb_id, "some-bucket")
    source = agent.get_data_source(knowledgeBaseId=kb_id, dataSourceId=ds_id)["dataSource"]
    assert source["status"] == "AVAILABLE"
    assert source["vectorIngestionConfiguration"]["chunkingConfiguration"]["chunkingStrategy"] == "FIXED_SIZE"
    listed = agent.list_data_sources(knowledgeBaseId=kb_id)["dataSourceSummaries"]
    assert [s["dataSourceId"] for s in listed] == [ds_id]
    code, message = error_code(
        agent.create_data_source,
        knowledgeBaseId=kb_id,
        name="bad-chunking",
        dataSourceConfiguration={"type": "S3", "s3Configuration": {"bucketArn": "arn:aws:s3:::some-bucket"}},
        vectorIngestionConfiguration={
            "chunkingConfiguration": {
                "chunkingStrategy": "HIERARCHICAL",
                "hierarchicalChunkingConfiguration": {
                    "levelConfigurations": [{"maxTokens": 100}, {"maxTokens": 500}],
                    "overlapTokens": 10,
                },
            }
        },
    )
    assert code == "ValidationException" and "levelConfigurations[1].maxTokens" in message
    assert (
        error_code(
            agent.create_data_source,
            knowledgeBaseId="NOSUCHKB00",
            name="x",
            dataSourceConfiguration={
                "type": "S3",
                "s3Configuration": {"bucketArn": "arn:aws:s3:::some-bucket"},
            },
        )[0]
        == "ResourceNotFoundException"
    )
    assert agent.delete_data_source(knowledgeBaseId=kb_id, dataSourceId=ds_id)["status"] == "DELETING"
    assert (
        error_code(agent.get_data_source, knowledgeBaseId=kb_id, dataSourceId=ds_id)[0]
        == "ResourceNotFoundException"
    )
    agent.delete_knowledge_base(knowledgeBaseId=kb_id)


def test_ingestion_statistics_failures_and_incremental_reingestion(agent: Any, s3: Any) -> None:
    kb_id = create_knowledge_base(agent)
    bucket = fill_bucket(s3)
    ds_id = create_data_source(agent, kb_id, bucket)
    job = ingest(agent, kb_id, ds_id)
    assert job["status"] == "COMPLETE"
    stats = job["statistics"]
    assert stats["numberOfDocumentsScanned"] == len(DOCUMENTS)
    assert stats["numberOfMetadataDocumentsScanned"] == len(SIDECARS)
    assert stats["numberOfNewDocumentsIndexed"] == len(DOCUMENTS) - 1
    assert stats["numberOfDocumentsFailed"] == 1
    (reason,) = job["failureReasons"]
    assert reason.startswith("docs/broken.pdf: ") and "PDF" in reason

    # Nothing changed: nothing is indexed again.
    again = ingest(agent, kb_id, ds_id)["statistics"]
    assert again["numberOfNewDocumentsIndexed"] == again["numberOfModifiedDocumentsIndexed"] == 0
    assert again["numberOfDocumentsScanned"] == len(DOCUMENTS)

    # Edit one, delete one, retag one, add one.
    s3.put_object(Bucket=bucket, Key="docs/volcanoes.txt", Body=b"Volcanoes sleep for centuries, then wake.")
    s3.delete_object(Bucket=bucket, Key="docs/planets.csv")
    s3.put_object(
        Bucket=bucket, Key="docs/coffee.md.metadata.json", Body=b'{"metadataAttributes": {"topic": "drinks"}}'
    )
    s3.put_object(Bucket=bucket, Key="docs/new.txt", Body=b"A brand new document about tides and the moon.")
    s3.put_object(Bucket=bucket, Key="other/ignored.txt", Body=b"Outside the inclusion prefix.")
    third = ingest(agent, kb_id, ds_id)["statistics"]
    assert third["numberOfNewDocumentsIndexed"] == 1
    assert third["numberOfModifiedDocumentsIndexed"] == 1
    assert third["numberOfMetadataDocumentsModified"] == 1
    assert third["numberOfDocumentsDeleted"] == 1
    assert third["numberOfDocumentsScanned"] == len(DOCUMENTS)

    jobs = agent.list_ingestion_jobs(knowledgeBaseId=kb_id, dataSourceId=ds_id)["ingestionJobSummaries"]
    assert len(jobs) == 3 and all(j["status"] == "COMPLETE" for j in jobs)
    assert jobs[0]["startedAt"] >= jobs[-1]["startedAt"]
    code = error_code(
        agent.get_ingestion_job, knowledgeBaseId=kb_id, dataSourceId=ds_id, ingestionJobId="NOSUCHJOB0"
    )[0]
    assert code == "ResourceNotFoundException"
    agent.delete_knowledge_base(knowledgeBaseId=kb_id)


def test_state_survives_a_restart(tmp_path: Path) -> None:
    running = RunningServer(tmp_path / "data").start()
    try:
        agent, s3 = running.client("bedrock-agent"), running.client("s3")
        kb_id = create_knowledge_base(agent)
        ds_id = create_data_source(agent, kb_id, fill_bucket(s3))
        job = ingest(agent, kb_id, ds_id)
        running.stop()
        # A job the server was running when it died must not stay IN_PROGRESS forever.
        database = tmp_path / "data" / "knowledge-bases" / "knowledge_bases.sqlite3"
        with sqlite3.connect(database) as conn:
            conn.execute(
                "INSERT INTO ingestion_jobs SELECT 'INTERRUPT1', kb_id, ds_id, 'IN_PROGRESS', NULL, "
                "statistics, '[]', started + 1, updated FROM ingestion_jobs WHERE id = ?",
                (job["ingestionJobId"],),
            )
        running.start()
        agent, runtime = running.client("bedrock-agent"), running.client("bedrock-agent-runtime")
        assert agent.get_knowledge_base(knowledgeBaseId=kb_id)["knowledgeBase"]["status"] == "ACTIVE"
        assert agent.get_data_source(knowledgeBaseId=kb_id, dataSourceId=ds_id)["dataSource"]["name"]
        again = agent.get_ingestion_job(
            knowledgeBaseId=kb_id, dataSourceId=ds_id, ingestionJobId=job["ingestionJobId"]
        )["ingestionJob"]
        assert again["statistics"] == job["statistics"]
        results = runtime.retrieve(
            knowledgeBaseId=kb_id, retrievalQuery={"text": "magma explosive eruptions"}
        )["retrievalResults"]
        assert results[0]["location"]["s3Location"]["uri"].endswith("/docs/volcanoes.txt")
        assert ingest(agent, kb_id, ds_id)["statistics"]["numberOfNewDocumentsIndexed"] == 0
        interrupted = agent.get_ingestion_job(
            knowledgeBaseId=kb_id, dataSourceId=ds_id, ingestionJobId="INTERRUPT1"
        )["ingestionJob"]
        assert interrupted["status"] == "FAILED" and "stopped" in interrupted["failureReasons"][0]
    finally:
        running.stop()


def test_embedding_model_arn_must_be_in_the_catalog(agent: Any) -> None:
    unknown = EMBEDDING_ARN.replace("titan-embed-text-v2:0", "titan-embed-image-v9:0")
    code, _ = error_code(
        agent.create_knowledge_base,
        name="kb-unknown-model",
        roleArn=ROLE_ARN,
        knowledgeBaseConfiguration={
            "type": "VECTOR",
            "vectorKnowledgeBaseConfiguration": {"embeddingModelArn": unknown},
        },
    )
    assert code == "ValidationException"


RDS_STORAGE = {
    "type": "RDS",
    "rdsConfiguration": {
        "resourceArn": "arn:aws:rds:us-east-1:123456789012:cluster:outcrop-kb",
        "credentialsSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:outcrop-kb",
        "databaseName": "postgres",
        "tableName": "bedrock_integration.bedrock_kb",
        "fieldMapping": {
            "primaryKeyField": "id",
            "vectorField": "embedding",
            "textField": "chunks",
            "metadataField": "metadata",
        },
    },
}


def test_rds_knowledge_base_is_served_by_pgvector(agent: Any, s3: Any, client: Callable[..., Any]) -> None:
    kb_id = create_knowledge_base(agent, storageConfiguration=RDS_STORAGE)
    assert (
        agent.get_knowledge_base(knowledgeBaseId=kb_id)["knowledgeBase"]["storageConfiguration"]["type"]
        == "RDS"
    )
    ds_id = create_data_source(agent, kb_id, fill_bucket(s3))
    job = ingest(agent, kb_id, ds_id, timeout=120)
    assert (
        job["status"] == "COMPLETE" and job["statistics"]["numberOfNewDocumentsIndexed"] == len(DOCUMENTS) - 1
    )
    runtime = client("bedrock-agent-runtime")
    results = runtime.retrieve(
        knowledgeBaseId=kb_id,
        retrievalQuery={"text": "rhyolite magma explosive eruptions"},
        retrievalConfiguration={
            "vectorSearchConfiguration": {
                "overrideSearchType": "HYBRID",
                "filter": {"equals": {"key": "topic", "value": "geology"}},
            }
        },
    )["retrievalResults"]
    assert [r["location"]["s3Location"]["uri"].rpartition("/")[2] for r in results] == ["volcanoes.txt"]
    agent.delete_knowledge_base(knowledgeBaseId=kb_id)


def test_stop_ingestion_job(agent: Any, s3: Any) -> None:
    kb_id = create_knowledge_base(agent)
    many = {f"docs/note-{n:03}.txt": f"Note number {n} about topic {n % 7}.".encode() for n in range(300)}
    ds_id = create_data_source(agent, kb_id, fill_bucket(s3, many))
    job_id = agent.start_ingestion_job(knowledgeBaseId=kb_id, dataSourceId=ds_id)["ingestionJob"][
        "ingestionJobId"
    ]
    code = error_code(agent.start_ingestion_job, knowledgeBaseId=kb_id, dataSourceId=ds_id)[0]
    assert code == "ConflictException"
    stopped = agent.stop_ingestion_job(knowledgeBaseId=kb_id, dataSourceId=ds_id, ingestionJobId=job_id)
    assert stopped["ingestionJob"]["status"] == "STOPPING"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = agent.get_ingestion_job(knowledgeBaseId=kb_id, dataSourceId=ds_id, ingestionJobId=job_id)[
            "ingestionJob"
        ]
        if job["status"] not in ("STARTING", "IN_PROGRESS", "STOPPING"):
            break
        time.sleep(0.05)
    assert job["status"] == "STOPPED"
    assert job["statistics"]["numberOfDocumentsScanned"] < len(many)
    code = error_code(
        agent.stop_ingestion_job, knowledgeBaseId=kb_id, dataSourceId=ds_id, ingestionJobId=job_id
    )[0]
    assert code == "ConflictException"
    assert ingest(agent, kb_id, ds_id)["status"] == "COMPLETE"
    agent.delete_knowledge_base(knowledgeBaseId=kb_id)


def test_document_apis_on_a_custom_data_source(agent: Any, s3: Any, client: Callable[..., Any]) -> None:
    kb_id = create_knowledge_base(agent)
    ds_id = agent.create_data_source(
        knowledgeBaseId=kb_id, name="custom", dataSourceConfiguration={"type": "CUSTOM"}
    )["dataSource"]["dataSourceId"]
    bucket = fill_bucket(
        s3, {"inbox/glaciers.md": b"# Glaciers\n\nGlaciers carve valleys as the ice slowly moves."}
    )
    inline = {
        "content": {
            "dataSourceType": "CUSTOM",
            "custom": {
                "customDocumentIdentifier": {"id": "tides-1"},
                "sourceType": "IN_LINE",
                "inlineContent": {
                    "type": "TEXT",
                    "textContent": {"data": "Tides follow the pull of the moon."},
                },
            },
        },
        "metadata": {
            "type": "IN_LINE_ATTRIBUTE",
            "inlineAttributes": [{"key": "topic", "value": {"type": "STRING", "stringValue": "ocean"}}],
        },
    }
    from_s3 = {
        "content": {
            "dataSourceType": "CUSTOM",
            "custom": {
                "customDocumentIdentifier": {"id": "glaciers"},
                "sourceType": "S3_LOCATION",
                "s3Location": {"uri": f"s3://{bucket}/inbox/glaciers.md"},
            },
        }
    }
    broken = {
        "content": {
            "dataSourceType": "CUSTOM",
            "custom": {
                "customDocumentIdentifier": {"id": "broken"},
                "sourceType": "IN_LINE",
                "inlineContent": {
                    "type": "BYTE",
                    "byteContent": {"mimeType": "application/pdf", "data": b"%PDF-1.7 not a pdf"},
                },
            },
        }
    }
    details = agent.ingest_knowledge_base_documents(
        knowledgeBaseId=kb_id, dataSourceId=ds_id, documents=[inline, from_s3, broken]
    )["documentDetails"]
    assert [(d["identifier"]["custom"]["id"], d["status"]) for d in details] == [
        ("tides-1", "INDEXED"),
        ("glaciers", "INDEXED"),
        ("broken", "FAILED"),
    ]
    assert "PDF" in details[2]["statusReason"]
    listed = agent.list_knowledge_base_documents(knowledgeBaseId=kb_id, dataSourceId=ds_id)["documentDetails"]
    assert sorted(d["identifier"]["custom"]["id"] for d in listed) == ["broken", "glaciers", "tides-1"]

    runtime = client("bedrock-agent-runtime")
    results = runtime.retrieve(
        knowledgeBaseId=kb_id,
        retrievalQuery={"text": "moon tides"},
        retrievalConfiguration={
            "vectorSearchConfiguration": {"filter": {"equals": {"key": "topic", "value": "ocean"}}}
        },
    )["retrievalResults"]
    assert [r["location"] for r in results] == [
        {"type": "CUSTOM", "customDocumentLocation": {"id": "tides-1"}}
    ]

    identifiers = [{"dataSourceType": "CUSTOM", "custom": {"id": "tides-1"}}]
    deleted = agent.delete_knowledge_base_documents(
        knowledgeBaseId=kb_id, dataSourceId=ds_id, documentIdentifiers=identifiers
    )["documentDetails"]
    assert deleted[0]["status"] == "DELETING"
    got = agent.get_knowledge_base_documents(
        knowledgeBaseId=kb_id,
        dataSourceId=ds_id,
        documentIdentifiers=[*identifiers, {"dataSourceType": "CUSTOM", "custom": {"id": "glaciers"}}],
    )["documentDetails"]
    assert [d["status"] for d in got] == ["NOT_FOUND", "INDEXED"]
    results = runtime.retrieve(knowledgeBaseId=kb_id, retrievalQuery={"text": "moon tides"})[
        "retrievalResults"
    ]
    assert [r["location"]["customDocumentLocation"]["id"] for r in results] == ["glaciers"]
    code, _ = error_code(agent.start_ingestion_job, knowledgeBaseId=kb_id, dataSourceId=ds_id)
    assert code == "ValidationException"
    agent.delete_knowledge_base(knowledgeBaseId=kb_id)


def test_document_apis_on_an_s3_data_source_share_the_job_index(agent: Any, s3: Any) -> None:
    kb_id = create_knowledge_base(agent)
    bucket = fill_bucket(s3, {"docs/a.txt": b"Alpha document about apples."})
    ds_id = create_data_source(agent, kb_id, bucket)
    details = agent.ingest_knowledge_base_documents(
        knowledgeBaseId=kb_id,
        dataSourceId=ds_id,
        documents=[
            {"content": {"dataSourceType": "S3", "s3": {"s3Location": {"uri": f"s3://{bucket}/docs/a.txt"}}}}
        ],
    )["documentDetails"]
    assert details[0]["status"] == "INDEXED"
    assert details[0]["identifier"] == {"dataSourceType": "S3", "s3": {"uri": f"s3://{bucket}/docs/a.txt"}}
    stats = ingest(agent, kb_id, ds_id)["statistics"]
    assert stats["numberOfDocumentsScanned"] == 1 and stats["numberOfNewDocumentsIndexed"] == 0
    agent.delete_knowledge_base(knowledgeBaseId=kb_id)


def test_job_on_a_missing_bucket_fails_and_unknown_ids_are_not_found(agent: Any) -> None:
    kb_id = create_knowledge_base(agent)
    create_knowledge_base(agent)
    page = agent.list_knowledge_bases(maxResults=1)
    assert len(page["knowledgeBaseSummaries"]) == 1 and page["nextToken"]
    ds_id = create_data_source(agent, kb_id, f"missing-{uuid.uuid4().hex[:8]}")
    updated = agent.update_data_source(
        knowledgeBaseId=kb_id,
        dataSourceId=ds_id,
        name="renamed",
        description="no bucket behind it",
        dataSourceConfiguration=agent.get_data_source(knowledgeBaseId=kb_id, dataSourceId=ds_id)[
            "dataSource"
        ]["dataSourceConfiguration"],
    )["dataSource"]
    assert updated["name"] == "renamed" and updated["description"] == "no bucket behind it"
    job = ingest(agent, kb_id, ds_id)
    assert job["status"] == "FAILED"
    assert job["failureReasons"] == ["The ingestion job failed: The specified bucket does not exist"]
    code = error_code(agent.start_ingestion_job, knowledgeBaseId=kb_id, dataSourceId="NOSUCHDS00")[0]
    assert code == "ResourceNotFoundException"
    code = error_code(agent.list_ingestion_jobs, knowledgeBaseId="NOSUCHKB00", dataSourceId=ds_id)[0]
    assert code == "ResourceNotFoundException"
    agent.delete_knowledge_base(knowledgeBaseId=kb_id)
