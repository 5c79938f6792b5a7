"""Comprehend custom classifiers through boto3: trained for real on a labelled CSV in the server's S3,
measured on a held-out tenth, then run by classification jobs whose predictions.jsonl is what AWS writes."""

from __future__ import annotations

import csv
import io
import json
import random
import tarfile
import time
import uuid
from typing import Any

from tests.errors import error_of
from tests.server import RunningServer
from tests.services.regions import AWAY, HOME, regional, regional_bucket

ROLE = "arn:aws:iam::000000000000:role/comprehend-access"
DOMAINS = {
    "SPORT": "team game match goal player coach season league score win referee stadium",
    "BAKING": "recipe oven flour sugar butter bake dough cake bread kitchen taste salt",
    "COMPUTING": "software server database network code bug deploy cloud compiler memory cpu kernel",
}
FILLER = ["the", "a", "and", "of", "to", "in", "it", "was", "with", "for", "on"]


def text_of(rng: random.Random, *domains: str, words: int = 14) -> str:
    chosen = [rng.choice(DOMAINS[d].split()) for d in domains for _ in range(words)] + rng.sample(FILLER, 5)
    rng.shuffle(chosen)
    return " ".join(chosen)


def multi_class_csv(per_label: int, seed: int = 1) -> str:
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for index in range(per_label * len(DOMAINS)):
        label = list(DOMAINS)[index % len(DOMAINS)]
        writer.writerow([label, text_of(rng, label)])
    return out.getvalue()


def multi_label_csv(documents: int, seed: int = 2) -> str:
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for index in range(documents):
        labels = [list(DOMAINS)[index % 3]] + ([list(DOMAINS)[(index + 1) % 3]] if index % 2 else [])
        writer.writerow(["|".join(labels), text_of(rng, *labels, words=8)])
    return out.getvalue()


def bucket(server: RunningServer, region: str = "us-east-1", **objects: str) -> str:
    return regional_bucket(server, region, "classify", **objects)


def trained(comprehend: Any, arn: str) -> dict[str, Any]:
    deadline = time.monotonic() + 180
    while True:
        found: dict[str, Any] = comprehend.describe_document_classifier(DocumentClassifierArn=arn)[
            "DocumentClassifierProperties"
        ]
        if found["Status"] not in ("SUBMITTED", "TRAINING", "STOP_REQUESTED") or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def classified(comprehend: Any, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 180
    while True:
        job: dict[str, Any] = comprehend.describe_document_classification_job(JobId=job_id)[
            "DocumentClassificationJobProperties"
        ]
        if job["JobStatus"] in ("COMPLETED", "FAILED") or time.monotonic() > deadline:
            return job
        time.sleep(0.2)


def archive(server: RunningServer, uri: str) -> dict[str, str]:
    name, _, key = uri.removeprefix("s3://").partition("/")
    body = server.client("s3").get_object(Bucket=name, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read().decode() for m in tar.getmembers()}  # type: ignore[union-attr]


def test_multi_class_classifier_is_measured_and_classifies_new_documents(server: RunningServer) -> None:
    rng = random.Random(99)
    unseen = [(label, text_of(rng, label)) for label in DOMAINS for _ in range(3)]
    name = bucket(
        server,
        **{"train.csv": multi_class_csv(20), "new/lines.txt": "\n".join(text for _, text in unseen)},
    )
    comprehend = server.client("comprehend")
    classifier_name = f"topics-{uuid.uuid4().hex[:8]}"
    arn = comprehend.create_document_classifier(
        DocumentClassifierName=classifier_name,
        DataAccessRoleArn=ROLE,
        InputDataConfig={"S3Uri": f"s3://{name}/train.csv"},
        OutputDataConfig={"S3Uri": f"s3://{name}/model-out/"},
        LanguageCode="en",
    )["DocumentClassifierArn"]
    assert arn == f"arn:aws:comprehend:us-east-1:000000000000:document-classifier/{classifier_name}"
    found = trained(comprehend, arn)
    assert found["Status"] == "TRAINED", found.get("Message")
    assert found["Mode"] == "MULTI_CLASS" and found["TrainingStartTime"] <= found["TrainingEndTime"]
    metadata = found["ClassifierMetadata"]
    assert metadata["NumberOfLabels"] == 3
    assert (metadata["NumberOfTrainedDocuments"], metadata["NumberOfTestDocuments"]) == (54, 6)
    metrics = metadata["EvaluationMetrics"]
    assert set(metrics) == {
        "Accuracy",
        "Precision",
        "Recall",
        "F1Score",
        "MicroPrecision",
        "MicroRecall",
        "MicroF1Score",
    }
    assert metrics["Accuracy"] >= 0.8 and metrics["F1Score"] >= 0.8
    matrix = json.loads(archive(server, found["OutputDataConfig"]["S3Uri"])["confusion_matrix.json"])
    assert matrix["labels"] == sorted(DOMAINS) and sum(map(sum, matrix["confusion_matrix"])) == 6
    listed = comprehend.list_document_classifiers(Filter={"DocumentClassifierName": classifier_name})
    assert [c["DocumentClassifierArn"] for c in listed["DocumentClassifierPropertiesList"]] == [arn]

    started = comprehend.start_document_classification_job(
        DocumentClassifierArn=arn,
        InputDataConfig={"S3Uri": f"s3://{name}/new/", "InputFormat": "ONE_DOC_PER_LINE"},
        OutputDataConfig={"S3Uri": f"s3://{name}/predictions/"},
        DataAccessRoleArn=ROLE,
        JobName="new-documents",
    )
    assert started["DocumentClassifierArn"] == arn and started["JobStatus"] == "SUBMITTED"
    job = classified(comprehend, started["JobId"])
    assert job["JobStatus"] == "COMPLETED", job.get("Message")
    uri = job["OutputDataConfig"]["S3Uri"]
    assert uri.endswith(f"/predictions/000000000000-CLN-{started['JobId']}/output/output.tar.gz")
    lines = [json.loads(line) for line in archive(server, uri)["predictions.jsonl"].splitlines()]
    assert [(p["File"], p["Line"]) for p in lines] == [("lines.txt", str(i)) for i in range(len(unseen))]
    for prediction, (label, _) in zip(lines, unseen, strict=True):
        classes = prediction["Classes"]
        assert len(classes) == 3 and classes[0]["Name"] == label
        assert classes[0]["Score"] >= classes[1]["Score"] >= classes[2]["Score"]
    jobs = comprehend.list_document_classification_jobs(Filter={"JobName": "new-documents"})
    assert started["JobId"] in [j["JobId"] for j in jobs["DocumentClassificationJobPropertiesList"]]
    endpoint = comprehend.create_endpoint(
        EndpointName=f"live-{classifier_name}", ModelArn=arn, DesiredInferenceUnits=1
    )
    assert endpoint["ModelArn"] == arn
    described = comprehend.describe_endpoint(EndpointArn=endpoint["EndpointArn"])["EndpointProperties"]
    assert described["Status"] == "IN_SERVICE" and described["CurrentInferenceUnits"] == 1
    for label, text in unseen[::3]:
        classes = comprehend.classify_document(Text=text, EndpointArn=endpoint["EndpointArn"])["Classes"]
        assert classes[0]["Name"] == label and len(classes) == 3
    in_use = error_of(comprehend.delete_document_classifier, DocumentClassifierArn=arn)
    assert in_use["Code"] == "ResourceInUseException" and endpoint["EndpointArn"] in in_use["Message"]
    listed_endpoints = comprehend.list_endpoints(Filter={"ModelArn": arn})["EndpointPropertiesList"]
    assert [e["EndpointArn"] for e in listed_endpoints] == [endpoint["EndpointArn"]]
    comprehend.delete_endpoint(EndpointArn=endpoint["EndpointArn"])
    gone = error_of(comprehend.classify_document, Text="a cake", EndpointArn=endpoint["EndpointArn"])
    assert gone["Code"] == "ResourceUnavailableException"

    assert (
        error_of(
            comprehend.create_document_classifier,
            DocumentClassifierName=classifier_name,
            DataAccessRoleArn=ROLE,
            InputDataConfig={"S3Uri": f"s3://{name}/train.csv"},
            LanguageCode="en",
        )["Code"]
        == "ResourceInUseException"
    )
    comprehend.delete_document_classifier(DocumentClassifierArn=arn)
    assert error_of(comprehend.describe_document_classifier, DocumentClassifierArn=arn)["Code"] == (
        "ResourceNotFoundException"
    )


def test_multi_label_classifier_reports_hamming_loss_and_finds_both_labels(server: RunningServer) -> None:
    rng = random.Random(5)
    both = text_of(rng, "SPORT", "BAKING", words=10)
    name = bucket(server, **{"train/labels.csv": multi_label_csv(90), "new/both.txt": both})
    comprehend = server.client("comprehend")
    arn = comprehend.create_document_classifier(
        DocumentClassifierName=f"labels-{uuid.uuid4().hex[:8]}",
        VersionName="v1",
        DataAccessRoleArn=ROLE,
        InputDataConfig={"S3Uri": f"s3://{name}/train/", "LabelDelimiter": "|"},
        LanguageCode="en",
        Mode="MULTI_LABEL",
    )["DocumentClassifierArn"]
    assert arn.endswith("/version/v1")
    found = trained(comprehend, arn)
    assert found["Status"] == "TRAINED", found.get("Message")
    metrics = found["ClassifierMetadata"]["EvaluationMetrics"]
    assert 0 <= metrics["HammingLoss"] <= 0.2 and metrics["MicroF1Score"] >= 0.8
    job_id = comprehend.start_document_classification_job(
        DocumentClassifierArn=arn,
        InputDataConfig={"S3Uri": f"s3://{name}/new/both.txt"},
        OutputDataConfig={"S3Uri": f"s3://{name}/out/"},
        DataAccessRoleArn=ROLE,
    )["JobId"]
    job = classified(comprehend, job_id)
    assert job["JobStatus"] == "COMPLETED", job.get("Message")
    (prediction,) = [
        json.loads(line)
        for line in archive(server, job["OutputDataConfig"]["S3Uri"])["predictions.jsonl"].splitlines()
    ]
    assert prediction["File"] == "both.txt" and "Line" not in prediction
    assert {label["Name"] for label in prediction["Labels"]} == {"SPORT", "BAKING"}
    endpoint = comprehend.create_endpoint(
        EndpointName=f"labels-{uuid.uuid4().hex[:8]}", ModelArn=arn, DesiredInferenceUnits=2
    )
    labels = comprehend.classify_document(Text=both, EndpointArn=endpoint["EndpointArn"])["Labels"]
    assert {label["Name"] for label in labels} == {"SPORT", "BAKING"}
    comprehend.delete_endpoint(EndpointArn=endpoint["EndpointArn"])


def test_too_little_training_data_ends_in_error_and_cannot_classify(server: RunningServer) -> None:
    name = bucket(server, **{"train.csv": multi_class_csv(4), "doc.txt": "a cake"})
    comprehend = server.client("comprehend")
    arn = comprehend.create_document_classifier(
        DocumentClassifierName=f"small-{uuid.uuid4().hex[:8]}",
        DataAccessRoleArn=ROLE,
        InputDataConfig={"S3Uri": f"s3://{name}/train.csv"},
        LanguageCode="en",
    )["DocumentClassifierArn"]
    found = trained(comprehend, arn)
    assert found["Status"] == "IN_ERROR" and "at least 10 training documents" in found["Message"]
    refused = error_of(
        comprehend.start_document_classification_job,
        DocumentClassifierArn=arn,
        InputDataConfig={"S3Uri": f"s3://{name}/doc.txt"},
        OutputDataConfig={"S3Uri": f"s3://{name}/out/"},
        DataAccessRoleArn=ROLE,
    )
    assert refused["Code"] == "ResourceUnavailableException" and "IN_ERROR" in refused["Message"]
    comprehend.delete_document_classifier(DocumentClassifierArn=arn)


def test_what_is_not_served_is_refused_by_name(server: RunningServer) -> None:
    comprehend = server.client("comprehend")
    name = bucket(server, **{"train.csv": multi_class_csv(10)})
    base: dict[str, Any] = {
        "DocumentClassifierName": "refused",
        "DataAccessRoleArn": ROLE,
        "InputDataConfig": {"S3Uri": f"s3://{name}/train.csv"},
        "LanguageCode": "en",
    }
    assert error_of(comprehend.create_document_classifier, **{**base, "LanguageCode": "ja"})["Code"] == (
        "UnsupportedLanguageException"
    )
    manifest = {"DataFormat": "AUGMENTED_MANIFEST", "AugmentedManifests": []}
    assert error_of(comprehend.create_document_classifier, **{**base, "InputDataConfig": manifest})[
        "Code"
    ] == ("InvalidRequestException")
    assert error_of(comprehend.create_document_classifier, **base, ModelKmsKeyId="alias/mine")["Code"] == (
        "InvalidRequestException"
    )
    unknown = "arn:aws:comprehend:us-east-1:000000000000:document-classifier/never-made"
    assert error_of(comprehend.describe_document_classifier, DocumentClassifierArn=unknown)["Code"] == (
        "ResourceNotFoundException"
    )
    assert error_of(comprehend.describe_document_classification_job, JobId="f" * 32)["Code"] == (
        "JobNotFoundException"
    )
    endpoint = "arn:aws:comprehend:us-east-1:000000000000:document-classifier-endpoint/never-made"
    served = error_of(comprehend.classify_document, Text="a cake", EndpointArn=endpoint)
    assert served["Code"] == "ResourceUnavailableException"
    pdf = error_of(comprehend.classify_document, Bytes=b"%PDF-1.7", EndpointArn=endpoint)
    assert pdf["Code"] == "InvalidRequestException"
    created = error_of(
        comprehend.create_endpoint, EndpointName="live", ModelArn=unknown, DesiredInferenceUnits=1
    )
    assert created["Code"] == "ResourceNotFoundException"
    recognizer = "arn:aws:comprehend:us-east-1:000000000000:entity-recognizer/mine"
    entities = error_of(
        comprehend.create_endpoint, EndpointName="live", ModelArn=recognizer, DesiredInferenceUnits=1
    )
    assert entities["Code"] == "InvalidRequestException"


def test_classifiers_live_in_their_region(server: RunningServer) -> None:
    home, away = regional(server, "comprehend", HOME), regional(server, "comprehend", AWAY)
    name = bucket(server, HOME, **{"train.csv": multi_class_csv(10)})
    classifier_name = f"regional-{uuid.uuid4().hex[:8]}"
    params: dict[str, Any] = {
        "DocumentClassifierName": classifier_name,
        "DataAccessRoleArn": ROLE,
        "InputDataConfig": {"S3Uri": f"s3://{name}/train.csv"},
        "LanguageCode": "en",
    }
    arn = home.create_document_classifier(**params)["DocumentClassifierArn"]
    assert arn.split(":")[3] == HOME
    assert error_of(away.describe_document_classifier, DocumentClassifierArn=arn)["Code"] == (
        "ResourceNotFoundException"
    )
    listed = away.list_document_classifiers()["DocumentClassifierPropertiesList"]
    assert arn not in [c["DocumentClassifierArn"] for c in listed]
    refused = error_of(away.create_document_classifier, **params)  # the training bucket is in eu-west-1
    assert refused["Code"] == "InvalidRequestException" and f"not in {AWAY}" in refused["Message"]
    assert trained(home, arn)["Status"] == "TRAINED"


def test_a_classifier_stopped_in_training_ends_stopped(server: RunningServer) -> None:
    name = bucket(server, **{"train.csv": multi_class_csv(40, seed=4)})
    comprehend = server.client("comprehend")
    arn = comprehend.create_document_classifier(
        DocumentClassifierName=f"stopped-{uuid.uuid4().hex[:8]}",
        DataAccessRoleArn=ROLE,
        InputDataConfig={"S3Uri": f"s3://{name}/train.csv"},
        LanguageCode="en",
    )["DocumentClassifierArn"]
    try:
        comprehend.stop_training_document_classifier(DocumentClassifierArn=arn)
    except comprehend.exceptions.InvalidRequestException:
        stopped = False  # training ended before the stop arrived: the classifier is TRAINED and stays so
    else:
        stopped = True
    found = trained(comprehend, arn)
    assert found["Status"] == ("STOPPED" if stopped else "TRAINED"), found.get("Message")
    if stopped:
        refused = error_of(
            comprehend.start_document_classification_job,
            DocumentClassifierArn=arn,
            InputDataConfig={"S3Uri": f"s3://{name}/train.csv"},
            OutputDataConfig={"S3Uri": f"s3://{name}/out/"},
            DataAccessRoleArn=ROLE,
        )
        assert refused["Code"] == "ResourceUnavailableException"
    comprehend.delete_document_classifier(DocumentClassifierArn=arn)
