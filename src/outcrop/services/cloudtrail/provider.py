"""AWS CloudTrail (`cloudtrail`): the record of every API call (`observe_call`, which the gateway calls for
each answered call), LookupEvents over it, and trails that deliver it to S3 (see `outcrop.audit`).

Records are appended in the background; LookupEvents first waits for those already queued, so a call
answered before the lookup is found by it (AWS takes minutes). Not served: digest files (log file
validation), SNS and CloudWatch Logs delivery, event selectors (trails deliver management events), Lake.
As on AWS, LookupEvents answers the calls made in the request's region, and a trail lives in its home
region: by name it is found there only, except a multi-Region trail's shadow, seen (not changed) from the
other regions; by ARN from any region.
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from outcrop.audit.trail import AuditTrail
from outcrop.audit.trails import Trail
from outcrop.config import Settings
from outcrop.kms.keys import Keyring, KmsError
from outcrop.protocol.calls import ApiCall
from outcrop.services.base import RequestContext, Service
from outcrop.services.cloudtrail.errors import (
    InvalidEventCategoryException,
    InvalidHomeRegionException,
    InvalidLookupAttributesException,
    InvalidNextTokenException,
    InvalidTimeRangeException,
    InvalidTrailNameException,
    KmsKeyNotFoundException,
    S3BucketDoesNotExistException,
    TrailAlreadyExistsException,
    TrailNotFoundException,
    UnsupportedOperationException,
)
from outcrop.services.cloudtrail.records import Identity, build
from outcrop.services.paging import Pager
from outcrop.services.unserved import unserved
from outcrop.storage.objects import ObjectStore, StoreError

if TYPE_CHECKING:
    from outcrop.iam.store import IamStore

_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|[._-](?![._-])){1,126}[A-Za-z0-9]$")
_PAGES = Pager(InvalidNextTokenException, "Invalid NextToken.", default=50, maximum=50)
_KINDS = {"user": "IAMUser", "assumed-role": "AssumedRole", "root": "Root", "service": "AWSService"}
_UNSERVED = {  # members a trail here cannot honour, as its refusal names them
    "SnsTopicName": "SnsTopicName",
    "CloudWatchLogsLogGroupArn": "CloudWatchLogsLogGroupArn",
    "CloudWatchLogsRoleArn": "CloudWatchLogsRoleArn",
    "EnableLogFileValidation": "EnableLogFileValidation (digest files)",
    "IsOrganizationTrail": "IsOrganizationTrail",
    "TagsList": "TagsList (trail tags)",
}


class CloudTrail(Service):
    service_name = "cloudtrail"

    def __init__(
        self, *, audit: AuditTrail, objects: ObjectStore, kms: Keyring, iam: IamStore, settings: Settings
    ) -> None:
        self.audit = audit
        self.objects = objects
        self.kms = kms
        self.iam = iam
        self.account = settings.account_id

    # -- recording ----------------------------------------------------------------------------------------

    def observe_call(self, call: ApiCall) -> None:
        """Called on the event loop for each answered call: queue it, build its record later."""
        self.audit.events.submit(lambda: build(call, self.account, self._identity(call.access_key)))

    def _identity(self, access_key: str) -> Identity:
        record = self.iam.resolve(access_key) if access_key.startswith(("AKIA", "ASIA")) else None
        if record is None or record.principal.kind == "root":
            root = f"arn:aws:iam::{self.account}:root"
            return Identity("Root", self.account, root, self.account, "root")
        principal = record.principal
        kind = _KINDS.get(principal.kind, "IAMUser")
        if kind == "AssumedRole":
            session = principal.arn.rsplit("/", 1)[-1]
            return Identity(
                kind, principal.user_id, principal.arn, principal.account, session, principal.role_arn
            )
        return Identity(kind, principal.user_id, principal.arn, principal.account, principal.name)

    # -- event history ------------------------------------------------------------------------------------

    def lookup_events(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("EventCategory") not in (None, ""):
            raise InvalidEventCategoryException(
                "Outcrop records no Insights events: the category must be absent."
            )
        attributes = params.get("LookupAttributes") or []
        if len(attributes) > 1:
            raise InvalidLookupAttributesException("You cannot specify more than one lookup attribute.")
        attribute = (attributes[0]["AttributeKey"], attributes[0]["AttributeValue"]) if attributes else None
        start, end = params.get("StartTime"), params.get("EndTime")
        if start is not None and end is not None and start > end:
            raise InvalidTimeRangeException("Start time must be before the end time.")
        after = _PAGES.after(params)
        if after is not None and not after.isdigit():
            raise InvalidNextTokenException("Invalid NextToken.")
        self.audit.events.flush()
        limit = _PAGES.limit(params)
        found = self.audit.events.lookup(
            attribute=attribute,
            start=start.timestamp() if start else None,
            end=end.timestamp() if end else None,
            before_seq=int(after) if after else None,
            limit=limit + 1,
            region=ctx.region,
        )
        page = found[:limit]
        out: dict[str, Any] = {"Events": [_event(stored.record, stored.resources) for stored in page]}
        if len(found) > limit:
            out["NextToken"] = _PAGES.key_token(str(page[-1].seq))
        return out

    # -- trails -------------------------------------------------------------------------------------------

    def create_trail(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["Name"]
        if not _NAME.match(name):
            raise InvalidTrailNameException(
                "Trail name must be 3 to 128 letters, numbers, periods, underscores or dashes, start and end "
                "with a letter or number, and have no adjacent periods, underscores or dashes."
            )
        self._refuse_unserved(params)
        self._require_bucket(params["S3BucketName"])
        kms_key = self._kms_key(ctx, params.get("KmsKeyId"))
        trail = Trail(
            name=name,
            arn=ctx.arn("cloudtrail", f"trail/{name}"),
            home_region=ctx.region,
            bucket=params["S3BucketName"],
            prefix=params.get("S3KeyPrefix") or None,
            multi_region=bool(params.get("IsMultiRegionTrail")),
            global_events=params.get("IncludeGlobalServiceEvents", True) is not False,
            validation=False,
            kms_key=kms_key,
            logging=False,
            delivered_seq=0,
            started=None,
            stopped=None,
            delivered=None,
            attempted=None,
            error=None,
            created=time.time(),
            account=ctx.account_id,
        )
        if not self.audit.trails.insert(trail):
            raise TrailAlreadyExistsException(f"Trail {name} already exists for customer: {ctx.account_id}")
        return _trail_output(trail)

    def update_trail(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        trail = self._home_trail(ctx, params["Name"])
        self._refuse_unserved(params)
        changes: dict[str, Any] = {}
        if params.get("S3BucketName"):
            self._require_bucket(params["S3BucketName"])
            changes["bucket"] = params["S3BucketName"]
        if "S3KeyPrefix" in params:
            changes["prefix"] = params["S3KeyPrefix"] or None
        if params.get("IsMultiRegionTrail") is not None:
            changes["multi_region"] = int(params["IsMultiRegionTrail"])
            others = [t for t in self.audit.trails.named(trail.account, trail.name) if t.arn != trail.arn]
            if params["IsMultiRegionTrail"] and others:
                raise TrailAlreadyExistsException(
                    f"Trail {trail.name} already exists in {others[0].home_region}: a multi-Region trail's "
                    "name must be free in every Region."
                )
        if params.get("IncludeGlobalServiceEvents") is not None:
            changes["global_events"] = int(params["IncludeGlobalServiceEvents"])
        if "KmsKeyId" in params:
            changes["kms_key"] = self._kms_key(ctx, params["KmsKeyId"])
        if changes:
            self.audit.trails.update(trail.arn, **changes)
        return _trail_output(self._trail(ctx, trail.arn))

    def get_trail(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"Trail": _trail_output(self._trail(ctx, params["Name"]), full=True)}

    def describe_trails(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """Names match the region's own trails; ARNs any of the account's; no list: the region's trails
        and, unless includeShadowTrails is false, the shadows of other regions' multi-Region trails."""
        names = params.get("trailNameList") or []
        shadows = params.get("includeShadowTrails", True) is not False
        trails = [
            t
            for t in self.audit.trails.all(ctx.account_id)
            if (t.arn in names or (t.name in names and t.home_region == ctx.region))
            or (not names and (t.home_region == ctx.region or (t.multi_region and shadows)))
        ]
        return {"trailList": [_trail_output(t, full=True) for t in trails]}

    def list_trails(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        trails = self.audit.trails.all(ctx.account_id)  # every region's, each with its HomeRegion
        return {"Trails": [{"TrailARN": t.arn, "Name": t.name, "HomeRegion": t.home_region} for t in trails]}

    def delete_trail(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.audit.trails.delete(self._home_trail(ctx, params["Name"]).arn)
        return {}

    def start_logging(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        trail = self._home_trail(ctx, params["Name"])
        if not trail.logging:
            self.audit.events.flush()  # deliver only what happens from now on
            seq = self.audit.events.last_seq()
            self.audit.trails.update(trail.arn, logging=1, started=time.time(), delivered_seq=seq)
        return {}

    def stop_logging(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        trail = self._home_trail(ctx, params["Name"])
        if trail.logging:
            self.audit.delivery.deliver(trail.arn)
            self.audit.trails.update(trail.arn, logging=0, stopped=time.time())
        return {}

    def get_trail_status(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        trail = self._trail(ctx, params["Name"], shadow_by_name=False)
        attempted = _when(trail.attempted)
        return {
            "IsLogging": trail.logging,
            "LatestDeliveryTime": _when(trail.delivered),
            "LatestDeliveryError": trail.error,
            "StartLoggingTime": _when(trail.started),
            "StopLoggingTime": _when(trail.stopped),
            "LatestDeliveryAttemptTime": _text(attempted),
            "LatestDeliveryAttemptSucceeded": _text(_when(trail.delivered) if trail.error is None else None),
            "TimeLoggingStarted": _text(_when(trail.started)),
            "TimeLoggingStopped": _text(_when(trail.stopped)),
        }

    # -- helpers ------------------------------------------------------------------------------------------

    def _trail(self, ctx: RequestContext, name: str, *, shadow_by_name: bool = True) -> Trail:
        """The trail a name or ARN gives from the request's region: by ARN, one of the account's trails in
        that region or a multi-Region one; by name, the region's own, else (`shadow_by_name`) a shadow."""
        found: Trail | None = None
        if name.startswith("arn:"):
            found = self.audit.trails.by_arn(name)
            if found is not None and (
                found.account != ctx.account_id
                or (found.home_region != ctx.region and not found.multi_region)
            ):
                found = None
        else:
            named = self.audit.trails.named(ctx.account_id, name)
            own = [t for t in named if t.home_region == ctx.region]
            shadows = [t for t in named if t.multi_region] if shadow_by_name else []
            found = next(iter(own or shadows), None)
        if found is None:
            raise TrailNotFoundException(
                f"Unknown trail: {name} for the user: {ctx.account_id}"
                if not name.startswith("arn:")
                else f"Unknown trail: {name}"
            )
        return found

    def _home_trail(self, ctx: RequestContext, name: str) -> Trail:
        """The trail, which must be changed from its home region (not through a shadow)."""
        trail = self._trail(ctx, name)
        if trail.home_region != ctx.region:
            raise InvalidHomeRegionException(
                f"The trail {trail.arn} can be changed only from its home Region, {trail.home_region}."
            )
        return trail

    def _require_bucket(self, bucket: str) -> None:
        try:
            self.objects.get_bucket(bucket)
        except StoreError as exc:
            raise S3BucketDoesNotExistException(f"S3 bucket {bucket} does not exist.") from exc

    def _kms_key(self, ctx: RequestContext, key: str | None) -> str | None:
        """A trail's KmsKeyId, checked now as CloudTrail checks it; log files are then SSE-KMS objects."""
        if not key:
            return None
        try:
            return self.kms.resolve(ctx.account_id, ctx.region, key).arn
        except KmsError as exc:
            raise KmsKeyNotFoundException(f"KMS key {key} not found: {exc.message}") from exc

    @staticmethod
    def _refuse_unserved(params: dict[str, Any]) -> None:
        """Options Outcrop's trails cannot honour are refused. RecursiveLogging is accepted either way,
        truthfully: a trail here delivers management events only, and CloudTrail's own log-file writes
        would be S3 data events, so there is nothing for the setting to suppress or keep. An empty
        TagsList is accepted; trail tags are not served (no AddTags/ListTags)."""
        named = unserved(params, _UNSERVED)
        if named:
            raise UnsupportedOperationException(
                f"Outcrop's CloudTrail does not serve {', '.join(_UNSERVED[name] for name in named)}."
            )


def _when(stamp: float | None) -> datetime | None:
    return datetime.fromtimestamp(stamp, UTC) if stamp is not None else None


def _text(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def _trail_output(trail: Trail, *, full: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Name": trail.name,
        "S3BucketName": trail.bucket,
        "S3KeyPrefix": trail.prefix,
        "IncludeGlobalServiceEvents": trail.global_events,
        "IsMultiRegionTrail": trail.multi_region,
        "TrailARN": trail.arn,
        "LogFileValidationEnabled": trail.validation,
        "KmsKeyId": trail.kms_key,
        "IsOrganizationTrail": False,
    }
    if full:
        out.update(
            {"HomeRegion": trail.home_region, "HasCustomEventSelectors": False, "HasInsightSelectors": False}
        )
    return out


def _event(record: dict[str, Any], resources: list[tuple[str | None, str]]) -> dict[str, Any]:
    user = record["userIdentity"]
    return {
        "EventId": record["eventID"],
        "EventName": record["eventName"],
        "ReadOnly": "true" if record["readOnly"] else "false",
        "AccessKeyId": user.get("accessKeyId") or None,
        "EventTime": datetime.strptime(record["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC),
        "EventSource": record["eventSource"],
        "Username": user.get("userName")
        or ("root" if user["type"] == "Root" else user["arn"].rsplit("/", 1)[-1]),
        "Resources": [{"ResourceType": kind, "ResourceName": name} for kind, name in resources],
        "CloudTrailEvent": json.dumps(record),
    }
