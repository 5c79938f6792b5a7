"""The one `Guardrails` object the app holds: the store, the versions callers evaluate, the evaluation itself
and ApplyGuardrail, so every path (the control plane, ApplyGuardrail, model calls, RAG, agents) sees the
same guardrails and judges content the same way."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from outcrop.guardrails.store import DRAFT, GuardrailStore, StoredVersion, guardrail_id
from outcrop.guardrails.types import Evaluation, GuardrailNotFound, GuardrailVersion, GuardText, Source
from outcrop.protocol.errors import ValidationException

if TYPE_CHECKING:
    from outcrop.backends.registry import ModelRegistry
    from outcrop.inference import Caller, Inference

IDENTIFIER = re.compile(r"[a-z0-9]+|arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:guardrail/[a-z0-9]+")
VERSION = re.compile(r"[1-9][0-9]{0,7}|DRAFT")
NOT_FOUND = "The guardrail identifier or version provided in the request does not exist."


def check_identifier(identifier: str, version: str | None) -> None:
    """ValidationException for an identifier or version that cannot name any guardrail."""
    if not identifier or len(identifier) > 2048 or not IDENTIFIER.fullmatch(identifier):
        raise ValidationException(
            f"The guardrail identifier {identifier!r} is not valid: give a guardrail id or ARN."
        )
    if version is not None and not VERSION.fullmatch(version):
        raise ValidationException(
            f"The guardrail version {version!r} is not valid: give DRAFT or a version number."
        )


def as_version(stored: StoredVersion) -> GuardrailVersion:
    definition = stored.definition
    return GuardrailVersion(
        guardrail_id=stored.guardrail_id,
        arn=stored.arn,
        version=stored.version,
        name=definition.name,
        blocked_input_messaging=definition.blocked_input,
        blocked_outputs_messaging=definition.blocked_outputs,
        policies=definition.policies,
    )


class Guardrails:
    def __init__(self, *, path: Path, inference: Inference, models: ModelRegistry, account_id: str) -> None:
        """`path` is the SQLite file of the guardrails; the detectors load on first use."""
        from outcrop.guardrails.engine import Engine

        self.store = GuardrailStore(path)
        self.account_id = account_id
        self.engine = Engine(inference=inference, models=models)

    def version(self, identifier: str, version: str | None = None) -> GuardrailVersion:
        """The version of a guardrail (id or ARN) to evaluate: None or DRAFT the draft, a number that
        version. GuardrailNotFound if there is none; ValidationException for a malformed name."""
        check_identifier(identifier, version)
        stored = self.store.get(identifier, version or DRAFT)
        if stored is None:
            raise GuardrailNotFound(NOT_FOUND)
        if identifier.startswith("arn:") and identifier != stored.arn:  # another region's or account's
            raise GuardrailNotFound(NOT_FOUND)
        return as_version(stored)

    def evaluate(
        self,
        guardrail: GuardrailVersion,
        source: Source,
        content: Sequence[GuardText],
        *,
        output_scope: str = "INTERVENTIONS",
        caller: Caller | None = None,
    ) -> Evaluation:
        """One evaluation of the content against the version (blocking: detectors run here)."""
        return self.engine.evaluate(guardrail, source, content, output_scope=output_scope, caller=caller)

    def apply(self, params: dict[str, Any], caller: Caller) -> dict[str, Any]:
        """The whole ApplyGuardrail operation: its request in, its response out."""
        from outcrop.guardrails.apply import apply_guardrail

        return apply_guardrail(self, params, caller)

    def close(self) -> None:
        self.store.close()


__all__ = ["DRAFT", "Guardrails", "as_version", "check_identifier", "guardrail_id"]
