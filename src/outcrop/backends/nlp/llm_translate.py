"""Translation by a local chat model, for language pairs no rule-based engine covers.

The model is asked for the translation alone; protected placeholders (terminology) must come back as they
went in, and the caller checks that they did.
"""

from __future__ import annotations

import threading

from outcrop.backends.base import ChatMessage, GenerationRequest, TextGenerator, generate

_SYSTEM = "You are a translation engine. You answer with the translated text only, nothing else."
_USER = "Translate this {source} text into {target}.{keep}\n\n{text}"
_KEEP = " Copy every word that starts with Zqx unchanged."


def llm_translate(
    model: TextGenerator,
    text: str,
    source_name: str,
    target_name: str,
    cancel: threading.Event | None = None,
) -> str:
    """`text` translated by `model` (greedy decoding, output at most ~3x the input's length)."""
    request = GenerationRequest(
        messages=[
            ChatMessage("system", _SYSTEM),
            ChatMessage(
                "user",
                _USER.format(
                    source=source_name, target=target_name, keep=_KEEP if "Zqx" in text else "", text=text
                ),
            ),
        ],
        max_tokens=max(64, 3 * len(text) // 2),
        temperature=0.0,
        seed=0,
    )
    return generate(model, request, cancel).text.strip()
