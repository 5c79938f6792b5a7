"""RetrieveAndGenerate sessions under a customer key (`sessionConfiguration.kmsKeyArn`), and Retrieve's
guardrail and user context, through boto3: a keyed session's turns are nowhere in the data dir in the clear,
it goes on across a restart with its key, refuses to go on without it or with another, and stops when the key
is disabled; Retrieve's guardrail screens the query (a blocked one retrieves nothing) and userContext, which
needs per-document access lists Outcrop does not keep, is refused."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.errors import error_of
from tests.server import RunningServer
from tests.services.at_rest import found_in, own_server
from tests.services.knowledge_bases import (
    CHAT_ARN,
    create_data_source,
    create_knowledge_base,
    fill_bucket,
    ingest,
)

QUESTION = "What did the keeper write about quartz-otter-51c9?"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from own_server(tmp_path_factory, "rag-cmk")


@pytest.fixture(scope="module")
def kb_id(server: RunningServer) -> str:
    agent = server.client("bedrock-agent")
    kb = create_knowledge_base(agent)
    bucket = fill_bucket(server.client("s3"), {"docs/log.txt": b"The keeper wrote that the tide was high."})
    assert ingest(agent, kb, create_data_source(agent, kb, bucket))["status"] == "COMPLETE"
    return kb


def ask(server: RunningServer, kb_id: str, key: str | None, session: str | None = None) -> dict[str, Any]:
    extra: dict[str, Any] = {"sessionId": session} if session else {}
    if key:
        extra["sessionConfiguration"] = {"kmsKeyArn": key}
    answer: dict[str, Any] = server.client("bedrock-agent-runtime").retrieve_and_generate(
        input={"text": QUESTION},
        retrieveAndGenerateConfiguration={
            "type": "KNOWLEDGE_BASE",
            "knowledgeBaseConfiguration": {"knowledgeBaseId": kb_id, "modelArn": CHAT_ARN},
        },
        **extra,
    )
    return answer


def test_a_keyed_session_is_sealed_and_bound_to_its_key(server: RunningServer, kb_id: str) -> None:
    kms = server.client("kms")
    key = kms.create_key(Description="rag session")["KeyMetadata"]["Arn"]
    other = kms.create_key(Description="another")["KeyMetadata"]["Arn"]
    session = ask(server, kb_id, key)["sessionId"]
    server.stop()
    assert found_in(server.data_dir / "knowledge-bases", b"quartz-otter-51c9") == []
    server.start()
    assert ask(server, kb_id, key, session)["sessionId"] == session  # opened again after the restart
    runtime = server.client("bedrock-agent-runtime")
    for wrong in (None, other):
        refused = error_of(
            runtime.retrieve_and_generate,
            input={"text": QUESTION},
            sessionId=session,
            retrieveAndGenerateConfiguration={
                "type": "KNOWLEDGE_BASE",
                "knowledgeBaseConfiguration": {"knowledgeBaseId": kb_id, "modelArn": CHAT_ARN},
            },
            **({"sessionConfiguration": {"kmsKeyArn": wrong}} if wrong else {}),
        )
        assert refused["Code"] == "ValidationException" and refused["Status"] == 400
    kms.disable_key(KeyId=key)
    try:
        with pytest.raises(Exception) as denied:
            ask(server, kb_id, key, session)
        assert "AccessDeniedException" in str(denied.value)
    finally:
        kms.enable_key(KeyId=key)


def test_a_plain_session_cannot_take_a_key_later(server: RunningServer, kb_id: str) -> None:
    session = ask(server, kb_id, None)["sessionId"]
    assert ask(server, kb_id, None, session)["sessionId"] == session
    key = server.client("kms").create_key(Description="late")["KeyMetadata"]["Arn"]
    with pytest.raises(Exception) as refused:
        ask(server, kb_id, key, session)
    assert "ValidationException" in str(refused.value)


def test_retrieve_screens_its_query_with_a_guardrail(server: RunningServer, kb_id: str) -> None:
    bedrock = server.client("bedrock")
    made = bedrock.create_guardrail(
        name="retrieve-words",
        blockedInputMessaging="no",
        blockedOutputsMessaging="no",
        wordPolicyConfig={"wordsConfig": [{"text": "zorbex"}]},
    )
    version = bedrock.create_guardrail_version(guardrailIdentifier=made["guardrailId"])["version"]
    config = {"guardrailId": made["guardrailId"], "guardrailVersion": version}
    runtime = server.client("bedrock-agent-runtime")
    blocked = runtime.retrieve(
        knowledgeBaseId=kb_id, retrievalQuery={"text": "zorbex tide"}, guardrailConfiguration=config
    )
    assert blocked["retrievalResults"] == [] and blocked["guardrailAction"] == "INTERVENED"
    passed = runtime.retrieve(
        knowledgeBaseId=kb_id, retrievalQuery={"text": "the tide"}, guardrailConfiguration=config
    )
    assert passed["retrievalResults"] and passed["guardrailAction"] == "NONE"
    plain = runtime.retrieve(knowledgeBaseId=kb_id, retrievalQuery={"text": "the tide"})
    assert "guardrailAction" not in plain


def test_retrieve_refuses_a_user_context(server: RunningServer, kb_id: str) -> None:
    refused = error_of(
        server.client("bedrock-agent-runtime").retrieve,
        knowledgeBaseId=kb_id,
        retrievalQuery={"text": "the tide"},
        userContext={"userId": "someone"},
    )
    assert refused["Code"] == "ValidationException" and "userContext" in refused["Message"]
