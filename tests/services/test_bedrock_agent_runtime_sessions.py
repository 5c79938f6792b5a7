"""Bedrock session management through boto3: sessions, invocations and invocation steps (text and images),
newest-first listing with paging, ENDED sessions refusing writes, deletion taking invocations and steps with
it, tags on session ARNs, regions, a customer key (nothing in the clear on disk, readable after a restart,
unreadable while the key is disabled), IAM, and LangGraph's BedrockSessionSaver resuming a graph."""

from __future__ import annotations

import operator
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypedDict

import boto3
import pytest
from botocore.config import Config

from tests.errors import error_of
from tests.iam.fixtures import allow, iam_server, policy, signed_as
from tests.server import RunningServer
from tests.services.at_rest import found_in, own_server

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


def runtime_in(server: RunningServer, region: str) -> Any:
    return boto3.client(
        "bedrock-agent-runtime",
        endpoint_url=server.endpoint,
        region_name=region,
        aws_access_key_id="AKIAOUTCROPTEST",
        aws_secret_access_key="test-secret",
        config=Config(retries={"max_attempts": 1}),
    )


def put_text(runtime: Any, session: str, invocation: str, text: str, at: datetime) -> str:
    step: str = runtime.put_invocation_step(
        sessionIdentifier=session,
        invocationIdentifier=invocation,
        invocationStepTime=at,
        payload={"contentBlocks": [{"text": text}]},
    )["invocationStepId"]
    return step


def test_a_session_keeps_invocations_and_steps_newest_first(server: RunningServer) -> None:
    runtime = server.client("bedrock-agent-runtime")
    made = runtime.create_session(sessionMetadata={"user": "u-17"}, tags={"team": "rag"})
    session, arn = made["sessionId"], made["sessionArn"]
    assert made["sessionStatus"] == "ACTIVE" and arn.endswith(f":session/{session}")
    assert arn.startswith("arn:aws:bedrock:us-east-1:")
    got = runtime.get_session(sessionIdentifier=arn)  # an ARN names it as well as its id
    assert got["sessionMetadata"] == {"user": "u-17"} and "encryptionKeyArn" not in got
    updated = runtime.update_session(sessionIdentifier=session, sessionMetadata={"user": "u-18"})
    assert updated["sessionStatus"] == "ACTIVE"
    assert runtime.get_session(sessionIdentifier=session)["sessionMetadata"] == {"user": "u-18"}

    first = runtime.create_invocation(sessionIdentifier=session, description="weather")["invocationId"]
    chosen = str(uuid.uuid4())
    second = runtime.create_invocation(sessionIdentifier=session, invocationId=chosen)["invocationId"]
    assert second == chosen and uuid.UUID(first)
    again = error_of(runtime.create_invocation, sessionIdentifier=session, invocationId=chosen)
    assert again["Code"] == "ConflictException"
    listed = runtime.list_invocations(sessionIdentifier=session)["invocationSummaries"]
    assert [i["invocationId"] for i in listed] == [second, first]

    start = datetime(2026, 1, 1, tzinfo=UTC)
    older = put_text(runtime, session, first, "it is raining", start)
    newer = put_text(runtime, session, first, "bring an umbrella", start + timedelta(minutes=1))
    image = runtime.put_invocation_step(
        sessionIdentifier=session,
        invocationIdentifier=second,
        invocationStepTime=start + timedelta(minutes=2),
        payload={
            "contentBlocks": [
                {"image": {"format": "png", "source": {"bytes": PNG}}},
                {"image": {"format": "jpeg", "source": {"s3Location": {"uri": "s3://photos/a.jpg"}}}},
            ]
        },
    )["invocationStepId"]
    steps = runtime.list_invocation_steps(sessionIdentifier=session)["invocationStepSummaries"]
    assert [s["invocationStepId"] for s in steps] == [image, newer, older]
    latest = runtime.list_invocation_steps(
        sessionIdentifier=session, invocationIdentifier=first, maxResults=1
    )
    assert [s["invocationStepId"] for s in latest["invocationStepSummaries"]] == [newer]
    rest = runtime.list_invocation_steps(
        sessionIdentifier=session, invocationIdentifier=first, nextToken=latest["nextToken"]
    )
    assert [s["invocationStepId"] for s in rest["invocationStepSummaries"]] == [older]
    assert "nextToken" not in rest
    got_step = runtime.get_invocation_step(
        sessionIdentifier=session, invocationIdentifier=second, invocationStepId=image
    )["invocationStep"]
    blocks = got_step["payload"]["contentBlocks"]
    assert blocks[0]["image"] == {"format": "png", "source": {"bytes": PNG}}
    assert blocks[1]["image"]["source"] == {"s3Location": {"uri": "s3://photos/a.jpg"}}
    assert got_step["invocationStepTime"] == start + timedelta(minutes=2)
    wrong = error_of(
        runtime.get_invocation_step,
        sessionIdentifier=session,
        invocationIdentifier=first,
        invocationStepId=image,
    )
    assert wrong["Code"] == "ResourceNotFoundException" and wrong["Status"] == 404

    runtime.tag_resource(resourceArn=arn, tags={"stage": "dev"})
    runtime.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert runtime.list_tags_for_resource(resourceArn=arn)["tags"] == {"stage": "dev"}


def test_an_ended_session_is_read_only_and_deleted_with_its_steps(server: RunningServer) -> None:
    runtime = server.client("bedrock-agent-runtime")
    session = runtime.create_session()["sessionId"]
    invocation = runtime.create_invocation(sessionIdentifier=session)["invocationId"]
    step = put_text(runtime, session, invocation, "hello", datetime.now(UTC))
    active = error_of(runtime.delete_session, sessionIdentifier=session)
    assert active["Code"] == "ConflictException" and "ACTIVE" in active["Message"]
    assert runtime.end_session(sessionIdentifier=session)["sessionStatus"] == "ENDED"
    assert runtime.get_session(sessionIdentifier=session)["sessionStatus"] == "ENDED"
    for call, kwargs in (
        (runtime.create_invocation, {}),
        (runtime.update_session, {"sessionMetadata": {"a": "b"}}),
        (
            runtime.put_invocation_step,
            {
                "invocationIdentifier": invocation,
                "invocationStepTime": datetime.now(UTC),
                "payload": {"contentBlocks": [{"text": "late"}]},
            },
        ),
    ):
        refused = error_of(call, sessionIdentifier=session, **kwargs)
        assert refused["Code"] == "ConflictException" and refused["Status"] == 409
    kept = runtime.get_invocation_step(
        sessionIdentifier=session, invocationIdentifier=invocation, invocationStepId=step
    )
    assert kept["invocationStep"]["payload"]["contentBlocks"] == [{"text": "hello"}]  # still readable
    runtime.delete_session(sessionIdentifier=session)
    for call, kwargs in (
        (runtime.get_session, {}),
        (runtime.list_invocations, {}),
        (runtime.list_invocation_steps, {}),
        (runtime.get_invocation_step, {"invocationIdentifier": invocation, "invocationStepId": step}),
    ):
        assert error_of(call, sessionIdentifier=session, **kwargs)["Code"] == "ResourceNotFoundException"


def test_unknown_ids_bad_input_and_other_regions(server: RunningServer) -> None:
    runtime = server.client("bedrock-agent-runtime")
    unknown = str(uuid.uuid4())
    assert error_of(runtime.get_session, sessionIdentifier=unknown)["Code"] == "ResourceNotFoundException"
    session = runtime.create_session()["sessionId"]
    missing = error_of(
        runtime.put_invocation_step,
        sessionIdentifier=session,
        invocationIdentifier=unknown,
        invocationStepTime=datetime.now(UTC),
        payload={"contentBlocks": [{"text": "x"}]},
    )
    assert missing["Code"] == "ResourceNotFoundException"
    invocation = runtime.create_invocation(sessionIdentifier=session)["invocationId"]
    unchecked = server.client("bedrock-agent-runtime", parameter_validation=False)
    both = error_of(
        unchecked.put_invocation_step,
        sessionIdentifier=session,
        invocationIdentifier=invocation,
        invocationStepTime=datetime.now(UTC),
        payload={"contentBlocks": [{"text": "x", "image": {"format": "png", "source": {"bytes": PNG}}}]},
    )
    assert both["Code"] == "ValidationException"
    assert error_of(runtime.list_sessions, nextToken="garbage!")["Code"] == "ValidationException"
    elsewhere = runtime_in(server, "eu-west-1")
    assert error_of(elsewhere.get_session, sessionIdentifier=session)["Code"] == "ResourceNotFoundException"
    assert session not in [s["sessionId"] for s in elsewhere.list_sessions()["sessionSummaries"]]
    page = runtime.list_sessions(maxResults=1)
    assert len(page["sessionSummaries"]) == 1 and page["nextToken"]


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from own_server(tmp_path_factory, "sessions-cmk")


def test_a_keyed_session_is_sealed_survives_a_restart_and_stops_with_its_key(own: RunningServer) -> None:
    kms = own.client("kms")
    key = kms.create_key(Description="sessions")["KeyMetadata"]["Arn"]
    runtime = own.client("bedrock-agent-runtime")
    made = runtime.create_session(encryptionKeyArn=key, sessionMetadata={"who": "heron-vault-7d2e"})
    session = made["sessionId"]
    invocation = runtime.create_invocation(sessionIdentifier=session, description="heron-vault-7d2e")
    step = put_text(
        runtime, session, invocation["invocationId"], "the heron-vault-7d2e code", datetime.now(UTC)
    )
    plain = runtime.create_session(sessionMetadata={"who": "plain-otter-3c1b"})["sessionId"]
    own.stop()
    assert found_in(own.data_dir, b"heron-vault-7d2e") == []
    assert found_in(own.data_dir, b"plain-otter-3c1b")  # the check can see a plain session's words
    own.start()
    runtime = own.client("bedrock-agent-runtime")
    got = runtime.get_session(sessionIdentifier=session)
    assert got["encryptionKeyArn"] == key and got["sessionMetadata"] == {"who": "heron-vault-7d2e"}
    read = runtime.get_invocation_step(
        sessionIdentifier=session, invocationIdentifier=invocation["invocationId"], invocationStepId=step
    )
    assert read["invocationStep"]["payload"]["contentBlocks"] == [{"text": "the heron-vault-7d2e code"}]
    kms = own.client("kms")
    kms.disable_key(KeyId=key)
    try:
        for call, kwargs in (
            (runtime.get_session, {}),
            (
                runtime.get_invocation_step,
                {"invocationIdentifier": invocation["invocationId"], "invocationStepId": step},
            ),
            (runtime.create_invocation, {}),
        ):
            denied = error_of(call, sessionIdentifier=session, **kwargs)
            assert denied["Code"] == "AccessDeniedException" and "DisabledException" in denied["Message"]
        assert runtime.get_session(sessionIdentifier=plain)["sessionMetadata"] == {"who": "plain-otter-3c1b"}
        refused = error_of(runtime.create_session, encryptionKeyArn=key)
        assert refused["Code"] == "ValidationException"
    finally:
        kms.enable_key(KeyId=key)
    assert runtime.get_session(sessionIdentifier=session)["sessionStatus"] == "ACTIVE"


def test_iam_allows_each_session_action_on_its_arn_and_its_key(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    with iam_server(tmp_path_factory.mktemp("sessions-iam") / "data") as running:
        iam = running.client("iam")
        key = running.client("kms").create_key(Description="sessions")["KeyMetadata"]["Arn"]
        iam.create_user(UserName="saver")
        iam.put_user_policy(
            UserName="saver",
            PolicyName="sessions",
            PolicyDocument=policy(allow(["bedrock:CreateSession", "bedrock:GetSession"])),
        )
        keys = iam.create_access_key(UserName="saver")["AccessKey"]
        runtime = signed_as(running, "bedrock-agent-runtime", keys)
        made = runtime.create_session()
        assert runtime.get_session(sessionIdentifier=made["sessionId"])["sessionStatus"] == "ACTIVE"
        denied = error_of(runtime.end_session, sessionIdentifier=made["sessionId"])
        assert denied["Code"] == "AccessDeniedException"
        assert "bedrock:EndSession" in denied["Message"] and made["sessionArn"] in denied["Message"]
        no_key = error_of(runtime.create_session, encryptionKeyArn=key)
        assert no_key["Code"] == "AccessDeniedException" and "kms:GenerateDataKey" in no_key["Message"]
        iam.put_user_policy(  # the guide's policy: the key, for sessions only
            UserName="saver",
            PolicyName="session-key",
            PolicyDocument=policy(
                allow(
                    ["kms:GenerateDataKey", "kms:Decrypt"],
                    key,
                    Condition={
                        "StringLike": {
                            "kms:EncryptionContext:aws:bedrock:session:arn": "arn:aws:bedrock:*:*:session/*"
                        }
                    },
                )
            ),
        )
        keyed = runtime.create_session(encryptionKeyArn=key)
        got = runtime.get_session(sessionIdentifier=keyed["sessionId"])
        assert got["encryptionKeyArn"] == key
        iam.delete_user_policy(UserName="saver", PolicyName="session-key")
        unread = error_of(runtime.get_session, sessionIdentifier=keyed["sessionId"])
        assert unread["Code"] == "AccessDeniedException" and "kms:Decrypt" in unread["Message"]


class _State(TypedDict):
    notes: Annotated[list[str], operator.add]


def _graph(saver: Any) -> Any:
    from langgraph.graph import END, START, StateGraph

    def note(state: _State) -> dict[str, list[str]]:
        return {"notes": [f"note {len(state['notes']) + 1}"]}

    builder = StateGraph(_State)
    builder.add_node("note", note)
    builder.add_edge(START, "note")
    builder.add_edge("note", END)
    return builder.compile(checkpointer=saver)


def test_langgraph_bedrock_session_saver_resumes_a_graph(server: RunningServer) -> None:
    saver_module = pytest.importorskip("langgraph_checkpoint_aws.saver")
    runtime = server.client("bedrock-agent-runtime")
    thread = runtime.create_session()["sessionId"]
    config = {"configurable": {"thread_id": thread}}
    first = _graph(saver_module.BedrockSessionSaver(client=runtime)).invoke({"notes": ["start"]}, config)
    assert first["notes"] == ["start", "note 2"]
    resumed = _graph(saver_module.BedrockSessionSaver(client=server.client("bedrock-agent-runtime")))
    assert resumed.get_state(config).values["notes"] == ["start", "note 2"]
    second = resumed.invoke({"notes": ["more"]}, config)
    assert second["notes"] == ["start", "note 2", "more", "note 4"]
    history = list(resumed.get_state_history(config))
    assert len(history) >= 4  # every superstep's checkpoint, read back from the session's steps
    steps = runtime.list_invocation_steps(sessionIdentifier=thread)["invocationStepSummaries"]
    assert steps and all(s["sessionId"] == thread for s in steps)


def test_a_session_idle_past_its_retention_reads_as_expired() -> None:
    from outcrop.services.bedrock_agent_runtime.session_ops import SESSION_TTL_S, status
    from outcrop.services.bedrock_agent_runtime.session_store import Session

    def made(updated: float, ended: float | None = None) -> Session:
        return Session("id", "000000000000", "us-east-1", "arn", ended, {}, None, {}, 0.0, updated)

    now = 10 * SESSION_TTL_S
    assert status(made(now - SESSION_TTL_S + 1), now) == "ACTIVE"
    assert status(made(now - SESSION_TTL_S - 1), now) == "EXPIRED"
    assert status(made(now - SESSION_TTL_S - 1, ended=now - SESSION_TTL_S), now) == "ENDED"
