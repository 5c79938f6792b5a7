"""Comprehend topic detection through boto3: a real topic model fitted to documents in the server's S3,
its output.tar.gz where AWS writes it, jobs in their region, and a job that survives a restart."""

from __future__ import annotations

import csv
import io
import random
import tarfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.errors import error_of
from tests.server import RunningServer
from tests.services.regions import AWAY, HOME, regional, regional_bucket

ROLE = "arn:aws:iam::000000000000:role/comprehend-access"
DOMAINS = {
    "sport": "team game match goal player coach season league score win referee stadium",
    "baking": "recipe oven flour sugar butter bake dough cake bread kitchen taste salt",
    "computing": "software server database network code bug deploy cloud compiler memory cpu kernel",
}


def corpus(per_domain: int, seed: int = 7) -> list[tuple[str, str]]:
    """(domain, text) documents: each mostly words of its domain, with common English between them."""
    rng = random.Random(seed)
    filler = ["the", "a", "and", "of", "to", "in", "it", "was", "with", "for", "on"]
    found = []
    for index in range(per_domain * len(DOMAINS)):
        domain = list(DOMAINS)[index % len(DOMAINS)]
        words = [rng.choice(DOMAINS[domain].split()) for _ in range(25)] + rng.sample(filler, 6)
        rng.shuffle(words)
        found.append((domain, " ".join(words) + "."))
    return found


def bucket(server: RunningServer, region: str = "us-east-1", **objects: str) -> str:
    return regional_bucket(server, region, "topics", **objects)


def finished(comprehend: Any, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 180
    while True:
        job: dict[str, Any] = comprehend.describe_topics_detection_job(JobId=job_id)[
            "TopicsDetectionJobProperties"
        ]
        if job["JobStatus"] in ("COMPLETED", "FAILED") or time.monotonic() > deadline:
            return job
        time.sleep(0.2)


def output_files(server: RunningServer, uri: str, region: str = "us-east-1") -> dict[str, str]:
    name, _, key = uri.removeprefix("s3://").partition("/")
    body = regional(server, "s3", region).get_object(Bucket=name, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read().decode() for m in tar.getmembers()}  # type: ignore[union-attr]


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_topics_of_one_document_per_file_match_the_themes_they_were_written_on(server: RunningServer) -> None:
    documents = corpus(10)
    name = bucket(server, **{f"in/doc{i}.txt": text for i, (_, text) in enumerate(documents)})
    comprehend = server.client("comprehend")
    started = comprehend.start_topics_detection_job(
        InputDataConfig={"S3Uri": f"s3://{name}/in/", "InputFormat": "ONE_DOC_PER_FILE"},
        OutputDataConfig={"S3Uri": f"s3://{name}/out"},
        DataAccessRoleArn=ROLE,
        JobName="themes",
        NumberOfTopics=3,
    )
    assert started["JobStatus"] == "SUBMITTED" and started["JobArn"].endswith(started["JobId"])
    job = finished(comprehend, started["JobId"])
    assert job["JobStatus"] == "COMPLETED", job.get("Message")
    assert job["NumberOfTopics"] == 3 and job["SubmitTime"] <= job["EndTime"]
    uri = job["OutputDataConfig"]["S3Uri"]
    assert uri == f"s3://{name}/out/000000000000-TOPICS-{started['JobId']}/output/output.tar.gz"
    files = output_files(server, uri)
    assert set(files) == {"topic-terms.csv", "doc-topics.csv"}

    terms = rows(files["topic-terms.csv"])
    by_topic: dict[str, set[str]] = {}
    for row in terms:
        by_topic.setdefault(row["topic"], set()).add(row["term"])
        assert 0 < float(row["weight"]) < 1
    assert sorted(by_topic) == ["000", "001", "002"]
    assert all(len(words) == 10 for words in by_topic.values())
    # each theme has a topic whose ten terms all come from it
    for words in DOMAINS.values():
        assert max(len(found & set(words.split())) for found in by_topic.values()) == 10

    shares = rows(files["doc-topics.csv"])
    per_doc: dict[str, list[tuple[str, float]]] = {}
    for row in shares:
        per_doc.setdefault(row["docname"], []).append((row["topic"], float(row["proportion"])))
    assert set(per_doc) == {f"doc{i}.txt" for i in range(len(documents))}
    assert all(abs(sum(p for _, p in found) - 1) < 0.05 for found in per_doc.values())
    dominant = {doc: max(found, key=lambda pair: pair[1])[0] for doc, found in per_doc.items()}
    for domain in DOMAINS:
        topics = Counter(dominant[f"doc{i}.txt"] for i, (d, _) in enumerate(documents) if d == domain)
        assert topics.most_common(1)[0][1] >= 9  # at least 9 of its 10 documents share one topic


def test_one_document_per_line_names_each_line_and_lists_filter_by_name(server: RunningServer) -> None:
    documents = corpus(8, seed=3)
    name = bucket(server, **{"lines.txt": "\n".join(text for _, text in documents)})
    comprehend = server.client("comprehend")
    job_name = f"lines-{uuid.uuid4().hex[:6]}"
    params: dict[str, Any] = {
        "InputDataConfig": {"S3Uri": f"s3://{name}/lines.txt", "InputFormat": "ONE_DOC_PER_LINE"},
        "OutputDataConfig": {"S3Uri": f"s3://{name}/out/"},
        "DataAccessRoleArn": ROLE,
        "JobName": job_name,
        "NumberOfTopics": 3,
        "ClientRequestToken": "same-request",
    }
    job_id = comprehend.start_topics_detection_job(**params)["JobId"]
    assert comprehend.start_topics_detection_job(**params)["JobId"] == job_id  # the token finds it again
    changed = error_of(comprehend.start_topics_detection_job, **{**params, "NumberOfTopics": 4})
    assert changed["Code"] == "InvalidRequestException"
    job = finished(comprehend, job_id)
    assert job["JobStatus"] == "COMPLETED", job.get("Message")
    names = {
        row["docname"]
        for row in rows(output_files(server, job["OutputDataConfig"]["S3Uri"])["doc-topics.csv"])
    }
    assert names == {f"lines.txt:{line}" for line in range(len(documents))}

    listed = comprehend.list_topics_detection_jobs(Filter={"JobName": job_name})[
        "TopicsDetectionJobPropertiesList"
    ]
    assert [j["JobId"] for j in listed] == [job_id]
    done = comprehend.list_topics_detection_jobs(Filter={"JobStatus": "FAILED", "JobName": job_name})
    assert done["TopicsDetectionJobPropertiesList"] == []


def test_a_collection_too_small_for_its_topics_fails_with_a_reason(server: RunningServer) -> None:
    name = bucket(server, **{"few/a.txt": "one small document about bread", "few/b.txt": "another on cake"})
    comprehend = server.client("comprehend")
    job_id = comprehend.start_topics_detection_job(
        InputDataConfig={"S3Uri": f"s3://{name}/few/"},
        OutputDataConfig={"S3Uri": f"s3://{name}/out/"},
        DataAccessRoleArn=ROLE,
        NumberOfTopics=5,
    )["JobId"]
    job = finished(comprehend, job_id)
    assert job["JobStatus"] == "FAILED" and "fewer than the 5 topics" in job["Message"]
    empty = comprehend.start_topics_detection_job(
        InputDataConfig={"S3Uri": f"s3://{name}/nothing-here/"},
        OutputDataConfig={"S3Uri": f"s3://{name}/out/"},
        DataAccessRoleArn=ROLE,
    )["JobId"]
    job = finished(comprehend, empty)
    assert job["JobStatus"] == "FAILED" and "No input files" in job["Message"]


def test_refusals_and_unknown_jobs(server: RunningServer) -> None:
    comprehend = server.client("comprehend")
    name = bucket(server, **{"a.txt": "text"})
    base: dict[str, Any] = {
        "InputDataConfig": {"S3Uri": f"s3://{name}/a.txt"},
        "OutputDataConfig": {"S3Uri": f"s3://{name}/out/"},
        "DataAccessRoleArn": ROLE,
    }
    assert (
        error_of(comprehend.describe_topics_detection_job, JobId="0" * 32)["Code"] == "JobNotFoundException"
    )
    vpc = {"SecurityGroupIds": ["sg-12345678"], "Subnets": ["subnet-12345678"]}
    assert error_of(comprehend.start_topics_detection_job, **base, VpcConfig=vpc)["Code"] == (
        "InvalidRequestException"
    )
    missing = {**base, "OutputDataConfig": {"S3Uri": f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/out/"}}
    refused = error_of(comprehend.start_topics_detection_job, **missing)
    assert refused["Code"] == "InvalidRequestException" and "does not exist" in refused["Message"]
    reader = {
        "S3Uri": f"s3://{name}/a.txt",
        "DocumentReaderConfig": {"DocumentReadAction": "TEXTRACT_DETECT_DOCUMENT_TEXT"},
    }
    assert error_of(comprehend.start_topics_detection_job, **{**base, "InputDataConfig": reader})["Code"] == (
        "InvalidRequestException"
    )


def test_topic_jobs_live_in_their_region(server: RunningServer) -> None:
    home, away = regional(server, "comprehend", HOME), regional(server, "comprehend", AWAY)
    documents = corpus(4, seed=11)
    name = bucket(server, HOME, **{f"d{i}.txt": text for i, (_, text) in enumerate(documents)})
    params: dict[str, Any] = {
        "InputDataConfig": {"S3Uri": f"s3://{name}/"},
        "OutputDataConfig": {"S3Uri": f"s3://{name}/out/"},
        "DataAccessRoleArn": ROLE,
        "NumberOfTopics": 2,
    }
    started = home.start_topics_detection_job(**params)
    assert started["JobArn"].split(":")[3] == HOME
    assert (
        error_of(away.describe_topics_detection_job, JobId=started["JobId"])["Code"] == "JobNotFoundException"
    )
    assert started["JobId"] not in [
        j["JobId"] for j in away.list_topics_detection_jobs()["TopicsDetectionJobPropertiesList"]
    ]
    refused = error_of(away.start_topics_detection_job, **params)  # the bucket is in eu-west-1
    assert refused["Code"] == "InvalidRequestException" and f"not in {AWAY}" in refused["Message"]
    assert finished(home, started["JobId"])["JobStatus"] == "COMPLETED"


@pytest.fixture
def own_server(tmp_path: Path) -> Any:
    running = RunningServer(tmp_path / "data").start()
    yield running
    running.stop()


def test_work_the_server_stopped_or_was_killed_during_ends_after_the_start(own_server: RunningServer) -> None:
    documents = corpus(60, seed=5)
    name = bucket(own_server, **{f"in/d{i}.txt": text for i, (_, text) in enumerate(documents)})
    comprehend = own_server.client("comprehend")
    job_id = comprehend.start_topics_detection_job(
        InputDataConfig={"S3Uri": f"s3://{name}/in/"},
        OutputDataConfig={"S3Uri": f"s3://{name}/out/"},
        DataAccessRoleArn=ROLE,
        NumberOfTopics=3,
    )["JobId"]
    training = "\n".join(f"{domain},{text}" for domain, text in documents)
    own_server.client("s3").put_object(Bucket=name, Key="train.csv", Body=training.encode())
    classifier = comprehend.create_document_classifier(
        DocumentClassifierName="after-restart",
        DataAccessRoleArn=ROLE,
        InputDataConfig={"S3Uri": f"s3://{name}/train.csv"},
        LanguageCode="en",
    )["DocumentClassifierArn"]
    own_server.restart()  # the job is queued or running when the server stops; either way it completes
    comprehend = own_server.client("comprehend")
    job = finished(comprehend, job_id)
    assert job["JobStatus"] == "COMPLETED", job.get("Message")
    files = output_files(own_server, job["OutputDataConfig"]["S3Uri"])
    assert len({row["docname"] for row in rows(files["doc-topics.csv"])}) == len(documents)
    # killed outright (kill -9) while the classifier is queued or training: it is trained after the start
    assert own_server.process is not None
    comprehend.create_document_classifier(
        DocumentClassifierName="after-kill",
        DataAccessRoleArn=ROLE,
        InputDataConfig={"S3Uri": f"s3://{name}/train.csv"},
        LanguageCode="en",
    )
    own_server.process.kill()
    own_server.process.wait()
    own_server.start()
    comprehend = own_server.client("comprehend")
    for arn in (classifier, classifier.replace("after-restart", "after-kill")):
        deadline = time.monotonic() + 180
        while (
            status := comprehend.describe_document_classifier(DocumentClassifierArn=arn)[
                "DocumentClassifierProperties"
            ]["Status"]
        ) in ("SUBMITTED", "TRAINING") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert status == "TRAINED"
