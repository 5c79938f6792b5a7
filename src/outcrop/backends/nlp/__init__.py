"""Text analysis and translation runtimes (spaCy, presidio, VADER, langid, apertium, an LLM translator).

Nothing here knows about AWS: each module loads its library lazily on first use, answers in plain
dataclasses with character offsets into the given text, and says how to install what is missing.
"""
