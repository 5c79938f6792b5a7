"""Personalize's resources live in the account and region that made them: dataset groups, schemas,
datasets, jobs, solutions and versions, campaigns, filters and event trackers made in eu-west-1 are not
described, listed, tagged or used from us-east-1, where their names stay free; personalize-runtime and
personalize-events answer in the resource's region only."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.errors import error_of
from tests.server import RunningServer
from tests.services.regions import AWAY, HOME, arn_region, regional
from tests.services.test_personalize import (
    COMEDIES,
    DRAMAS,
    INTERACTIONS_SCHEMA,
    RECIPE,
    ROLE,
    taste_groups,
    wait,
)


class Regional:
    """The Personalize clients of one region."""

    def __init__(self, server: RunningServer, region: str) -> None:
        self.p = regional(server, "personalize", region)
        self.runtime = regional(server, "personalize-runtime", region)
        self.events = regional(server, "personalize-events", region)


def made_in_home(server: RunningServer, tag: str) -> dict[str, str]:
    """A dataset group in eu-west-1 with its data imported, a trained version, a campaign and the rest."""
    home = Regional(server, HOME).p
    s3 = regional(server, "s3", HOME)
    bucket = f"regional-personalize-{tag}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": HOME})
    s3.put_object(Bucket=bucket, Key="interactions.csv", Body=taste_groups().encode())
    made: dict[str, str] = {"bucket": bucket}
    made["group"] = home.create_dataset_group(name=f"group-{tag}")["datasetGroupArn"]
    made["schema"] = home.create_schema(name=f"schema-{tag}", schema=json.dumps(INTERACTIONS_SCHEMA))[
        "schemaArn"
    ]
    made["dataset"] = home.create_dataset(
        name=f"dataset-{tag}",
        schemaArn=made["schema"],
        datasetGroupArn=made["group"],
        datasetType="Interactions",
    )["datasetArn"]
    made["import"] = home.create_dataset_import_job(
        jobName=f"import-{tag}",
        datasetArn=made["dataset"],
        dataSource={"dataLocation": f"s3://{bucket}/interactions.csv"},
        roleArn=ROLE,
    )["datasetImportJobArn"]
    job = wait(
        lambda: home.describe_dataset_import_job(datasetImportJobArn=made["import"])["datasetImportJob"]
    )
    assert job["status"] == "ACTIVE", job
    made["solution"] = home.create_solution(
        name=f"solution-{tag}", datasetGroupArn=made["group"], recipeArn=RECIPE.format("aws-popularity-count")
    )["solutionArn"]
    made["version"] = home.create_solution_version(solutionArn=made["solution"])["solutionVersionArn"]
    version = wait(
        lambda: home.describe_solution_version(solutionVersionArn=made["version"])["solutionVersion"]
    )
    assert version["status"] == "ACTIVE", version
    made["campaign"] = home.create_campaign(
        name=f"campaign-{tag}",
        solutionVersionArn=made["version"],
        tags=[{"tagKey": "team", "tagValue": "eu"}],
    )["campaignArn"]
    assert (
        wait(lambda: home.describe_campaign(campaignArn=made["campaign"])["campaign"])["status"] == "ACTIVE"
    )
    made["filter"] = home.create_filter(
        name=f"filter-{tag}",
        datasetGroupArn=made["group"],
        filterExpression='EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("watch")',
    )["filterArn"]
    tracker = home.create_event_tracker(name=f"tracker-{tag}", datasetGroupArn=made["group"])
    made["tracker"], made["tracking"] = tracker["eventTrackerArn"], tracker["trackingId"]
    made["export"] = home.create_dataset_export_job(
        jobName=f"export-{tag}",
        datasetArn=made["dataset"],
        ingestionMode="ALL",
        roleArn=ROLE,
        jobOutput={"s3DataDestination": {"path": f"s3://{bucket}/exports/"}},
    )["datasetExportJobArn"]
    s3.put_object(Bucket=bucket, Key="users.jsonl", Body=b'{"userId": "u3"}\n')
    made["batch"] = home.create_batch_inference_job(
        jobName=f"batch-{tag}",
        solutionVersionArn=made["version"],
        roleArn=ROLE,
        jobInput={"s3DataSource": {"path": f"s3://{bucket}/users.jsonl"}},
        jobOutput={"s3DataDestination": {"path": f"s3://{bucket}/batch/"}},
    )["batchInferenceJobArn"]
    s3.put_object(Bucket=bucket, Key="gone.csv", Body=b"USER_ID\nu59\n")
    made["deletion"] = home.create_data_deletion_job(
        jobName=f"deletion-{tag}",
        datasetGroupArn=made["group"],
        dataSource={"dataLocation": f"s3://{bucket}/gone.csv"},
        roleArn=ROLE,
    )["dataDeletionJobArn"]
    return made


# describe operation, its ARN member, the made resource it names
DESCRIBED = [
    ("describe_dataset_group", "datasetGroupArn", "group"),
    ("describe_schema", "schemaArn", "schema"),
    ("describe_dataset", "datasetArn", "dataset"),
    ("describe_dataset_import_job", "datasetImportJobArn", "import"),
    ("describe_solution", "solutionArn", "solution"),
    ("describe_solution_version", "solutionVersionArn", "version"),
    ("describe_campaign", "campaignArn", "campaign"),
    ("describe_filter", "filterArn", "filter"),
    ("describe_event_tracker", "eventTrackerArn", "tracker"),
    ("describe_dataset_export_job", "datasetExportJobArn", "export"),
    ("describe_data_deletion_job", "dataDeletionJobArn", "deletion"),
    ("describe_batch_inference_job", "batchInferenceJobArn", "batch"),
]
# list operation, its answer's key, its ARN member
LISTED = [
    ("list_dataset_groups", "datasetGroups", "datasetGroupArn"),
    ("list_schemas", "schemas", "schemaArn"),
    ("list_datasets", "datasets", "datasetArn"),
    ("list_dataset_import_jobs", "datasetImportJobs", "datasetImportJobArn"),
    ("list_solutions", "solutions", "solutionArn"),
    ("list_solution_versions", "solutionVersions", "solutionVersionArn"),
    ("list_campaigns", "campaigns", "campaignArn"),
    ("list_filters", "Filters", "filterArn"),
    ("list_event_trackers", "eventTrackers", "eventTrackerArn"),
    ("list_dataset_export_jobs", "datasetExportJobs", "datasetExportJobArn"),
    ("list_data_deletion_jobs", "dataDeletionJobs", "dataDeletionJobArn"),
    ("list_batch_inference_jobs", "batchInferenceJobs", "batchInferenceJobArn"),
]


def arns(client: Any, operation: str, key: str, member: str) -> set[str]:
    return {entry[member] for entry in getattr(client, operation)()[key]}


def test_resources_made_in_eu_west_1_are_invisible_from_us_east_1(server: RunningServer) -> None:
    tag = uuid.uuid4().hex[:6]
    made = made_in_home(server, tag)
    home, away = Regional(server, HOME), Regional(server, AWAY)
    for operation, member, name in DESCRIBED:
        assert arn_region(made[name]) == HOME
        getattr(home.p, operation)(**{member: made[name]})
        missing = error_of(getattr(away.p, operation), **{member: made[name]})
        assert missing["Code"] == "ResourceNotFoundException", operation
    for operation, key, member in LISTED:
        assert arns(home.p, operation, key, member) & set(made.values()), operation
        assert not arns(away.p, operation, key, member) & set(made.values()), operation
    assert home.p.list_tags_for_resource(resourceArn=made["campaign"])["tags"] == [
        {"tagKey": "team", "tagValue": "eu"}
    ]
    assert error_of(away.p.list_tags_for_resource, resourceArn=made["campaign"])["Code"] == (
        "ResourceNotFoundException"
    )
    # us-east-1 cannot build on eu-west-1's resources
    recipe = RECIPE.format("aws-popularity-count")
    refused = error_of(
        away.p.create_solution, name=f"s-{tag}", datasetGroupArn=made["group"], recipeArn=recipe
    )
    assert refused["Code"] == "ResourceNotFoundException"
    refused = error_of(away.p.create_campaign, name=f"c-{tag}", solutionVersionArn=made["version"])
    assert refused["Code"] == "ResourceNotFoundException"

    # the jobs ran in eu-west-1: the export's file is in the bucket, the deletion counted u59's rows
    export = wait(
        lambda: home.p.describe_dataset_export_job(datasetExportJobArn=made["export"])["datasetExportJob"]
    )
    assert export["status"] == "ACTIVE", export
    deletion = wait(
        lambda: home.p.describe_data_deletion_job(dataDeletionJobArn=made["deletion"])["dataDeletionJob"],
        until=("COMPLETED",),
    )
    assert deletion["status"] == "COMPLETED" and deletion["numDeleted"] == 20
    s3 = regional(server, "s3", HOME)
    listed = s3.list_objects_v2(Bucket=made["bucket"], Prefix=f"exports/export-{tag}/")["Contents"]
    assert [o["Key"] for o in listed] == [f"exports/export-{tag}/interactions_00000.csv"]


def test_the_runtime_and_events_answer_in_the_resources_region_only(server: RunningServer) -> None:
    tag = uuid.uuid4().hex[:6]
    made = made_in_home(server, tag)
    home, away = Regional(server, HOME), Regional(server, AWAY)
    answer = home.runtime.get_recommendations(campaignArn=made["campaign"], userId="u3", numResults=5)
    assert len(answer["itemList"]) == 5
    refused = error_of(away.runtime.get_recommendations, campaignArn=made["campaign"], userId="u3")
    assert refused["Code"] == "ResourceNotFoundException"
    home.runtime.get_recommendations(campaignArn=made["campaign"], userId="u3", filterArn=made["filter"])

    event = {"eventType": "watch", "itemId": "C01", "sentAt": 1_800_000_000}
    home.events.put_events(trackingId=made["tracking"], userId="u3", sessionId="s", eventList=[event])
    refused = error_of(
        away.events.put_events, trackingId=made["tracking"], userId="u3", sessionId="s", eventList=[event]
    )
    assert refused["Code"] == "InvalidInputException"
    refused = error_of(away.events.put_users, datasetArn=made["dataset"], users=[{"userId": "u1"}])
    assert refused["Code"] == "ResourceNotFoundException"


def test_names_are_free_again_in_another_region(server: RunningServer) -> None:
    tag = uuid.uuid4().hex[:6]
    home, away = Regional(server, HOME).p, Regional(server, AWAY).p
    first = home.create_dataset_group(name=f"same-{tag}")["datasetGroupArn"]
    again = error_of(home.create_dataset_group, name=f"same-{tag}")
    assert again["Code"] == "ResourceAlreadyExistsException"
    second = away.create_dataset_group(name=f"same-{tag}")["datasetGroupArn"]
    assert (arn_region(first), arn_region(second)) == (HOME, AWAY)
    assert first.replace(HOME, AWAY) == second
    schema = json.dumps(INTERACTIONS_SCHEMA)
    assert arn_region(home.create_schema(name=f"same-{tag}", schema=schema)["schemaArn"]) == HOME
    assert arn_region(away.create_schema(name=f"same-{tag}", schema=schema)["schemaArn"]) == AWAY
    away.delete_dataset_group(datasetGroupArn=second)
    assert home.describe_dataset_group(datasetGroupArn=first)["datasetGroup"]["name"] == f"same-{tag}"


def most_popular(server: RunningServer, region: str, tag: str, watched: str) -> str:
    """A VIDEO_ON_DEMAND group named `tag` in `region` with `watched` imported, and its most-popular
    recommender (named the same in every region) trained and ACTIVE."""
    p = Regional(server, region).p
    s3 = regional(server, "s3", region)
    bucket = f"vod-{region}-{tag}"
    config = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=bucket, **config)
    s3.put_object(Bucket=bucket, Key="watch.csv", Body=watched.encode())
    group = p.create_dataset_group(name=f"vod-{tag}", domain="VIDEO_ON_DEMAND")["datasetGroupArn"]
    schema = p.create_schema(
        name=f"vod-{tag}", schema=json.dumps(INTERACTIONS_SCHEMA), domain="VIDEO_ON_DEMAND"
    )["schemaArn"]
    dataset = p.create_dataset(
        name=f"vod-{tag}", schemaArn=schema, datasetGroupArn=group, datasetType="Interactions"
    )["datasetArn"]
    job = p.create_dataset_import_job(
        jobName=f"vod-{tag}",
        datasetArn=dataset,
        dataSource={"dataLocation": f"s3://{bucket}/watch.csv"},
        roleArn=ROLE,
    )["datasetImportJobArn"]
    imported = wait(lambda: p.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"])
    assert imported["status"] == "ACTIVE", imported
    arn: str = p.create_recommender(
        name=f"popular-{tag}", datasetGroupArn=group, recipeArn=RECIPE.format("aws-vod-most-popular")
    )["recommenderArn"]
    assert arn_region(arn) == region
    found = wait(lambda: p.describe_recommender(recommenderArn=arn)["recommender"])
    assert found["status"] == "ACTIVE", found
    return arn


def test_recommenders_of_one_name_in_two_regions_serve_their_own_models(server: RunningServer) -> None:
    tag = uuid.uuid4().hex[:6]
    watched = taste_groups().replace(",click,", ",Watch,").replace(",watch,", ",Watch,")
    renamed = watched.replace(",C", ",X")  # us-east-1's catalog: the comedies under other names
    home_arn = most_popular(server, HOME, tag, watched)
    away_arn = most_popular(server, AWAY, tag, renamed)
    assert home_arn.replace(HOME, AWAY) == away_arn
    home, away = Regional(server, HOME), Regional(server, AWAY)
    assert (
        error_of(away.p.describe_recommender, recommenderArn=home_arn)["Code"] == "ResourceNotFoundException"
    )
    assert error_of(away.runtime.get_recommendations, recommenderArn=home_arn, userId="new")["Code"] == (
        "ResourceNotFoundException"
    )
    # asked only now, after us-east-1's trained: each serves the model trained on its own region's data
    served = {
        region: {
            e["itemId"]
            for e in client.get_recommendations(recommenderArn=arn, userId="new", numResults=100)["itemList"]
        }
        for region, client, arn in ((HOME, home.runtime, home_arn), (AWAY, away.runtime, away_arn))
    }
    assert served[HOME] == set(COMEDIES) | set(DRAMAS)
    assert served[AWAY] == {c.replace("C", "X") for c in COMEDIES} | set(DRAMAS)
