"""Detectors, their rules (parsed when written, so a rule that does not parse is never stored) and
detector versions that bundle rule versions and model versions with a rule execution mode."""

from __future__ import annotations

from typing import Any

from outcrop.services.base import RequestContext
from outcrop.services.frauddetector.common import (
    Base,
    ConflictException,
    ResourceNotFoundException,
    ValidationException,
    stamped,
    tag_map,
)
from outcrop.services.frauddetector.rules import Node, RuleSyntaxError, parse

_BOOLEAN_OPS = {"and", "or", "not", "in", "notin", "==", "!=", ">", ">=", "<", "<="}


class Detectors(Base):
    # detectors
    def put_detector(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        detector_id = params["detectorId"]
        self._need("event_type", params["eventTypeName"], "event type")
        found = self.store.get("detector", detector_id)
        if found and found.body["eventTypeName"] != params["eventTypeName"]:
            raise ValidationException(
                f"The detector {detector_id} evaluates {found.body['eventTypeName']} events"
            )
        tags = tag_map(params.get("tags"))
        body = {"detectorId": detector_id, "eventTypeName": params["eventTypeName"]}
        self.store.put("detector", detector_id, body | {"description": params.get("description", "")})
        if tags:
            self.store.set_tags(self._arn(ctx, f"detector/{detector_id}"), tags)
        return {}

    def get_detectors(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        found = (
            [self._need("detector", params["detectorId"], "detector")]
            if params.get("detectorId")
            else self.store.scan("detector")
        )
        items = [
            {k: v for k, v in d.body.items() if v != ""}
            | stamped(d)
            | {"arn": self._arn(ctx, f"detector/{d.key}")}
            for d in found
        ]
        return self._page(items, params, "detectors")

    def describe_detector(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        detector_id = params["detectorId"]
        self._need("detector", detector_id, "detector")
        versions = sorted(
            self.store.scan("detector_version", detector_id + "/"),
            key=lambda v: int(v.body["detectorVersionId"]),
        )
        summaries = [
            {k: v.body[k] for k in ("detectorVersionId", "status", "description") if v.body.get(k)}
            | {"lastUpdatedTime": stamped(v)["lastUpdatedTime"]}
            for v in versions
        ]
        output = self._page(summaries, params, "detectorVersionSummaries")
        return output | {"detectorId": detector_id, "arn": self._arn(ctx, f"detector/{detector_id}")}

    def delete_detector(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        detector_id = params["detectorId"]
        if self.store.scan("detector_version", detector_id + "/"):
            raise ConflictException(f"The detector {detector_id} has detector versions: delete them first")
        if self.store.scan("rule", detector_id + "/"):
            raise ConflictException(f"The detector {detector_id} has rules: delete them first")
        self.store.delete("detector", detector_id)
        return {}

    # rules
    def _check_expression(self, detector_id: str, expression: str, outcomes: list[str]) -> None:
        detector = self._need("detector", detector_id, "detector").body
        event_type = self._need("event_type", detector["eventTypeName"], "event type").body
        try:
            rule = parse(expression)
        except RuleSyntaxError as error:
            raise ValidationException(f"Rule expression is invalid: {error}") from None
        known = set(event_type["eventVariables"]) | {
            f"{m.body['modelId']}_insightscore"
            for m in self.store.scan("model")
            if m.body["eventTypeName"] == detector["eventTypeName"]
        }
        unknown = [name for name in rule.variables if name not in known]
        if unknown:
            raise ValidationException(
                f"Rule expression is invalid: ${unknown[0]} is not a variable of the event type "
                f"{detector['eventTypeName']} or a score of its models"
            )
        missing = [name for name in rule.lists if self.store.get("list", name) is None]
        if missing:
            raise ValidationException(f"Rule expression is invalid: the list @{missing[0]} does not exist")
        if not self._boolean(rule.tree):
            raise ValidationException("Rule expression is invalid: it must evaluate to true or false")
        for outcome in outcomes:
            if self.store.get("outcome", outcome) is None:
                raise ValidationException(f"The outcome {outcome} does not exist")

    def _boolean(self, node: Node) -> bool:
        if node.op in _BOOLEAN_OPS:
            return True
        if node.op == "lit":
            return isinstance(node.args[0], bool)
        if node.op == "call":
            return bool(node.args[0] == "regex_match")
        if node.op == "var":
            variable = self.store.get("variable", node.args[0])
            return variable is not None and variable.body["dataType"] == "BOOLEAN"
        return False

    def _rule_body(
        self, params: dict[str, Any], detector_id: str, rule_id: str, version: int
    ) -> dict[str, Any]:
        return {
            "detectorId": detector_id,
            "ruleId": rule_id,
            "ruleVersion": str(version),
            "expression": params["expression"],
            "language": params["language"],
            "outcomes": list(dict.fromkeys(params["outcomes"])),
            "description": params.get("description", ""),
        }

    def create_rule(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        detector_id, rule_id = params["detectorId"], params["ruleId"]
        self._check_expression(detector_id, params["expression"], params["outcomes"])
        tags = tag_map(params.get("tags"))
        if not self.store.create(
            "rule", f"{detector_id}/{rule_id}/1", self._rule_body(params, detector_id, rule_id, 1)
        ):
            raise ValidationException(f"The rule {rule_id} already exists in the detector {detector_id}")
        if tags:
            self.store.set_tags(self._arn(ctx, f"rule/{detector_id}/{rule_id}/1"), tags)
        return {"rule": {"detectorId": detector_id, "ruleId": rule_id, "ruleVersion": "1"}}

    def get_rules(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        detector_id = params["detectorId"]
        self._need("detector", detector_id, "detector")
        prefix = f"{detector_id}/{params['ruleId']}/" if params.get("ruleId") else f"{detector_id}/"
        found = self.store.scan("rule", prefix)
        if params.get("ruleVersion"):
            found = [r for r in found if r.body["ruleVersion"] == params["ruleVersion"]]
        if params.get("ruleId") and not found:
            raise ResourceNotFoundException(f"The rule {params['ruleId']} does not exist")
        found.sort(key=lambda r: (r.body["ruleId"], int(r.body["ruleVersion"])))
        items = [
            {k: v for k, v in r.body.items() if v != ""}
            | stamped(r)
            | {"arn": self._arn(ctx, f"rule/{r.key}")}
            for r in found
        ]
        return self._page(items, params, "ruleDetails")

    def update_rule_version(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        detector_id, rule_id = params["rule"]["detectorId"], params["rule"]["ruleId"]
        self._need("rule", f"{detector_id}/{rule_id}/{params['rule']['ruleVersion']}", "rule")
        self._check_expression(detector_id, params["expression"], params["outcomes"])
        versions = self.store.scan("rule", f"{detector_id}/{rule_id}/")
        number = max(int(r.body["ruleVersion"]) for r in versions) + 1
        self.store.put(
            "rule", f"{detector_id}/{rule_id}/{number}", self._rule_body(params, detector_id, rule_id, number)
        )
        tags = tag_map(params.get("tags"))
        if tags:
            self.store.set_tags(self._arn(ctx, f"rule/{detector_id}/{rule_id}/{number}"), tags)
        return {"rule": {"detectorId": detector_id, "ruleId": rule_id, "ruleVersion": str(number)}}

    def update_rule_metadata(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        rule = params["rule"]
        key = f"{rule['detectorId']}/{rule['ruleId']}/{rule['ruleVersion']}"
        self._need("rule", key, "rule")
        self.store.update("rule", key, {"description": params["description"]})
        return {}

    def delete_rule(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        rule = params["rule"]
        key = f"{rule['detectorId']}/{rule['ruleId']}/{rule['ruleVersion']}"
        for version in self.store.scan("detector_version", rule["detectorId"] + "/"):
            used = any(
                f"{r['detectorId']}/{r['ruleId']}/{r['ruleVersion']}" == key for r in version.body["rules"]
            )
            if used and version.body["status"] in ("ACTIVE", "INACTIVE"):
                raise ConflictException(
                    f"The rule is used by the {version.body['status']} detector version {version.key}"
                )
        self.store.delete("rule", key)
        return {}

    # detector versions
    def _version_parts(self, detector_id: str, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("externalModelEndpoints"):
            raise ValidationException(
                "Outcrop does not serve external (SageMaker) model endpoints in detectors"
            )
        rules = params["rules"]
        if not rules:
            raise ValidationException("A detector version needs at least one rule")
        for rule in rules:
            if rule["detectorId"] != detector_id:
                raise ValidationException(f"The rule {rule['ruleId']} belongs to another detector")
            self._need("rule", f"{detector_id}/{rule['ruleId']}/{rule['ruleVersion']}", "rule")
        if len({r["ruleId"] for r in rules}) != len(rules):
            raise ValidationException("A detector version can hold one version of each rule")
        event_type = self._need("detector", detector_id, "detector").body["eventTypeName"]
        models = []
        for model in params.get("modelVersions") or []:
            key = f"{model['modelId']}/{model['modelType']}/{model['modelVersionNumber']}"
            version = self._need("model_version", key, "model version").body
            if version["status"] != "ACTIVE":
                raise ValidationException(
                    f"The model version {key.replace('/', ' ')} is {version['status']}, not ACTIVE"
                )
            if version["eventTypeName"] != event_type:
                raise ValidationException(f"The model {model['modelId']} is trained for another event type")
            models.append({k: model[k] for k in ("modelId", "modelType", "modelVersionNumber")})
        return {
            "rules": [{k: r[k] for k in ("detectorId", "ruleId", "ruleVersion")} for r in rules],
            "modelVersions": models,
            "ruleExecutionMode": params.get("ruleExecutionMode") or "FIRST_MATCHED",
            "externalModelEndpoints": [],
            "description": params.get("description", ""),
        }

    def create_detector_version(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        detector_id = params["detectorId"]
        parts = self._version_parts(detector_id, params)
        tags = tag_map(params.get("tags"))
        existing = self.store.scan("detector_version", detector_id + "/")
        number = str(max((int(v.body["detectorVersionId"]) for v in existing), default=0) + 1)
        body = parts | {"detectorId": detector_id, "detectorVersionId": number, "status": "DRAFT"}
        self.store.put("detector_version", f"{detector_id}/{number}", body)
        if tags:
            self.store.set_tags(self._arn(ctx, f"detector-version/{detector_id}/{number}"), tags)
        return {"detectorId": detector_id, "detectorVersionId": number, "status": "DRAFT"}

    def _detector_version(self, detector_id: str, version: str) -> dict[str, Any]:
        found = self.store.get("detector_version", f"{detector_id}/{version}")
        if found is None:
            raise ResourceNotFoundException(f"The detector version {detector_id} {version} does not exist")
        return found.body | stamped(found)

    def get_detector_version(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        body = self._detector_version(params["detectorId"], params["detectorVersionId"])
        arn = self._arn(ctx, f"detector-version/{params['detectorId']}/{params['detectorVersionId']}")
        return {k: v for k, v in body.items() if v != ""} | {"arn": arn}

    def update_detector_version(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        detector_id, version = params["detectorId"], params["detectorVersionId"]
        if self._detector_version(detector_id, version)["status"] != "DRAFT":
            raise ConflictException("Only a DRAFT detector version can be updated")
        self.store.update(
            "detector_version", f"{detector_id}/{version}", self._version_parts(detector_id, params)
        )
        return {}

    def update_detector_version_metadata(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._detector_version(params["detectorId"], params["detectorVersionId"])
        key = f"{params['detectorId']}/{params['detectorVersionId']}"
        self.store.update("detector_version", key, {"description": params["description"]})
        return {}

    def update_detector_version_status(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        detector_id, version, wanted = params["detectorId"], params["detectorVersionId"], params["status"]
        status = self._detector_version(detector_id, version)["status"]
        allowed = {
            "ACTIVE": ("DRAFT", "INACTIVE", "ACTIVE"),
            "INACTIVE": ("ACTIVE", "INACTIVE"),
            "DRAFT": ("DRAFT",),
        }
        if status not in allowed[wanted]:
            raise ValidationException(f"A detector version that is {status} cannot become {wanted}")
        if wanted == "ACTIVE":  # one ACTIVE version per detector: the one it replaces becomes INACTIVE
            for other in self.store.scan("detector_version", detector_id + "/"):
                if other.body["status"] == "ACTIVE" and other.body["detectorVersionId"] != version:
                    self.store.update("detector_version", other.key, {"status": "INACTIVE"})
        self.store.update("detector_version", f"{detector_id}/{version}", {"status": wanted})
        return {}

    def delete_detector_version(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        body = self._detector_version(params["detectorId"], params["detectorVersionId"])
        if body["status"] == "ACTIVE":
            raise ConflictException("An ACTIVE detector version cannot be deleted: make it INACTIVE first")
        self.store.delete("detector_version", f"{params['detectorId']}/{params['detectorVersionId']}")
        return {}
