"""Which engine translates which language pair, and running it on plain text or HTML.

A rule-based Translator (kind translation: apertium) serves the pairs it has installed; the local chat
model serves only the pairs listed in LLM_PAIRS, chosen by measuring it on bench/bench_service_quality.py's
94 sentences a direction (greedy decoding): Qwen2.5-Coder 1.5B translates into English well (de→en chrF
79.9) and into German passably (en→de 59.7, over the chrF 55 every served pair must reach), though it
still changes a meaning now and then: de→en turned a Thursday into a Friday and "turn the light off" into
"on"; en→de turned "tonight" into "afternoon", "next year" into 2023 and "turn left" into "links rechts".
Pairs it was not measured on, or measured under chrF 55 on, are not offered (en→nl, en→ja, en→zh...).
English to Italian stays with apertium through Spanish (57.8, no date or number changed) although the
chat model measured 62.5: it moved a Thursday to a Wednesday, a Sunday to "tomorrow" and next year to 2023.
Pairs apertium has no direct mode for, but has through Spanish, are served by its two pairs in a row
where that measured chrF >= 55 (bench/bench_service_quality.py, 94 sentences a direction); English and
Catalan go through Spanish even though a direct pair exists, as that measured better.
Codes are ISO 639-1. The engines are handed in per request, the chat model already routed through the
inference path by the caller; nothing here loads a model.
"""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from outcrop.backends.base import TextGenerator
from outcrop.backends.nlp.llm_translate import llm_translate
from outcrop.backends.nlp.protocols import Format, Pair, Translator

__all__ = ["LANGUAGE_NAMES", "LLM_PAIRS", "Engine", "Format", "TranslationEngines"]

LLM_PAIRS = (("fr", "en"), ("it", "en"), ("nl", "en"), ("de", "en"), ("en", "de"))
PIVOT = "es"
# chrF through Spanish on the bench set (direct apertium, where there is one, in the comment).
PIVOT_PAIRS = {
    ("en", "fr"): 58.2, ("en", "pt"): 57.4, ("en", "it"): 57.8, ("en", "ca"): 63.0,  # direct 60.8
    ("ca", "en"): 67.0,  # direct 63.4
    ("fr", "pt"): 60.2, ("fr", "it"): 64.4, ("fr", "ca"): 66.3, ("pt", "en"): 62.8, ("pt", "fr"): 65.8,
    ("pt", "it"): 66.3, ("pt", "ca"): 73.0, ("it", "fr"): 65.0, ("it", "pt"): 62.2, ("it", "ca"): 69.0,
    ("ca", "fr"): 67.7, ("ca", "pt"): 69.4, ("ca", "it"): 70.5,
}  # fmt: skip

LANGUAGE_NAMES = {
    "en": "English", "es": "Spanish", "ca": "Catalan", "fr": "French", "pt": "Portuguese", "it": "Italian",
    "de": "German", "nl": "Dutch", "gl": "Galician", "ro": "Romanian", "da": "Danish", "sv": "Swedish",
    "is": "Icelandic",
}  # fmt: skip

_TAG = re.compile(r"(<[^>]*>)")
_INLINE = "a abbr b bdi bdo cite code data dfn em i kbd mark q s samp small span strong sub sup time u var"
_INLINE_TAGS = frozenset(_INLINE.split(" "))
# Scripts, styles and comments are taken whole: "<" inside a script is no tag.
_HTML_TOKENS = re.compile(r"(?is)(<(?:script|style)\b.*?</(?:script|style)\s*>|<!--.*?-->|<[^>]*>)")
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+")
LLM_CHUNK_CHARS = 600  # ~150 tokens in, ~200 out: far inside the 4096-token context
_LETTER = re.compile(r"[^\W\d_]")


@dataclass(frozen=True)
class Engine:
    kind: Literal["rules", "pivot", "llm"]
    detail: str  # the model id of the translator or of the chat model


class TranslationEngines:
    """The pair table of one request: the translator's pairs (for languages with a name here), then the
    chat model's measured pairs where the translator has none; `chat` is None when none is offered."""

    def __init__(self, translator: Translator, chat: TextGenerator | None) -> None:
        self._translator = translator
        self._chat = chat
        pairs: dict[Pair, Engine] = {
            pair: Engine("rules", translator.model_id)
            for pair in sorted(translator.pairs())
            if pair[0] in LANGUAGE_NAMES and pair[1] in LANGUAGE_NAMES
        }
        direct = translator.pairs()
        for pair in PIVOT_PAIRS:
            if (pair[0], PIVOT) in direct and (PIVOT, pair[1]) in direct:
                pairs[pair] = Engine("pivot", f"{translator.model_id} via {PIVOT}")
        if chat is not None:
            for pair in LLM_PAIRS:
                pairs.setdefault(pair, Engine("llm", chat.model_id))
        self._pairs = pairs

    def pairs(self) -> dict[Pair, Engine]:
        return self._pairs

    def keeps_placeholders(self, source: str, target: str) -> bool:
        """Whether the pair's engine passes unknown placeholder words through intact."""
        engine = self._pairs[(source, target)]
        return engine.kind != "llm" and self._translator.keeps_placeholders

    def languages(self) -> list[str]:
        return sorted({code for pair in self._pairs for code in pair})

    def translate(
        self,
        text: str,
        source: str,
        target: str,
        fmt: Format,
        cancel: threading.Event | None = None,
        glossary: Sequence[tuple[str, str]] = (),
    ) -> str:
        """The translation; `glossary` (source term, target term) is used by engines that take one
        (the chat model); the translator's terms are handled by the caller's placeholders."""
        engine = self._pairs[(source, target)]
        if engine.kind == "pivot":
            between = self._translator.translate(text, (source, PIVOT), fmt)
            return self._translator.translate(between, (PIVOT, target), fmt)
        if engine.kind == "rules" or self._chat is None:
            return self._translator.translate(text, (source, target), fmt)
        model = self._chat
        names = LANGUAGE_NAMES[source], LANGUAGE_NAMES[target]

        def one(piece: str) -> str:
            return " ".join(
                llm_translate(model, chunk, *names, cancel=cancel, glossary=glossary)
                for chunk in sentence_chunks(piece)
            )

        def piecewise(markup: str) -> str:
            return map_html_text(markup, lambda piece: html.escape(one(html.unescape(piece)), quote=False))

        def run(markup: str) -> str:
            """Text with inline tags goes to the model whole, so a sentence is not cut at a <b>; if its
            answer loses or reorders a tag, the pieces between tags are translated one by one instead."""
            tags = _TAG.findall(markup)
            if not tags or len(markup) > LLM_CHUNK_CHARS:
                return piecewise(markup)
            answer = llm_translate(model, markup, *names, cancel=cancel, glossary=glossary, markup=True)
            return answer if _TAG.findall(answer) == tags else piecewise(markup)

        if fmt == "html":
            return "".join(
                _keep_outer_space(chunk, run) if translatable else chunk
                for translatable, chunk in html_runs(text)
            )
        return _map_paragraphs(text, one)


def sentence_chunks(text: str, limit: int = LLM_CHUNK_CHARS) -> list[str]:
    """`text` cut at sentence ends into pieces of at most about `limit` characters (a sentence longer
    than that is cut at spaces), so that prompt and answer fit the chat model's context together."""
    chunks: list[str] = []
    current = ""
    for sentence in _SENTENCE_END.split(text.strip()):
        if current and len(current) + 1 + len(sentence) > limit:
            chunks.append(current)
            current = ""
        while len(sentence) > limit:
            cut = sentence.rfind(" ", 0, limit)
            cut = cut if cut > 0 else limit
            chunks.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        current = f"{current} {sentence}".strip()
    if current:
        chunks.append(current)
    return [chunk for chunk in chunks if chunk]


def _keep_outer_space(piece: str, translate: Callable[[str], str]) -> str:
    stripped = piece.strip()
    if not _LETTER.search(stripped):
        return piece
    lead = piece[: len(piece) - len(piece.lstrip())]
    trail = piece[len(piece.rstrip()) :]
    return lead + translate(stripped) + trail


def _map_paragraphs(text: str, translate: Callable[[str], str]) -> str:
    """Translate each line on its own (a small model keeps its footing on short inputs)."""
    return "\n".join(_keep_outer_space(line, translate) for line in text.split("\n"))


def _tag_name(tag: str) -> str:
    return tag[1:].split(None, 1)[0].lower().rstrip(">/") if len(tag) > 2 else ""


def html_runs(markup: str) -> list[tuple[bool, str]]:
    """The document cut into (translatable, chunk): runs of text with inline tags in them, and the rest
    (block tags, comments, scripts and styles), in order; joined, the chunks are the document."""
    runs: list[tuple[bool, str]] = []
    current: list[str] = []
    for part in _HTML_TOKENS.split(markup):
        if not part:
            continue
        is_tag = part.startswith("<") and part.endswith(">")
        if not is_tag or _tag_name(part).lstrip("/") in _INLINE_TAGS:
            current.append(part)
            continue
        if current:
            runs.append((True, "".join(current)))
            current.clear()
        runs.append((False, part))
    if current:
        runs.append((True, "".join(current)))
    return runs


def map_html_text(markup: str, translate: Callable[[str], str]) -> str:
    """Translate the text between tags, leaving tags, comments, scripts and styles as they are."""
    return "".join(
        part if part.startswith("<") and part.endswith(">") else _keep_outer_space(part, translate)
        for part in _HTML_TOKENS.split(markup)
    )


def html_text(markup: str) -> str:
    """The visible text of an HTML document (for language detection)."""
    return html.unescape(re.sub(r"(?is)<(script|style)\b.*?</\1>|<[^>]*>", " ", markup))
