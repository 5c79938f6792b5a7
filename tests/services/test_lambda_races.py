"""Lambda: an asynchronous (Event) invocation accepted before its function is deleted, and run after, is
dropped: it starts no workers for the deleted function. The interleaving is replayed in order."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from outcrop.config import Settings
from outcrop.lambdas.registry import FunctionGone, FunctionRegistry
from outcrop.lambdas.spec import FunctionSpec


def test_an_event_for_a_deleted_function_starts_no_workers(tmp_path: Path) -> None:
    registry = FunctionRegistry(
        settings=Settings(data_dir=tmp_path), objects=cast(Any, None), logs=cast(Any, None), root=tmp_path
    )
    spec = FunctionSpec("gone", "app.handler", tmp_path, account="000000000000", region="us-east-1")
    registry.functions[spec.key] = spec
    registry.pool(spec, live=True)  # the function exists: its workers may start
    assert list(registry.stats()) != []
    registry.delete_deployed(spec)  # DeleteFunction: forgotten, its pools retired
    assert registry.stats() == {}
    with pytest.raises(FunctionGone):
        registry.pool(spec, live=True)  # the event, run after the delete, is refused...
    assert registry.stats() == {}  # ...and started no pool for the deleted function
    registry.close()
