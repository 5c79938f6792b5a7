"""The SageMaker Python SDK 2.x, unmodified, running its MLOps layer on Outcrop: the SDK's own pipeline
example shape (process -> train -> evaluate -> condition on the metric -> register and create the model
(-> batch transform where served)) on a small real dataset, and `HyperparameterTuner.fit()`."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")

from sagemaker.inputs import TrainingInput
from sagemaker.processing import ProcessingInput, ProcessingOutput
from sagemaker.sklearn import SKLearn, SKLearnModel, SKLearnProcessor
from sagemaker.transformer import Transformer
from sagemaker.tuner import ContinuousParameter, HyperparameterTuner
from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionGreaterThanOrEqualTo
from sagemaker.workflow.fail_step import FailStep
from sagemaker.workflow.functions import JsonGet
from sagemaker.workflow.model_step import ModelStep
from sagemaker.workflow.parameters import ParameterFloat, ParameterString
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.pipeline_context import PipelineSession
from sagemaker.workflow.properties import PropertyFile
from sagemaker.workflow.steps import ProcessingStep, TrainingStep, TransformStep, TuningStep

from outcrop.services.sagemaker.provider import SageMaker
from tests.compat.sagemaker_sdk import sdk_session
from tests.compat.test_sagemaker_sdk_training import FIXTURES, ROLE, classification_csv, upload
from tests.server import RunningServer

# The SDK warns that step arguments built in a PipelineSession start no job: that is the point.
# ModelStep builds the CreateModelStep it deprecates itself.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Running within a PipelineSession:UserWarning"),
    pytest.mark.filterwarnings("ignore:We are deprecating the use of CreateModelStep:DeprecationWarning"),
]
TRANSFORM_SERVED = hasattr(SageMaker, "create_transform_job")

PREPROCESS = """
import glob, os
import numpy as np
files = glob.glob("/opt/ml/processing/input/*.csv")
rows = np.concatenate([np.loadtxt(p, delimiter=",", ndmin=2) for p in files])
rng = np.random.default_rng(0)
rng.shuffle(rows)
cut = int(len(rows) * 0.75)
for name, part in (("train", rows[:cut]), ("test", rows[cut:])):
    os.makedirs(f"/opt/ml/processing/{name}", exist_ok=True)
    np.savetxt(f"/opt/ml/processing/{name}/{name}.csv", part, delimiter=",", fmt="%.6f")
os.makedirs("/opt/ml/processing/features", exist_ok=True)
np.savetxt("/opt/ml/processing/features/features.csv", rows[cut:, 1:], delimiter=",", fmt="%.6f")
print(f"split {len(rows)} rows: {cut} train")
"""

EVALUATE = """
import json, os, tarfile
import joblib
import numpy as np
with tarfile.open("/opt/ml/processing/model/model.tar.gz") as archive:
    archive.extractall("/tmp/model")
model = joblib.load("/tmp/model/model.joblib")
rows = np.loadtxt("/opt/ml/processing/test/test.csv", delimiter=",", ndmin=2)
accuracy = float(model.score(rows[:, 1:], rows[:, 0].astype(int)))
os.makedirs("/opt/ml/processing/evaluation", exist_ok=True)
with open("/opt/ml/processing/evaluation/evaluation.json", "w") as out:
    json.dump({"metrics": {"accuracy": {"value": accuracy}}}, out)
print("accuracy", accuracy)
"""


@pytest.fixture(scope="module")
def session(server: RunningServer) -> Iterator[Any]:
    with sdk_session(server, "sagemaker-pipelines") as made:
        yield made


def pipeline_session(session: Any) -> PipelineSession:
    return PipelineSession(
        boto_session=session.boto_session,
        sagemaker_client=session.sagemaker_client,
        default_bucket=session.default_bucket(),
        sagemaker_config=session.sagemaker_config,
    )


def test_the_sdk_example_pipeline_runs_and_registers_the_model(session: Any, tmp_path: Path) -> None:
    (tmp_path / "preprocess.py").write_text(PREPROCESS)
    (tmp_path / "evaluate.py").write_text(EVALUATE)
    raw = upload(session, "pipeline/raw/data.csv", classification_csv(rows=240))
    pipe = pipeline_session(session)
    group = "outcrop-sdk-models"
    data = ParameterString("InputData", default_value=raw)
    floor = ParameterFloat("AccuracyFloor", default_value=0.8)
    processor = SKLearnProcessor(
        framework_version="1.2-1",
        role=ROLE,
        instance_type="ml.m5.large",
        instance_count=1,
        sagemaker_session=pipe,
    )
    prepare = ProcessingStep(
        "Prepare",
        step_args=processor.run(
            code=str(tmp_path / "preprocess.py"),
            inputs=[ProcessingInput(source=data, destination="/opt/ml/processing/input")],
            outputs=[
                ProcessingOutput(output_name=name, source=f"/opt/ml/processing/{name}")
                for name in ("train", "test", "features")
            ],
        ),
    )
    outputs = prepare.properties.ProcessingOutputConfig.Outputs
    estimator = SKLearn(
        entry_point="train.py",
        source_dir=str(FIXTURES / "sklearn"),
        framework_version="1.2-1",
        role=ROLE,
        instance_type="ml.m5.large",
        hyperparameters={"C": 1.0},
        metric_definitions=[{"Name": "train:accuracy", "Regex": r"train_accuracy=([0-9.]+)"}],
        sagemaker_session=pipe,
    )
    train = TrainingStep(
        "Train", step_args=estimator.fit({"train": TrainingInput(outputs["train"].S3Output.S3Uri)})
    )
    report = PropertyFile(name="Evaluation", output_name="evaluation", path="evaluation.json")
    evaluate = ProcessingStep(
        "Evaluate",
        step_args=processor.run(
            code=str(tmp_path / "evaluate.py"),
            inputs=[
                ProcessingInput(
                    source=train.properties.ModelArtifacts.S3ModelArtifacts,
                    destination="/opt/ml/processing/model",
                ),
                ProcessingInput(source=outputs["test"].S3Output.S3Uri, destination="/opt/ml/processing/test"),
            ],
            outputs=[ProcessingOutput(output_name="evaluation", source="/opt/ml/processing/evaluation")],
        ),
        property_files=[report],
    )
    model = SKLearnModel(
        model_data=train.properties.ModelArtifacts.S3ModelArtifacts,
        role=ROLE,
        entry_point="train.py",
        source_dir=str(FIXTURES / "sklearn"),
        framework_version="1.2-1",
        sagemaker_session=pipe,
    )
    register = ModelStep(
        "Register",
        step_args=model.register(
            content_types=["text/csv"],
            response_types=["text/csv"],
            inference_instances=["ml.m5.large"],
            transform_instances=["ml.m5.large"],
            model_package_group_name=group,
            approval_status="Approved",
        ),
    )
    create = ModelStep("CreateModel", step_args=model.create(instance_type="ml.m5.large"))
    chosen: list[Any] = [register, create]
    if TRANSFORM_SERVED:
        transformer = Transformer(
            model_name=create.properties.ModelName,
            instance_type="ml.m5.large",
            instance_count=1,
            output_path=f"s3://{session.default_bucket()}/pipeline/predictions",
            sagemaker_session=pipe,
        )
        chosen.append(
            TransformStep(
                "Predict",
                step_args=transformer.transform(
                    data=outputs["features"].S3Output.S3Uri, content_type="text/csv", split_type="Line"
                ),
            )
        )
    accuracy = JsonGet(step_name=evaluate.name, property_file=report, json_path="metrics.accuracy.value")
    check = ConditionStep(
        "AccurateEnough",
        conditions=[ConditionGreaterThanOrEqualTo(left=accuracy, right=floor)],
        if_steps=chosen,
        else_steps=[FailStep("TooInaccurate", error_message="the model is not accurate enough")],
    )
    pipeline = Pipeline(
        "outcrop-sdk-example",
        parameters=[data, floor],
        steps=[prepare, train, evaluate, check],
        sagemaker_session=pipe,
    )
    pipeline.upsert(role_arn=ROLE)
    execution = pipeline.start()
    execution.wait(delay=1, max_attempts=300)
    steps = {s["StepName"]: s for s in execution.list_steps()}
    assert all(s["StepStatus"] == "Succeeded" for s in steps.values()), steps
    assert steps["AccurateEnough"]["Metadata"]["Condition"]["Outcome"] == "True"
    assert "TooInaccurate" not in steps

    evaluation_uri = session.describe_processing_job(
        steps["Evaluate"]["Metadata"]["ProcessingJob"]["Arn"].rsplit("/", 1)[1]
    )["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    bucket, key = evaluation_uri[5:].split("/", 1)
    s3 = session.boto_session.client("s3")
    score = json.loads(s3.get_object(Bucket=bucket, Key=f"{key}/evaluation.json")["Body"].read())
    assert score["metrics"]["accuracy"]["value"] >= 0.8
    packages = session.sagemaker_client.list_model_packages(ModelPackageGroupName=group)[
        "ModelPackageSummaryList"
    ]
    assert packages[0]["ModelApprovalStatus"] == "Approved"
    package = session.sagemaker_client.describe_model_package(ModelPackageName=packages[0]["ModelPackageArn"])
    trained = session.describe_training_job(
        steps["Train"]["Metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[1]
    )
    container = package["InferenceSpecification"]["Containers"][0]
    assert container["ModelDataUrl"] == trained["ModelArtifacts"]["S3ModelArtifacts"]

    # A floor no model reaches takes the else branch; the execution fails with the FailStep's message.
    failing = pipeline.start(parameters={"AccuracyFloor": 1.01})
    with pytest.raises(Exception, match="Waiter"):
        failing.wait(delay=1, max_attempts=300)
    described = failing.describe()
    assert described["PipelineExecutionStatus"] == "Failed"
    assert described["FailureReason"] == "the model is not accurate enough"


def test_hyperparameter_tuner_fit_and_tuning_step(session: Any) -> None:
    train = upload(session, "tuning/train/data.csv", classification_csv(rows=160, seed=4))
    estimator = SKLearn(
        entry_point="train.py",
        source_dir=str(FIXTURES / "sklearn"),
        framework_version="1.2-1",
        role=ROLE,
        instance_type="ml.m5.large",
        sagemaker_session=session,
    )
    tuner = HyperparameterTuner(
        estimator,
        objective_metric_name="train:accuracy",
        hyperparameter_ranges={"C": ContinuousParameter(0.001, 10, scaling_type="Logarithmic")},
        metric_definitions=[{"Name": "train:accuracy", "Regex": r"train_accuracy=([0-9.]+)"}],
        max_jobs=3,
        max_parallel_jobs=2,
        strategy="Bayesian",
        random_seed=11,
    )
    tuner.fit({"train": train}, logs=False)
    best = tuner.best_training_job()
    described = session.sagemaker_client.describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=tuner.latest_tuning_job.name
    )
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    assert described["BestTrainingJob"]["TrainingJobName"] == best
    frame = tuner.analytics().dataframe()
    assert len(frame) == 3 and frame["FinalObjectiveValue"].max() == pytest.approx(
        described["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    )
    assert ((frame["C"] >= 0.001) & (frame["C"] <= 10)).all()
    best_estimator = tuner.best_estimator()
    assert best_estimator.model_data.endswith(f"{best}/output/model.tar.gz")

    # The same tuner as a pipeline step: the best model's URI flows from TuningStep's properties.
    pipe = pipeline_session(session)
    estimator.sagemaker_session = pipe
    tuner.estimator.sagemaker_session = pipe
    step = TuningStep("Tune", step_args=tuner.fit({"train": train}))
    pipeline = Pipeline("outcrop-sdk-tuning", steps=[step], sagemaker_session=pipe)
    pipeline.upsert(role_arn=ROLE)
    execution = pipeline.start()
    execution.wait(delay=1, max_attempts=300)
    steps = execution.list_steps()
    assert steps[0]["StepStatus"] == "Succeeded" and "TuningJob" in steps[0]["Metadata"]
    tuned = steps[0]["Metadata"]["TuningJob"]["Arn"].rsplit("/", 1)[1]
    tuning = session.sagemaker_client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=tuned)
    assert tuning["TrainingJobStatusCounters"]["Completed"] == 3
