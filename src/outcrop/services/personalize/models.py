"""Personalize's model operations: recipes, solutions and their versions, metrics, campaigns, batch jobs."""

from __future__ import annotations

import uuid
from typing import Any

from outcrop.personalize.errors import InUse, InvalidInput, NotFound
from outcrop.personalize.jobs import ACTIVE, FAILED, PENDING, RUNNING, STOPPING, UPDATE_PENDING
from outcrop.personalize.recipes import (
    ALGORITHM_ARN,
    FEATURE_ARN,
    RECIPE_ARN,
    RECIPES,
    USE_CASES,
    hyperparameters,
    recipe_for,
)
from outcrop.personalize.recommend import remove_model
from outcrop.services.base import RequestContext
from outcrop.services.personalize._common import PAGES, Operations, answered, listed, shaped, tags_of

_UNSERVED_SOLUTION = {
    "performHPO": "hyperparameter optimization (performHPO)",
    "performAutoML": "AutoML (performAutoML)",
    "performAutoTraining": "automatic training (performAutoTraining)",
}
_UNSERVED_CONFIG = (
    "hpoConfig",
    "autoMLConfig",
    "featureTransformationParameters",
    "optimizationObjective",
    "trainingDataConfig",
    "autoTrainingConfig",
    "eventsConfig",
)
_EPOCH = 1_546_300_800.0  # recipes' creation time: 2019-01-01


class ModelOperations(Operations):
    # recipes
    def list_recipes(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        times = {"status": "ACTIVE", "creationDateTime": _EPOCH, "lastUpdatedDateTime": _EPOCH}
        domain = params.get("domain")
        if domain:  # a domain's use cases, the recipes of its recommenders
            summaries = [
                {"name": c.name, "recipeArn": c.arn, "domain": c.domain, **times}
                for c in USE_CASES.values()
                if c.domain == domain
            ]
        else:
            summaries = [{"name": r.name, "recipeArn": r.arn, **times} for r in RECIPES.values()]
        if params.get("recipeProvider") not in (None, "SERVICE"):  # every recipe here is the service's
            summaries = []
        page, token = PAGES.page(summaries, params)
        return {"recipes": page, **({"nextToken": token} if token else {})}

    def describe_recipe(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        arn = params["recipeArn"]
        name = arn.removeprefix(RECIPE_ARN.format(""))
        if name in USE_CASES and arn == USE_CASES[name].arn:
            case = USE_CASES[name]
            kind, description = case.recipe_type, f"The {case.domain} use case {name}: {case.algorithm}."
        else:
            with answered():
                try:
                    recipe = recipe_for(arn)
                except InvalidInput:
                    raise NotFound(f"Could not find recipe with ARN {arn}") from None
            kind, description = recipe.recipe_type, recipe.description
        return {
            "recipe": {
                "name": name,
                "recipeArn": arn,
                "algorithmArn": ALGORITHM_ARN.format(name),
                "featureTransformationArn": FEATURE_ARN.format(name),
                "status": "ACTIVE",
                "description": description,
                "recipeType": kind,
                "creationDateTime": _EPOCH,
                "lastUpdatedDateTime": _EPOCH,
            }
        }

    # solutions
    def create_solution(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name, group = params["name"], params["datasetGroupArn"]
        config = dict(params.get("solutionConfig") or {})
        with answered():
            for member, what in _UNSERVED_SOLUTION.items():
                if params.get(member):
                    raise InvalidInput(
                        f"Outcrop does not support {what}: name a recipe and its hyperparameters."
                    )
            if params.get("performIncrementalUpdate"):
                raise InvalidInput("Outcrop does not support performIncrementalUpdate.")
            for member in _UNSERVED_CONFIG:
                if config.get(member):
                    raise InvalidInput(f"Outcrop does not support solutionConfig.{member}.")
            recipe = recipe_for(params.get("recipeArn"))
            values = hyperparameters(recipe, config.get("algorithmHyperParameters"))
            if config.get("eventValueThreshold") is not None:
                try:
                    float(config["eventValueThreshold"])
                except ValueError:
                    raise InvalidInput("eventValueThreshold must be a number.") from None
            self.here(ctx).get("datasetGroup", group)
            arn = ctx.arn("personalize", f"solution/{name}")
            doc = {
                "recipeArn": recipe.arn,
                "datasetGroupArn": group,
                "eventType": params.get("eventType"),
                "solutionConfig": config,
                "performHPO": False,
                "performAutoML": False,
                "recipeType": recipe.recipe_type,
                "algorithm": recipe.algorithm,
                "hyperparameters": values,
                "tags": tags_of(params),
            }
            self.here(ctx).create("solution", arn, name, group, ACTIVE, doc)
        return {"solutionArn": arn}

    def describe_solution(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with answered():
            solution = self.here(ctx).get("solution", params["solutionArn"])
        body = shaped(solution)
        versions = self.here(ctx).list_of("solutionVersion", solution.arn)
        if versions:
            body["latestSolutionVersion"] = shaped(versions[0], summary=True)
        return {"solution": body}

    def list_solutions(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return listed(self.here(ctx), "solution", params, "solutions", params.get("datasetGroupArn"))

    def delete_solution(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        arn = params["solutionArn"]
        with answered():
            self.here(ctx).get("solution", arn)
            versions = {v.arn for v in self.here(ctx).list_of("solutionVersion", arn)}
            if any(c.doc.get("solutionVersionArn") in versions for c in self.here(ctx).list_of("campaign")):
                raise InUse(f"The solution {arn} has a campaign: delete the campaign first.")
            training = (PENDING, RUNNING, STOPPING)  # a stopping version trains until its next check
            if any(v.status in training for v in self.here(ctx).list_of("solutionVersion", arn)):
                raise InUse(f"The solution {arn} has a solution version in training.")
            for version in versions:
                self.here(ctx).delete(version)
                remove_model(self.models, version)
            self.here(ctx).delete(arn)
        return {}

    # solution versions
    def create_solution_version(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        mode = params.get("trainingMode") or "FULL"
        with answered():
            solution = self.here(ctx).get("solution", params["solutionArn"])
            if mode not in ("FULL", "UPDATE"):
                raise InvalidInput(f"Outcrop trains with trainingMode FULL or UPDATE, not {mode}.")
            versions = self.here(ctx).list_of("solutionVersion", solution.arn)
            if any(v.status in (PENDING, RUNNING) for v in versions):
                raise InUse(f"The solution {solution.arn} already has a solution version in training.")
            if mode == "UPDATE" and not any(v.status == ACTIVE for v in versions):
                raise InvalidInput("trainingMode UPDATE needs an ACTIVE solution version trained with FULL.")
            arn = f"{solution.arn}/{uuid.uuid4().hex[:8]}"
            keep = (
                "recipeArn",
                "datasetGroupArn",
                "eventType",
                "solutionConfig",
                "performHPO",
                "performAutoML",
                "recipeType",
                "algorithm",
                "hyperparameters",
            )
            doc = {k: solution.doc.get(k) for k in keep}
            doc.update(
                trainingMode=mode, trainingType="MANUAL", tags=tags_of(params), name=params.get("name")
            )
            self.here(ctx).create("solutionVersion", arn, arn, solution.arn, PENDING, doc)
        self.worker.submit(arn)
        return {"solutionVersionArn": arn}

    def describe_solution_version(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with answered():
            version = self.here(ctx).get("solutionVersion", params["solutionVersionArn"])
        body = shaped(version)
        if version.doc.get("name") is None:
            body.pop("name", None)
        return {"solutionVersion": body}

    def list_solution_versions(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with answered():
            if params.get("solutionArn"):
                self.here(ctx).get("solution", params["solutionArn"])
        return listed(
            self.here(ctx), "solutionVersion", params, "solutionVersions", params.get("solutionArn")
        )

    def stop_solution_version_creation(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        arn = params["solutionVersionArn"]
        with answered():
            self.here(ctx).get("solutionVersion", arn)
            if not self.here(ctx).update(arn, status=STOPPING, only_if=(PENDING, RUNNING)):
                raise InvalidInput(
                    "Only a solution version in CREATE PENDING or CREATE IN_PROGRESS can be stopped."
                )
        return {}

    def get_solution_metrics(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        arn = params["solutionVersionArn"]
        with answered():
            version = self.here(ctx).get("solutionVersion", arn)
            if version.status != ACTIVE:
                raise InUse(f"The solution version {arn} is {version.status}, not ACTIVE.")
        return {"solutionVersionArn": arn, "metrics": version.doc.get("metrics", {})}

    # campaigns
    def create_campaign(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["name"]
        arn = ctx.arn("personalize", f"campaign/{name}")
        with answered():
            self._active_version(ctx, params["solutionVersionArn"])
            config = _campaign_config(params.get("campaignConfig"))
            doc = {
                "solutionVersionArn": params["solutionVersionArn"],
                "minProvisionedTPS": params.get("minProvisionedTPS") or 1,
                "campaignConfig": config,
                "tags": tags_of(params),
            }
            self.here(ctx).create(
                "campaign", arn, name, params["solutionVersionArn"].rsplit("/", 1)[0], PENDING, doc
            )
        self.worker.submit(arn)
        return {"campaignArn": arn}

    def describe_campaign(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with answered():
            campaign = self.here(ctx).get("campaign", params["campaignArn"])
        body = shaped(campaign)
        if campaign.doc.get("pendingSolutionVersionArn") or campaign.doc.get("updated"):
            body["latestCampaignUpdate"] = {
                "solutionVersionArn": campaign.doc.get("pendingSolutionVersionArn")
                or campaign.doc["solutionVersionArn"],
                "status": campaign.status,
                "creationDateTime": campaign.updated,
                "lastUpdatedDateTime": campaign.updated,
                **(
                    {"failureReason": campaign.doc["updateFailure"]}
                    if campaign.doc.get("updateFailure")
                    else {}
                ),
            }
        return {"campaign": body}

    def list_campaigns(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return listed(self.here(ctx), "campaign", params, "campaigns", params.get("solutionArn"))

    def update_campaign(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        arn = params["campaignArn"]
        with answered():
            campaign = self.here(ctx).get("campaign", arn)
            if campaign.status != ACTIVE:
                raise InUse(
                    f"The campaign {arn} is {campaign.status}: only an ACTIVE campaign can be updated."
                )
            target = params.get("solutionVersionArn") or campaign.doc["solutionVersionArn"]
            version = self._active_version(ctx, target)
            current = self.here(ctx).get("solutionVersion", campaign.doc["solutionVersionArn"])
            if version.parent != current.parent:
                raise InvalidInput("A campaign can move only to a version of the same solution.")
            doc: dict[str, Any] = {
                "pendingSolutionVersionArn": target,
                "updated": True,
                "updateFailure": None,
            }
            if params.get("minProvisionedTPS"):
                doc["minProvisionedTPS"] = params["minProvisionedTPS"]
            if params.get("campaignConfig") is not None:
                doc["campaignConfig"] = _campaign_config(params["campaignConfig"])
            self.here(ctx).update(arn, status=UPDATE_PENDING, doc=doc)
        self.worker.submit(arn)
        return {"campaignArn": arn}

    def delete_campaign(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with answered():
            self.here(ctx).get("campaign", params["campaignArn"])
        self.here(ctx).delete(params["campaignArn"])
        return {}

    # batch inference
    def create_batch_inference_job(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["jobName"]
        arn = ctx.arn("personalize", f"batch-inference-job/{name}")
        with answered():
            version = self._active_version(ctx, params["solutionVersionArn"])
            if params.get("filterArn"):
                self.here(ctx).get("filter", params["filterArn"])
            for member in ("batchInferenceJobConfig", "themeGenerationConfig"):
                if params.get(member):
                    raise InvalidInput(f"Outcrop does not support {member}.")
            if (params.get("batchInferenceJobMode") or "BATCH_INFERENCE") != "BATCH_INFERENCE":
                raise InvalidInput("Outcrop serves batchInferenceJobMode BATCH_INFERENCE only.")
            locations = (params["jobInput"]["s3DataSource"], params["jobOutput"]["s3DataDestination"])
            if any(location.get("kmsKeyArn") for location in locations):
                raise InvalidInput(
                    "Outcrop does not encrypt batch inference data with a KMS key (kmsKeyArn)."
                )
            for path in (location["path"] for location in locations):
                if not path.startswith("s3://") or len(path) <= 5:
                    raise InvalidInput(f"{path} is not an s3:// path.")
            doc = {
                k: params.get(k)
                for k in ("solutionVersionArn", "filterArn", "jobInput", "jobOutput", "roleArn")
            }
            doc.update(
                numResults=params.get("numResults") or 25,
                batchInferenceJobMode="BATCH_INFERENCE",
                tags=tags_of(params),
            )
            self.here(ctx).create("batchInferenceJob", arn, name, version.arn, PENDING, doc)
        self.worker.submit(arn)
        return {"batchInferenceJobArn": arn}

    def describe_batch_inference_job(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        with answered():
            return {
                "batchInferenceJob": shaped(
                    self.here(ctx).get("batchInferenceJob", params["batchInferenceJobArn"])
                )
            }

    def list_batch_inference_jobs(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return listed(
            self.here(ctx),
            "batchInferenceJob",
            params,
            "batchInferenceJobs",
            params.get("solutionVersionArn"),
        )

    # tags
    def list_tags_for_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"tags": self._tagged(ctx, params["resourceArn"]).doc.get("tags") or []}

    def tag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        resource = self._tagged(ctx, params["resourceArn"])
        tags = {t["tagKey"]: t["tagValue"] for t in resource.doc.get("tags") or []}
        tags.update({t["tagKey"]: t["tagValue"] for t in params["tags"]})
        merged = [{"tagKey": k, "tagValue": v} for k, v in tags.items()]
        self.here(ctx).update(resource.arn, doc={"tags": tags_of({"tags": merged})})
        return {}

    def untag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        resource = self._tagged(ctx, params["resourceArn"])
        kept = [t for t in resource.doc.get("tags") or [] if t["tagKey"] not in set(params["tagKeys"])]
        self.here(ctx).update(resource.arn, doc={"tags": kept})
        return {}

    def _tagged(self, ctx: RequestContext, arn: str) -> Any:
        with answered():
            resource = self.here(ctx).any(arn)
            if resource is None:
                raise NotFound(f"Could not find resource with ARN {arn}")
        return resource

    def _active_version(self, ctx: RequestContext, arn: str) -> Any:
        version = self.here(ctx).get("solutionVersion", arn)
        if version.status != ACTIVE:
            raise InvalidInput(f"The solution version {arn} is {version.status}, not ACTIVE.")
        return version


def _campaign_config(config: dict[str, Any] | None) -> dict[str, Any]:
    config = dict(config or {})
    for member in ("itemExplorationConfig", "rankingInfluence"):
        if config.get(member):
            raise InvalidInput(f"Outcrop does not support campaignConfig.{member}.")
    if config.get("syncWithLatestSolutionVersion"):
        raise InvalidInput("Outcrop does not support campaignConfig.syncWithLatestSolutionVersion.")
    if config.get("enableMetadataWithRecommendations"):
        raise InvalidInput("Outcrop does not support campaignConfig.enableMetadataWithRecommendations.")
    return config


__all__ = ["FAILED", "ModelOperations"]
