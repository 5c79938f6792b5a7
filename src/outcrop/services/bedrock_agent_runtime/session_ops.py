"""Bedrock session management (CreateSession ... ListInvocationSteps, and tags on session ARNs): the store
behind LangGraph's BedrockSessionSaver and any other framework that checkpoints a conversation in Bedrock.

A session is ACTIVE until EndSession (ENDED: still readable, never written again) or until it has gone
SESSION_TTL_S without a write (EXPIRED: Outcrop's own retention, not a figure taken from AWS). Only an ended
or expired session can be deleted, and its invocations and steps go with it. Sessions live in the account
and region that made them; an id or ARN from elsewhere is not found.
"""

from __future__ import annotations

import base64
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from outcrop.kms.errors import KmsError
from outcrop.protocol.errors import (
    AccessDeniedException,
    ConflictException,
    ResourceNotFoundException,
    ValidationException,
)
from outcrop.services.base import RequestContext
from outcrop.services.bedrock_agent_runtime.session_store import Session, SessionStore, Step
from outcrop.services.paging import Pager

SESSION_TTL_S = 30 * 24 * 3600.0
MAX_TAGS = 200
PAGER = Pager(
    ValidationException,
    "The nextToken is not valid.",
    default=1000,
    maximum=1000,
    token="nextToken",
    size="maxResults",
)


def _stamp(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def status(session: Session, now: float | None = None) -> str:
    if session.ended is not None:
        return "ENDED"
    if (now or time.time()) - session.updated > SESSION_TTL_S:
        return "EXPIRED"
    return "ACTIVE"


def _stored_blocks(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Content blocks as JSON can keep them (image bytes in base64); each must be exactly one kind."""
    out = []
    for index, block in enumerate(blocks):
        kinds = [k for k in ("text", "image") if block.get(k) is not None]
        if len(kinds) != 1:
            raise ValidationException(
                f"payload.contentBlocks[{index}] must have exactly one of text or image, not {len(kinds)}."
            )
        if "image" in kinds:
            image = block["image"]
            source = image["source"]
            given = [k for k in ("bytes", "s3Location") if source.get(k) is not None]
            if len(given) != 1:
                raise ValidationException(
                    f"payload.contentBlocks[{index}].image.source must have exactly one of bytes or "
                    "s3Location."
                )
            if given == ["bytes"]:
                source = {"bytes": base64.b64encode(source["bytes"]).decode()}
            else:
                source = {"s3Location": {"uri": source["s3Location"]["uri"]}}
            block = {"image": {"format": image["format"], "source": source}}
        else:
            block = {"text": block["text"]}
        out.append(block)
    return out


def _given_blocks(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for block in blocks:
        if "image" in block and "bytes" in block["image"]["source"]:
            image = block["image"]
            block = {
                "image": {
                    "format": image["format"],
                    "source": {"bytes": base64.b64decode(image["source"]["bytes"])},
                }
            }
        out.append(block)
    return out


class SessionOperations:
    """The operations, mixed into the bedrock-agent-runtime provider (which gives `session_store`)."""

    session_store: SessionStore

    # -- helpers ---------------------------------------------------------------------------------------------

    def _session(self, ctx: RequestContext, identifier: str, *, opened: bool = False) -> Session:
        """A session of the caller's account and region, by id or ARN; metadata opened if asked."""
        session_id = identifier.rsplit("/", 1)[-1] if identifier.startswith("arn:") else identifier
        try:
            session = self.session_store.get(session_id, opened=opened)
        except KmsError as exc:
            raise self._denied(session_id, exc) from exc
        if (
            session is None
            or (session.account, session.region) != (ctx.account_id, ctx.region)
            or (identifier.startswith("arn:") and identifier != session.arn)
        ):
            raise ResourceNotFoundException(f"Session with ID {session_id} doesn't exist.")
        return session

    def _denied(self, session_id: str, exc: KmsError) -> AccessDeniedException:
        return AccessDeniedException(
            f"Amazon Bedrock cannot use the KMS key of session {session_id}: {exc.code}: {exc.message}"
        )

    def _writable(self, ctx: RequestContext, identifier: str) -> Session:
        session = self._session(ctx, identifier)
        state = status(session)
        if state != "ACTIVE":
            raise ConflictException(
                f"Session {session.session_id} is {state}: an ended or expired session can't be changed."
            )
        return session

    def _sealed_call(self, session: Session, action: Any) -> Any:
        """Run a store call that opens the session's data key: KMS's refusal is AccessDenied."""
        try:
            return action()
        except KmsError as exc:
            raise self._denied(session.session_id, exc) from exc

    @staticmethod
    def _view(session: Session) -> dict[str, Any]:
        return {
            "sessionId": session.session_id,
            "sessionArn": session.arn,
            "sessionStatus": status(session),
            "createdAt": _stamp(session.created),
            "lastUpdatedAt": _stamp(session.updated),
        }

    # -- sessions --------------------------------------------------------------------------------------------

    def create_session(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        session_id = str(uuid.uuid4())
        arn = ctx.arn("bedrock", f"session/{session_id}")
        key = params.get("encryptionKeyArn")
        try:
            session = self.session_store.create(
                session_id,
                (ctx.account_id, ctx.region),
                arn,
                params.get("sessionMetadata") or {},
                key,
                params.get("tags") or {},
            )
        except KmsError as exc:
            raise ValidationException(
                f"The KMS key {key} cannot be used to encrypt the session: {exc.code}: {exc.message}"
            ) from exc
        return {
            "sessionId": session_id,
            "sessionArn": arn,
            "sessionStatus": "ACTIVE",
            "createdAt": _stamp(session.created),
        }

    def get_session(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        session = self._session(ctx, params["sessionIdentifier"], opened=True)
        answer = self._view(session) | {"sessionMetadata": session.metadata}
        return answer | ({"encryptionKeyArn": session.kms_key} if session.kms_key else {})

    def update_session(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        session = self._writable(ctx, params["sessionIdentifier"])
        metadata = params.get("sessionMetadata") or {}
        self._sealed_call(session, lambda: self.session_store.update_metadata(session.session_id, metadata))
        return self._view(self._session(ctx, session.session_id))

    def end_session(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        session = self._session(ctx, params["sessionIdentifier"])
        if session.ended is not None:
            raise ConflictException(f"Session {session.session_id} has already ended.")
        self.session_store.end(session.session_id)
        return {"sessionId": session.session_id, "sessionArn": session.arn, "sessionStatus": "ENDED"}

    def delete_session(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        session = self._session(ctx, params["sessionIdentifier"])
        if status(session) == "ACTIVE":
            raise ConflictException(
                f"Session {session.session_id} is ACTIVE: end it with EndSession before deleting it."
            )
        self.session_store.delete(session.session_id)
        return {}

    def list_sessions(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        page, token = PAGER.page(self.session_store.sessions((ctx.account_id, ctx.region)), params)
        answer: dict[str, Any] = {"sessionSummaries": [self._view(s) for s in page]}
        return answer | ({"nextToken": token} if token else {})

    # -- invocations and steps -------------------------------------------------------------------------------

    def create_invocation(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        session = self._writable(ctx, params["sessionIdentifier"])
        invocation_id = params.get("invocationId") or str(uuid.uuid4())
        created = self._sealed_call(
            session,
            lambda: self.session_store.add_invocation(
                session.session_id, invocation_id, params.get("description")
            ),
        )
        if created is None:
            raise ConflictException(
                f"Invocation {invocation_id} already exists in session {session.session_id}."
            )
        return {"sessionId": session.session_id, "invocationId": invocation_id, "createdAt": _stamp(created)}

    def list_invocations(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        session = self._session(ctx, params["sessionIdentifier"])
        page, token = PAGER.page(self.session_store.invocations(session.session_id), params)
        summaries = [
            {"sessionId": session.session_id, "invocationId": inv, "createdAt": _stamp(at)}
            for inv, at in page
        ]
        return {"invocationSummaries": summaries} | ({"nextToken": token} if token else {})

    def _invocation(self, session: Session, invocation_id: str) -> None:
        if not self.session_store.has_invocation(session.session_id, invocation_id):
            raise ResourceNotFoundException(
                f"Invocation with ID {invocation_id} doesn't exist in session {session.session_id}."
            )

    def put_invocation_step(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        session = self._writable(ctx, params["sessionIdentifier"])
        invocation_id = params["invocationIdentifier"]
        self._invocation(session, invocation_id)
        blocks = (params["payload"] or {}).get("contentBlocks")
        if not blocks:
            raise ValidationException("payload.contentBlocks must hold at least one content block.")
        step_id = params.get("invocationStepId") or str(uuid.uuid4())
        when: datetime = params["invocationStepTime"]
        step = Step(step_id, invocation_id, when.timestamp(), {"contentBlocks": _stored_blocks(blocks)})
        other = self._sealed_call(session, lambda: self.session_store.put_step(session.session_id, step))
        if other is not None:
            raise ConflictException(f"Invocation step {step_id} belongs to invocation {other}.")
        return {"invocationStepId": step_id}

    def get_invocation_step(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        session = self._session(ctx, params["sessionIdentifier"])
        step_id, invocation_id = params["invocationStepId"], params["invocationIdentifier"]
        step = self._sealed_call(session, lambda: self.session_store.step(session.session_id, step_id))
        if step is None or step.invocation_id != invocation_id:
            raise ResourceNotFoundException(
                f"Invocation step with ID {step_id} doesn't exist in invocation {invocation_id}."
            )
        return {
            "invocationStep": {
                "sessionId": session.session_id,
                "invocationId": step.invocation_id,
                "invocationStepId": step.step_id,
                "invocationStepTime": _stamp(step.step_time),
                "payload": {"contentBlocks": _given_blocks(step.payload["contentBlocks"])},
            }
        }

    def list_invocation_steps(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """Newest first (by invocationStepTime), as BedrockSessionSaver reads its latest checkpoint."""
        session = self._session(ctx, params["sessionIdentifier"])
        invocation_id = params.get("invocationIdentifier")
        if invocation_id is not None:
            self._invocation(session, invocation_id)
        page, token = PAGER.page(self.session_store.steps(session.session_id, invocation_id), params)
        summaries = [
            {
                "sessionId": session.session_id,
                "invocationId": inv,
                "invocationStepId": step,
                "invocationStepTime": _stamp(at),
            }
            for step, inv, at in page
        ]
        return {"invocationStepSummaries": summaries} | ({"nextToken": token} if token else {})

    # -- tags ------------------------------------------------------------------------------------------------

    def tag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        session = self._session(ctx, params["resourceArn"])
        tags = {**session.tags, **params["tags"]}
        if len(tags) > MAX_TAGS:
            raise ValidationException(f"A session can have at most {MAX_TAGS} tags.")
        self.session_store.set_tags(session.session_id, tags)
        return {}

    def untag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        session = self._session(ctx, params["resourceArn"])
        gone = set(params["tagKeys"])
        self.session_store.set_tags(
            session.session_id, {k: v for k, v in session.tags.items() if k not in gone}
        )
        return {}

    def list_tags_for_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"tags": self._session(ctx, params["resourceArn"]).tags}
