"""What a model call does with a guardrail: the `Guard` the inference path runs around one call.

A service builds a Guard from the request (`Guardrail.resolve` finds the version, the service picks the texts
the guardrail reads: Converse's guardContent blocks, InvokeModel's tagged spans, a question, or the whole
prompt) and hands it to `Inference.stream`/`stream_blocking`, which screens the input before the model runs
(a blocked input never reaches it; an anonymized one reaches it masked) and the output after it. The Guard
keeps every evaluation, so the service can answer AWS's fields: stopReason `guardrail_intervened`,
`amazon-bedrock-guardrailAction`, `guardrailAction`, and the traces.

Streams are screened as AWS describes: "whole" (a call that answers at once) screens the full output at the
end; "sync" holds text back until its batch is screened; "async" sends text as it comes and screens behind
it, stopping the stream with the blocked message once a batch is blocked. A batch ends at a sentence end
once it holds `BATCH_CHARS` characters, or at `MAX_BATCH_CHARS` (one text unit).
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from outcrop.backends.base import GenerationEvent, GenerationRequest, GenerationResult
from outcrop.guardrails.types import Evaluation, GuardrailNotFound, GuardrailVersion, GuardText, Source
from outcrop.inference import Caller
from outcrop.protocol.errors import ResourceNotFoundException, ValidationException

Trace = Literal["disabled", "enabled", "enabled_full"]
Mode = Literal["whole", "sync", "async"]
BATCH_CHARS = 200
MAX_BATCH_CHARS = 1000
NOT_FOUND = "The guardrail identifier or version provided in the request does not exist."
_VERSION = re.compile(r"^(DRAFT|[1-9][0-9]{0,7})$")
_SENTENCE_END = re.compile(r"[.!?\n][\"')\]]*(?=\s)")


class GuardrailEngine(Protocol):
    """What enforcement needs of `outcrop.guardrails.guardrails.Guardrails`."""

    def version(self, identifier: str, version: str | None = None) -> GuardrailVersion: ...

    def evaluate(
        self,
        guardrail: GuardrailVersion,
        source: Source,
        content: Sequence[GuardText],
        *,
        output_scope: str = "INTERVENTIONS",
        caller: Caller | None = None,
    ) -> Evaluation: ...

    def apply(self, params: dict[str, Any], caller: Caller) -> dict[str, Any]: ...


def resolve(engine: GuardrailEngine, identifier: str | None, version: str | None) -> GuardrailVersion:
    """The guardrail version a request names: ValidationException for a missing or malformed version,
    ResourceNotFoundException (AWS's wording) for one that does not exist."""
    if not identifier:
        raise ValidationException("A guardrail identifier is required when a guardrail version is given.")
    if not version:
        raise ValidationException(
            f"A guardrail version is required with the guardrail identifier {identifier}: give DRAFT or a "
            "version number."
        )
    if not _VERSION.match(version):
        raise ValidationException(
            f"The guardrail version {version!r} is not valid: give DRAFT or a version number (1, 2, ...)."
        )
    try:
        return engine.version(identifier, version)
    except GuardrailNotFound as error:
        raise ResourceNotFoundException(str(error) or NOT_FOUND) from error


def masks_output(guardrail: GuardrailVersion) -> bool:
    """Whether the guardrail would anonymize (mask) model output: PII entities or regexes whose output
    action is ANONYMIZE (AWS does not mask in asynchronous stream processing)."""
    policy = guardrail.policies.get("sensitiveInformationPolicy") or {}
    for entry in [*(policy.get("piiEntities") or []), *(policy.get("regexes") or [])]:
        action = entry.get("outputAction") or entry.get("action")
        if action == "ANONYMIZE" and entry.get("outputEnabled", True) is not False:
            return True
    return False


def refuse_async_masking(guardrail: GuardrailVersion, mode: Mode) -> None:
    if mode == "async" and masks_output(guardrail):
        raise ValidationException(
            f"The guardrail {guardrail.guardrail_id} masks sensitive information in model output "
            "(ANONYMIZE), which Amazon Bedrock Guardrails does not support in asynchronous stream processing "
            "mode. Use synchronous mode, or a guardrail version that blocks instead of masking."
        )


@dataclass
class Screening:
    """One evaluation and how long it took."""

    evaluation: Evaluation
    latency_ms: int


@dataclass
class Guard:
    """A guardrail around one model call (or a few calls on the same input: a retried request reuses the
    input's screening). Implements `outcrop.inference.Guard`."""

    engine: GuardrailEngine
    guardrail: GuardrailVersion
    inputs: Sequence[GuardText]
    caller: Caller | None = None
    trace: Trace = "disabled"
    mode: Mode = "whole"
    input_screening: Screening | None = None
    output_screenings: list[Screening] = field(default_factory=list)
    raw_output: list[str] = field(default_factory=list)
    input_blocked: bool = False
    output_blocked: bool = False
    _masks: list[tuple[str, str]] = field(default_factory=list)

    # -- what the services read ------------------------------------------------------------------------------

    @property
    def intervened(self) -> bool:
        screenings = [self.input_screening, *self.output_screenings]
        return any(s is not None and s.evaluation.action == "GUARDRAIL_INTERVENED" for s in screenings)

    @property
    def action(self) -> str:
        """INTERVENED or NONE, as InvokeModel, RetrieveAndGenerate and agent traces spell it."""
        return "INTERVENED" if self.intervened else "NONE"

    @property
    def action_reason(self) -> str:
        reasons = [
            s.evaluation.action_reason
            for s in [self.input_screening, *self.output_screenings]
            if s is not None and s.evaluation.action == "GUARDRAIL_INTERVENED"
        ]
        return reasons[-1] if reasons else "No action."

    @property
    def output_scope(self) -> str:
        return "FULL" if self.trace == "enabled_full" else "INTERVENTIONS"

    def assessment(self, screening: Screening) -> dict[str, Any]:
        """One evaluation as a runtime GuardrailAssessment (Converse traces, InvokeModel traces)."""
        merged: dict[str, Any] = {}
        for part in screening.evaluation.assessments:
            merged.update(part)
        merged.setdefault(
            "invocationMetrics",
            {
                "guardrailProcessingLatency": screening.latency_ms,
                "usage": screening.evaluation.usage,
                "guardrailCoverage": screening.evaluation.coverage,
            },
        )
        merged.setdefault(
            "appliedGuardrailDetails",
            {
                "guardrailId": self.guardrail.guardrail_id,
                "guardrailVersion": self.guardrail.version,
                "guardrailArn": self.guardrail.arn,
                "guardrailOrigin": ["REQUEST"],
                "guardrailOwnership": "SELF",
            },
        )
        return merged

    def converse_trace(self) -> dict[str, Any] | None:
        """Converse's `trace` member ({"guardrail": GuardrailTraceAssessment}), or None without a trace."""
        if self.trace == "disabled":
            return None
        key = self.guardrail.guardrail_id
        found: dict[str, Any] = {}
        if self.output_blocked or any(
            s.evaluation.action == "GUARDRAIL_INTERVENED" for s in self.output_screenings
        ):
            found["modelOutput"] = ["".join(self.raw_output)]
        if self.input_screening is not None:
            found["inputAssessment"] = {key: self.assessment(self.input_screening)}
        if self.output_screenings:
            found["outputAssessments"] = {key: [self.assessment(s) for s in self.output_screenings]}
        found["actionReason"] = self.action_reason
        return {"guardrail": found}

    # -- screening -------------------------------------------------------------------------------------------

    def _evaluate(self, source: Source, content: Sequence[GuardText]) -> Screening:
        started = time.perf_counter()
        evaluation = self.engine.evaluate(
            self.guardrail, source, content, output_scope=self.output_scope, caller=self.caller
        )
        return Screening(evaluation, int(1000 * (time.perf_counter() - started)))

    def screen_input_texts(self) -> Screening | None:
        """Evaluate the guarded input once (later calls reuse it); None when there is nothing to read."""
        if self.input_screening is not None or not any(text.text.strip() for text in self.inputs):
            return self.input_screening
        screening = self._evaluate("INPUT", self.inputs)
        self.input_screening = screening
        evaluation = screening.evaluation
        if evaluation.action != "GUARDRAIL_INTERVENED":
            return screening
        if evaluation.blocked:
            self.input_blocked = True
            return screening
        context = {"grounding_source", "query"}  # context for grounding, never masked or answered
        guarded = [t for t in self.inputs if t.text.strip() and not context & set(t.qualifiers)]
        outputs = evaluation.outputs
        if len(outputs) == len(guarded):
            pairs = list(zip((text.text for text in guarded), outputs, strict=True))
        elif len(outputs) == 1:
            pairs = [("\n".join(text.text for text in guarded), outputs[0])]
        else:
            pairs = []
        self._masks = [(original, masked) for original, masked in pairs if original != masked]
        return screening

    def blocked_input_message(self) -> str:
        screening = self.input_screening
        if screening is not None and screening.evaluation.outputs:
            return screening.evaluation.outputs[0]
        return self.guardrail.blocked_input_messaging

    def blocked_output_message(self) -> str:
        for screening in reversed(self.output_screenings):
            if screening.evaluation.blocked and screening.evaluation.outputs:
                return screening.evaluation.outputs[0]
        return self.guardrail.blocked_outputs_messaging

    def mask(self, text: str) -> str:
        """Text with the anonymized input spans masked as the guardrail masked them."""
        for original, masked in self._masks:
            text = text.replace(original, masked)
        return text

    def screen_input(self, request: GenerationRequest) -> GenerationRequest | GenerationResult:
        """The request the model may see (masked where the guardrail anonymized), or, when the input is
        blocked, the answer to give instead (the blocked message; the model is not run)."""
        self.screen_input_texts()
        if self.input_blocked:
            return GenerationResult(self.blocked_input_message(), "end_turn", 0, 0)
        if not self._masks:
            return request
        messages = [dataclasses.replace(m, content=self.mask(m.content)) for m in request.messages]
        return dataclasses.replace(request, messages=messages)

    def _grounding(self) -> list[GuardText]:
        return [t for t in self.inputs if {"grounding_source", "query"} & set(t.qualifiers)]

    def screen_text(self, text: str) -> tuple[str, bool]:
        """One piece of output screened: the text to show (masked, or the blocked message) and whether the
        guardrail blocked it."""
        if not text.strip():
            return text, False
        grounding = self._grounding()
        piece = GuardText(text, ("guard_content",) if grounding else ())
        screening = self._evaluate("OUTPUT", [*grounding, piece])
        self.output_screenings.append(screening)
        evaluation = screening.evaluation
        if evaluation.action != "GUARDRAIL_INTERVENED":
            return text, False
        if evaluation.blocked:
            self.output_blocked = True
            return (evaluation.outputs or [self.guardrail.blocked_outputs_messaging])[0], True
        return (evaluation.outputs[-1] if evaluation.outputs else text), False

    def screen_output(
        self, events: Iterator[GenerationEvent], cancel: threading.Event
    ) -> Iterator[GenerationEvent]:
        """The model's events with their text screened as `mode` says; a blocked batch stops the model
        (through `cancel`; its final event still comes, so usage is metered) and ends with the blocked
        message. The final event's text is the text that was sent, with no tool calls after a block."""
        pending, sent = "", []
        done: GenerationResult | None = None
        for event in events:
            if event.done is not None:
                done = event.done
                break
            if not event.text:
                continue
            self.raw_output.append(event.text)
            pending += event.text
            if self.mode == "async":
                sent.append(event.text)
                yield event
            cut = _batch_end(pending) if self.mode != "whole" else 0
            if cut:
                batch, pending = pending[:cut], pending[cut:]
                shown, blocked = self.screen_text(batch)
                if blocked:
                    yield from self._stopped(events, cancel, sent, shown)
                    return
                if self.mode == "sync":
                    sent.append(shown)
                    yield GenerationEvent(text=shown)
        if done is None:
            return
        shown, blocked = self.screen_text(pending)
        if blocked:
            sent.append(shown)
            yield GenerationEvent(text=shown)
            yield GenerationEvent(done=dataclasses.replace(done, text="".join(sent), tool_calls=[]))
            return
        if self.mode != "async" and shown:
            sent.append(shown)
            yield GenerationEvent(text=shown)
        yield GenerationEvent(done=dataclasses.replace(done, text="".join(sent)))

    def _stopped(
        self, events: Iterator[GenerationEvent], cancel: threading.Event, sent: list[str], message: str
    ) -> Iterator[GenerationEvent]:
        """Stop the model after a block: ask it to stop, read on to its final event, and end with the
        blocked message."""
        ours = not cancel.is_set()
        cancel.set()
        done: GenerationResult | None = None
        try:
            for event in events:
                if event.done is not None:
                    done = event.done
        finally:
            if ours:
                cancel.clear()
        sent.append(message)
        yield GenerationEvent(text=message)
        if done is not None:
            yield GenerationEvent(done=dataclasses.replace(done, text="".join(sent), tool_calls=[]))


def _batch_end(text: str) -> int:
    """Where the next batch to screen ends in `text` (0: not yet)."""
    if len(text) >= MAX_BATCH_CHARS:
        ends = [m.end() for m in _SENTENCE_END.finditer(text, 0, MAX_BATCH_CHARS)]
        return ends[-1] if ends else MAX_BATCH_CHARS
    if len(text) < BATCH_CHARS:
        return 0
    ends = [m.end() for m in _SENTENCE_END.finditer(text) if m.end() >= BATCH_CHARS]
    return ends[0] if ends else 0
