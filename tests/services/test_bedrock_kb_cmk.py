"""Knowledge-base data sources with a customer managed key (`serverSideEncryptionConfiguration.kmsKeyArn`),
through boto3: the chunks they ingest are stored sealed under a data key of that KMS key, so their text is
nowhere in the data dir, before or after a restart; Retrieve opens them; a disabled key makes Retrieve
answer AccessDeniedException and an ingestion fail; a key KMS refuses is a ValidationException."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.errors import error_of
from tests.server import RunningServer
from tests.services.at_rest import found_in, own_server
from tests.services.knowledge_bases import create_data_source, create_knowledge_base, fill_bucket, ingest

SEALED = "The lighthouse keeper logged sealed-walrus-8e21 at dawn."
PLAIN = "The harbour master logged plain-heron-3b77 at noon."


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from own_server(tmp_path_factory, "kb-cmk")


@pytest.fixture
def client(server: RunningServer) -> Callable[..., Any]:
    return server.client


def _texts(client: Callable[..., Any], kb_id: str) -> list[str]:
    found = client("bedrock-agent-runtime").retrieve(
        knowledgeBaseId=kb_id,
        retrievalQuery={"text": "Who logged what?"},
        retrievalConfiguration={"vectorSearchConfiguration": {"numberOfResults": 10}},
    )["retrievalResults"]
    return sorted(r["content"]["text"] for r in found)


def test_a_data_sources_chunks_are_sealed_under_its_key(
    client: Callable[..., Any], server: RunningServer
) -> None:
    kms, agent = client("kms"), client("bedrock-agent")
    key = kms.create_key(Description="kb")["KeyMetadata"]["Arn"]
    kb_id = create_knowledge_base(agent)
    sealed_bucket = fill_bucket(client("s3"), {"docs/sealed.txt": SEALED.encode()})
    plain_bucket = fill_bucket(client("s3"), {"docs/plain.txt": PLAIN.encode()})
    encryption = {"serverSideEncryptionConfiguration": {"kmsKeyArn": key}}
    sealed_ds = create_data_source(agent, kb_id, sealed_bucket, **encryption)
    plain_ds = create_data_source(agent, kb_id, plain_bucket)
    shown = agent.get_data_source(knowledgeBaseId=kb_id, dataSourceId=sealed_ds)["dataSource"]
    assert shown["serverSideEncryptionConfiguration"] == {"kmsKeyArn": key}
    for ds in (sealed_ds, plain_ds):
        assert ingest(agent, kb_id, ds)["status"] == "COMPLETE"
    assert _texts(client, kb_id) == sorted([SEALED, PLAIN])
    server.stop()  # every store closed: what is on disk is all there is
    assert found_in(server.data_dir / "knowledge-bases", b"sealed-walrus-8e21") == []
    assert found_in(server.data_dir / "knowledge-bases", b"plain-heron-3b77") != []  # the check can see
    server.start()
    assert _texts(client, kb_id) == sorted([SEALED, PLAIN])

    kms.disable_key(KeyId=key)
    denied = error_of(
        client("bedrock-agent-runtime").retrieve,
        knowledgeBaseId=kb_id,
        retrievalQuery={"text": "Who logged what?"},
    )
    assert denied["Code"] == "AccessDeniedException" and "DisabledException" in denied["Message"]
    client("s3").put_object(Bucket=sealed_bucket, Key="docs/more.txt", Body=b"Another sealed line here.")
    failed = ingest(agent, kb_id, sealed_ds)  # a new document's chunks cannot be sealed
    assert failed["status"] == "FAILED" and "DisabledException" in " ".join(failed["failureReasons"])
    kms.enable_key(KeyId=key)
    assert ingest(agent, kb_id, sealed_ds)["status"] == "COMPLETE"
    assert SEALED in _texts(client, kb_id)


def test_bad_and_changed_keys_are_refused(client: Callable[..., Any]) -> None:
    kms, agent = client("kms"), client("bedrock-agent")
    kb_id = create_knowledge_base(agent)
    bucket = fill_bucket(client("s3"), {"docs/a.txt": b"Some text."})
    missing = "arn:aws:kms:us-east-1:000000000000:key/" + str(uuid.uuid4())
    refused = error_of(
        create_data_source,
        agent=agent,
        kb_id=kb_id,
        bucket=bucket,
        serverSideEncryptionConfiguration={"kmsKeyArn": missing},
    )
    assert refused["Code"] == "ValidationException" and "NotFoundException" in refused["Message"]
    assert agent.list_data_sources(knowledgeBaseId=kb_id)["dataSourceSummaries"] == []
    first, second = (kms.create_key(Description=d)["KeyMetadata"]["Arn"] for d in ("a", "b"))
    ds_id = create_data_source(agent, kb_id, bucket, serverSideEncryptionConfiguration={"kmsKeyArn": first})
    shown = agent.get_data_source(knowledgeBaseId=kb_id, dataSourceId=ds_id)["dataSource"]
    changed = error_of(
        agent.update_data_source,
        knowledgeBaseId=kb_id,
        dataSourceId=ds_id,
        name=shown["name"],
        dataSourceConfiguration=shown["dataSourceConfiguration"],
        serverSideEncryptionConfiguration={"kmsKeyArn": second},
    )
    assert changed["Code"] == "ValidationException" and "kmsKeyArn" in changed["Message"]
