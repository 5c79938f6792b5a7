"""The SageMaker Python SDK v3 (`sagemaker>=3`), unmodified, on Outcrop: the quick-start's
`ModelTrainer(...).train()`, then the trained model served and invoked through `sagemaker.core.resources`,
and through `ModelBuilder` (build, deploy, invoke).

v3 cannot share a virtual environment with the 2.x SDK the other compat tests import, so `./run install` puts
it in `.venv/sagemaker-v3` and each test runs a user's script in that interpreter, as a new user would set
it up: only AWS_ENDPOINT_URL, credentials, a region and the SDK's config file (SAGEMAKER_USER_CONFIG_OVERRIDE
with DefaultS3Bucket and TelemetryOptOut). The role is created in IAM first, trusted by SageMaker, so the
SDK's role check (iam:GetRole, iam:SimulatePrincipalPolicy) passes as it would on AWS.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.server import RunningServer

REPOSITORY = Path(__file__).resolve().parents[2]
V3_PYTHON = Path(os.environ.get("OUTCROP_SAGEMAKER_V3_PYTHON", REPOSITORY / ".venv/sagemaker-v3/bin/python"))
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.1.0-cpu-py310"
SERVING = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"

pytestmark = pytest.mark.skipif(
    not V3_PYTHON.is_file(), reason=f"the SageMaker SDK v3 is not installed at {V3_PYTHON} (./run install)"
)

CONFIG = """SchemaVersion: '1.0'
SageMaker:
  PythonSDK:
    Modules:
      TelemetryOptOut: true
      Session:
        DefaultS3Bucket: {bucket}
"""

QUICK_START = """
import json, sys
from sagemaker.train import ModelTrainer
from sagemaker.train.configs import Compute, InputData, SourceCode

trainer = ModelTrainer(
    training_image=sys.argv[1],
    source_code=SourceCode(source_dir=sys.argv[2], entry_script="train.py"),
    base_job_name="v3-quickstart",
    role=sys.argv[3],
    hyperparameters={"alpha": 0.01, "note": "first run"},
    compute=Compute(instance_type="ml.m5.xlarge", instance_count=1),
)
data = InputData(channel_name="train", data_source=sys.argv[4])
trainer.train(input_data_config=[data], wait=True, logs=False)
job = trainer._latest_training_job

# Serve the trained model with the resources API: Model -> EndpointConfig -> Endpoint, then invoke.
from sagemaker.core.resources import Endpoint, EndpointConfig, Model
from sagemaker.core.shapes import ContainerDefinition, ProductionVariant

name = job.training_job_name
Model.create(
    model_name=name,
    primary_container=ContainerDefinition(
        image=sys.argv[5], model_data_url=job.model_artifacts.s3_model_artifacts
    ),
    execution_role_arn=sys.argv[3],
)
EndpointConfig.create(
    endpoint_config_name=name,
    production_variants=[
        ProductionVariant(
            variant_name="AllTraffic", model_name=name, initial_instance_count=1, instance_type="ml.m5.large"
        )
    ],
)
endpoint = Endpoint.create(endpoint_name=name, endpoint_config_name=name)
endpoint.wait_for_status("InService")
answer = endpoint.invoke(
    body=json.dumps([[1.0, 2.0]]), content_type="application/json", accept="application/json"
)
print(json.dumps({"job": name, "prediction": json.loads(answer.body.read())}))
endpoint.delete()
"""

# ModelBuilder with the serving image, the trained artifacts and inference code: build() repacks the code into
# the model (code/ beside model.joblib) and creates the Model, deploy() its EndpointConfig and Endpoint.
MODEL_BUILDER = """
import json, logging, sys
from sagemaker.core.resources import TrainingJob
from sagemaker.serve.model_builder import ModelBuilder
from sagemaker.train.configs import SourceCode

job = TrainingJob.get(training_job_name=sys.argv[1])
builder = ModelBuilder(
    image_uri=sys.argv[2],
    s3_model_data_url=job.model_artifacts.s3_model_artifacts,
    source_code=SourceCode(source_dir=sys.argv[3], entry_script="inference.py"),
    role_arn=sys.argv[4],
    instance_type="ml.m5.large",
    log_level=logging.WARNING,
)
name = sys.argv[1] + "-built"
model = builder.build(model_name=name)
endpoint = builder.deploy(endpoint_name=name, initial_instance_count=1)
answer = endpoint.invoke(
    body=json.dumps([[1.0, 2.0], [0.0, 0.0]]), content_type="application/json", accept="application/json"
)
print("\\nRESULT " + json.dumps({"model": model.model_name, "endpoint": endpoint.endpoint_name,
                  "prediction": json.loads(answer.body.read())}))
endpoint.delete()
"""

INFERENCE = """
import json, os
import joblib
import numpy as np


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))


def input_fn(body, content_type):
    return np.array(json.loads(body), dtype=float)


def predict_fn(data, model):
    return model.predict(data).tolist()


def output_fn(prediction, accept):
    return json.dumps(prediction)
"""

TRAIN = """
import argparse, json, os
import joblib
import numpy as np
from sklearn.linear_model import Ridge

parser = argparse.ArgumentParser()
parser.add_argument("--alpha", type=float)
parser.add_argument("--note")
args = parser.parse_args()
data = np.loadtxt(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "train.csv"), delimiter=",")
if args.alpha < 0:
    raise ValueError("alpha must not be negative")
model = Ridge(alpha=args.alpha).fit(data[:, 1:], data[:, 0])
joblib.dump(model, os.path.join(os.environ["SM_MODEL_DIR"], "model.joblib"))
print(f"note={args.note} r2={model.score(data[:, 1:], data[:, 0]):.4f}")
with open("/opt/ml/output/data/seen.json", "w") as handle:
    json.dump({"hps": json.loads(os.environ["SM_HPS"]), "cwd": os.getcwd()}, handle)
"""


@pytest.fixture(scope="module")
def setup(server: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A bucket, training data, a SageMaker execution role in IAM and the user's SDK config file."""
    folder = tmp_path_factory.mktemp("sdk-v3")
    bucket = f"sagemaker-v3-{uuid.uuid4().hex[:8]}"
    s3 = server.client("s3")
    s3.create_bucket(Bucket=bucket)
    rng = np.random.default_rng(5)
    features = rng.normal(size=(200, 2))
    labels = features @ np.array([1.5, -2.0]) + 0.25
    buffer = io.StringIO()
    np.savetxt(buffer, np.column_stack([labels, features]), delimiter=",", fmt="%.6f")
    s3.put_object(Bucket=bucket, Key="data/train.csv", Body=buffer.getvalue().encode())
    iam = server.client("iam")
    role_name = f"SageMakerV3-{uuid.uuid4().hex[:6]}"
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sagemaker.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    allow = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    iam.put_role_policy(RoleName=role_name, PolicyName="all", PolicyDocument=json.dumps(allow))
    (folder / "config.yaml").write_text(CONFIG.format(bucket=bucket))
    (folder / "quick_start.py").write_text(QUICK_START)
    (folder / "src").mkdir()
    (folder / "src" / "train.py").write_text(TRAIN)
    (folder / "model_builder.py").write_text(MODEL_BUILDER)
    (folder / "serve").mkdir()
    (folder / "serve" / "inference.py").write_text(INFERENCE)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SAGEMAKER_", "OUTCROP_"))},
        "AWS_ENDPOINT_URL": server.endpoint,
        "AWS_ACCESS_KEY_ID": "AKIAOUTCROPSDKV3",
        "AWS_SECRET_ACCESS_KEY": "sdk-v3-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "SAGEMAKER_USER_CONFIG_OVERRIDE": str(folder / "config.yaml"),
    }
    return {
        "folder": folder,
        "bucket": bucket,
        "role": role,
        "env": env,
        "s3": s3,
        "sm": server.client("sagemaker"),
        "logs": server.client("logs"),
    }


def quick_start(setup: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    folder = setup["folder"]
    return subprocess.run(
        [
            str(V3_PYTHON),
            str(folder / "quick_start.py"),
            IMAGE,
            str(folder / "src"),
            setup["role"],
            f"s3://{setup['bucket']}/data",
            SERVING,
        ],
        env=setup["env"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )


def untar(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        return {m.name: archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()}  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def trained(setup: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """The quick start, run once: its training job serves the ModelBuilder test too."""
    return quick_start(setup)


def test_model_trainer_quick_start_trains_then_serves_through_the_resources_api(
    setup: dict[str, Any], trained: subprocess.CompletedProcess[str]
) -> None:
    import joblib  # type: ignore[import-untyped]

    finished = trained
    assert finished.returncode == 0, finished.stderr[-3000:]
    printed = json.loads(finished.stdout.strip().splitlines()[-1])
    job = printed["job"]
    assert printed["prediction"] == [pytest.approx(1.5 * 1.0 - 2.0 * 2.0 + 0.25, abs=0.05)]
    described = setup["sm"].describe_training_job(TrainingJobName=job)
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    channels = sorted(c["ChannelName"] for c in described["InputDataConfig"])
    assert channels == ["code", "sm_drivers", "train"]
    assert described["AlgorithmSpecification"]["ContainerEntrypoint"] == ["/bin/bash"]

    bucket, _, key = described["ModelArtifacts"]["S3ModelArtifacts"][5:].partition("/")
    model = joblib.load(
        io.BytesIO(untar(setup["s3"].get_object(Bucket=bucket, Key=key)["Body"].read())["model.joblib"])
    )
    assert np.allclose(model.coef_, [1.5, -2.0], atol=0.05) and abs(model.intercept_ - 0.25) < 0.05
    output = described["OutputDataConfig"]["S3OutputPath"].rstrip("/") + f"/{job}/output/output.tar.gz"
    bucket, _, key = output[5:].partition("/")
    seen = json.loads(untar(setup["s3"].get_object(Bucket=bucket, Key=key)["Body"].read())["seen.json"])
    assert seen["hps"] == {"alpha": 0.01, "note": "first run"}
    assert seen["cwd"] == "/opt/ml/input/data/code"


def test_model_builder_builds_deploys_and_invokes_the_trained_model(
    setup: dict[str, Any], trained: subprocess.CompletedProcess[str]
) -> None:
    assert trained.returncode == 0, trained.stderr[-3000:]
    job = json.loads(trained.stdout.strip().splitlines()[-1])["job"]
    folder = setup["folder"]
    finished = subprocess.run(
        [
            str(V3_PYTHON),
            str(folder / "model_builder.py"),
            job,
            SERVING,
            str(folder / "serve"),
            setup["role"],
        ],
        env=setup["env"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    # deploy() draws its progress box on stdout too: the result is the line after the marker
    printed = json.loads(finished.stdout.rpartition("RESULT ")[2])
    assert printed["model"] == printed["endpoint"] == f"{job}-built"
    assert printed["prediction"] == [
        pytest.approx(1.5 * 1.0 - 2.0 * 2.0 + 0.25, abs=0.05),
        pytest.approx(0.25, abs=0.05),
    ]
    container = setup["sm"].describe_model(ModelName=printed["model"])["PrimaryContainer"]
    assert container["Image"] == SERVING
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    assert container["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] == "/opt/ml/model/code"
    bucket, _, key = container["ModelDataUrl"][5:].partition("/")
    repacked = untar(setup["s3"].get_object(Bucket=bucket, Key=key)["Body"].read())
    assert "model.joblib" in repacked and b"def model_fn" in repacked["code/inference.py"]
    deleted = setup["sm"].list_endpoints(NameContains=printed["endpoint"])["Endpoints"]
    assert all(e["EndpointStatus"] == "Deleting" for e in deleted)


def test_a_failing_entry_script_fails_the_job_as_the_drivers_report_it(setup: dict[str, Any]) -> None:
    source = (setup["folder"] / "quick_start.py").read_text()
    (setup["folder"] / "quick_start.py").write_text(source.replace('"alpha": 0.01', '"alpha": -1'))
    try:
        finished = quick_start(setup)
    finally:
        (setup["folder"] / "quick_start.py").write_text(source)
    assert finished.returncode != 0
    jobs = setup["sm"].list_training_jobs(NameContains="v3-quickstart", StatusEquals="Failed")
    job = jobs["TrainingJobSummaries"][0]["TrainingJobName"]
    reason = setup["sm"].describe_training_job(TrainingJobName=job)["FailureReason"]
    # The drivers' own failure file: their traceback of the script's command, as on AWS.
    assert reason.startswith("AlgorithmError: Traceback") and "returned non-zero exit status 1" in reason
    assert "'train.py', '--alpha', '-1', '--note', 'first run'" in reason
    group = "/aws/sagemaker/TrainingJobs"
    stream = setup["logs"].describe_log_streams(logGroupName=group, logStreamNamePrefix=f"{job}/")
    events = setup["logs"].get_log_events(
        logGroupName=group, logStreamName=stream["logStreams"][0]["logStreamName"], startFromHead=True
    )["events"]
    assert any("ValueError: alpha must not be negative" in e["message"] for e in events)
