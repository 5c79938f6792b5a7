"""Agent sessions: the conversation of one sessionId with one agent alias, kept in memory until endSession or
the agent's idle TTL; a run waiting on the caller's results (RETURN_CONTROL) is kept with it.

Each session has its own lock, so two sessions of one agent run at once and one session's turns run in order.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from outcrop.backends.base import ChatMessage, ToolCall
from outcrop.services.bedrock_agent.agents_schema import Action


@dataclass
class Pending:
    """A run stopped to return control: what it had said and which calls wait for the caller's results."""

    invocation_id: str
    input_text: str
    messages: list[ChatMessage]
    calls: list[tuple[ToolCall, Action]]
    step: int


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

    def remember(self, attributes: dict[str, Any]) -> None:
        """sessionState from a request: its attributes replace the session's, as on AWS."""
        if "sessionAttributes" in attributes:
            self.session_attributes = {str(k): str(v) for k, v in attributes["sessionAttributes"].items()}
        if "promptSessionAttributes" in attributes:
            self.prompt_attributes = {
                str(k): str(v) for k, v in attributes["promptSessionAttributes"].items()
            }


class AgentSessions:
    def __init__(self) -> None:
        self._sessions: dict[tuple[str, str, str], AgentSession] = {}
        self._lock = threading.Lock()

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
            key = (agent_id, alias_id, session_id)
            session = self._sessions.get(key)
            if session is None:
                session = self._sessions[key] = AgentSession(session_id)
            session.last_used = now
            return session, gone

    def end(self, agent_id: str, alias_id: str, session_id: str) -> AgentSession | None:
        with self._lock:
            return self._sessions.pop((agent_id, alias_id, session_id), None)

    def drop_agent(self, agent_id: str) -> None:
        with self._lock:
            for key in [key for key in self._sessions if key[0] == agent_id]:
                del self._sessions[key]
