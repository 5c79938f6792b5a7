"""Translation by a local chat model, for language pairs no rule-based engine covers.

The model is asked for the translation alone. Terminology reaches it as the target terms already put in
the source text, each wrapped in a <term> tag it is told to keep: measured on Qwen2.5-Coder 1.5B, it
garbles made-up placeholder words, ignores a glossary in the prompt, and "corrects" a bare target word
back to its usual translation, but keeps tagged words. The tags are removed from its answer.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence

from outcrop.backends.base import ChatMessage, GenerationRequest, TextGenerator, generate

_SYSTEM = "You are a translation engine. You answer with the translated text only, nothing else."
_USER = "Translate this {source} text into {target}.{keep}\n\n{text}"
_KEEP = " Keep the words inside <term> tags exactly as written."
_MARKUP = " It is HTML: keep every tag, unchanged, around the words it marks."
_TERM_TAG = re.compile(r"</?term>", re.IGNORECASE)


def mark_terms(text: str, glossary: Sequence[tuple[str, str]]) -> str:
    """Each whole-word source term replaced by its target term inside a <term> tag, longest first."""
    for source, target in sorted(glossary, key=lambda pair: -len(pair[0])):
        pattern = re.compile(r"(?<!\w)" + re.escape(source) + r"(?!\w)")
        replacement = "<term>" + target.replace("\\", "\\\\") + "</term>"
        text = pattern.sub(replacement, text)
    return text


def llm_translate(
    model: TextGenerator,
    text: str,
    source_name: str,
    target_name: str,
    cancel: threading.Event | None = None,
    glossary: Sequence[tuple[str, str]] = (),
    *,
    markup: bool = False,
) -> str:
    """`text` translated by `model` (greedy decoding, output at most ~3x the input's length). `model` is what
    the caller hands in: Translate gives the inference path's routed chat model, never a registry instance."""
    marked = mark_terms(text, glossary)
    request = GenerationRequest(
        messages=[
            ChatMessage("system", _SYSTEM),
            ChatMessage(
                "user",
                _USER.format(
                    source=source_name,
                    target=target_name,
                    keep=(_MARKUP if markup else "") + (_KEEP if marked != text else ""),
                    text=marked,
                ),
            ),
        ],
        max_tokens=max(64, 3 * len(text) // 2),
        temperature=0.0,
        seed=0,
    )
    return _TERM_TAG.sub("", generate(model, request, cancel).text).strip()
