"""Variables, entity types, labels, outcomes, event types and tags: the names the rest is built from."""

from __future__ import annotations

from typing import Any

from outcrop.services.base import RequestContext
from outcrop.services.frauddetector.common import (
    Base,
    ConflictException,
    ResourceNotFoundException,
    ValidationException,
    identifier,
    iso,
    parse_time,
    stamped,
    tag_map,
)

_NUMERIC_TYPES = {"NUMERIC": "FLOAT", "PRICE": "FLOAT"}
_DEFAULT_TYPES = {"STRING": "CATEGORICAL", "FLOAT": "NUMERIC", "INTEGER": "NUMERIC"}
_STRING_TYPES = frozenset(
    {
        "AUTH_CODE",
        "AVS",
        "BILLING_ADDRESS_L1",
        "BILLING_ADDRESS_L2",
        "BILLING_CITY",
        "BILLING_COUNTRY",
        "BILLING_NAME",
        "BILLING_PHONE",
        "BILLING_STATE",
        "BILLING_ZIP",
        "CARD_BIN",
        "CATEGORICAL",
        "CURRENCY_CODE",
        "EMAIL_ADDRESS",
        "FINGERPRINT",
        "FRAUD_LABEL",
        "FREE_FORM_TEXT",
        "IP_ADDRESS",
        "NAME",
        "ORDER_ID",
        "PAYMENT_TYPE",
        "PHONE_NUMBER",
        "PRODUCT_CATEGORY",
        "SHIPPING_ADDRESS_L1",
        "SHIPPING_ADDRESS_L2",
        "SHIPPING_CITY",
        "SHIPPING_COUNTRY",
        "SHIPPING_NAME",
        "SHIPPING_PHONE",
        "SHIPPING_STATE",
        "SHIPPING_ZIP",
        "USERAGENT",
    }
)
_SIMPLE = {"entity_type": "entityTypes", "label": "labels", "outcome": "outcomes"}
_ARN_KIND = {"entity_type": "entity-type", "label": "label", "outcome": "outcome", "event_type": "event-type"}


def typed_value(raw: str | None, data_type: str) -> Any:
    """A variable's value as rules compare it (None when absent or not of its type)."""
    if raw is None:
        return None
    try:
        if data_type in ("FLOAT", "INTEGER"):
            return float(raw)
        if data_type == "BOOLEAN":
            return {"true": True, "false": False}[raw.strip().lower()]
    except (ValueError, KeyError):
        return None
    return raw


class Catalog(Base):
    # variables
    def create_variable(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if params["dataSource"] != "EVENT":
            raise ValidationException("Only variables with dataSource EVENT can be created")
        body = self._variable_body(params)
        tags = tag_map(params.get("tags"))
        if not self.store.create("variable", params["name"], body):
            raise ConflictException(f"A variable named {params['name']} already exists")
        if tags:
            self.store.set_tags(self._arn(ctx, f"variable/{params['name']}"), tags)
        return {}

    def _variable_body(self, params: dict[str, Any]) -> dict[str, Any]:
        name, data_type = identifier(params["name"], "name"), params["dataType"]
        variable_type = params.get("variableType") or _DEFAULT_TYPES.get(data_type, "")
        if not variable_type:  # no variable type fits BOOLEAN or DATETIME: the data type stands alone
            return self._plain_variable(params, name, data_type)
        implied = _NUMERIC_TYPES.get(variable_type) or ("STRING" if variable_type in _STRING_TYPES else None)
        if implied is None:
            raise ValidationException(f"Unknown variableType {variable_type}")
        if implied != data_type and not (implied == "FLOAT" and data_type == "INTEGER"):
            raise ValidationException(f"A {variable_type} variable has dataType {implied}, not {data_type}")
        default = params["defaultValue"]
        if data_type != "STRING" and typed_value(default, data_type) is None:
            raise ValidationException(f"The defaultValue {default!r} is not a {data_type}")
        return {
            "name": name,
            "dataType": data_type,
            "dataSource": params["dataSource"],
            "defaultValue": default,
            "description": params.get("description", ""),
            "variableType": variable_type,
        }

    def _plain_variable(self, params: dict[str, Any], name: str, data_type: str) -> dict[str, Any]:
        default = params["defaultValue"]
        if data_type == "DATETIME":
            parse_time(default, "defaultValue")
        elif typed_value(default, data_type) is None:
            raise ValidationException(f"The defaultValue {default!r} is not a {data_type}")
        return {
            "name": name,
            "dataType": data_type,
            "dataSource": params["dataSource"],
            "defaultValue": default,
            "description": params.get("description", ""),
            "variableType": "",
        }

    def batch_create_variable(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        errors = []
        for entry in params["variableEntries"]:
            missing = [m for m in ("name", "dataType", "dataSource", "defaultValue") if entry.get(m) is None]
            if missing:
                errors.append(
                    {"name": entry.get("name", ""), "code": 400, "message": f"{missing[0]} is required"}
                )
                continue
            try:
                self.create_variable(ctx, entry | {"tags": params.get("tags")})
            except (ValidationException, ConflictException) as error:
                code = 409 if isinstance(error, ConflictException) else 400
                errors.append({"name": entry.get("name", ""), "code": code, "message": error.message})
        return {"errors": errors}

    def batch_get_variable(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        found, errors = [], []
        for name in params["names"]:
            variable = self.store.get("variable", name)
            if variable is None:
                errors.append({"name": name, "code": 404, "message": f"The variable {name} does not exist"})
            else:
                found.append(self._variable(ctx, variable))
        return {"variables": found, "errors": errors}

    def _variable(self, ctx: RequestContext, variable: Any) -> dict[str, Any]:
        body = {k: v for k, v in variable.body.items() if v != "" or k == "defaultValue"}
        return body | stamped(variable) | {"arn": self._arn(ctx, f"variable/{variable.key}")}

    def get_variables(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("name"):
            return {"variables": [self._variable(ctx, self._need("variable", params["name"], "variable"))]}
        items = [self._variable(ctx, v) for v in self.store.scan("variable")]
        return self._page(items, params, "variables")

    def update_variable(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        variable = self._need("variable", params["name"], "variable").body
        changes: dict[str, Any] = {}
        if params.get("defaultValue") is not None:
            if (
                variable["dataType"] != "STRING"
                and typed_value(params["defaultValue"], variable["dataType"]) is None
            ):
                raise ValidationException(
                    f"The defaultValue {params['defaultValue']!r} is not a {variable['dataType']}"
                )
            changes["defaultValue"] = params["defaultValue"]
        if params.get("description") is not None:
            changes["description"] = params["description"]
        if params.get("variableType"):
            self._variable_body(variable | {"variableType": params["variableType"]})
            changes["variableType"] = params["variableType"]
        self.store.update("variable", params["name"], changes)
        return {}

    def delete_variable(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["name"]
        users = [e.key for e in self.store.scan("event_type") if name in e.body["eventVariables"]]
        if users:
            raise ConflictException(f"The variable {name} is used by the event type {users[0]}")
        variable = self.store.get("variable", name)
        if variable and variable.body["dataSource"] != "EVENT":
            raise ValidationException(f"The variable {name} belongs to a model and is deleted with it")
        self.store.delete("variable", name)
        return {}

    # entity types, labels and outcomes: a name and a description each
    def _put_simple(self, ctx: RequestContext, kind: str, params: dict[str, Any]) -> dict[str, Any]:
        name = params["name"]
        body = {"name": name, "description": params.get("description", "")}
        self.store.put(kind, name, body)
        tags = tag_map(params.get("tags"))
        if tags:
            self.store.set_tags(self._arn(ctx, f"{_ARN_KIND[kind]}/{name}"), tags)
        return {}

    def _get_simple(self, ctx: RequestContext, kind: str, params: dict[str, Any]) -> dict[str, Any]:
        what = kind.replace("_", " ")
        found = [self._need(kind, params["name"], what)] if params.get("name") else self.store.scan(kind)
        items = [
            {k: v for k, v in r.body.items() if v}
            | stamped(r)
            | {"arn": self._arn(ctx, f"{_ARN_KIND[kind]}/{r.key}")}
            for r in found
        ]
        return self._page(items, params, _SIMPLE[kind])

    def _delete_simple(self, kind: str, name: str) -> dict[str, Any]:
        member = {"entity_type": "entityTypes", "label": "labels"}.get(kind)
        users = [e.key for e in self.store.scan("event_type") if member and name in e.body.get(member, [])]
        if kind == "outcome":
            users = [r.key for r in self.store.scan("rule") if name in r.body["outcomes"]]
        if users:
            raise ConflictException(f"The {kind.replace('_', ' ')} {name} is in use by {users[0]}")
        self.store.delete(kind, name)
        return {}

    def put_entity_type(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._put_simple(ctx, "entity_type", params)

    def get_entity_types(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._get_simple(ctx, "entity_type", params)

    def delete_entity_type(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._delete_simple("entity_type", params["name"])

    def put_label(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._put_simple(ctx, "label", params)

    def get_labels(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._get_simple(ctx, "label", params)

    def delete_label(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._delete_simple("label", params["name"])

    def put_outcome(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._put_simple(ctx, "outcome", params)

    def get_outcomes(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._get_simple(ctx, "outcome", params)

    def delete_outcome(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._delete_simple("outcome", params["name"])

    # event types
    def put_event_type(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        for kind, member in (
            ("variable", "eventVariables"),
            ("entity_type", "entityTypes"),
            ("label", "labels"),
        ):
            for name in params.get(member) or []:
                if self.store.get(kind, name) is None:
                    raise ValidationException(
                        f"The {kind.replace('_', ' ')} {name} in {member} does not exist"
                    )
                if kind == "variable" and self.store.get(kind, name).body["dataSource"] != "EVENT":  # type: ignore[union-attr]
                    raise ValidationException(f"The variable {name} is a model score, not an event variable")
        body = {
            "name": params["name"],
            "description": params.get("description", ""),
            "eventVariables": list(dict.fromkeys(params["eventVariables"])),
            "labels": list(dict.fromkeys(params.get("labels") or [])),
            "entityTypes": list(dict.fromkeys(params["entityTypes"])),
            "eventIngestion": params.get("eventIngestion") or "ENABLED",
        }
        if params.get("eventOrchestration"):
            body["eventOrchestration"] = params["eventOrchestration"]
        self.store.put("event_type", params["name"], body)
        tags = tag_map(params.get("tags"))
        if tags:
            self.store.set_tags(self._arn(ctx, f"event-type/{params['name']}"), tags)
        return {}

    def get_event_types(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        found = (
            [self._need("event_type", params["name"], "event type")]
            if params.get("name")
            else self.store.scan("event_type")
        )
        items = []
        for event_type in found:
            count, size, least, most = self.store.event_statistics(event_type.key)
            statistics: dict[str, Any] = {"numberOfEvents": count, "eventDataSizeInBytes": size}
            if least is not None and most is not None:
                statistics |= {"leastRecentEvent": iso(least), "mostRecentEvent": iso(most)}
            items.append(
                {k: v for k, v in event_type.body.items() if v != ""}
                | {"ingestedEventStatistics": statistics}
                | stamped(event_type)
                | {"arn": self._arn(ctx, f"event-type/{event_type.key}")}
            )
        return self._page(items, params, "eventTypes")

    def delete_event_type(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["name"]
        self._need("event_type", name, "event type")
        users = [d.key for d in self.store.scan("detector") if d.body["eventTypeName"] == name]
        users += [m.key for m in self.store.scan("model") if m.body["eventTypeName"] == name]
        if users:
            raise ConflictException(f"The event type {name} is used by {users[0]}")
        if self.store.event_statistics(name)[0]:
            raise ConflictException(f"The event type {name} has stored events: delete them first")
        self.store.delete("event_type", name)
        self.store.delete("events_deletion", name)
        return {}

    # tags
    def _tagged(self, ctx: RequestContext, arn: str) -> str:
        prefix = self._arn(ctx, "")
        if not arn.startswith(prefix):
            raise ResourceNotFoundException(f"The resource {arn} does not exist")
        return arn

    def tag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        arn = self._tagged(ctx, params["resourceARN"])
        tags = self.store.tags(arn) | tag_map(params["tags"])
        self.store.set_tags(arn, tag_map([{"key": k, "value": v} for k, v in tags.items()]))
        return {}

    def untag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        arn = self._tagged(ctx, params["resourceARN"])
        tags = {k: v for k, v in self.store.tags(arn).items() if k not in params["tagKeys"]}
        self.store.set_tags(arn, tags)
        return {}

    def list_tags_for_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        arn = self._tagged(ctx, params["resourceARN"])
        items = [{"key": k, "value": v} for k, v in sorted(self.store.tags(arn).items())]
        return self._page(items, params, "tags")
