"""Forecast's job worker: a job whose handler fails because the server is closing is not recorded
CREATE_FAILED; it is left for the next start to run again. The handler blocks, so the order is replayed."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, cast

from outcrop.services.forecast.store import IN_PROGRESS, PENDING, ForecastStore, Resource
from outcrop.services.forecast.work import ForecastWork

ARN = "arn:aws:forecast:us-east-1:000000000000:predictor/cut"


def test_a_job_failing_as_the_server_closes_is_run_again_at_the_next_start(tmp_path: Path) -> None:
    store = ForecastStore(tmp_path)
    store.create("predictor", ARN, "cut", {}, status=PENDING)
    worker = ForecastWork(store, cast(Any, None))
    running, go = threading.Event(), threading.Event()

    def train(_resource: Resource) -> None:  # its models vanish as the server closes
        running.set()
        assert go.wait(10)
        raise RuntimeError("the model store was closed")

    worker._handlers["predictor"] = train
    worker.start()
    worker.submit(ARN)
    assert running.wait(10)
    worker.close()
    go.set()
    worker._thread.join(10)
    found = store.get(ARN)
    assert found is not None and found.status == IN_PROGRESS and not found.message  # not CREATE_FAILED
    assert [r.arn for r in store.unfinished()] == [ARN]  # what the next start queues again
    store.close()
