"""The layering rules of ARCHITECTURE.md, checked on the source so a change cannot quietly break them."""

from __future__ import annotations

import re
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src" / "outcrop"


def sources(*, excluding: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        name = path.relative_to(SOURCE).as_posix()
        if not name.startswith(excluding):
            found.append((name, path.read_text()))
    return found


def offenders(pattern: str, *, excluding: tuple[str, ...] = ()) -> list[str]:
    regex = re.compile(pattern)
    return [
        f"{name}:{number}: {line.strip()}"
        for name, text in sources(excluding=excluding)
        for number, line in enumerate(text.splitlines(), 1)
        if regex.search(line)
    ]


def test_only_the_inference_path_gets_chat_embedding_and_rerank_models_from_the_registry() -> None:
    registry_calls = r"models\.(generator|embedder|reranker)\(|models\.get\([^)]*\"(chat|embedding|rerank)\""
    assert offenders(registry_calls, excluding=("inference.py", "backends/")) == []


def test_no_service_or_domain_module_takes_the_whole_app() -> None:
    # The composition edges (server.py, the web modules' mount hooks) may see App; nothing below them does.
    takes_app = r"app: Any|from outcrop\.app import App|\bApp\)"
    assert offenders(takes_app, excluding=("app.py", "server.py", "web/")) == []


def test_settings_are_read_only_through_settings() -> None:
    reads = r"(environ\.get\(|environ\[|getenv\()f?[\"']OUTCROP_"
    assert offenders(reads, excluding=("config.py",)) == []


def test_no_module_is_over_500_lines() -> None:
    assert [name for name, text in sources() if text.count("\n") > 500] == []
