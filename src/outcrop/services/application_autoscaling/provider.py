"""Application Auto Scaling for SageMaker endpoint variants: scalable targets, target tracking policies on
SageMakerVariantInvocationsPerInstance, and the activities of the scaler (`scaler.Scaler`) that applies them.

Other namespaces, step scaling, predictive scaling, customized metrics and scheduled actions are refused
with a ValidationException that says so.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from outcrop.protocol.errors import ServiceError
from outcrop.services.application_autoscaling.scaler import Scaler, variant_of, where_of
from outcrop.services.application_autoscaling.store import Key, ScalingStore
from outcrop.services.base import RequestContext, Service
from outcrop.services.paging import Pager
from outcrop.services.sagemaker.hosting import EndpointHosting

NAMESPACE = "sagemaker"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
METRIC = "SageMakerVariantInvocationsPerInstance"


class ValidationException(ServiceError, service="application-autoscaling"): ...


class ObjectNotFoundException(ServiceError, service="application-autoscaling"): ...


class InvalidNextTokenException(ServiceError, service="application-autoscaling"): ...


_PAGES = Pager(InvalidNextTokenException, "The NextToken is not valid.", default=50)


class ApplicationAutoScaling(Service):
    service_name = "application-autoscaling"

    def __init__(self, *, sagemaker_hosting: EndpointHosting, data_path: Callable[..., Path]) -> None:
        """Targets and policies live under the data dir; the scaler changes variants through `hosting`."""
        self.hosting = sagemaker_hosting
        self.store = ScalingStore(data_path("application-autoscaling"))
        self.scaler = Scaler(self.store, sagemaker_hosting)

    def close(self) -> None:
        self.scaler.close()
        self.store.close()

    def _key(self, params: dict[str, Any]) -> Key:
        namespace, resource, dimension = (
            params["ServiceNamespace"],
            params["ResourceId"],
            params["ScalableDimension"],
        )
        if namespace != NAMESPACE:
            raise ValidationException(
                f"Outcrop scales SageMaker endpoint variants only; ServiceNamespace {namespace} is not "
                "served."
            )
        if dimension != DIMENSION:
            raise ValidationException(
                f"Unsupported scalable dimension '{dimension}' for service namespace 'sagemaker'; use "
                f"{DIMENSION}."
            )
        if variant_of(resource) is None:
            raise ValidationException(
                f"Unsupported resource ID '{resource}': a SageMaker variant is "
                "endpoint/<endpoint>/variant/<variant>."
            )
        return namespace, resource, dimension

    @staticmethod
    def _mine(ctx: RequestContext, arn: str) -> bool:
        """Whether a target or policy (by its ARN, made from the request that registered it) is of the
        request's account and region: another region's is neither listed nor found."""
        return where_of(arn) == (ctx.account_id, ctx.region)

    def _target(self, ctx: RequestContext, key: Key) -> dict[str, Any] | None:
        target = self.store.target(key)
        return target if target is not None and self._mine(ctx, target["ScalableTargetARN"]) else None

    def _here(self, ctx: RequestContext, resource_id: str) -> bool:
        """Whether a variant's activities are the request's: its endpoint (or last target) is there."""
        endpoint = (variant_of(resource_id) or ("", ""))[0]
        if self.hosting.located(endpoint, where=(ctx.account_id, ctx.region)) is not None:
            return True
        targets = self.store.targets(NAMESPACE)
        return any(
            t["ResourceId"] == resource_id and self._mine(ctx, t["ScalableTargetARN"]) for t in targets
        )

    def _namespace(self, params: dict[str, Any]) -> None:
        if params["ServiceNamespace"] != NAMESPACE:
            raise ValidationException(
                f"Outcrop scales SageMaker endpoint variants only; ServiceNamespace "
                f"{params['ServiceNamespace']} is not served."
            )

    # -- scalable targets ------------------------------------------------------------------------------------

    def register_scalable_target(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key = self._key(params)
        endpoint, variant = variant_of(key[1]) or ("", "")
        where = (ctx.account_id, ctx.region)
        current = self.hosting.instance_counts(endpoint, where=where).get(variant)
        if current is None:
            raise ValidationException(f"The endpoint variant {key[1]} does not exist or is not in service.")
        existing = self.store.target(key)
        if existing is not None and not self._mine(ctx, existing["ScalableTargetARN"]):
            raise ValidationException(
                f"Outcrop keeps one scalable target per resource ID across regions: {key[1]} is registered "
                f"in {where_of(existing['ScalableTargetARN'])[1]}; deregister it there first."
            )
        if existing is None and ("MinCapacity" not in params or "MaxCapacity" not in params):
            raise ValidationException(
                "MinCapacity and MaxCapacity are required to register a new scalable target."
            )
        body = existing or {
            "ServiceNamespace": key[0],
            "ResourceId": key[1],
            "ScalableDimension": key[2],
            "CreationTime": time.time(),
            "ScalableTargetARN": ctx.arn(
                "application-autoscaling", f"scalable-target/{uuid.uuid4().hex[:4]}{uuid.uuid4().hex[:24]}"
            ),
            "SuspendedState": {
                "DynamicScalingInSuspended": False,
                "DynamicScalingOutSuspended": False,
                "ScheduledScalingSuspended": False,
            },
        }
        for member in ("MinCapacity", "MaxCapacity", "RoleARN"):
            if member in params:
                body[member] = params[member]
        body.setdefault(
            "RoleARN",
            ctx.arn(
                "iam",
                "role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
                "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint",
                region="",
            ),
        )
        if params.get("SuspendedState"):
            body["SuspendedState"] = {**body["SuspendedState"], **params["SuspendedState"]}
        low, high = int(body["MinCapacity"]), int(body["MaxCapacity"])
        if low < 1 or high < low:
            raise ValidationException(
                f"Invalid capacities: MinCapacity {low} must be at least 1 and at most MaxCapacity {high}."
            )
        self.store.put_target(key, body)
        if not low <= current <= high:  # a registered target is brought within its range at once
            desired = min(max(current, low), high)
            cause = f"user request to update scalable target capacity range to {low}..{high}"
            self.scaler.set_capacity(key, (endpoint, variant), current, desired, cause, where)
        return {"ScalableTargetARN": body["ScalableTargetARN"]}

    def describe_scalable_targets(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._namespace(params)
        wanted = set(params.get("ResourceIds") or [])
        targets = [
            t
            for t in self.store.targets(NAMESPACE)
            if (not wanted or t["ResourceId"] in wanted)
            and self._mine(ctx, t["ScalableTargetARN"])
            and params.get("ScalableDimension") in (None, t["ScalableDimension"])
        ]
        page, token = _PAGES.page(targets, params)
        return {"ScalableTargets": page, "NextToken": token}

    def deregister_scalable_target(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key = self._key(params)
        if self._target(ctx, key) is None or not self.store.delete_target(key):
            raise ObjectNotFoundException(
                f"No scalable target registered for service namespace: sagemaker, "
                f"resource ID: {key[1]}, scalable dimension: {key[2]}"
            )
        return {}

    # -- policies --------------------------------------------------------------------------------------------

    def put_scaling_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key = self._key(params)
        if self._target(ctx, key) is None:
            raise ObjectNotFoundException(
                f"No scalable target registered for service namespace: sagemaker, resource ID: {key[1]}, "
                f"scalable dimension: {key[2]}"
            )
        kind = params.get("PolicyType") or "StepScaling"
        if kind != "TargetTrackingScaling":
            raise ValidationException(
                f"PolicyType {kind} is not supported by Outcrop; use TargetTrackingScaling on {METRIC}."
            )
        config = params.get("TargetTrackingScalingPolicyConfiguration")
        if not config:
            raise ValidationException(
                "TargetTrackingScalingPolicyConfiguration is required for TargetTrackingScaling."
            )
        predefined = (config.get("PredefinedMetricSpecification") or {}).get("PredefinedMetricType")
        if config.get("CustomizedMetricSpecification") or predefined != METRIC:
            raise ValidationException(
                f"Outcrop tracks the predefined metric {METRIC} only, not "
                f"{predefined or 'a customized metric'}."
            )
        if float(config["TargetValue"]) <= 0:
            raise ValidationException("TargetValue must be greater than 0.")
        for cooldown in ("ScaleInCooldown", "ScaleOutCooldown"):
            if int(config.get(cooldown, 0)) < 0:
                raise ValidationException(f"{cooldown} must be 0 or more seconds.")
        name = params["PolicyName"]
        policy_id = uuid.uuid4()
        arn = ctx.arn(
            "autoscaling",
            f"scalingPolicy:{policy_id}:resource/sagemaker/{key[1]}:policyName/{name}",
        )
        alarms = [
            {
                "AlarmName": f"TargetTracking-{key[1]}-Alarm{side}-{uuid.uuid4()}",
                "AlarmARN": ctx.arn("cloudwatch", f"alarm:TargetTracking-{key[1]}-Alarm{side}-{policy_id}"),
            }
            for side in ("High", "Low")
        ]
        body = {
            "PolicyARN": arn,
            "PolicyName": name,
            "ServiceNamespace": key[0],
            "ResourceId": key[1],
            "ScalableDimension": key[2],
            "PolicyType": kind,
            "TargetTrackingScalingPolicyConfiguration": config,
            "Alarms": alarms,
            "CreationTime": time.time(),
        }
        self.store.put_policy(key, name, body)
        return {"PolicyARN": arn, "Alarms": alarms}

    def describe_scaling_policies(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._namespace(params)
        names = set(params.get("PolicyNames") or [])
        policies = [
            p
            for p in self.store.policies(NAMESPACE)
            if (not names or p["PolicyName"] in names)
            and self._mine(ctx, p["PolicyARN"])
            and params.get("ResourceId") in (None, p["ResourceId"])
            and params.get("ScalableDimension") in (None, p["ScalableDimension"])
        ]
        page, token = _PAGES.page(policies, params)
        return {"ScalingPolicies": page, "NextToken": token}

    def delete_scaling_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        key = self._key(params)
        mine = any(
            self._mine(ctx, p["PolicyARN"])
            for p in self.store.policies(NAMESPACE)
            if (p["ResourceId"], p["ScalableDimension"], p["PolicyName"])
            == (key[1], key[2], params["PolicyName"])
        )
        if not mine or not self.store.delete_policy(key, params["PolicyName"]):
            raise ObjectNotFoundException(
                f"No scaling policy found for service namespace: sagemaker, resource ID: {key[1]}, scalable "
                f"dimension: {key[2]}, policy name: {params['PolicyName']}"
            )
        return {}

    def describe_scaling_activities(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self._namespace(params)
        if params.get("IncludeNotScaledActivities"):
            raise ValidationException("IncludeNotScaledActivities is not supported by Outcrop.")
        activities = [
            a
            for a in self.store.activities(NAMESPACE)
            if self._here(ctx, a["ResourceId"])
            and params.get("ResourceId") in (None, a["ResourceId"])
            and params.get("ScalableDimension") in (None, a["ScalableDimension"])
        ]
        page, token = _PAGES.page(activities, params)
        return {"ScalingActivities": page, "NextToken": token}
