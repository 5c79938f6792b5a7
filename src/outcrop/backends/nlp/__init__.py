"""Text analysis and translation: the kinds nlp, pii, sentiment, language-id, toxicity and translation.

`protocols.py` defines each kind's Protocol and result types; one runtime module per library (spaCy,
presidio, VADER, langid, profanity-check, apertium) has the registry's `load`, and `fakes.py` the
deterministic fakes. `llm_translate.py` prompts a chat model it is handed. Nothing here knows about AWS.
"""
