"""HYBRID retrieval on a knowledge base whose data source has a customer managed key, through boto3: its
keyword half finds the sealed chunks by their words (so HYBRID is not silently SEMANTIC), no word of the
document is in the data dir in the clear (the S3 object is SSE-KMS under the same key), and a disabled key
fails the search with KMS's error."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.errors import error_of
from tests.server import RunningServer
from tests.services.at_rest import found_in, own_server
from tests.services.knowledge_bases import create_data_source, create_knowledge_base, fill_bucket, ingest

RARE = "zephyrine-mollusk"
DOCUMENTS = {
    "docs/a.txt": f"The survey boat found a {RARE} clinging to the reef wall.",
    "docs/b.txt": "Harbour fees rose in spring after the storm season ended.",
    "docs/c.txt": "The lighthouse lamp was replaced with a brighter lens.",
    "docs/d.txt": "Fishing quotas for cod were lowered by the council.",
    "docs/e.txt": "Gulls nested on the old pier beside the ferry slip.",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from own_server(tmp_path_factory, "kb-cmk-keyword")


def hybrid(server: RunningServer, kb_id: str, query: str) -> list[str]:
    found = server.client("bedrock-agent-runtime").retrieve(
        knowledgeBaseId=kb_id,
        retrievalQuery={"text": query},
        retrievalConfiguration={
            "vectorSearchConfiguration": {"numberOfResults": 5, "overrideSearchType": "HYBRID"}
        },
    )["retrievalResults"]
    return [r["content"]["text"] for r in found]


def test_hybrid_finds_sealed_chunks_by_keyword(server: RunningServer) -> None:
    kms, agent, s3 = server.client("kms"), server.client("bedrock-agent"), server.client("s3")
    key: str = kms.create_key(Description="kb keyword")["KeyMetadata"]["Arn"]
    bucket = fill_bucket(s3, {})
    for name, text in DOCUMENTS.items():
        s3.put_object(
            Bucket=bucket, Key=name, Body=text.encode(), ServerSideEncryption="aws:kms", SSEKMSKeyId=key
        )
    kb_id = create_knowledge_base(agent)
    ds_id = create_data_source(agent, kb_id, bucket, serverSideEncryptionConfiguration={"kmsKeyArn": key})
    assert ingest(agent, kb_id, ds_id)["status"] == "COMPLETE"

    # the keyword half ranks the only chunk with the word first: RRF gives it 1/61 plus its semantic rank's
    # share, more than any chunk the keyword half did not find can get
    for query in (RARE, "zephyrine", "mollusks on the reef"):
        assert hybrid(server, kb_id, query)[0] == DOCUMENTS["docs/a.txt"], query
    server.stop()
    assert found_in(server.data_dir, RARE.encode()) == []
    assert found_in(server.data_dir, b"mollusk") == []
    server.start()
    assert hybrid(server, kb_id, RARE)[0] == DOCUMENTS["docs/a.txt"]  # the terms outlive a restart

    kms = server.client("kms")
    kms.disable_key(KeyId=key)
    try:
        denied: dict[str, Any] = error_of(
            server.client("bedrock-agent-runtime").retrieve,
            knowledgeBaseId=kb_id,
            retrievalQuery={"text": RARE},
            retrievalConfiguration={"vectorSearchConfiguration": {"overrideSearchType": "HYBRID"}},
        )
        assert denied["Code"] == "AccessDeniedException" and "DisabledException" in denied["Message"]
    finally:
        kms.enable_key(KeyId=key)
    assert hybrid(server, kb_id, RARE)[0] == DOCUMENTS["docs/a.txt"]
