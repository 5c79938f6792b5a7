"""Agent sessions that outlive a restart (history, session and prompt attributes, a pending return of
control), end on endSession, expire after the idle TTL, and never mix."""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from outcrop.backends.base import ChatMessage, ToolCall
from outcrop.services.bedrock_agent.agents_store import AgentStore
from outcrop.services.bedrock_agent_runtime.agent_sessions import AgentSessions, Pending
from tests.errors import error_of
from tests.server import RunningServer
from tests.services.agents import WEATHER_FUNCTIONS, make_agent, orchestration, prepare, read_stream

RESULTS = [
    {
        "functionResult": {
            "actionGroup": "tools",
            "function": "get_weather",
            "responseBody": {"TEXT": {"body": "sunny, 21 C"}},
        }
    }
]


def _invoke(server: RunningServer, agent_id: str, session: str, **extra: Any) -> dict[str, Any]:
    runtime = server.client("bedrock-agent-runtime")
    response = runtime.invoke_agent(agentId=agent_id, agentAliasId="TSTALIASID", sessionId=session, **extra)
    return read_stream(response)


def test_a_session_outlives_a_restart(tmp_path: Path) -> None:
    server = RunningServer(tmp_path / "data").start()
    try:
        agent = server.client("bedrock-agent")
        agent_id = make_agent(agent)
        agent.create_agent_action_group(
            agentId=agent_id,
            agentVersion="DRAFT",
            actionGroupName="tools",
            actionGroupExecutor={"customControl": "RETURN_CONTROL"},
            functionSchema=WEATHER_FUNCTIONS,
        )
        prepare(agent, agent_id)
        session, other = uuid.uuid4().hex, uuid.uuid4().hex
        state = {"sessionAttributes": {"user": "ada"}, "promptSessionAttributes": {"today": "Monday"}}
        _invoke(server, agent_id, session, inputText="my name is Ada", sessionState=state)
        _invoke(server, agent_id, other, inputText="my name is Bob")
        control = _invoke(server, agent_id, session, inputText="get_weather in Oslo")["control"]
        assert control is not None
    finally:
        server.stop()

    server.start()  # the same data dir
    try:
        wrong = error_of(
            server.client("bedrock-agent-runtime").invoke_agent,
            agentId=agent_id,
            agentAliasId="TSTALIASID",
            sessionId=other,
            sessionState={"invocationId": control["invocationId"], "returnControlInvocationResults": RESULTS},
        )
        assert wrong["Code"] == "ValidationException"  # the pending invocation is the other session's
        resumed = _invoke(
            server,
            agent_id,
            session,
            enableTrace=True,
            sessionState={"invocationId": control["invocationId"], "returnControlInvocationResults": RESULTS},
        )
        assert resumed["text"] == "The tool get_weather returned: sunny, 21 C"
        prompt = orchestration(resumed["traces"], "modelInvocationInput")[0]["text"]
        assert "my name is Ada" in prompt and "today: Monday" in prompt and "Bob" not in prompt

        ended = _invoke(server, agent_id, session, inputText="bye", endSession=True)
        assert ended["text"]
        fresh = _invoke(server, agent_id, session, inputText="hello again", enableTrace=True)
        fresh_prompt = orchestration(fresh["traces"], "modelInvocationInput")[0]["text"]
        assert "my name is Ada" not in fresh_prompt and "today: Monday" not in fresh_prompt
    finally:
        server.stop()


def test_idle_sessions_expire_from_the_store(tmp_path: Path) -> None:
    store = AgentStore(tmp_path / "agents.sqlite3")
    try:
        sessions = AgentSessions(store)
        kept, _ = sessions.open("AGENT1", "TSTALIASID", "s1", ttl=600)
        kept.history.append(ChatMessage("user", "remember me"))
        call = ToolCall("c1", "get_weather", {"city": "Oslo"})
        kept.pending = Pending("inv-1", "weather?", [ChatMessage("assistant", "", (call,))], [(call, "w")], 2)
        kept.save()
        neighbour, _ = sessions.open("AGENT1", "TSTALIASID", "s2", ttl=600)
        assert neighbour.history == [] and neighbour.pending is None

        restarted = AgentSessions(store)  # a new process: only the store remembers
        again, expired = restarted.open("AGENT1", "TSTALIASID", "s1", ttl=600)
        assert expired == [] and again.history[0].content == "remember me"
        assert again.pending is not None and again.pending.calls[0] == (call, "w")
        assert again.pending.messages[0].tool_calls == (call,)

        later = AgentSessions(store)
        store.save_session("AGENT1", "TSTALIASID", "s1", replace(again.stored(), last_used=0.0))
        new, expired = later.open("AGENT1", "TSTALIASID", "s3", ttl=60)
        assert [s.session_id for s in expired] == ["s1"] and expired[0].history[0].content == "remember me"
        assert store.session("AGENT1", "TSTALIASID", "s1") is None and new.history == []
    finally:
        store.close()
