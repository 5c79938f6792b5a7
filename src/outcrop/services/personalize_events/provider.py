"""Amazon Personalize Events: PutEvents, PutItems and PutUsers add rows to a dataset group's datasets.

Rows are checked against the dataset's schema as an import's are; a campaign sees a user's new events on
their next request (ALS recomputes the user's factors from them), and the next training uses them all.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from outcrop.config import Settings
from outcrop.personalize.recommend import datasets_of
from outcrop.personalize.schemas import Schema, parse_schema, property_field, read_value
from outcrop.personalize.store import PUT, PersonalizeStore, Resource, open_store
from outcrop.protocol.errors import ServiceError
from outcrop.services.base import RequestContext, Service


class InvalidInputException(ServiceError, service="personalize-events"): ...


class ResourceNotFoundException(ServiceError, service="personalize-events"): ...


class PersonalizeEvents(Service):
    service_name: ClassVar[str] = "personalize-events"

    def __init__(self, *, data_path: Callable[..., Path], settings: Settings) -> None:
        self.store, _ = open_store(
            data_path("personalize"), account=settings.account_id, region=settings.region
        )

    def close(self) -> None:
        self.store.close()

    def _here(self, ctx: RequestContext) -> PersonalizeStore:
        """The resources of the request's account and region: another region's tracker or dataset is not
        found here, as on AWS."""
        return self.store.at((ctx.account_id, ctx.region))

    def put_events(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        trackers = self._here(ctx).list_of("eventTracker")
        tracker = next((t for t in trackers if t.doc["trackingId"] == params["trackingId"]), None)
        if tracker is None:
            raise InvalidInputException(
                f"The tracking ID {params['trackingId']} does not match an event tracker."
            )
        dataset = datasets_of(self.store, tracker.doc["datasetGroupArn"]).get("Interactions")
        if dataset is None:
            raise InvalidInputException("The event tracker's dataset group has no Interactions dataset.")
        schema = self._schema(self.store.get("dataset", dataset))
        user = params.get("userId") or params["sessionId"]
        rows = []
        for index, event in enumerate(params["eventList"]):
            if not event.get("itemId"):
                raise InvalidInputException(
                    f"eventList[{index}] has no itemId, which the Interactions schema requires."
                )
            row: dict[str, Any] = {
                "USER_ID": user,
                "ITEM_ID": event["itemId"],
                "TIMESTAMP": int(_epoch(event["sentAt"])),
                "EVENT_TYPE": event["eventType"],
            }
            if event.get("eventValue") is not None:
                row["EVENT_VALUE"] = float(event["eventValue"])
            if event.get("metricAttribution"):
                raise InvalidInputException("Outcrop does not serve metric attributions (metricAttribution).")
            if event.get("impression"):  # kept with the event, as the schema's IMPRESSION field holds it
                row["IMPRESSION"] = "|".join(event["impression"])
            if event.get("recommendationId"):
                row["RECOMMENDATION_ID"] = event["recommendationId"]
            row.update(self._properties(schema, event.get("properties"), f"eventList[{index}]"))
            rows.append(row)
        self.store.replace_rows(dataset, "Interactions", rows, full=False, source=PUT)
        return {}

    def put_items(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._put(ctx, params["datasetArn"], "Items", "ITEM_ID", "itemId", params["items"])

    def put_users(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._put(ctx, params["datasetArn"], "Users", "USER_ID", "userId", params["users"])

    def _put(
        self, ctx: RequestContext, arn: str, kind: str, key: str, member: str, entries: list[dict[str, Any]]
    ) -> dict[str, Any]:
        dataset = self._here(ctx).find("dataset", arn)
        if dataset is None:
            raise ResourceNotFoundException(f"Could not find dataset with ARN {arn}")
        if dataset.doc["datasetType"] != kind:
            raise InvalidInputException(
                f"The dataset {arn} is a {dataset.doc['datasetType']} dataset, not {kind}."
            )
        schema = self._schema(dataset)
        rows = []
        for index, entry in enumerate(entries):
            row = {
                key: entry[member],
                **self._properties(schema, entry.get("properties"), f"{member}s[{index}]"),
            }
            missing = [f.name for f in schema.fields if not f.nullable and f.name not in row]
            if missing:
                raise InvalidInputException(
                    f"{kind}[{index}] lacks the schema's required field(s): {', '.join(missing)}"
                )
            rows.append(row)
        self.store.replace_rows(arn, kind, rows, full=False, source=PUT)
        return {}

    def _schema(self, dataset: Resource) -> Schema:
        return parse_schema(self.store.get("schema", dataset.doc["schemaArn"]).doc["schema"])

    @staticmethod
    def _properties(schema: Schema, text: str | None, where: str) -> dict[str, Any]:
        if not text:
            return {}
        try:
            given = json.loads(text)
        except ValueError:
            raise InvalidInputException(f"{where}.properties is not a JSON object.") from None
        if not isinstance(given, dict):
            raise InvalidInputException(f"{where}.properties is not a JSON object.")
        out: dict[str, Any] = {}
        for name, value in given.items():
            field = property_field(schema, name)
            if field is None:
                raise InvalidInputException(f"{where}.properties names {name}, which is not in the schema.")
            raw = value if isinstance(value, str) or value is None else json.dumps(value)
            try:
                out[field.name] = read_value(field, raw)
            except ValueError as exc:
                raise InvalidInputException(f"{where}.properties: {exc}") from None
        return out


def _epoch(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)
