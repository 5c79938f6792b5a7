"""Personalize recommenders: a VIDEO_ON_DEMAND dataset group's use cases trained and served, no campaign."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from tests.errors import error_of
from tests.server import RunningServer
from tests.services.test_personalize import COMEDIES, INTERACTIONS_SCHEMA, ROLE, taste_groups, wait

USE_CASE = "arn:aws:personalize:::recipe/{}"


def test_video_on_demand_use_cases_recommend_within_each_taste(server: RunningServer) -> None:
    p, runtime, s3 = server.client("personalize"), server.client("personalize-runtime"), server.client("s3")
    tag = uuid.uuid4().hex[:6]
    s3.create_bucket(Bucket=f"vod-{tag}")
    # every event a Watch: the watch-based use cases need 1000 of them, as on AWS
    s3.put_object(
        Bucket=f"vod-{tag}", Key="watch.csv", Body=taste_groups().replace(",click,", ",Watch,").encode()
    )
    group = p.create_dataset_group(name=f"vod-{tag}", domain="VIDEO_ON_DEMAND")
    assert group["domain"] == "VIDEO_ON_DEMAND"
    plain = p.create_schema(name=f"plain-{tag}", schema=json.dumps(INTERACTIONS_SCHEMA))["schemaArn"]
    refused = error_of(
        p.create_dataset,
        name=f"i-{tag}",
        schemaArn=plain,
        datasetGroupArn=group["datasetGroupArn"],
        datasetType="Interactions",
    )
    assert refused["Code"] == "InvalidInputException" and "domain" in refused["Message"]
    schema = p.create_schema(
        name=f"vod-{tag}", schema=json.dumps(INTERACTIONS_SCHEMA), domain="VIDEO_ON_DEMAND"
    )["schemaArn"]
    dataset = p.create_dataset(
        name=f"i-{tag}",
        schemaArn=schema,
        datasetGroupArn=group["datasetGroupArn"],
        datasetType="Interactions",
    )["datasetArn"]
    job = p.create_dataset_import_job(
        jobName=f"vod-{tag}",
        datasetArn=dataset,
        dataSource={"dataLocation": f"s3://vod-{tag}/watch.csv"},
        roleArn=ROLE,
    )["datasetImportJobArn"]
    assert wait(lambda: p.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"])[
        "status"
    ] == ("ACTIVE")
    use_cases = {r["name"] for r in p.list_recipes(domain="VIDEO_ON_DEMAND")["recipes"]}
    assert {"aws-vod-top-picks", "aws-vod-because-you-watched-x"} <= use_cases
    wrong = error_of(
        p.create_recommender,
        name=f"shop-{tag}",
        datasetGroupArn=group["datasetGroupArn"],
        recipeArn=USE_CASE.format("aws-ecomm-recommended-for-you"),
    )
    assert wrong["Code"] == "InvalidInputException" and "ECOMMERCE" in wrong["Message"]

    def recommender(use_case: str) -> str:
        arn: str = p.create_recommender(
            name=f"{use_case}-{tag}",
            datasetGroupArn=group["datasetGroupArn"],
            recipeArn=USE_CASE.format(use_case),
        )["recommenderArn"]
        found: dict[str, Any] = wait(lambda: p.describe_recommender(recommenderArn=arn)["recommender"])
        assert found["status"] == "ACTIVE" and found["modelMetrics"]["coverage"] > 0, found
        return arn

    top_picks = recommender("aws-vod-top-picks")
    answer = runtime.get_recommendations(recommenderArn=top_picks, userId="u2", numResults=10)
    assert {entry["itemId"] for entry in answer["itemList"]} <= set(COMEDIES)

    watched_x = recommender("aws-vod-because-you-watched-x")
    watched = {line.split(",")[1] for line in taste_groups().splitlines() if line.startswith("u2,")}
    answer = runtime.get_recommendations(recommenderArn=watched_x, itemId="C01", userId="u2", numResults=10)
    found = [entry["itemId"] for entry in answer["itemList"]]
    unwatched = set(COMEDIES) - watched - {"C01"}
    assert not set(found) & (watched | {"C01"})  # what u2 watched is left out
    assert set(found[: len(unwatched)]) == unwatched  # and the comedies left come first

    p.stop_recommender(recommenderArn=top_picks)
    assert p.describe_recommender(recommenderArn=top_picks)["recommender"]["status"] == "INACTIVE"
    stopped = error_of(runtime.get_recommendations, recommenderArn=top_picks, userId="u2")
    assert stopped["Code"] == "InvalidInputException" and "INACTIVE" in stopped["Message"]
    p.start_recommender(recommenderArn=top_picks)
    time.sleep(0.1)
    assert runtime.get_recommendations(recommenderArn=top_picks, userId="u2")["itemList"]
    listed = {
        r["recommenderArn"]
        for r in p.list_recommenders(datasetGroupArn=group["datasetGroupArn"])["recommenders"]
    }
    assert listed == {top_picks, watched_x}
