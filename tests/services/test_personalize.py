"""Amazon Personalize through boto3: import, train with implicit, deploy, recommend, on two taste groups.

Users 0-29 watch comedies (items C00-C19), users 30-59 watch dramas (D00-D19): every trained model must
keep each group to its own half of the catalog, and the held-out metrics must beat chance.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import numpy as np
import pytest

from tests.errors import error_of
from tests.server import RunningServer

RECIPE = "arn:aws:personalize:::recipe/{}"
ROLE = "arn:aws:iam::000000000000:role/PersonalizeRole"
INTERACTIONS_SCHEMA = {
    "type": "record",
    "name": "Interactions",
    "namespace": "com.amazonaws.personalize.schema",
    "fields": [
        {"name": "USER_ID", "type": "string"},
        {"name": "ITEM_ID", "type": "string"},
        {"name": "EVENT_TYPE", "type": "string"},
        {"name": "TIMESTAMP", "type": "long"},
    ],
    "version": "1.0",
}
ITEMS_SCHEMA = {
    "type": "record",
    "name": "Items",
    "namespace": "com.amazonaws.personalize.schema",
    "fields": [
        {"name": "ITEM_ID", "type": "string"},
        {"name": "GENRES", "type": ["null", "string"], "categorical": True},
        {"name": "PRICE", "type": "float"},
    ],
    "version": "1.0",
}
COMEDIES = [f"C{i:02d}" for i in range(20)]
DRAMAS = [f"D{i:02d}" for i in range(20)]


def taste_groups(seed: int = 7) -> str:
    """The interactions CSV: each user watches 20 items of their own genre (some twice), over time."""
    rng = np.random.default_rng(seed)
    lines = ["USER_ID,ITEM_ID,EVENT_TYPE,TIMESTAMP"]
    clock = 1_700_000_000
    for user in range(60):
        pool = COMEDIES if user < 30 else DRAMAS
        for item in rng.choice(pool, size=20, replace=True):
            clock += int(rng.integers(1, 100))
            lines.append(f"u{user},{item},{'watch' if rng.random() < 0.8 else 'click'},{clock}")
    return "\n".join(lines) + "\n"


def items_csv() -> str:
    rows = ["ITEM_ID,GENRES,PRICE"]
    rows += [f"{c},Comedy,{1 + i}" for i, c in enumerate(COMEDIES)]
    rows += [f"{d},Drama|Romance,{1 + i}" for i, d in enumerate(DRAMAS)]
    return "\n".join(rows) + "\n"


def wait(describe: Callable[[], dict[str, Any]], until: tuple[str, ...] = ("ACTIVE",)) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = describe()
        if found["status"] in until or "FAILED" in found["status"]:
            return found
        time.sleep(0.2)
    raise AssertionError(f"still {found['status']}")


class Group:
    """One dataset group with interactions and items imported, and helpers to train on it."""

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self.p = server.client("personalize")
        self.runtime = server.client("personalize-runtime")
        self.events = server.client("personalize-events")
        self.s3 = server.client("s3")
        self.tag = uuid.uuid4().hex[:6]
        self.bucket = f"personalize-{self.tag}"
        self.s3.create_bucket(Bucket=self.bucket)
        self.arn = self.p.create_dataset_group(name=f"movies-{self.tag}")["datasetGroupArn"]
        self.interactions = self.dataset("Interactions", INTERACTIONS_SCHEMA, taste_groups())
        self.items = self.dataset("Items", ITEMS_SCHEMA, items_csv())

    def dataset(self, kind: str, schema: dict[str, Any], csv: str) -> str:
        schema_arn = self.p.create_schema(name=f"{kind}-{self.tag}", schema=json.dumps(schema))["schemaArn"]
        arn = self.p.create_dataset(
            name=f"{kind}-{self.tag}", schemaArn=schema_arn, datasetGroupArn=self.arn, datasetType=kind
        )["datasetArn"]
        job = self.import_csv(arn, f"{kind}.csv", csv)
        assert job["status"] == "ACTIVE", job
        return str(arn)

    def import_csv(self, dataset: str, key: str, csv: str) -> dict[str, Any]:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=csv.encode())
        job = self.p.create_dataset_import_job(
            jobName=f"import-{uuid.uuid4().hex[:8]}",
            datasetArn=dataset,
            dataSource={"dataLocation": f"s3://{self.bucket}/{key}"},
            roleArn=ROLE,
        )["datasetImportJobArn"]
        return wait(lambda: self.p.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"])

    def train(self, recipe: str, **solution: Any) -> str:
        arn = self.p.create_solution(
            name=f"{recipe}-{uuid.uuid4().hex[:6]}",
            datasetGroupArn=self.arn,
            recipeArn=RECIPE.format(recipe),
            **solution,
        )["solutionArn"]
        version = self.p.create_solution_version(solutionArn=arn)["solutionVersionArn"]
        found = wait(lambda: self.p.describe_solution_version(solutionVersionArn=version)["solutionVersion"])
        assert found["status"] == "ACTIVE", found
        return str(version)

    def campaign(self, version: str) -> str:
        arn = self.p.create_campaign(name=f"c-{uuid.uuid4().hex[:8]}", solutionVersionArn=version)[
            "campaignArn"
        ]
        assert wait(lambda: self.p.describe_campaign(campaignArn=arn)["campaign"])["status"] == "ACTIVE"
        return str(arn)


@pytest.fixture(scope="module")
def group(server: RunningServer) -> Iterator[Group]:
    yield Group(server)


@pytest.fixture(scope="module")
def als(group: Group) -> str:
    return group.train("aws-user-personalization")


@pytest.fixture(scope="module")
def als_campaign(group: Group, als: str) -> str:
    return group.campaign(als)


def describe_version(p: Any, arn: str) -> dict[str, Any]:
    found: dict[str, Any] = p.describe_solution_version(solutionVersionArn=arn)["solutionVersion"]
    return found


def ids(answer: dict[str, Any], key: str = "itemList") -> list[str]:
    return [entry["itemId"] for entry in answer[key]]


def test_user_personalization_keeps_each_taste_group_to_its_genre(group: Group, als_campaign: str) -> None:
    comedy_fan = group.runtime.get_recommendations(campaignArn=als_campaign, userId="u3", numResults=10)
    drama_fan = group.runtime.get_recommendations(campaignArn=als_campaign, userId="u45")
    assert len(comedy_fan["itemList"]) == 10 and len(drama_fan["itemList"]) == 25
    assert set(ids(comedy_fan)) <= set(COMEDIES)
    assert set(ids(drama_fan)[:20]) == set(DRAMAS)  # every drama outranks every comedy
    scores = [entry["score"] for entry in drama_fan["itemList"]]
    assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1.0 + 1e-6
    assert comedy_fan["recommendationId"]


def test_solution_metrics_are_measured_on_held_out_interactions(group: Group, als: str) -> None:
    metrics = group.p.get_solution_metrics(solutionVersionArn=als)["metrics"]
    expected = {"coverage", "mean_reciprocal_rank_at_25"} | {
        f"{name}_at_{k}"
        for name in ("precision", "normalized_discounted_cumulative_gain")
        for k in (5, 10, 25)
    }
    assert set(metrics) == expected
    # a held-out item is one of the user's 20 genre items (not seen before): chance NDCG@25 is far lower
    assert metrics["normalized_discounted_cumulative_gain_at_25"] > 0.3
    assert 0 < metrics["coverage"] <= 1
    version = group.p.describe_solution_version(solutionVersionArn=als)["solutionVersion"]
    assert version["trainingHours"] >= 0 and version["recipeArn"] == RECIPE.format("aws-user-personalization")


def test_filters_exclude_and_include_by_item_fields_and_event_type(group: Group, als_campaign: str) -> None:
    p, runtime = group.p, group.runtime
    by_genre = p.create_filter(
        name=f"genre-{group.tag}",
        datasetGroupArn=group.arn,
        filterExpression="INCLUDE ItemID WHERE Items.GENRES IN ($GENRE) AND Items.PRICE <= 5",
    )["filterArn"]
    answer = runtime.get_recommendations(
        campaignArn=als_campaign, userId="u3", filterArn=by_genre, filterValues={"GENRE": '"Romance"'}
    )
    assert set(ids(answer)) == set(DRAMAS[:5])  # a comedy fan still gets only what the filter lets through
    watched = p.create_filter(
        name=f"unwatched-{group.tag}",
        datasetGroupArn=group.arn,
        filterExpression='EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("watch", "click")',
    )["filterArn"]
    answer = runtime.get_recommendations(campaignArn=als_campaign, userId="u3", filterArn=watched)
    history = {line.split(",")[1] for line in taste_groups().splitlines() if line.startswith("u3,")}
    assert ids(answer) and not set(ids(answer)) & history
    assert p.describe_filter(filterArn=watched)["filter"]["status"] == "ACTIVE"


def test_new_events_change_a_users_recommendations_at_once(group: Group, als_campaign: str) -> None:
    tracker = group.p.create_event_tracker(name=f"t-{group.tag}", datasetGroupArn=group.arn)
    now = time.time()
    before = group.runtime.get_recommendations(campaignArn=als_campaign, userId="newcomer", numResults=5)
    group.events.put_events(
        trackingId=tracker["trackingId"],
        userId="newcomer",
        sessionId="s1",
        eventList=[{"eventType": "watch", "itemId": d, "sentAt": now} for d in DRAMAS[:3]],
    )
    after = group.runtime.get_recommendations(campaignArn=als_campaign, userId="newcomer", numResults=5)
    assert ids(before) != ids(after) and set(ids(after)) <= set(DRAMAS)


def test_related_items_recipes_find_items_of_the_same_taste(group: Group) -> None:
    for recipe in ("aws-sims", "aws-similar-items"):
        campaign = group.campaign(group.train(recipe))
        answer = group.runtime.get_recommendations(campaignArn=campaign, itemId="C05", numResults=10)
        assert "C05" not in ids(answer) and set(ids(answer)) <= set(COMEDIES), recipe
        assert all("score" not in entry for entry in answer["itemList"])
        refused = error_of(group.runtime.get_recommendations, campaignArn=campaign, userId="u1")
        assert refused["Code"] == "InvalidInputException"


def test_related_items_filter_on_the_current_items_fields(group: Group, als_campaign: str) -> None:
    cheaper = group.p.create_filter(
        name=f"cheaper-{group.tag}",
        datasetGroupArn=group.arn,
        filterExpression=(
            "INCLUDE ItemID WHERE Items.PRICE < CurrentItem.PRICE AND Items.GENRES IN CurrentItem.GENRES"
        ),
    )["filterArn"]
    sims = group.campaign(group.train("aws-sims"))
    answer = group.runtime.get_recommendations(campaignArn=sims, itemId="C05", filterArn=cheaper)
    assert set(ids(answer)) == set(COMEDIES[:5])  # C05 costs 6: the comedies costing 1 to 5
    refused = error_of(
        group.runtime.get_recommendations, campaignArn=als_campaign, userId="u1", filterArn=cheaper
    )
    assert refused["Code"] == "InvalidInputException" and "CurrentItem" in refused["Message"]


def test_similar_items_finds_kin_for_a_new_item_by_its_metadata(group: Group) -> None:
    group.events.put_items(
        datasetArn=group.items,
        items=[{"itemId": "NEW-DRAMA", "properties": '{"genres": "Drama", "price": 9}'}],
    )
    campaign = group.campaign(group.train("aws-similar-items"))
    answer = group.runtime.get_recommendations(campaignArn=campaign, itemId="NEW-DRAMA", numResults=10)
    assert set(ids(answer)) <= set(DRAMAS)  # no one watched it yet: its genre alone finds its kin
    sims = group.campaign(group.train("aws-sims"))  # interactions only: nothing is known of it
    answer = group.runtime.get_recommendations(campaignArn=sims, itemId="NEW-DRAMA", numResults=10)
    assert not set(ids(answer)) <= set(DRAMAS)


def test_personalized_ranking_orders_the_given_items_by_taste(group: Group) -> None:
    campaign = group.campaign(group.train("aws-personalized-ranking"))
    mixed = [DRAMAS[0], COMEDIES[1], DRAMAS[2], COMEDIES[3], "never-seen"]
    ranked = group.runtime.get_personalized_ranking(campaignArn=campaign, userId="u7", inputList=mixed)
    order = ids(ranked, "personalizedRanking")
    assert order[:2] == [COMEDIES[1], COMEDIES[3]] or set(order[:2]) == {COMEDIES[1], COMEDIES[3]}
    assert order[-1] == "never-seen" and "score" not in ranked["personalizedRanking"][-1]


def test_popularity_count_recommends_the_most_watched_items(group: Group) -> None:
    campaign = group.campaign(group.train("aws-popularity-count"))
    counts: dict[str, int] = {}
    for line in taste_groups().splitlines()[1:]:
        counts[line.split(",")[1]] = counts.get(line.split(",")[1], 0) + 1
    answer = group.runtime.get_recommendations(campaignArn=campaign, userId="anyone", numResults=3)
    assert ids(answer) == sorted(counts, key=lambda k: (-counts[k], k))[:3]


def test_batch_inference_writes_recommendations_to_s3(group: Group, als: str) -> None:
    lines = "\n".join(json.dumps({"userId": u}) for u in ("u1", "u40")) + "\n"
    group.s3.put_object(Bucket=group.bucket, Key="batch/users.json", Body=lines.encode())
    job = group.p.create_batch_inference_job(
        jobName=f"batch-{group.tag}",
        solutionVersionArn=als,
        numResults=5,
        jobInput={"s3DataSource": {"path": f"s3://{group.bucket}/batch/users.json"}},
        jobOutput={"s3DataDestination": {"path": f"s3://{group.bucket}/out/"}},
        roleArn=ROLE,
    )["batchInferenceJobArn"]
    found = wait(lambda: group.p.describe_batch_inference_job(batchInferenceJobArn=job)["batchInferenceJob"])
    assert found["status"] == "ACTIVE", found
    body = group.s3.get_object(Bucket=group.bucket, Key="out/users.json.out")["Body"].read().decode()
    results = [json.loads(line) for line in body.splitlines()]
    assert set(results[0]["output"]["recommendedItems"]) <= set(COMEDIES)
    assert set(results[1]["output"]["recommendedItems"]) <= set(DRAMAS)


def test_a_campaign_moves_to_a_new_version_and_resources_keep_their_tags(group: Group) -> None:
    p = group.p
    solution = p.create_solution(
        name=f"tagged-{group.tag}",
        datasetGroupArn=group.arn,
        recipeArn=RECIPE.format("aws-user-personalization"),
        solutionConfig={"algorithmHyperParameters": {"hidden_dimension": "16"}},
        tags=[{"tagKey": "team", "tagValue": "recs"}],
    )["solutionArn"]
    assert p.list_tags_for_resource(resourceArn=solution)["tags"] == [{"tagKey": "team", "tagValue": "recs"}]
    p.tag_resource(resourceArn=solution, tags=[{"tagKey": "stage", "tagValue": "test"}])
    p.untag_resource(resourceArn=solution, tagKeys=["team"])
    assert p.list_tags_for_resource(resourceArn=solution)["tags"] == [{"tagKey": "stage", "tagValue": "test"}]
    versions = []
    for _ in range(2):
        arn = p.create_solution_version(solutionArn=solution)["solutionVersionArn"]
        assert wait(partial(describe_version, p, arn))["status"] == "ACTIVE"
        versions.append(arn)
    campaign = group.campaign(versions[0])
    p.update_campaign(campaignArn=campaign, solutionVersionArn=versions[1])
    found = wait(lambda: p.describe_campaign(campaignArn=campaign)["campaign"])
    assert found["solutionVersionArn"] == versions[1]
    assert found["latestCampaignUpdate"]["solutionVersionArn"] == versions[1]
    answer = group.runtime.get_recommendations(campaignArn=campaign, userId="u50", numResults=5)
    assert set(ids(answer)) <= set(DRAMAS)
    recipe = p.describe_recipe(recipeArn=RECIPE.format("aws-sims"))["recipe"]
    assert recipe["recipeType"] == "RELATED_ITEMS"
    solution_doc = p.describe_solution(solutionArn=solution)["solution"]
    assert solution_doc["latestSolutionVersion"]["solutionVersionArn"] == versions[1]
    assert solution_doc["solutionConfig"]["algorithmHyperParameters"] == {"hidden_dimension": "16"}
