"""A model-server worker that dies is restarted when its exit is seen, not on the next call (issue 18), and a
restart that fails is tried again until the model loads. Uses tests/fixtures/sagemaker_serving/crash.py."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from outcrop.app import App
from outcrop.services.sagemaker.hosting import EndpointHosting, ModelNotReady
from outcrop.services.sagemaker.hosting_outcomes import model_error
from outcrop.services.sagemaker.serving.process import Instance, WorkerFailed, WorkerProcess
from outcrop.storage.logs import LogStoreError
from tests.sagemaker_hosting.archives import scaler_archive
from tests.sagemaker_hosting.test_hosting import invoke_json, upload, variant


def deployed(app: App, hosting: EndpointHosting, name: str) -> Instance:
    hosting.deploy(name, [variant(upload(app, f"{name}/model.tar.gz", scaler_archive(1, "crash.py")))])
    instance: Instance = hosting._endpoints[hosting._key(name, None)].variants["AllTraffic"].instances[0]
    return instance


def kill(worker: WorkerProcess | None) -> None:
    assert worker is not None
    with contextlib.suppress(ProcessLookupError):
        os.killpg(worker.process.pid, signal.SIGKILL)


def until(condition: Callable[[], bool], what: str, seconds: float = 90) -> None:
    """Poll `condition` (a generous deadline: the machine is shared; nothing here rests on timing)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not seen in {seconds} s: {what}"
        time.sleep(0.05)


def logged(app: App, endpoint: str, text: str) -> bool:
    try:
        events, _ = app.logs.filter_events(f"/aws/sagemaker/Endpoints/{endpoint}")
    except LogStoreError:
        return False
    return any(text in event.message for event in events)


def test_a_worker_killed_while_idle_is_back_before_any_call(app: App, hosting: EndpointHosting) -> None:
    instance = deployed(app, hosting, "idle-crash")
    try:
        first = invoke_json(hosting, "idle-crash", {})
        old = instance.worker
        kill(old)
        # no request is made: the watcher alone brings a new worker up and marks the instance ready
        until(lambda: instance.worker is not old and instance.ready.is_set(), "a restarted, ready worker")
        assert logged(app, "idle-crash", "Model server worker exited with code -9; restarting it.")
        assert invoke_json(hosting, "idle-crash", {}) != first  # the first call is served, by a new worker
    finally:
        hosting.undeploy("idle-crash")


def test_a_failed_restart_is_tried_again_until_the_model_loads(app: App, hosting: EndpointHosting) -> None:
    instance = deployed(app, hosting, "flaky-load")
    try:
        first = invoke_json(hosting, "flaky-load", {})
        refuse = Path(instance.env["SM_MODEL_DIR"]) / "refuse-load"
        refuse.write_text("")
        kill(instance.worker)
        until(lambda: logged(app, "flaky-load", "could not restart"), "a failed restart")
        with pytest.raises(ModelNotReady, match="refuse-load is present"):
            invoke_json(hosting, "flaky-load", {})
        refuse.unlink()
        until(instance.ready.is_set, "a later restart that loads the model")
        second = invoke_json(hosting, "flaky-load", {})
        assert isinstance(second, dict) and set(second) == {"pid"} and second != first
    finally:
        with contextlib.suppress(FileNotFoundError):
            refuse.unlink()
        hosting.undeploy("flaky-load")


def test_a_request_that_finds_its_worker_dead_is_not_ready_not_a_model_error(
    app: App, hosting: EndpointHosting
) -> None:
    """The moment between a worker's death and its watcher seeing it: a request sent then never reached
    the model, so it is 'not ready' (503, ModelNotReady), not the model's error."""
    instance = deployed(app, hosting, "dead-on-send")
    try:
        first = invoke_json(hosting, "dead-on-send", {})
        worker = instance.worker
        with instance.lock:  # the watcher cannot restart it while a request holds the instance
            kill(worker)
            until(lambda: not instance.ready.is_set(), "the watcher seeing the exit")
            with pytest.raises(WorkerFailed) as failure:
                assert worker is not None
                worker.send({"op": "invoke"}, b"{}")
            assert (failure.value.status, failure.value.died) == (503, False)
            assert isinstance(model_error("dead-on-send", failure.value), ModelNotReady)
        until(instance.ready.is_set, "the restarted worker")
        assert invoke_json(hosting, "dead-on-send", {}) != first
    finally:
        hosting.undeploy("dead-on-send")
