"""One evaluation of content against a guardrail version, in ApplyGuardrail's terms.

Content blocks qualified `grounding_source` or `query` are context for contextual grounding; every other
non-blank block is guarded. Each enabled policy of the source's direction (INPUT reads the input actions
and strengths, OUTPUT the output ones) runs on each guarded block; then the findings combine: any BLOCK
replaces the content with the blocked message; otherwise ANONYMIZE findings mask their spans as `{TYPE}`
(a regex as `{name}`); findings whose action is NONE are reported (detected, action NONE) and change
nothing. `outputScope` FULL also reports what was evaluated and not found (content filters at confidence
NONE, topics not matched). Usage counts text units (up to 1,000 characters each) per policy evaluated.

Denied topics and content filters read sentence vectors of the same model: an evaluation embeds each text's
sentences once, in one call, derives a multi-sentence text's own vector from them, and both policies read
those vectors (`vectors.Embeddings`). Vectors and detectors' findings on a text are kept between evaluations
(`Engine.vectors`, `Engine.verdicts`), so the earlier turns of a conversation cost lookups. The call goes to
the catalog's guardrail session of that model (`GUARDRAIL_EMBEDDERS`: the same weights on one thread with int8
products, quickest for a few short texts on a busy machine, and not queued behind a knowledge base's batches)
when it lists one.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from outcrop.guardrails.detectors import grounding as grounding_scores
from outcrop.guardrails.detectors.pii import NEEDS_PRESIDIO, find_entities
from outcrop.guardrails.detectors.regexes import RegexTooSlow, find_matches
from outcrop.guardrails.detectors.words import custom_matches, profanity_matches
from outcrop.guardrails.types import Evaluation, GuardrailVersion, GuardText, Source
from outcrop.guardrails.vectors import Embeddings, LruCache, VectorCache
from outcrop.protocol.errors import ServiceUnavailableException, ValidationException

if TYPE_CHECKING:
    from outcrop.backends.base import Embedder
    from outcrop.backends.grounding import GroundingDetector
    from outcrop.backends.nlp.protocols import PiiDetector
    from outcrop.backends.registry import ModelRegistry
    from outcrop.inference import Caller, Inference

T = TypeVar("T")
PII_MODEL = "presidio-en"
GROUNDING_MODEL = "evidence-grounding"
TOPIC_EMBEDDING_MODEL = "all-minilm-l6-v2"  # what the topic thresholds were calibrated on
# an embedding model -> the catalog entry of the same weights in the guardrails' own one-thread session
GUARDRAIL_EMBEDDERS = {"all-minilm-l6-v2": "all-minilm-l6-v2-guardrails"}
# the same weights with float32 products on one thread: where a near decision of that session is taken again
GUARDRAIL_EXACT = {"all-minilm-l6-v2": "all-minilm-l6-v2-guardrails-float"}
UNIT_CHARACTERS = 1000
_ACTION = {"BLOCK": "BLOCKED", "ANONYMIZE": "ANONYMIZED", "NONE": "NONE"}
USAGE_KEYS = (
    "topicPolicyUnits",
    "contentPolicyUnits",
    "wordPolicyUnits",
    "sensitiveInformationPolicyUnits",
    "sensitiveInformationPolicyFreeUnits",
    "contextualGroundingPolicyUnits",
    "contentPolicyImageUnits",
)


def units(texts: Sequence[str]) -> int:
    return sum(math.ceil(len(text) / UNIT_CHARACTERS) for text in texts if text)


def _enabled(entries: Sequence[dict[str, Any]], direction: str) -> list[dict[str, Any]]:
    return [entry for entry in entries if entry.get(f"{direction}Enabled", True)]


@dataclass
class _Run:
    """What one evaluation gathers as its policies run."""

    source: Source
    guarded: list[GuardText]
    full: bool
    direction: str = field(init=False)
    assessment: dict[str, Any] = field(default_factory=dict)
    usage: dict[str, int] = field(default_factory=lambda: dict.fromkeys(USAGE_KEYS, 0))
    blocked: bool = False
    masks: list[list[tuple[int, int, str]]] = field(default_factory=list)
    embeddings: dict[str, Embeddings] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.direction = "input" if self.source == "INPUT" else "output"
        self.masks = [[] for _ in self.guarded]

    def count(self, key: str) -> None:
        self.usage[key] += units([text.text for text in self.guarded])

    def act(self, action: str) -> str:
        """The assessment's action for a configured action that was detected; BLOCK blocks."""
        if action == "BLOCK":
            self.blocked = True
        return _ACTION.get(action, "NONE")


class Engine:
    """Runs the detectors; each model is loaded once through the registry on first use."""

    def __init__(self, *, inference: Inference, models: ModelRegistry) -> None:
        self.inference = inference
        self.models = models
        self._names: dict[str, frozenset[str]] = {}
        self.vectors: VectorCache | None = VectorCache()  # kept between evaluations: earlier turns
        self.verdicts: LruCache[Any] | None = LruCache()  # detectors' findings, the same way
        self.derive_whole = True  # a multi-sentence text's vector from its sentences' (vectors.py)

    def _listed(self, name: str, kind: str) -> bool:
        """Whether the catalog lists model `name` of `kind` (the catalog is fixed for the server's life)."""
        names = self._names.get(kind)
        if names is None:
            names = self._names[kind] = frozenset(self.models.names(kind))
        return name in names

    # -- the models ------------------------------------------------------------------------------------------

    def _model(self, name: str, kind: str, policy: str) -> Any:
        from outcrop.inference import backend_errors

        if not self._listed(name, kind):
            raise ServiceUnavailableException(
                f"The {policy} needs the {kind} model {name}, which this server's catalog does not list."
            )
        with backend_errors():
            return self.models.get(name, kind)

    def _embedder(self, caller: Caller, name: str) -> Embedder | None:
        from outcrop.catalog import BedrockModel

        if not self._listed(name, "embedding"):
            return None
        return self.inference.embedder(caller, BedrockModel(name, name, "Outcrop", "", name, "embedding"))

    def _cached(self, namespace: str, text: str, compute: Callable[[], T]) -> T:
        """A detector's finding on `text`, kept in `verdicts` under `namespace` (what else it depends on)."""
        return compute() if self.verdicts is None else self.verdicts.one(namespace, text, compute)

    # -- evaluation ------------------------------------------------------------------------------------------

    def evaluate(
        self,
        guardrail: GuardrailVersion,
        source: Source,
        content: Sequence[GuardText],
        *,
        output_scope: str = "INTERVENTIONS",
        caller: Caller | None = None,
    ) -> Evaluation:
        from outcrop.inference import Caller

        started = time.perf_counter()
        who = caller or Caller()
        context = {"grounding_source", "query"}
        guarded = [text for text in content if not context & set(text.qualifiers) and text.text.strip()]
        run = _Run(source, guarded, output_scope == "FULL")
        policies = guardrail.policies
        if guarded:
            self._prefetch(run, policies, who)
            if "topicPolicy" in policies:
                self._topics(run, policies["topicPolicy"], who)
            if "contentPolicy" in policies:
                self._content(run, policies["contentPolicy"], who)
            if "wordPolicy" in policies:
                self._words(run, policies["wordPolicy"])
            if "sensitiveInformationPolicy" in policies:
                self._sensitive(run, policies["sensitiveInformationPolicy"])
            if "contextualGroundingPolicy" in policies and source == "OUTPUT":
                self._grounding(run, policies["contextualGroundingPolicy"], content, who)
        return self._combine(guardrail, run, content, started)

    def _combine(
        self, guardrail: GuardrailVersion, run: _Run, content: Sequence[GuardText], started: float
    ) -> Evaluation:
        masked = any(run.masks)
        if run.blocked:
            message = (
                guardrail.blocked_input_messaging
                if run.source == "INPUT"
                else guardrail.blocked_outputs_messaging
            )
            outputs, reason = [message], "Guardrail blocked."
        elif masked:
            outputs, reason = (
                [_mask(t.text, spans) for t, spans in zip(run.guarded, run.masks, strict=True)],
                "Guardrail masked.",
            )
        else:
            outputs, reason = [], "No action."
        coverage = {
            "textCharacters": {
                "guarded": sum(len(text.text) for text in run.guarded),
                "total": sum(len(text.text) for text in content),
            }
        }
        latency = int(1000 * (time.perf_counter() - started))
        metrics = {
            "guardrailProcessingLatency": latency,
            "usage": dict(run.usage),
            "guardrailCoverage": coverage,
        }
        return Evaluation(
            action="GUARDRAIL_INTERVENED" if run.blocked or masked else "NONE",
            action_reason=reason,
            outputs=outputs,
            assessments=[{**run.assessment, "invocationMetrics": metrics}],
            usage=run.usage,
            coverage=coverage,
            blocked=run.blocked,
        )

    # -- the policies ----------------------------------------------------------------------------------------

    def _shared(self, run: _Run, caller: Caller, name: str) -> Embeddings | None:
        """The evaluation's vectors of embedding model `name` (None when the catalog lacks it)."""
        if name not in run.embeddings:
            own = GUARDRAIL_EMBEDDERS.get(name, name)  # its guardrail session, where the catalog has one
            embedder, used = self._embedder(caller, own), own
            if embedder is None:
                embedder, used = self._embedder(caller, name), name
            if embedder is None:
                return None
            run.embeddings[name] = Embeddings(
                embedder.embed, used, self.vectors, derive_whole=self.derive_whole
            )
        return run.embeddings[name]

    def _exact(self, run: _Run, caller: Caller) -> Embeddings:
        """The evaluation's vectors of the topic model itself (float32, the calibrated one), not its quick
        guardrail copy: what a decision the copy's error could flip is re-decided on."""
        key = f"exact:{TOPIC_EMBEDDING_MODEL}"
        if key not in run.embeddings:
            name = GUARDRAIL_EXACT.get(TOPIC_EMBEDDING_MODEL, TOPIC_EMBEDDING_MODEL)
            embedder = self._embedder(caller, name)
            if embedder is None:  # its one-thread entry is not listed: the model's own (the caller checked)
                embedder, name = self._embedder(caller, TOPIC_EMBEDDING_MODEL), TOPIC_EMBEDDING_MODEL
            if embedder is None:
                raise ServiceUnavailableException(f"The catalog lists no {TOPIC_EMBEDDING_MODEL}.")
            run.embeddings[key] = Embeddings(
                embedder.embed, name, self.vectors, derive_whole=self.derive_whole
            )
        return run.embeddings[key]

    def _prefetch(self, run: _Run, policies: dict[str, Any], caller: Caller) -> None:
        """Embed, in one call per model, every text unit the topic and content policies will read."""
        from outcrop.guardrails.detectors.content import CONTENT_KIND, CONTENT_MODEL

        wanted: dict[str, list[str]] = {}
        if _enabled((policies.get("topicPolicy") or {}).get("topics", []), run.direction):
            wanted[TOPIC_EMBEDDING_MODEL] = [text.text for text in run.guarded]
        content = self._content_texts(run, policies.get("contentPolicy") or {})
        if content and self._listed(CONTENT_MODEL, CONTENT_KIND):
            classify = self._model(CONTENT_MODEL, CONTENT_KIND, "content policy")
            name = getattr(classify, "embedding_model", None)
            if isinstance(name, str):
                wanted.setdefault(name, []).extend(text.text for text in content)
        for name, texts in wanted.items():
            shared = self._shared(run, caller, name)
            if shared is not None:
                shared.prefetch([], guarded=texts)

    def _content_filters(self, run: _Run, policy: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            entry
            for entry in _enabled(policy.get("filters", []), run.direction)
            if entry.get(f"{run.direction}Strength", "NONE") != "NONE"
        ]

    def _content_texts(self, run: _Run, policy: dict[str, Any]) -> list[GuardText]:
        """The guarded texts some content filter evaluates (PROMPT_ATTACK reads tagged input only)."""
        from outcrop.guardrails.detectors.content import active_filters

        filters = self._content_filters(run, policy)
        return [
            text
            for text in run.guarded
            if filters and active_filters(filters, run.source, tagged="guard_content" in text.qualifiers)
        ]

    def _topics(self, run: _Run, policy: dict[str, Any], caller: Caller) -> None:
        from outcrop.guardrails.detectors.topics import anchors, assess_topics, topic_margins

        topics = _enabled(policy.get("topics", []), run.direction)
        if not topics:
            return
        embed = self._shared(run, caller, TOPIC_EMBEDDING_MODEL)
        if embed is None:
            raise ServiceUnavailableException(
                f"The topic policy needs the embedding model {TOPIC_EMBEDDING_MODEL}, which this server's "
                "catalog does not list."
            )
        recheck = None
        if embed.model != TOPIC_EMBEDDING_MODEL and self._listed(TOPIC_EMBEDDING_MODEL, "embedding"):
            recheck = partial(self._exact, run, caller)  # a quick copy: near decisions on float32
        found: dict[str, dict[str, Any]] = {}
        for text in run.guarded:

            def margins(active: list[dict[str, Any]], text: str = text.text) -> list[tuple[float, float]]:
                space = f"topics:{embed.model}:{json.dumps([anchors(t) for t in active])}"
                compute = partial(topic_margins, embed, text, active, embed.model, recheck)
                return self._cached(space, text, compute)

            entries, blocked = assess_topics(
                embed, text.text, topics, run.source, full=run.full, margins=margins
            )
            run.blocked = run.blocked or blocked
            for entry in entries:
                kept = found.get(entry["name"])
                if kept is None or (entry.get("detected") and not kept.get("detected")):
                    found[entry["name"]] = entry
        run.count("topicPolicyUnits")
        if found:
            run.assessment["topicPolicy"] = {"topics": list(found.values())}

    def _content(self, run: _Run, policy: dict[str, Any], caller: Caller) -> None:
        from outcrop.guardrails.detectors.content import (
            CONFIDENCES,
            CONTENT_KIND,
            CONTENT_MODEL,
            assess_content,
            probabilities,
        )

        filters = self._content_filters(run, policy)
        if not filters:
            return
        classify = self._model(CONTENT_MODEL, CONTENT_KIND, "content policy")
        name = getattr(classify, "embedding_model", None)
        embed = self._shared(run, caller, name) if isinstance(name, str) else None
        found: dict[str, dict[str, Any]] = {}
        space = f"content:{classify.model_id}:{embed.model if embed is not None else ''}"
        for text in run.guarded:
            tagged = "guard_content" in text.qualifiers
            scores = partial(
                self._cached, space, text.text, partial(probabilities, classify, text.text, embed)
            )
            entries, blocked = assess_content(
                classify, text.text, filters, run.source, tagged=tagged, full=run.full, scores=scores
            )
            run.blocked = run.blocked or blocked
            for entry in entries:
                kept = found.get(entry["type"])
                rank = CONFIDENCES.index(entry["confidence"])
                if kept is None or rank > CONFIDENCES.index(kept["confidence"]):
                    found[entry["type"]] = entry
        run.count("contentPolicyUnits")
        if found:
            run.assessment["contentPolicy"] = {"filters": list(found.values())}

    def _words(self, run: _Run, policy: dict[str, Any]) -> None:
        words = _enabled(policy.get("words", []), run.direction)
        managed = _enabled(policy.get("managedWordLists", []), run.direction)
        if not words and not managed:
            return
        actions = {" ".join(w["text"].lower().split()): w[f"{run.direction}Action"] for w in words}
        custom: dict[str, dict[str, Any]] = {}
        profane: dict[str, dict[str, Any]] = {}
        for text in run.guarded:
            for match in custom_matches(text.text, [w["text"] for w in words]):
                action = actions.get(" ".join(match.word.lower().split()), "BLOCK")
                custom.setdefault(
                    match.word, {"match": match.word, "action": run.act(action), "detected": True}
                )
            for item in managed:
                action = item[f"{run.direction}Action"]
                for match in profanity_matches(text.text):
                    profane.setdefault(
                        match.word,
                        {
                            "match": match.word,
                            "type": item["type"],
                            "action": run.act(action),
                            "detected": True,
                        },
                    )
        run.count("wordPolicyUnits")
        if custom or profane:
            run.assessment["wordPolicy"] = {
                "customWords": list(custom.values()),
                "managedWordLists": list(profane.values()),
            }

    def _sensitive(self, run: _Run, policy: dict[str, Any]) -> None:
        entities = _enabled(policy.get("piiEntities", []), run.direction)
        regexes = _enabled(policy.get("regexes", []), run.direction)
        if not entities and not regexes:
            return
        action_of = {entity["type"]: entity[f"{run.direction}Action"] for entity in entities}
        wanted = frozenset(action_of)
        detector: PiiDetector | None = None
        if wanted & NEEDS_PRESIDIO:  # the patterns find every other supported type
            detector = self._model(PII_MODEL, "pii", "sensitive information policy")
        found_entities: list[dict[str, Any]] = []
        found_regexes: list[dict[str, Any]] = []
        for index, text in enumerate(run.guarded):
            space = f"pii:{detector.model_id if detector else ''}:{sorted(wanted)}"
            found = partial(find_entities, text.text, wanted, detector)
            for entity in self._cached(space, text.text, found) if wanted else []:
                action = action_of[entity.type]
                match = text.text[entity.start : entity.end]
                found_entities.append(
                    {"match": match, "type": entity.type, "action": run.act(action), "detected": True}
                )
                if action == "ANONYMIZE":
                    run.masks[index].append((entity.start, entity.end, f"{{{entity.type}}}"))
            for regex in regexes:
                action = regex[f"{run.direction}Action"]
                try:
                    hits = find_matches(text.text, regex["name"], regex["pattern"])
                except RegexTooSlow as slow:  # refused, never passed on unscreened
                    raise ValidationException(str(slow)) from None
                for hit in hits:
                    found_regexes.append(
                        {
                            "name": hit.name,
                            "match": hit.match,
                            "regex": hit.pattern,
                            "action": run.act(action),
                            "detected": True,
                        }
                    )
                    if action == "ANONYMIZE":
                        run.masks[index].append((hit.start, hit.end, f"{{{hit.name}}}"))
        run.count("sensitiveInformationPolicyUnits" if entities else "sensitiveInformationPolicyFreeUnits")
        if found_entities or found_regexes:
            run.assessment["sensitiveInformationPolicy"] = {
                "piiEntities": found_entities,
                "regexes": found_regexes,
            }

    def _grounding(
        self, run: _Run, policy: dict[str, Any], content: Sequence[GuardText], caller: Caller
    ) -> None:
        from outcrop.backends.grounding import EvidenceDetector

        sources = [text.text for text in content if "grounding_source" in text.qualifiers]
        query = " ".join(text.text for text in content if "query" in text.qualifiers)
        filters = [
            entry
            for entry in policy.get("filters", [])
            if entry.get("enabled", True) and (sources if entry["type"] == "GROUNDING" else query.strip())
        ]
        if not filters:
            return
        detector: GroundingDetector = (
            self._model(GROUNDING_MODEL, "grounding", "contextual grounding policy")
            if self._listed(GROUNDING_MODEL, "grounding")
            else EvidenceDetector(GROUNDING_MODEL, None)
        )
        name = detector.embedding_model
        embedder = self._embedder(caller, name) if name else None
        text = "\n".join(piece.text for piece in run.guarded)
        assessed = []
        for entry in filters:
            if entry["type"] == "GROUNDING":
                score = grounding_scores.grounding_score(detector, text, sources, query, embedder)
            else:
                score = grounding_scores.relevance_score(detector, text, query, embedder)
            detected = score < entry["threshold"]
            action = run.act(entry.get("action", "BLOCK")) if detected else "NONE"
            assessed.append(
                {
                    "type": entry["type"],
                    "threshold": entry["threshold"],
                    "score": score,
                    "action": action,
                    "detected": detected,
                }
            )
        run.usage["contextualGroundingPolicyUnits"] += units([text, *sources, query])
        run.assessment["contextualGroundingPolicy"] = {"filters": assessed}


def _mask(text: str, spans: list[tuple[int, int, str]]) -> str:
    """The text with each span replaced by its placeholder; of overlapping spans the first (then longest)
    wins."""
    kept: list[tuple[int, int, str]] = []
    for start, end, label in sorted(spans, key=lambda span: (span[0], -(span[1] - span[0]))):
        if not kept or start >= kept[-1][1]:
            kept.append((start, end, label))
    for start, end, label in reversed(kept):
        text = text[:start] + label + text[end:]
    return text
