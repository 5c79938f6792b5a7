"""Careless input to Personalize: each is the operation's modelled 4xx in plain words, and nothing is left
half-created."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.errors import error_of
from tests.server import RunningServer
from tests.services.test_personalize import (
    INTERACTIONS_SCHEMA,
    RECIPE,
    ROLE,
    Group,
    taste_groups,
    wait,
)


@pytest.fixture(scope="module")
def group(server: RunningServer) -> Group:
    return Group(server)


def name() -> str:
    return f"n-{uuid.uuid4().hex[:8]}"


def test_schemas_are_checked_as_avro_and_against_the_dataset_type(group: Group) -> None:
    p = group.p
    assert error_of(p.create_schema, name=name(), schema="{not json")["Code"] == "InvalidInputException"
    odd = {**INTERACTIONS_SCHEMA, "fields": [{"name": "USER_ID", "type": "map"}]}
    refused = error_of(p.create_schema, name=name(), schema=json.dumps(odd))
    assert refused["Code"] == "InvalidInputException" and "unsupported type" in refused["Message"]
    fields = [f for f in INTERACTIONS_SCHEMA["fields"] if f["name"] != "TIMESTAMP"]  # type: ignore[index]
    schema = p.create_schema(name=name(), schema=json.dumps({**INTERACTIONS_SCHEMA, "fields": fields}))
    other = p.create_dataset_group(name=name())["datasetGroupArn"]
    refused = error_of(
        p.create_dataset,
        name=name(),
        schemaArn=schema["schemaArn"],
        datasetGroupArn=other,
        datasetType="Interactions",
    )
    assert refused["Code"] == "InvalidInputException" and "TIMESTAMP" in refused["Message"]
    assert p.list_datasets(datasetGroupArn=other)["datasets"] == []  # nothing half-created
    assert (
        error_of(
            p.create_dataset_group,
            name=p.describe_dataset_group(datasetGroupArn=other)["datasetGroup"]["name"],
        )["Code"]
        == "ResourceAlreadyExistsException"
    )


def test_an_import_with_bad_rows_fails_counting_them_and_imports_nothing(group: Group) -> None:
    lines = taste_groups().splitlines()
    lines[3] = "u0,C01,watch,not-a-time"
    lines[9] = "u0,C02"
    job = group.import_csv(group.interactions, "bad.csv", "\n".join(lines) + "\n")
    assert job["status"] == "CREATE FAILED"
    assert job["failureReason"].startswith(f"2 of {len(lines) - 1} rows do not match the schema")
    assert "line 4" in job["failureReason"] and "TIMESTAMP" in job["failureReason"]
    missing = group.import_csv(group.interactions, "cols.csv", "USER_ID,ITEM_ID\nu1,C01\n")
    assert (
        missing["status"] == "CREATE FAILED" and "missing: EVENT_TYPE, TIMESTAMP" in missing["failureReason"]
    )
    version = group.train("aws-user-personalization")  # the dataset still holds the good import, whole
    assert group.p.get_solution_metrics(solutionVersionArn=version)["metrics"]


def test_solutions_refuse_what_outcrop_cannot_honour(group: Group) -> None:
    p = group.p

    def create(**extra: Any) -> dict[str, Any]:
        return error_of(p.create_solution, name=name(), datasetGroupArn=group.arn, **extra)

    assert "not served" in create(recipeArn=RECIPE.format("aws-trending-now"))["Message"]
    assert create(recipeArn=RECIPE.format("aws-sims"), performHPO=True)["Code"] == "InvalidInputException"
    bad = create(
        recipeArn=RECIPE.format("aws-user-personalization"),
        solutionConfig={"algorithmHyperParameters": {"bptt": "32"}},
    )
    assert "bptt" in bad["Message"] and "hidden_dimension" in bad["Message"]
    assert not [
        s for s in p.list_solutions(datasetGroupArn=group.arn)["solutions"] if "trending" in s["name"]
    ]
    missing = error_of(p.create_solution_version, solutionArn=group.arn.replace("dataset-group", "solution"))
    assert missing["Code"] == "ResourceNotFoundException"


def test_too_little_data_fails_the_version_and_hides_its_metrics(group: Group) -> None:
    p = group.p
    small = p.create_dataset_group(name=name())["datasetGroupArn"]
    schema = p.create_schema(name=name(), schema=json.dumps(INTERACTIONS_SCHEMA))["schemaArn"]
    p.create_dataset(name=name(), schemaArn=schema, datasetGroupArn=small, datasetType="INTERACTIONS")
    solution = p.create_solution(
        name=name(), datasetGroupArn=small, recipeArn=RECIPE.format("aws-user-personalization")
    )["solutionArn"]
    version = p.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    found = wait(lambda: p.describe_solution_version(solutionVersionArn=version)["solutionVersion"])
    assert found["status"] == "CREATE FAILED" and "at least 1000" in found["failureReason"]
    assert error_of(p.get_solution_metrics, solutionVersionArn=version)["Code"] == "ResourceInUseException"
    refused = error_of(p.create_campaign, name=name(), solutionVersionArn=version)
    assert refused["Code"] == "InvalidInputException" and "CREATE FAILED" in refused["Message"]


def test_filters_and_recommendations_refuse_bad_requests(group: Group) -> None:
    p, runtime = group.p, group.runtime
    for expression, words in (
        ('EXCLUDE ItemID WHERE Items.NOPE IN ("x")', "no field NOPE"),
        ("EXCLUDE ItemID WHERE Interactions.EVENT_VALUE > 3", "only by EVENT_TYPE"),
        ('EXCLUDE ItemID WHERE Items.GENRES IN ("a") AND Interactions.EVENT_TYPE IN ("b")', "chain"),
        ("INCLUDE ItemID Items.GENRES", "WHERE"),
    ):
        refused = error_of(
            p.create_filter, name=name(), datasetGroupArn=group.arn, filterExpression=expression
        )
        assert refused["Code"] == "InvalidInputException" and words in refused["Message"], refused
    assert p.list_filters(datasetGroupArn=group.arn)["Filters"] == []
    unknown = group.arn.replace("dataset-group", "campaign")
    assert error_of(runtime.get_recommendations, campaignArn=unknown, userId="u1")["Code"] == (
        "ResourceNotFoundException"
    )
    assert error_of(p.list_dataset_groups, nextToken="garbage")["Code"] == "InvalidNextTokenException"


def test_events_and_entities_are_checked_against_the_schema(group: Group) -> None:
    events = group.events
    refused = error_of(
        events.put_events,
        trackingId="nope",
        sessionId="s",
        eventList=[{"eventType": "watch", "itemId": "C01", "sentAt": 1}],
    )
    assert refused["Code"] == "InvalidInputException"
    bad = error_of(
        events.put_items, datasetArn=group.items, items=[{"itemId": "X", "properties": '{"color": "red"}'}]
    )
    assert bad["Code"] == "InvalidInputException" and "color" in bad["Message"]
    wrong = error_of(events.put_users, datasetArn=group.items, users=[{"userId": "u1"}])
    assert "not Users" in wrong["Message"]
    events.put_items(
        datasetArn=group.items, items=[{"itemId": "X1", "properties": '{"genres": "Solo", "price": 3}'}]
    )
    solo = group.p.create_filter(
        name=name(),
        datasetGroupArn=group.arn,
        filterExpression='INCLUDE ItemID WHERE Items.GENRES IN ("Solo")',
    )["filterArn"]
    campaign = group.campaign(group.train("aws-popularity-count"))  # the new item joins the catalog
    answer = group.runtime.get_recommendations(campaignArn=campaign, userId="u1", filterArn=solo)
    assert [entry["itemId"] for entry in answer["itemList"]] == ["X1"]


def test_kms_keys_are_refused_by_name_rather_than_kept_unused(group: Group) -> None:
    p = group.p
    key = "arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    refused = error_of(p.create_dataset_group, name=name(), kmsKeyArn=key, roleArn=ROLE)
    assert refused["Code"] == "InvalidInputException" and "kmsKeyArn" in refused["Message"]
    version = group.train("aws-popularity-count")
    refused = error_of(
        p.create_batch_inference_job,
        jobName=name(),
        solutionVersionArn=version,
        jobInput={"s3DataSource": {"path": f"s3://{group.bucket}/in.json", "kmsKeyArn": key}},
        jobOutput={"s3DataDestination": {"path": f"s3://{group.bucket}/out/"}},
        roleArn=ROLE,
    )
    assert refused["Code"] == "InvalidInputException" and "kmsKeyArn" in refused["Message"]
    assert p.list_batch_inference_jobs(solutionVersionArn=version)["batchInferenceJobs"] == []
