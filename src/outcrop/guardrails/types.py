"""The shapes every part of the guardrails package and its callers share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Source = Literal["INPUT", "OUTPUT"]
Action = Literal["NONE", "GUARDRAIL_INTERVENED"]
Qualifier = Literal["grounding_source", "query", "guard_content"]


class GuardrailNotFound(LookupError):
    """No guardrail (or no such version of it) has the identifier given; services answer
    ResourceNotFoundException with AWS's wording."""


@dataclass(frozen=True)
class GuardrailVersion:
    """One immutable version of a guardrail (or its editable DRAFT as it stands), as evaluation needs it.
    `policies` holds the botocore-shaped policy configs as stored (`contentPolicy`, `topicPolicy`,
    `wordPolicy`, `sensitiveInformationPolicy`, `contextualGroundingPolicy`, in GetGuardrail's response
    shape)."""

    guardrail_id: str
    arn: str
    version: str
    name: str
    blocked_input_messaging: str
    blocked_outputs_messaging: str
    policies: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GuardText:
    """One text content block of ApplyGuardrail (or a guarded part of a model call) and its qualifiers."""

    text: str
    qualifiers: tuple[Qualifier, ...] = ()


@dataclass
class Evaluation:
    """One guardrail evaluation, in ApplyGuardrail's terms. `outputs` are the texts to use instead of the
    input when the guardrail intervened: the blocked message, or the content with anonymized spans."""

    action: Action
    action_reason: str
    outputs: list[str]
    assessments: list[dict[str, Any]]
    usage: dict[str, int]
    coverage: dict[str, Any]
    blocked: bool = False  # True when a BLOCK action fired (the whole text is replaced by the message)

    def response(self) -> dict[str, Any]:
        """The ApplyGuardrail response body."""
        return {
            "usage": self.usage,
            "action": self.action,
            "actionReason": self.action_reason,
            "outputs": [{"text": text} for text in self.outputs],
            "assessments": self.assessments,
            "guardrailCoverage": self.coverage,
        }
