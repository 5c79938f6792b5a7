"""Flows' guardrails through boto3 on the fake models: a Prompt node's guardrailConfiguration screens the
rendered prompt and the completion (blocked or masked, with nodeActionTrace events of the screening), a
KnowledgeBase node's reaches RetrieveAndGenerate, and what cannot be honoured is refused at CreateFlow or
before the run's stream opens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.errors import error_of
from tests.server import RunningServer
from tests.services.flows import (
    HAIKU,
    ROLE,
    branching_flow,
    create_prepared,
    data,
    input_node,
    invoke,
    io_,
    name,
    output_node,
    outputs,
    prompt_node,
)
from tests.services.knowledge_bases import (
    DOCUMENTS,
    create_data_source,
    create_knowledge_base,
    fill_bucket,
    ingest,
)

BLOCKED_IN = "The flow's question broke the rules."
BLOCKED_OUT = "The flow's answer broke the rules."


@pytest.fixture(scope="module")
def guardrail(server: RunningServer) -> dict[str, str]:
    bedrock = server.client("bedrock")
    made = bedrock.create_guardrail(
        name="flow-words",
        blockedInputMessaging=BLOCKED_IN,
        blockedOutputsMessaging=BLOCKED_OUT,
        wordPolicyConfig={"wordsConfig": [{"text": "zorbex"}]},
        sensitiveInformationPolicyConfig={
            "regexesConfig": [{"name": "order", "pattern": "ORD-[0-9]{4}", "action": "ANONYMIZE"}]
        },
    )
    version = bedrock.create_guardrail_version(guardrailIdentifier=made["guardrailId"])["version"]
    return {"guardrailIdentifier": made["guardrailId"], "guardrailVersion": version}


def prompt_flow(template: str, guard: dict[str, str] | None) -> dict[str, Any]:
    node = prompt_node("Ask", template, "topic")
    if guard is not None:
        node["configuration"]["prompt"]["guardrailConfiguration"] = guard
    return {
        "nodes": [input_node(), node, output_node("End")],
        "connections": [
            data("Start", "document", "Ask", "topic"),
            data("Ask", "modelCompletion", "End", "document"),
        ],
    }


def actions(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        e["flowTraceEvent"]["trace"]["nodeActionTrace"]
        for e in events
        if "nodeActionTrace" in e.get("flowTraceEvent", {}).get("trace", {})
    ]


def test_a_prompt_nodes_guardrail_screens_the_prompt_and_the_completion(
    client: Callable[..., Any], guardrail: dict[str, str]
) -> None:
    agent = client("bedrock-agent")
    flow_id = create_prepared(agent, prompt_flow("{{topic}}", guardrail))
    # a denied word in the input: the model never runs, the completion is the blocked input message
    events = invoke(client, flow_id, "tell me of zorbex", enableTrace=True)
    assert outputs(events) == [("End", BLOCKED_IN)]
    [screened] = actions(events)
    assert screened["nodeName"] == "Ask" and screened["operationName"] == "ApplyGuardrail"
    assert screened["operationRequest"]["source"] == "INPUT"
    response = screened["operationResponse"]
    assert response["action"] == "GUARDRAIL_INTERVENED"
    assert response["assessments"][0]["wordPolicy"]["customWords"][0]["match"] == "zorbex"
    # a clean one passes untouched, screened on the way in and out
    clean = invoke(client, flow_id, "cats", enableTrace=True)
    assert outputs(clean) == [("End", "You said: cats")]
    assert [a["operationRequest"]["source"] for a in actions(clean)] == ["INPUT", "OUTPUT"]
    assert all(a["operationResponse"]["action"] == "NONE" for a in actions(clean))
    # an anonymized order number: the model reads the mask
    assert outputs(invoke(client, flow_id, "where is ORD-1234")) == [("End", "You said: where is {order}")]
    # without the trace, no action traces
    assert actions(invoke(client, flow_id, "cats")) == []


def test_the_rendered_template_is_screened_not_only_the_flow_input(
    client: Callable[..., Any], guardrail: dict[str, str]
) -> None:
    agent = client("bedrock-agent")
    # the word comes from the node's template, not the flow's input: the guardrail reads the rendered prompt
    guarded = create_prepared(agent, prompt_flow("say zorbex about {{topic}}", guardrail))
    assert outputs(invoke(client, guarded, "cats")) == [("End", BLOCKED_IN)]
    plain = create_prepared(agent, prompt_flow("say zorbex about {{topic}}", None))
    assert outputs(invoke(client, plain, "cats")) == [("End", "You said: say zorbex about cats")]


def test_a_knowledge_base_nodes_guardrail_reaches_retrieve_and_generate(
    client: Callable[..., Any], guardrail: dict[str, str]
) -> None:
    agent = client("bedrock-agent")
    kb_id = create_knowledge_base(agent)
    bucket = fill_bucket(client("s3"), {k: DOCUMENTS[k] for k in ("docs/volcanoes.txt",)})
    assert ingest(agent, kb_id, create_data_source(agent, kb_id, bucket))["status"] == "COMPLETE"
    node: dict[str, Any] = {
        "name": "Search",
        "type": "KnowledgeBase",
        "configuration": {
            "knowledgeBase": {"knowledgeBaseId": kb_id, "modelId": HAIKU, "guardrailConfiguration": guardrail}
        },
        "inputs": [io_("in", "retrievalQuery", "String")],
        "outputs": [io_("out", "outputText", "String")],
    }
    definition: dict[str, Any] = {
        "nodes": [input_node(), node, output_node("End")],
        "connections": [
            data("Start", "document", "Search", "retrievalQuery"),
            data("Search", "outputText", "End", "document"),
        ],
    }
    flow_id = create_prepared(agent, definition)
    assert outputs(invoke(client, flow_id, "Does zorbex make volcanoes erupt?")) == [("End", BLOCKED_IN)]
    [(_, answer)] = outputs(invoke(client, flow_id, "How does magma make volcanoes erupt?"))
    assert answer != BLOCKED_IN and answer
    # without a modelId there is no generation for the guardrail to read: refused at CreateFlow
    del node["configuration"]["knowledgeBase"]["modelId"]
    node["outputs"] = [io_("out", "retrievalResults", "Array")]
    refused = error_of(agent.create_flow, name=name(), executionRoleArn=ROLE, definition=definition)
    assert refused["Code"] == "ValidationException" and "modelId" in refused["Message"]


def test_guardrails_that_cannot_be_honoured_are_refused(
    client: Callable[..., Any], guardrail: dict[str, str]
) -> None:
    agent = client("bedrock-agent")
    no_version = prompt_flow("{{topic}}", {"guardrailIdentifier": guardrail["guardrailIdentifier"]})
    refused = error_of(agent.create_flow, name=name(), executionRoleArn=ROLE, definition=no_version)
    assert refused["Code"] == "ValidationException" and "guardrailVersion" in refused["Message"]
    # an unknown guardrail (or version) is found before the run's stream opens
    for unknown in (
        {"guardrailIdentifier": "abcdefabcdef", "guardrailVersion": "1"},
        {**guardrail, "guardrailVersion": "99"},
    ):
        flow_id = create_prepared(agent, prompt_flow("{{topic}}", unknown))
        error = error_of(
            client("bedrock-agent-runtime").invoke_flow,
            flowIdentifier=flow_id,
            flowAliasIdentifier="TSTALIASID",
            inputs=[{"nodeName": "Start", "nodeOutputName": "document", "content": {"document": "hi"}}],
        )
        assert error["Code"] == "ResourceNotFoundException", error
    # the branching flow with a guardrail on its prompt still routes on the (clean) completion
    routed = branching_flow()
    routed["nodes"][1]["configuration"]["prompt"]["guardrailConfiguration"] = guardrail
    flow_id = create_prepared(agent, routed)
    assert outputs(invoke(client, flow_id, "cats")) == [("Cats", "You said: cats")]
    assert outputs(invoke(client, flow_id, "zorbex")) == [("Other", BLOCKED_IN)]
