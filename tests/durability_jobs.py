"""Crash-safety scenarios for jobs (SageMaker training and endpoints, Transcribe): see tests/durability.py."""

from __future__ import annotations

import io
import json
import math
import tarfile
import time
import uuid
import wave
from collections.abc import Callable

import numpy as np

from tests.durability import ROLE, Ingestion, MultipartUploads, Scenario, client, wait_until
from tests.sagemaker_hosting.archives import scaler_archive
from tests.server import RunningServer

TRAIN_IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.1.0-cpu-py310"
SERVE_IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.1-cpu-py310"
TRAIN_SCRIPT = """import json, os, sys, time
hps = json.loads(os.environ["SM_HPS"])
print("training", flush=True)
time.sleep(float(hps["sleep"]))
with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.txt"), "w") as out:
    out.write(hps["name"])
print("done", flush=True)
"""


class Jobs(Scenario):
    """Shared checks for SageMaker training and Transcribe: every acknowledged job ends (Completed, or
    Failed with a reason) after the restart; one seen Completed before the kill stays so, its output whole."""

    finished_ok: tuple[str, ...] = ("Completed",)
    finished_bad: tuple[str, ...] = ("Failed", "Stopped")
    settle_s = 120.0

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []
        self.done_before: set[str] = set()

    def status(self, server: RunningServer, name: str) -> tuple[str, str | None]:
        raise NotImplementedError

    def output_ok(self, server: RunningServer, name: str) -> bool:
        raise NotImplementedError

    def verify(self, server: RunningServer) -> None:
        counts = self.tally.counts
        running = {n for n in self.names if n not in self.done_before}
        settled: dict[str, tuple[str, str | None]] = {}

        def all_settled() -> bool:
            for name in self.names:
                if name not in settled:
                    status, reason = self.status(server, name)
                    if status in self.finished_ok + self.finished_bad:
                        settled[name] = (status, reason)
            return len(settled) == len(self.names)

        if not wait_until(all_settled, self.settle_s, 0.5):
            for name in sorted(set(self.names) - set(settled)):
                self.tally.bad("job_stuck", f"{self.name} job {name} is {self.status(server, name)[0]}")
        for name, (status, reason) in settled.items():
            counts["acked_jobs"] += 1
            if status in self.finished_ok:
                if not self.output_ok(server, name):
                    self.tally.bad("corrupted", f"{self.name} job {name} completed without a whole output")
                if name in running:
                    counts["jobs_resumed_or_finished"] += 1
            elif name in self.done_before:
                self.tally.bad("lost", f"{self.name} job {name} was Completed before the kill, now {status}")
            elif not reason:
                self.tally.bad("failed_without_reason", f"{self.name} job {name} is {status}")
            else:
                counts["jobs_failed_with_reason"] += 1
        self.done_before |= {n for n, (s, _) in settled.items() if s in self.finished_ok}


class Training(Jobs):
    """Training jobs whose script sleeps 0.5-4 s then writes model.txt holding the job's name."""

    name = "training"
    bucket = "durability-training"
    per_round = 2

    def setup(self, server: RunningServer) -> None:
        s3 = client(server, "s3")
        s3.create_bucket(Bucket=self.bucket)
        s3.put_object(Bucket=self.bucket, Key="data/train.csv", Body=b"1,2\n3,4\n")
        s3.put_object(
            Bucket=self.bucket, Key="source/sourcedir.tar.gz", Body=_tar({"train.py": TRAIN_SCRIPT})
        )

    def work(self, server: RunningServer, worker: int) -> None:
        sm = client(server, "sagemaker")
        for i in range(self.per_round):
            name = f"dur-r{self.round}-{i}-{uuid.uuid4().hex[:6]}"
            hps = {
                "sagemaker_program": "train.py",
                "sagemaker_submit_directory": f"s3://{self.bucket}/source/sourcedir.tar.gz",
                "sleep": f"{0.5 + 1.5 * i + (self.round % 3) * 0.5:.1f}",
                "name": name,
            }
            sm.create_training_job(
                TrainingJobName=name,
                AlgorithmSpecification={"TrainingImage": TRAIN_IMAGE, "TrainingInputMode": "File"},
                RoleArn=ROLE,
                HyperParameters={k: json.dumps(v) for k, v in hps.items()},
                InputDataConfig=[
                    {
                        "ChannelName": "training",
                        "DataSource": {
                            "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{self.bucket}/data"}
                        },
                    }
                ],
                OutputDataConfig={"S3OutputPath": f"s3://{self.bucket}/output"},
                ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
                StoppingCondition={"MaxRuntimeInSeconds": 600},
            )
            self.names.append(name)
        while not self.stop.is_set():
            for name in self.names:
                if sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] == "Completed":
                    self.done_before.add(name)
            time.sleep(0.2)

    def status(self, server: RunningServer, name: str) -> tuple[str, str | None]:
        got = client(server, "sagemaker").describe_training_job(TrainingJobName=name)
        return got["TrainingJobStatus"], got.get("FailureReason")

    def output_ok(self, server: RunningServer, name: str) -> bool:
        key = f"output/{name}/output/model.tar.gz"
        body = client(server, "s3").get_object(Bucket=self.bucket, Key=key)["Body"].read()
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
            member = archive.extractfile("model.txt")
            return member is not None and member.read().decode() == name


class Transcription(Jobs):
    """Transcribe jobs on a 20-word recording of tone bursts (the fake model hears each as a word)."""

    name = "transcribe"
    bucket = "durability-media"
    per_round = 4
    finished_ok = ("COMPLETED",)
    finished_bad = ("FAILED",)

    def setup(self, server: RunningServer) -> None:
        s3 = client(server, "s3")
        s3.create_bucket(Bucket=self.bucket)
        s3.put_object(Bucket=self.bucket, Key="speech.wav", Body=_bursts(20))

    def work(self, server: RunningServer, worker: int) -> None:
        transcribe = client(server, "transcribe")
        for i in range(self.per_round):
            name = f"dur-r{self.round}-{i}-{uuid.uuid4().hex[:6]}"
            transcribe.start_transcription_job(
                TranscriptionJobName=name,
                LanguageCode="en-US",
                Media={"MediaFileUri": f"s3://{self.bucket}/speech.wav"},
                OutputBucketName=self.bucket,
                OutputKey=f"out/{name}.json",
            )
            self.names.append(name)
        while not self.stop.is_set():
            for name in self.names:
                if self.status(server, name)[0] == "COMPLETED":
                    self.done_before.add(name)
            time.sleep(0.2)

    def status(self, server: RunningServer, name: str) -> tuple[str, str | None]:
        job = client(server, "transcribe").get_transcription_job(TranscriptionJobName=name)[
            "TranscriptionJob"
        ]
        return job["TranscriptionJobStatus"], job.get("FailureReason")

    def output_ok(self, server: RunningServer, name: str) -> bool:
        body = client(server, "s3").get_object(Bucket=self.bucket, Key=f"out/{name}.json")["Body"].read()
        document = json.loads(body)
        return bool(
            document["jobName"] == name
            and len(document["results"]["transcripts"][0]["transcript"].split()) == 20
        )


class Endpoints(Jobs):
    """An endpoint per round (a scaler model); once InService it must answer correctly, after the restart
    too, and an endpoint still Creating at the kill must end InService or Failed with a reason."""

    name = "endpoint"
    bucket = "durability-models"
    finished_ok = ("InService",)
    finished_bad = ("Failed",)
    keep = 2  # endpoints kept deployed; older ones are deleted after they are checked (each is a process)

    def __init__(self) -> None:
        super().__init__()
        self.ready_waits: list[float] = []  # seconds each successful check waited for ModelNotReady to end

    def setup(self, server: RunningServer) -> None:
        client(server, "s3").create_bucket(Bucket=self.bucket)
        client(server, "s3").put_object(Bucket=self.bucket, Key="scaler/model.tar.gz", Body=scaler_archive(3))
        client(server, "sagemaker").create_model(
            ModelName="durability-scaler",
            ExecutionRoleArn=ROLE,
            PrimaryContainer={
                "Image": SERVE_IMAGE,
                "ModelDataUrl": f"s3://{self.bucket}/scaler/model.tar.gz",
            },
        )

    def work(self, server: RunningServer, worker: int) -> None:
        sm = client(server, "sagemaker")
        name = f"dur-r{self.round}-{uuid.uuid4().hex[:6]}"
        sm.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "durability-scaler",
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                }
            ],
        )
        sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
        self.names.append(name)
        while not self.stop.is_set():
            for known in self.names:
                if self.status(server, known)[0] == "InService" and self.output_ok(server, known):
                    self.done_before.add(known)
            time.sleep(0.2)

    def status(self, server: RunningServer, name: str) -> tuple[str, str | None]:
        got = client(server, "sagemaker").describe_endpoint(EndpointName=name)
        return got["EndpointStatus"], got.get("FailureReason")

    def output_ok(self, server: RunningServer, name: str) -> bool:
        """The endpoint answers right; after a restart its workers start on the first call, which answers
        the modelled (retryable) ModelNotReadyException meanwhile, so that is waited out (and timed)."""
        runtime = client(server, "sagemaker-runtime")
        started = time.monotonic()
        while True:
            try:
                answer = runtime.invoke_endpoint(
                    EndpointName=name, Body=json.dumps({"values": [1, 2]}), ContentType="application/json"
                )
                break
            except runtime.exceptions.ModelNotReadyException:
                if time.monotonic() - started > 60:
                    raise
                time.sleep(0.5)
        waited = time.monotonic() - started
        self.tally.counts["not_ready_waits"] += waited > 0.5
        self.ready_waits.append(waited)
        return bool(json.loads(answer["Body"].read()) == {"scaled": [3, 6]})

    def verify(self, server: RunningServer) -> None:
        super().verify(server)
        sm = client(server, "sagemaker")
        while len(self.names) > self.keep:
            old = self.names.pop(0)
            self.done_before.discard(old)
            sm.delete_endpoint(EndpointName=old)


def _tar(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            archive.addfile(info, io.BytesIO(text.encode()))
    return buffer.getvalue()


def _bursts(words: int, rate: int = 16000) -> bytes:
    """A WAV of `words` 250 ms tones, 150 ms apart, a 600 ms pause every five (the fake's sentences)."""
    pieces = []
    for index in range(words):
        t = np.arange(int(0.25 * rate)) / rate
        pieces.append(0.3 * np.sin(2 * math.pi * (220 + 40 * index) * t))
        pieces.append(np.zeros(int((0.6 if index % 5 == 4 else 0.15) * rate)))
    samples = (np.concatenate(pieces) * 32767).astype(np.int16)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return buffer.getvalue()


SCENARIOS: dict[str, Callable[[], Scenario]] = {
    "multipart": MultipartUploads,
    "ingestion": Ingestion,
    "training": Training,
    "endpoint": Endpoints,
    "transcribe": Transcription,
}
