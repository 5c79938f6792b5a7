"""Recommenders: a domain dataset group's use cases, trained and served in one resource (no campaign).

Each use case runs a served recipe's algorithm on the events it names (Watch, View, Purchase); stopping a
recommender makes it INACTIVE (it answers no requests) and starting it makes it ACTIVE again.
"""

from __future__ import annotations

from typing import Any

from outcrop.personalize.errors import InUse, InvalidInput
from outcrop.personalize.jobs import ACTIVE, PENDING, RUNNING
from outcrop.personalize.recipes import default_hyperparameters, use_case_for
from outcrop.personalize.recommend import remove_model
from outcrop.services.base import RequestContext
from outcrop.services.personalize._common import Operations, answered, listed, shaped, tags_of

INACTIVE = "INACTIVE"


class RecommenderOperations(Operations):
    def create_recommender(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name, group_arn = params["name"], params["datasetGroupArn"]
        arn = ctx.arn("personalize", f"recommender/{name}")
        with answered():
            group = self.here(ctx).get("datasetGroup", group_arn)
            case = use_case_for(params["recipeArn"], group.doc.get("domain"))
            config = _config(params.get("recommenderConfig"))
            doc = {
                "datasetGroupArn": group_arn,
                "recipeArn": case.arn,
                "recommenderConfig": config,
                "recipeType": case.recipe_type,
                "algorithm": case.algorithm,
                "eventType": case.event_type,
                "excludeSeen": case.exclude_seen,
                "hyperparameters": default_hyperparameters(case.algorithm),
                "tags": tags_of(params),
            }
            self.here(ctx).create("recommender", arn, name, group_arn, PENDING, doc)
        self.worker.submit(arn)
        return {"recommenderArn": arn}

    def describe_recommender(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with answered():
            recommender = self.here(ctx).get("recommender", params["recommenderArn"])
        body = shaped(recommender)
        if recommender.doc.get("metrics"):
            body["modelMetrics"] = recommender.doc["metrics"]
        return {"recommender": body}

    def list_recommenders(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return listed(self.here(ctx), "recommender", params, "recommenders", params.get("datasetGroupArn"))

    def update_recommender(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        arn = params["recommenderArn"]
        with answered():
            found = self.here(ctx).get("recommender", arn)
            if found.status in (PENDING, RUNNING):
                raise InUse(f"The recommender {arn} is still being created.")
            self.here(ctx).update(arn, doc={"recommenderConfig": _config(params["recommenderConfig"])})
        return {"recommenderArn": arn}

    def delete_recommender(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        arn = params["recommenderArn"]
        with answered():
            found = self.here(ctx).get("recommender", arn)
            if found.status in (PENDING, RUNNING):
                raise InUse(f"The recommender {arn} is still being created.")
            self.here(ctx).delete(arn)
        remove_model(self.models, arn)
        return {}

    def stop_recommender(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._switch(ctx, params["recommenderArn"], ACTIVE, INACTIVE)

    def start_recommender(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._switch(ctx, params["recommenderArn"], INACTIVE, ACTIVE)

    def _switch(self, ctx: RequestContext, arn: str, source: str, target: str) -> dict[str, Any]:
        with answered():
            found = self.here(ctx).get("recommender", arn)
            if not self.here(ctx).update(arn, status=target, only_if=(source,)):
                raise InUse(f"The recommender {arn} is {found.status}, not {source}.")
        return {"recommenderArn": arn}


def _config(config: dict[str, Any] | None) -> dict[str, Any]:
    config = dict(config or {})
    for member in ("itemExplorationConfig", "trainingDataConfig", "enableMetadataWithRecommendations"):
        if config.get(member):
            raise InvalidInput(f"Outcrop does not support recommenderConfig.{member}.")
    return config
