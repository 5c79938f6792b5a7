"""Target tracking for SageMaker endpoint variants: the instance count follows InvocationsPerInstance.

Every TICK_S seconds the scaler reads each tracked variant's Invocations (the hosting seam's metrics) and
turns the count over the last WINDOW_S seconds into invocations per minute per instance, the unit of
SageMakerVariantInvocationsPerInstance. The instances that would bring it to the policy's TargetValue,
ceil(rate / target), within the target's MinCapacity..MaxCapacity, become the variant's instance count
(scale-out and scale-in each wait out their cooldown; DisableScaleIn and the suspended states are honoured).
AWS evaluates one-minute CloudWatch datapoints; a shorter window here makes a change visible in seconds.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from typing import Any

from outcrop.services.application_autoscaling.store import Key, ScalingStore
from outcrop.services.sagemaker.hosting import EndpointHosting
from outcrop.services.sagemaker.hosting_state import Where

log = logging.getLogger("outcrop.autoscaling")

TICK_S = 2.0
WINDOW_S = 20.0
DEFAULT_COOLDOWN_S = 300.0  # SageMaker's default ScaleInCooldown and ScaleOutCooldown


def variant_of(resource_id: str) -> tuple[str, str] | None:
    """(endpoint, variant) of `endpoint/<name>/variant/<variant>`."""
    parts = resource_id.split("/")
    if len(parts) != 4 or parts[0] != "endpoint" or parts[2] != "variant" or not parts[1] or not parts[3]:
        return None
    return parts[1], parts[3]


def where_of(arn: str) -> Where:
    """The (account, region) in a target's or policy's ARN: where the request that made it was."""
    fields = arn.split(":")
    return (fields[4], fields[3]) if len(fields) > 4 else ("", "")


class Scaler:
    def __init__(self, store: ScalingStore, hosting: EndpointHosting) -> None:
        self.store = store
        self.hosting = hosting
        self._samples: dict[Key, deque[tuple[float, float]]] = {}
        self._last_scaled: dict[tuple[Key, str], float] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()  # one change of a variant at a time
        self._thread = threading.Thread(target=self._loop, name="outcrop-autoscaling", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop, and wait for a tick under way: the store closes next, and closing a connection another
        thread is reading through crashes the process (a CI run died so)."""
        self._stop.set()
        self._thread.join(timeout=60)

    def _loop(self) -> None:
        while not self._stop.wait(TICK_S):
            try:
                self.tick()
            except Exception:  # the scaler must keep running whatever one target does
                log.exception("auto scaling tick failed")

    def tick(self) -> None:
        targets = {
            (t["ServiceNamespace"], t["ResourceId"], t["ScalableDimension"]): t
            for t in self.store.targets("sagemaker")
        }
        policies: dict[Key, list[dict[str, Any]]] = {}
        for policy in self.store.policies("sagemaker"):
            key = (policy["ServiceNamespace"], policy["ResourceId"], policy["ScalableDimension"])
            policies.setdefault(key, []).append(policy)
        for key in list(self._samples):
            if key not in policies:
                del self._samples[key]
        for key, chosen in policies.items():
            target = targets.get(key)
            if target is not None:
                self._track(key, target, chosen)

    def _track(self, key: Key, target: dict[str, Any], policies: list[dict[str, Any]]) -> None:
        found = variant_of(key[1])
        if found is None:
            return
        endpoint, variant = found
        where = where_of(target["ScalableTargetARN"])
        current = self.hosting.instance_counts(endpoint, where=where).get(variant)
        if current is None:
            return
        now = time.time()
        total = sum(
            b.sum
            for _, b in self.hosting.metric_series(endpoint, variant, "Invocations", 0, now + 60, where=where)
        )
        samples = self._samples.setdefault(key, deque())
        samples.append((now, total))
        while samples and now - samples[0][0] > WINDOW_S:
            samples.popleft()
        if now - samples[0][0] < WINDOW_S / 2:
            return  # not enough history yet to judge the load
        per_minute = (total - samples[0][1]) / (now - samples[0][0]) * 60
        suspended = target.get("SuspendedState") or {}
        wanted: list[tuple[int, dict[str, Any]]] = []
        for policy in policies:
            config = policy["TargetTrackingScalingPolicyConfiguration"]
            desired = max(1, math.ceil(per_minute / float(config["TargetValue"])))
            wanted.append((desired, policy))
        desired, policy = max(wanted, key=lambda w: w[0])  # the policy asking for most capacity wins
        config = policy["TargetTrackingScalingPolicyConfiguration"]
        desired = min(max(desired, int(target["MinCapacity"])), int(target["MaxCapacity"]))
        if desired == current:
            return
        out = desired > current
        if out and suspended.get("DynamicScalingOutSuspended"):
            return
        if not out and (suspended.get("DynamicScalingInSuspended") or config.get("DisableScaleIn")):
            return
        cooldown = float(config.get("ScaleOutCooldown" if out else "ScaleInCooldown", DEFAULT_COOLDOWN_S))
        if now - self._last_scaled.get((key, "out" if out else "in"), 0.0) < cooldown:
            return
        metric = per_minute / current
        cause = (
            f"monitor alarm TargetTracking-{key[1]}-Alarm{'High' if out else 'Low'} in state ALARM triggered "
            f"policy {policy['PolicyName']} (InvocationsPerInstance {metric:.1f} per minute, target "
            f"{float(config['TargetValue']):g})"
        )
        self.set_capacity(key, (endpoint, variant), current, desired, cause, where)
        self._last_scaled[(key, "out" if out else "in")] = time.time()

    def set_capacity(
        self, key: Key, found: tuple[str, str], current: int, desired: int, cause: str, where: Where
    ) -> None:
        """Change the instance count of the variant `found` (endpoint, variant) of the endpoint in `where`
        (account, region), and record the scaling activity."""
        endpoint, variant = found
        started = time.time()
        status, message = "Successful", "Successfully set desired instance count to " + str(desired)
        with self._lock:
            try:
                self.hosting.scale(endpoint, variant, desired, where=where)
            except Exception as exc:
                status, message = "Failed", f"Failed to set desired instance count to {desired}: {exc}"
        log.info("auto scaling %s: %d -> %d instances (%s)", key[1], current, desired, status)
        self.store.add_activity(
            key,
            {
                "ServiceNamespace": key[0],
                "ResourceId": key[1],
                "ScalableDimension": key[2],
                "Description": f"Setting desired instance count to {desired}.",
                "Cause": cause,
                "StartTime": started,
                "EndTime": time.time(),
                "StatusCode": status,
                "StatusMessage": message[:1024],
            },
        )
