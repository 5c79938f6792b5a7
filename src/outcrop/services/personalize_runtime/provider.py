"""Amazon Personalize Runtime: GetRecommendations and GetPersonalizedRanking from ACTIVE campaigns.

Reads the store the control plane writes; each trained model is loaded once and kept (the last few).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from outcrop.config import Settings
from outcrop.personalize import errors
from outcrop.personalize.recommend import Ask, Recommender
from outcrop.personalize.store import PersonalizeStore, Resource, open_store
from outcrop.protocol.errors import ServiceError
from outcrop.services.base import RequestContext, Service
from outcrop.services.unserved import as_written, refuse_unserved

MAX_RESULTS = 500
MAX_INPUT_LIST = 500


class InvalidInputException(ServiceError, service="personalize-runtime"): ...


class ResourceNotFoundException(ServiceError, service="personalize-runtime"): ...


@contextmanager
def _answered() -> Iterator[None]:
    try:
        yield
    except errors.NotFound as exc:
        raise ResourceNotFoundException(str(exc)) from None
    except errors.PersonalizeError as exc:
        raise InvalidInputException(str(exc)) from None


class PersonalizeRuntime(Service):
    service_name: ClassVar[str] = "personalize-runtime"

    def __init__(self, *, data_path: Callable[..., Path], settings: Settings) -> None:
        self.store, models = open_store(
            data_path("personalize"), account=settings.account_id, region=settings.region
        )
        self.recommender = Recommender(self.store, models)

    def close(self) -> None:
        self.store.close()

    def get_recommendations(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if bool(params.get("recommenderArn")) == bool(params.get("campaignArn")):
            raise InvalidInputException("Give either a campaignArn or a recommenderArn.")
        self._unserved(params, ("context", "promotions", "metadataColumns"))
        with _answered():
            store = self._here(ctx)
            if params.get("recommenderArn"):
                version = self._recommender(store, params["recommenderArn"])
            else:
                version = self._version(store, params["campaignArn"])
            kind = version.doc["recipeType"]
            if kind == "PERSONALIZED_RANKING":
                raise errors.InvalidInput("A personalized-ranking campaign answers GetPersonalizedRanking.")
            if kind == "RELATED_ITEMS" and not params.get("itemId"):
                raise errors.InvalidInput("itemId is required for a related-items campaign.")
            if kind != "RELATED_ITEMS" and not params.get("userId"):
                raise errors.InvalidInput("userId is required for a user-personalization campaign.")
            ask = Ask(
                user_id=params.get("userId"),
                item_id=params.get("itemId"),
                num_results=self._num_results(params),
                filter=self._filter(store, params, version),
                filter_values=params.get("filterValues"),
            )
            found = self.recommender.recommend(version, ask)
        return {"itemList": [_item(t, s) for t, s in found], "recommendationId": f"RID-{uuid.uuid4()}"}

    def get_personalized_ranking(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._unserved(params, ("context", "metadataColumns"))
        inputs = list(params["inputList"])
        if not inputs or len(inputs) > MAX_INPUT_LIST:
            raise InvalidInputException(f"inputList must hold 1 to {MAX_INPUT_LIST} item IDs.")
        with _answered():
            store = self._here(ctx)
            version = self._version(store, params["campaignArn"])
            if version.doc["recipeType"] != "PERSONALIZED_RANKING":
                raise errors.InvalidInput(
                    "GetPersonalizedRanking needs a campaign of a PERSONALIZED_RANKING recipe."
                )
            ask = Ask(
                user_id=params["userId"],
                num_results=len(inputs),
                filter=self._filter(store, params, version),
                filter_values=params.get("filterValues"),
            )
            ranked = self.recommender.rank(version, ask, inputs)
        return {
            "personalizedRanking": [_item(t, s) for t, s in ranked],
            "recommendationId": f"RID-{uuid.uuid4()}",
        }

    def _here(self, ctx: RequestContext) -> PersonalizeStore:
        """The resources of the request's account and region: another region's campaign, recommender or
        filter is not found here, as on AWS."""
        return self.store.at((ctx.account_id, ctx.region))

    def _version(self, store: PersonalizeStore, campaign_arn: str) -> Resource:
        campaign = store.find("campaign", campaign_arn)
        if campaign is None:
            raise errors.NotFound(f"Campaign {campaign_arn} does not exist.")
        if campaign.status not in ("ACTIVE", "UPDATE PENDING", "UPDATE IN_PROGRESS"):
            raise errors.NotFound(f"Campaign {campaign_arn} is {campaign.status}, not ACTIVE.")
        return store.get("solutionVersion", campaign.doc["solutionVersionArn"])

    def _recommender(self, store: PersonalizeStore, arn: str) -> Resource:
        found = store.find("recommender", arn)
        if found is None:
            raise errors.NotFound(f"Recommender {arn} does not exist.")
        if found.status != "ACTIVE":
            raise errors.InvalidInput(f"Recommender {arn} is {found.status}, not ACTIVE.")
        return found

    def _filter(self, store: PersonalizeStore, params: dict[str, Any], version: Resource) -> Resource | None:
        if not params.get("filterArn"):
            if params.get("filterValues"):
                raise errors.InvalidInput("filterValues need a filterArn.")
            return None
        found = store.find("filter", params["filterArn"])
        if found is None:
            raise errors.NotFound(f"Filter {params['filterArn']} does not exist.")
        if found.doc["datasetGroupArn"] != version.doc["datasetGroupArn"]:
            raise errors.InvalidInput("The filter belongs to another dataset group than the campaign.")
        return found

    @staticmethod
    def _num_results(params: dict[str, Any]) -> int:
        asked = params.get("numResults")
        if asked is None or asked == 0:
            return 25
        if not 1 <= asked <= MAX_RESULTS:
            raise errors.InvalidInput(f"numResults must be between 1 and {MAX_RESULTS}.")
        return int(asked)

    @staticmethod
    def _unserved(params: dict[str, Any], members: tuple[str, ...]) -> None:
        reasons = {member: f"Outcrop does not support {member} in recommendations." for member in members}
        refuse_unserved(params, reasons, InvalidInputException, message=as_written)


def _item(item_id: str, score: float | None) -> dict[str, Any]:
    return {"itemId": item_id, **({"score": score} if score is not None else {})}
