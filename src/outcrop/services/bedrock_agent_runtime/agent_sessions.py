"""Agent sessions: the conversation of one sessionId with one agent alias, until endSession or the agent's
idle TTL; a run waiting on the caller's results (RETURN_CONTROL) is kept with it.

Sessions are saved in the agent store (SQLite) after every turn, so a restarted server goes on with the same
history, attributes and pending return-control invocation. Live sessions are also kept in memory, each with
its own lock, so two sessions of one agent run at once and one session's turns run in order.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from outcrop.backends.base import ChatMessage, ToolCall
from outcrop.services.bedrock_agent.agents_store import AgentStore, StoredSession


@dataclass
class Pending:
    """A run stopped to return control: what it had said and which calls (with their tools' names) wait
    for the caller's results."""

    invocation_id: str
    input_text: str
    messages: list[ChatMessage]
    calls: list[tuple[ToolCall, str]]
    step: int
    confirming: list[str] = field(default_factory=list)  # ids of the calls waiting for the user's consent


@dataclass
class AgentSession:
    session_id: str
    memory_id: str | None = None
    history: list[ChatMessage] = field(default_factory=list)
    session_attributes: dict[str, str] = field(default_factory=dict)
    prompt_attributes: dict[str, str] = field(default_factory=dict)
    pending: Pending | None = None
    started: float = field(default_factory=time.time)
    last_used: float = field(default_factory=time.time)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    saved_as: tuple[AgentStore, str, str] | None = None  # (store, agent, alias) that keeps it

    def remember(self, attributes: dict[str, Any]) -> None:
        """sessionState from a request: its attributes replace the session's, as on AWS."""
        if "sessionAttributes" in attributes:
            self.session_attributes = {str(k): str(v) for k, v in attributes["sessionAttributes"].items()}
        if "promptSessionAttributes" in attributes:
            self.prompt_attributes = {
                str(k): str(v) for k, v in attributes["promptSessionAttributes"].items()
            }

    def save(self) -> None:
        """Write the session to its store (after a turn), so it outlives this process."""
        if self.saved_as is None:
            return
        store, agent_id, alias_id = self.saved_as
        store.save_session(agent_id, alias_id, self.session_id, self.stored())

    def stored(self) -> StoredSession:
        body: dict[str, Any] = {
            "memoryId": self.memory_id,
            "history": [_message(m) for m in self.history],
            "sessionAttributes": self.session_attributes,
            "promptSessionAttributes": self.prompt_attributes,
        }
        if self.pending is not None:
            body["pending"] = {
                "invocationId": self.pending.invocation_id,
                "inputText": self.pending.input_text,
                "messages": [_message(m) for m in self.pending.messages],
                "calls": [{**_call(call), "tool": tool} for call, tool in self.pending.calls],
                "step": self.pending.step,
                "confirming": self.pending.confirming,
            }
        return StoredSession(body, self.started, self.last_used)

    @classmethod
    def restored(cls, session_id: str, state: StoredSession) -> AgentSession:
        body = state.body
        session = cls(
            session_id,
            memory_id=body.get("memoryId"),
            history=[_chat(m) for m in body.get("history", [])],
            session_attributes=dict(body.get("sessionAttributes") or {}),
            prompt_attributes=dict(body.get("promptSessionAttributes") or {}),
            started=state.started,
            last_used=state.last_used,
        )
        pending = body.get("pending")
        if pending:
            session.pending = Pending(
                pending["invocationId"],
                pending["inputText"],
                [_chat(m) for m in pending["messages"]],
                [(ToolCall(c["id"], c["name"], c["arguments"]), c["tool"]) for c in pending["calls"]],
                pending["step"],
                list(pending.get("confirming") or []),
            )
        return session


def _call(call: ToolCall) -> dict[str, Any]:
    return {"id": call.id, "name": call.name, "arguments": call.arguments}


def _message(message: ChatMessage) -> dict[str, Any]:
    saved: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        saved["toolCalls"] = [_call(call) for call in message.tool_calls]
    if message.tool_call_id is not None:
        saved["toolCallId"] = message.tool_call_id
    return saved


def _chat(saved: dict[str, Any]) -> ChatMessage:
    calls = tuple(ToolCall(c["id"], c["name"], c["arguments"]) for c in saved.get("toolCalls", []))
    return ChatMessage(
        saved["role"], saved["content"], tool_calls=calls, tool_call_id=saved.get("toolCallId")
    )


class AgentSessions:
    """Sessions by (agent, alias, sessionId): in memory while live, in the store across restarts."""

    def __init__(self, store: AgentStore | None = None) -> None:
        self._sessions: dict[tuple[str, str, str], AgentSession] = {}
        self._lock = threading.Lock()
        self._store = store

    def open(
        self, agent_id: str, alias_id: str, session_id: str, ttl: int
    ) -> tuple[AgentSession, list[AgentSession]]:
        """The live session of that id (a new one when none is, or it idled past `ttl`), and the sessions
        that expired meanwhile (for memory summaries)."""
        now = time.time()
        with self._lock:
            expired = [
                key
                for key, session in self._sessions.items()
                if now - session.last_used > ttl and key[:2] == (agent_id, alias_id)
            ]
            gone = [self._sessions.pop(key) for key in expired]
            if self._store is not None:
                taken = self._store.take_idle_sessions(agent_id, alias_id, now - ttl)
                known = {session.session_id for session in gone}
                gone += [AgentSession.restored(sid, state) for sid, state in taken if sid not in known]
            key = (agent_id, alias_id, session_id)
            session = self._sessions.get(key)
            if session is None:
                state = self._store.session(*key) if self._store is not None else None
                session = AgentSession.restored(session_id, state) if state else AgentSession(session_id)
                self._sessions[key] = session
            if self._store is not None:
                session.saved_as = (self._store, agent_id, alias_id)
            session.last_used = now
            return session, gone

    def end(self, agent_id: str, alias_id: str, session_id: str) -> AgentSession | None:
        with self._lock:
            session = self._sessions.pop((agent_id, alias_id, session_id), None)
            if self._store is not None:
                if session is None:
                    state = self._store.session(agent_id, alias_id, session_id)
                    session = AgentSession.restored(session_id, state) if state else None
                self._store.delete_session(agent_id, alias_id, session_id)
            if session is not None:
                session.saved_as = None  # a turn still finishing must not bring it back
            return session

    def drop_agent(self, agent_id: str) -> None:
        with self._lock:
            for key in [key for key in self._sessions if key[0] == agent_id]:
                del self._sessions[key]
            if self._store is not None:
                self._store.delete_session(agent_id)
