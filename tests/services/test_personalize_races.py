"""Personalize deletes that race the job worker: a dataset with an import job pending, or a solution with
a version that is stopping, is refused until the work has ended, so no worker writes into what was deleted.
Each test deletes at the earliest moment and accepts each legal outcome explicitly."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from tests.server import RunningServer
from tests.services.test_personalize import RECIPE, ROLE, wait
from tests.services.test_personalize_flow import GETTING_STARTED_SCHEMA, ratings

ENDED = ("ACTIVE", "CREATE STOPPED")


def _dataset(personalize: Any, s3: Any) -> tuple[str, str, str]:
    """A dataset group, its interactions dataset and the S3 file to import into it."""
    tag = uuid.uuid4().hex[:8]
    s3.create_bucket(Bucket=f"races-{tag}")
    s3.put_object(Bucket=f"races-{tag}", Key="ratings.csv", Body=ratings(100, 120, 15).encode())
    group = personalize.create_dataset_group(name=f"races-{tag}")["datasetGroupArn"]
    schema = personalize.create_schema(name=f"races-{tag}", schema=json.dumps(GETTING_STARTED_SCHEMA))
    dataset = personalize.create_dataset(
        name=f"races-{tag}", schemaArn=schema["schemaArn"], datasetGroupArn=group, datasetType="Interactions"
    )["datasetArn"]
    return group, dataset, f"s3://races-{tag}/ratings.csv"


def _import(personalize: Any, dataset: str, source: str) -> Callable[[], dict[str, Any]]:
    """Start an import of `source` into `dataset`; what describes the job."""
    arn = personalize.create_dataset_import_job(
        jobName=f"import-{uuid.uuid4().hex[:8]}",
        datasetArn=dataset,
        dataSource={"dataLocation": source},
        roleArn=ROLE,
    )["datasetImportJobArn"]

    def describe() -> dict[str, Any]:
        found: dict[str, Any] = personalize.describe_dataset_import_job(datasetImportJobArn=arn)[
            "datasetImportJob"
        ]
        return found

    return describe


def test_a_dataset_is_not_deleted_under_its_import(server: RunningServer) -> None:
    personalize, s3 = server.client("personalize"), server.client("s3")
    _, dataset, source = _dataset(personalize, s3)
    job = _import(personalize, dataset, source)
    try:
        personalize.delete_dataset(datasetArn=dataset)
    except ClientError as refused:  # pending or running: the import ends as it would have
        assert refused.response["Error"]["Code"] == "ResourceInUseException"
        assert wait(job)["status"] == "ACTIVE"
        return
    assert job()["status"] == "ACTIVE"  # accepted: only because the import had already ended


def test_a_solution_is_not_deleted_under_a_stopping_version(server: RunningServer) -> None:
    personalize, s3 = server.client("personalize"), server.client("s3")
    group, dataset, source = _dataset(personalize, s3)
    assert wait(_import(personalize, dataset, source))["status"] == "ACTIVE"
    solution = personalize.create_solution(
        name=f"races-{uuid.uuid4().hex[:8]}",
        datasetGroupArn=group,
        recipeArn=RECIPE.format("aws-user-personalization-v2"),
    )["solutionArn"]
    version = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]

    def describe() -> dict[str, Any]:
        found: dict[str, Any] = personalize.describe_solution_version(solutionVersionArn=version)[
            "solutionVersion"
        ]
        return found

    try:
        personalize.stop_solution_version_creation(solutionVersionArn=version)
    except ClientError as refused:  # it had already trained
        assert refused.response["Error"]["Code"] == "InvalidInputException"
        assert describe()["status"] == "ACTIVE"
    try:
        personalize.delete_solution(solutionArn=solution)
    except ClientError as refused:  # still training or stopping: the version ends, then the delete works
        assert refused.response["Error"]["Code"] == "ResourceInUseException"
        assert wait(describe, until=ENDED)["status"] in ENDED
        personalize.delete_solution(solutionArn=solution)
    # deleted (at once, or once the version ended), and no worker write brings it back
    assert personalize.list_solutions(datasetGroupArn=group)["solutions"] == []
