"""EndpointHosting in-process: deploy real tiny models in worker processes and invoke them."""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from outcrop.app import App
from outcrop.services.sagemaker.hosting import (
    EndpointHosting,
    HostingError,
    InvocationRejected,
    ModelInvocationError,
    ModelNotReady,
)
from outcrop.services.sagemaker.serving.spec import VariantSpec
from outcrop.storage.logs import LogStoreError
from tests.sagemaker_hosting.archives import (
    FIXTURES,
    scaler_archive,
    sklearn_archive,
    tar_gz,
    torchscript_archive,
    xgboost_archive,
)
from tests.sagemaker_hosting.conftest import BUCKET

PYTORCH_IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.1-cpu-py310"
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def upload(app: App, key: str, data: bytes) -> str:
    app.objects.put_object(BUCKET, key, data)
    return f"s3://{BUCKET}/{key}"


def variant(
    url: str | None, name: str = "AllTraffic", image: str = PYTORCH_IMAGE, **kw: object
) -> VariantSpec:
    return VariantSpec(variant_name=name, model_name=f"model-{name}", image=image, model_data_url=url, **kw)  # type: ignore[arg-type]


def log_lines(app: App, endpoint: str, awaited: str) -> list[str]:
    """The endpoint's log lines once `awaited` is among them (worker output arrives a moment later)."""
    deadline = time.monotonic() + 10
    while True:
        try:
            events, _ = app.logs.filter_events(f"/aws/sagemaker/Endpoints/{endpoint}")
        except LogStoreError:
            events = []
        lines = [e.message for e in events]
        if any(awaited in line for line in lines) or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def invoke_json(hosting: EndpointHosting, endpoint: str, payload: object, **kw: str) -> object:
    body = json.dumps(payload).encode()
    result = hosting.invoke(endpoint, body, content_type="application/json", accept=None, **kw)
    return json.loads(result.body)


def test_script_handlers_errors_and_logs(app: App, hosting: EndpointHosting) -> None:
    hosting.deploy("scaler", [variant(upload(app, "scaler/model.tar.gz", scaler_archive(2)))])
    assert invoke_json(hosting, "scaler", {"values": [1, 2.5]}) == {"scaled": [2, 5.0]}

    plain = hosting.invoke("scaler", b'{"values": [3]}', content_type="application/json", accept="text/plain")
    assert (plain.body, plain.content_type, plain.invoked_variant) == (b"6", "text/plain", "AllTraffic")

    with pytest.raises(ModelInvocationError) as failure:
        invoke_json(hosting, "scaler", {"values": [1], "fail": True})
    assert failure.value.status == 500
    assert "RuntimeError: the scaler was asked to fail" in failure.value.message
    assert failure.value.log_stream == "/aws/sagemaker/Endpoints/scaler"
    assert invoke_json(hosting, "scaler", {"values": [4]}) == {"scaled": [8]}  # still serving

    lines = log_lines(app, "scaler", "RuntimeError: the scaler was asked to fail")
    assert "scaler loaded with factor 2" in lines
    assert any("RuntimeError: the scaler was asked to fail" in line for line in lines)
    streams = app.logs.list_streams("/aws/sagemaker/Endpoints/scaler")
    assert [s.name[:13] for s in streams] == ["AllTraffic/i-"]

    summary = hosting.endpoint_metrics("scaler")["AllTraffic"]
    assert summary["Invocations"] == 4 and summary["Invocation5XXErrors"] == 1
    assert summary["Invocation4XXErrors"] == 0 and summary["ModelLatencyAverageMs"] > 0


def test_streaming_predict_fn(app: App, hosting: EndpointHosting) -> None:
    hosting.deploy("stream", [variant(upload(app, "stream/model.tar.gz", scaler_archive(10)))])
    streamed = hosting.invoke_stream(
        "stream", b'{"values": [1, 2, 3], "stream": true}', content_type="application/json", accept=None
    )
    parts = [json.loads(p) for p in streamed.parts]
    assert [p["scaled"]["value"] for p in parts] == [10, 20, 30]
    assert invoke_json(hosting, "stream", {"values": [1]}) == {"scaled": [10]}  # the channel is clean after


def test_pytorch_default_handlers_load_torchscript(app: App, hosting: EndpointHosting) -> None:
    hosting.deploy("torch", [variant(upload(app, "torch/model.tar.gz", torchscript_archive()))])
    assert invoke_json(hosting, "torch", [[1, 1, 1], [0, 0, 1]]) == [[6.5], [3.5]]
    buffer = io.BytesIO()
    np.save(buffer, np.array([[1.0, 0.0, 0.0]], dtype=np.float32))
    result = hosting.invoke(
        "torch", buffer.getvalue(), content_type="application/x-npy", accept="application/x-npy"
    )
    assert result.content_type == "application/x-npy"
    assert np.load(io.BytesIO(result.body)).tolist() == [[1.5]]
    csv = hosting.invoke("torch", b"1,1,1\n", content_type="text/csv", accept="text/csv")
    assert csv.body.decode().strip() == "6.5"


def test_sklearn_defaults_and_toolkit_errors(app: App, hosting: EndpointHosting) -> None:
    hosting.deploy("sk", [variant(upload(app, "sk/model.tar.gz", sklearn_archive()), image=SKLEARN_IMAGE)])
    result = hosting.invoke("sk", b"2,1\n-3,-1\n", content_type="text/csv", accept="application/json")
    assert json.loads(result.body) == [1, 0]
    with pytest.raises(ModelInvocationError) as unsupported:
        hosting.invoke("sk", b"\x89PNG", content_type="image/png", accept=None)
    assert unsupported.value.status == 415
    with pytest.raises(ModelInvocationError) as unacceptable:
        hosting.invoke("sk", b"[[1, 2]]", content_type="application/json", accept="application/xml")
    assert unacceptable.value.status == 406
    with pytest.raises(ModelInvocationError) as malformed:
        hosting.invoke("sk", b"[[1, 2", content_type="application/json", accept=None)
    assert malformed.value.status == 400
    assert hosting.endpoint_metrics("sk")["AllTraffic"]["Invocation4XXErrors"] == 3


def test_xgboost_booster_answers_csv(app: App, hosting: EndpointHosting, scratch: Path) -> None:
    url = upload(app, "xgb/model.tar.gz", xgboost_archive(scratch))
    hosting.deploy("xgb", [variant(url, image=XGBOOST_IMAGE)])
    result = hosting.invoke("xgb", b"2,1\n-3,-1", content_type="text/csv", accept=None)
    assert result.content_type == "text/csv"
    high, low = (float(v) for v in result.body.decode().split(","))
    assert high > 0.5 > low


def test_submit_directory_tarball_from_s3(app: App, hosting: EndpointHosting) -> None:
    """SKLearnModel(entry_point=..., source_dir=...) sends the code as a separate sourcedir.tar.gz."""
    code = upload(app, "code/sourcedir.tar.gz", tar_gz({"serve.py": (FIXTURES / "scaler.py").read_bytes()}))
    model = upload(app, "plain/model.tar.gz", tar_gz({"factor.json": b'{"factor": 3}'}))
    env = {"SAGEMAKER_PROGRAM": "serve.py", "SAGEMAKER_SUBMIT_DIRECTORY": code}
    hosting.deploy("submitted", [variant(model, image=SKLEARN_IMAGE, environment=env)])
    assert invoke_json(hosting, "submitted", {"values": [1]}) == {"scaled": [3]}


def test_failed_deployments(app: App, hosting: EndpointHosting) -> None:
    broken = upload(app, "broken/model.tar.gz", scaler_archive(1, "broken_model_fn.py"))
    with pytest.raises(HostingError, match=r"weights\.bin is missing"):
        hosting.deploy("broken", [variant(broken)])
    with pytest.raises(HostingError, match="Failed to download model data"):
        hosting.deploy("missing", [variant(f"s3://{BUCKET}/nothing/model.tar.gz")])
    not_tar = upload(app, "garbage/model.tar.gz", b"not a tarball")
    with pytest.raises(HostingError, match="Failed to extract"):
        hosting.deploy("garbage", [variant(not_tar)])
    with pytest.raises(HostingError, match="SAGEMAKER_PROGRAM"):
        hosting.deploy("noscript", [variant(broken, environment={"SAGEMAKER_PROGRAM": "absent.py"})])
    with pytest.raises(InvocationRejected, match="Endpoint broken of account 000000000000 not found"):
        invoke_json(hosting, "broken", {})


def test_traffic_split_target_variant_and_live_weights(app: App, hosting: EndpointHosting) -> None:
    one = upload(app, "ab/one.tar.gz", scaler_archive(1))
    two = upload(app, "ab/two.tar.gz", scaler_archive(2))
    hosting.deploy("ab", [variant(one, "A", initial_weight=3), variant(two, "B", initial_weight=1)])
    counts = {"A": 0, "B": 0}
    for _ in range(1000):
        result = hosting.invoke("ab", b'{"values": [1]}', content_type="application/json", accept=None)
        counts[result.invoked_variant] += 1
        assert json.loads(result.body) == {"scaled": [1 if result.invoked_variant == "A" else 2]}
    assert abs(counts["A"] / 1000 - 0.75) < 0.05, counts
    assert {
        hosting.invoke(
            "ab", b'{"values": [1]}', content_type=None, accept=None, target_variant="B"
        ).invoked_variant
        for _ in range(20)
    } == {"B"}
    hosting.update_weights("ab", {"A": 0, "B": 1})
    assert {
        hosting.invoke("ab", b'{"values": [1]}', content_type=None, accept=None).invoked_variant
        for _ in range(20)
    } == {"B"}
    with pytest.raises(InvocationRejected, match="not a production variant"):
        hosting.invoke("ab", b"{}", content_type=None, accept=None, target_variant="C")


def test_multi_model_loads_on_demand_and_evicts_lru(app: App, hosting: EndpointHosting) -> None:
    for factor in (1, 2, 3):
        upload(app, f"mme/m{factor}.tar.gz", scaler_archive(factor))
    hosting.limits.max_models = 2
    try:
        hosting.deploy("mme", [variant(f"s3://{BUCKET}/mme/", multi_model=True)])
        for name, factor in [("m1.tar.gz", 1), ("m2.tar.gz", 2), ("m1.tar.gz", 1), ("m3.tar.gz", 3)]:
            assert invoke_json(hosting, "mme", {"values": [5]}, target_model=name) == {"scaled": [5 * factor]}
    finally:
        hosting.limits.max_models = 8
    assert "Loaded model m3.tar.gz." in log_lines(
        app, "mme", "Unloaded model m2.tar.gz (least recently used)."
    )
    with pytest.raises(InvocationRejected, match="Failed to download model data"):
        invoke_json(hosting, "mme", {"values": [1]}, target_model="absent.tar.gz")
    with pytest.raises(InvocationRejected, match="TargetModel"):
        invoke_json(hosting, "mme", {"values": [1]})
    summary = hosting.endpoint_metrics("mme")["AllTraffic"]
    assert summary["ModelCacheHit"] == 1  # m1 on its second call; m1, m2, m3 were loads
    assert summary["LoadedModelCount"] == 2
    assert summary["ModelLoadingWaitTimeAverageMs"] > 0
    assert summary["Invocations"] == 5 and summary["Invocation4XXErrors"] == 1  # the absent model


def test_a_worker_that_dies_is_restarted(app: App, hosting: EndpointHosting) -> None:
    hosting.deploy("crash", [variant(upload(app, "crash/model.tar.gz", scaler_archive(1, "crash.py")))])
    first = invoke_json(hosting, "crash", {})
    with pytest.raises(ModelInvocationError, match="exited"):
        invoke_json(hosting, "crash", {"exit": True})
    second = invoke_when_ready(hosting, "crash")
    assert first != second  # a new process answers

    hosting.limits.invoke_timeout = 1
    try:
        with pytest.raises(ModelInvocationError, match="did not answer within 1 seconds"):
            invoke_json(hosting, "crash", {"sleep": 30})
    finally:
        hosting.limits.invoke_timeout = 60
    assert invoke_when_ready(hosting, "crash") not in (first, second)


def invoke_when_ready(hosting: EndpointHosting, endpoint: str) -> object:
    """Invoke once the restarted worker serves (ModelNotReady until then)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return invoke_json(hosting, endpoint, {})
        except ModelNotReady:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_endpoints_come_back_after_a_server_restart(app: App, hosting: EndpointHosting) -> None:
    hosting.deploy("durable", [variant(upload(app, "durable/model.tar.gz", scaler_archive(7)))])
    restarted = EndpointHosting(
        objects=app.objects,
        logs=app.logs,
        root=app.data_path("sagemaker", "hosting"),
        limits=hosting.limits,
        account_id=app.settings.account_id,
    )
    try:
        assert invoke_json(restarted, "durable", {"values": [1]}) == {"scaled": [7]}
        restarted.undeploy("durable")
        with pytest.raises(InvocationRejected):
            invoke_json(restarted, "durable", {"values": [1]})
    finally:
        restarted.close()


def test_a_replaced_fleet_finishes_the_calls_it_is_answering(app: App, hosting: EndpointHosting) -> None:
    url = upload(app, "swap/model.tar.gz", scaler_archive(1, "crash.py"))
    hosting.deploy("swap", [variant(url)])
    answers: list[object] = []
    slow = threading.Thread(target=lambda: answers.append(invoke_json(hosting, "swap", {"sleep": 1.5})))
    slow.start()
    time.sleep(0.5)  # the slow call is in flight on the first fleet
    hosting.deploy("swap", [variant(url)])  # UpdateEndpoint: a new fleet, the old one retired
    slow.join()
    assert len(answers) == 1 and "pid" in answers[0]  # type: ignore[operator]
    assert invoke_json(hosting, "swap", {}) != answers[0]  # the new fleet's process answers now
    hosting.undeploy("swap")


def test_transform_fn_with_context_and_response_custom_attributes(app: App, hosting: EndpointHosting) -> None:
    hosting.deploy("echo", [variant(upload(app, "echo/model.tar.gz", scaler_archive(1, "echo_context.py")))])
    result = hosting.invoke(
        "echo", b"{}", content_type="application/json", accept="text/csv", custom_attributes="req-7"
    )
    assert json.loads(result.body) == {
        "custom_attributes": "req-7",
        "content_type": "application/json",
        "accept": "text/csv",
    }
    assert result.custom_attributes == "trace=req-7"
    streamed = hosting.invoke_stream("echo", b'{"lines": 3}', content_type="application/json", accept=None)
    assert (streamed.content_type, streamed.custom_attributes) == ("text/plain", "trace=none")
    assert list(streamed.parts) == [b"line 0\n", b"line 1\n", b"line 2\n"]


def test_a_stream_left_unread_or_half_read_frees_its_instance(app: App, hosting: EndpointHosting) -> None:
    hosting.deploy("abandon", [variant(upload(app, "abandon/model.tar.gz", scaler_archive(2)))])
    body = b'{"values": [1, 2, 3, 4], "stream": true}'
    unread = hosting.invoke_stream("abandon", body, content_type="application/json", accept=None)
    del unread  # dropped without a single read
    half = hosting.invoke_stream("abandon", body, content_type="application/json", accept=None)
    assert json.loads(next(iter(half.parts)))["scaled"]["value"] == 2
    del half  # the caller hung up after one part
    assert invoke_json(hosting, "abandon", {"values": [5]}) == {"scaled": [10]}


def test_instances_and_model_server_workers_answer_side_by_side(app: App, hosting: EndpointHosting) -> None:
    url = upload(app, "pool/model.tar.gz", scaler_archive(1, "crash.py"))
    env = {"SAGEMAKER_MODEL_SERVER_WORKERS": "2"}
    hosting.deploy("pool", [variant(url, environment=env)])
    answers: list[object] = []
    calls = [
        threading.Thread(target=lambda: answers.append(invoke_json(hosting, "pool", {"sleep": 1.0})))
        for _ in range(2)
    ]
    started = time.monotonic()
    for call in calls:
        call.start()
    for call in calls:
        call.join()
    assert len({json.dumps(a) for a in answers}) == 2  # two processes answered
    assert time.monotonic() - started < 1.9  # at the same time (one after the other takes 2 s)
    hosting.undeploy("pool")


def test_requirements_txt_is_installed_into_the_workers_environment(
    app: App, hosting: EndpointHosting
) -> None:
    """The code's requirements.txt goes into a virtual environment over the server's (it has joblib)."""
    archive = tar_gz(
        {
            "factor.json": b'{"factor": 5}',
            "code/inference.py": (FIXTURES / "scaler.py").read_bytes(),
            "code/requirements.txt": b"joblib\n",
        }
    )
    hosting.deploy("needs", [variant(upload(app, "needs/model.tar.gz", archive))])
    assert invoke_json(hosting, "needs", {"values": [1]}) == {"scaled": [5]}
    assert any("joblib" in line for line in log_lines(app, "needs", "joblib"))
    broken = tar_gz(
        {
            **{"factor.json": b'{"factor": 5}'},
            "code/inference.py": b"",
            "code/requirements.txt": b"not a requirement!!\n",
        }
    )
    with pytest.raises(HostingError, match=r"could not install requirements\.txt"):
        hosting.deploy("needs-broken", [variant(upload(app, "needs-broken/model.tar.gz", broken))])
    hosting.undeploy("needs")
