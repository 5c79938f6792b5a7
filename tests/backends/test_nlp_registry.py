"""The text-analysis and translation models in the registry: each kind's fake behind --fake-models, and
concurrent first calls that load a model once, in a process that has not imported spaCy yet."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from outcrop.backends.nlp import protocols
from outcrop.backends.registry import FAKES, KINDS, RUNTIMES, ModelRegistry
from outcrop.catalog import BUNDLED, load_catalog

from .conftest import model_dir

PROTOCOLS: dict[str, type[Any]] = {
    "nlp": protocols.TextAnalyzer,
    "pii": protocols.PiiDetector,
    "sentiment": protocols.SentimentAnalyzer,
    "language-id": protocols.LanguageIdentifier,
    "toxicity": protocols.ToxicityClassifier,
    "translation": protocols.Translator,
}


def test_every_kind_has_its_protocol_runtime_and_fake() -> None:
    for kind, protocol in PROTOCOLS.items():
        assert KINDS[kind].endswith(protocol.__name__) and kind in FAKES
    served = {
        kind for runtime in RUNTIMES.values() for kind in runtime.kinds if runtime.loader.endswith(":load")
    }
    assert set(PROTOCOLS) <= served


def test_fake_models_serve_every_bundled_entry_with_its_kinds_fake() -> None:
    local = {n: t for n, t in load_catalog(BUNDLED).local.items() if t.get("kind") in PROTOCOLS}
    assert {
        "spacy-en",
        "spacy-fr",
        "presidio-en",
        "vader-en",
        "langid",
        "profanity-check-en",
        "apertium",
    } <= set(local)
    registry = ModelRegistry(local, model_dir(), fake=True)
    for name, table in local.items():
        model = registry.get(name, str(table["kind"]))
        assert isinstance(model, PROTOCOLS[str(table["kind"])]), name
        assert model.model_id == name
    assert registry.get("spacy-fr", "nlp").language == "fr"
    states = registry.states()
    assert all(states[name]["state"] == "ready" and states[name]["loads"] == 1 for name in local)
    assert all(states[name]["runtime"] == "fake" for name in local)


_COLD_START = """
import json, sys, threading
from pathlib import Path
from outcrop.backends.registry import ModelRegistry
from outcrop.catalog import BUNDLED, load_catalog

assert "spacy" not in sys.modules
wanted = {"spacy-en": "nlp", "spacy-fr": "nlp", "presidio-en": "pii"}
local = {n: t for n, t in load_catalog(BUNDLED).local.items() if n in wanted}
registry = ModelRegistry(local, Path(sys.argv[1]))
names = [name for name in wanted for _ in range(4)]
start = threading.Barrier(len(names))
errors = []

def first_call(name):
    start.wait(timeout=60)
    try:
        model = registry.get(name, wanted[name])
        if wanted[name] == "nlp":
            assert model.analyze("I love Paris.").tokens[0].text == "I"
        else:
            model.detect("Mail me at someone@example.com", "en")
    except BaseException as error:
        errors.append(f"{name}: {type(error).__name__}: {error}")

threads = [threading.Thread(target=first_call, args=(name,)) for name in names]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
states = registry.states()
print(json.dumps({"errors": errors, "loads": {n: states[n]["loads"] for n in wanted},
                  "uses": {n: states[n]["uses"] for n in wanted}}))
"""


@pytest.mark.real
def test_concurrent_first_calls_load_each_spacy_pipeline_once() -> None:
    """Twelve threads ask at once for two spaCy pipelines and presidio (which loads spaCy too) in a fresh
    process: no call sees a half-imported module, and each model is loaded once."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_COLD_START), str(model_dir())],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["errors"] == []
    assert report["loads"] == {"spacy-en": 1, "spacy-fr": 1, "presidio-en": 1}
    assert report["uses"] == {"spacy-en": 4, "spacy-fr": 4, "presidio-en": 4}
