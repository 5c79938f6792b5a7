"""Amazon CloudWatch Logs: log groups, streams and events over the log store, with the API's tokens,
pagination and errors. Outcrop's own jobs write to the same store, so their logs show up here.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

from outcrop.kms.keys import Keyring
from outcrop.services.base import RequestContext, Service
from outcrop.services.logs.errors import (
    AccessDeniedException,
    InvalidParameterException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
)
from outcrop.services.logs.insights import Insights
from outcrop.services.logs.insights_api import InsightsOperations
from outcrop.services.logs.kms import KmsLogKeys
from outcrop.services.logs.query_results import QueryResultKeys
from outcrop.services.paging import Pager
from outcrop.storage.logfilter import FilterPatternError, compile_pattern
from outcrop.storage.logs import START, LogEvent, LogGroup, LogStore, LogStoreError, Position

Params = dict[str, Any]
Output = dict[str, Any]
F = TypeVar("F", bound=Callable[..., Any])


_STORE_ERRORS = {
    error.code: error
    for error in (
        InvalidParameterException,
        ResourceNotFoundException,
        ResourceAlreadyExistsException,
        AccessDeniedException,
    )
}
_BAD_TOKEN = "The specified nextToken is invalid."
_LIST_PAGES = Pager(InvalidParameterException, _BAD_TOKEN, default=50, token="nextToken", size="limit")
_EVENT_PAGES = Pager(InvalidParameterException, _BAD_TOKEN, default=10_000, token="nextToken", size="limit")


def _translating(method: F) -> F:
    """Store errors are named as the API's error codes; CloudWatch Logs answers them all with HTTP 400."""

    @functools.wraps(method)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except LogStoreError as exc:
            raise _STORE_ERRORS[exc.code](str(exc)) from exc

    return cast(F, run)


_GROUP_NAME = re.compile(r"[\.\-_/#A-Za-z0-9]+")
_STREAM_NAME = re.compile(r"[^:*]*")


def _check_name(value: str, pattern: re.Pattern[str], member: str) -> None:
    """The model's patterns are unanchored; CloudWatch Logs applies them to the whole name."""
    if not pattern.fullmatch(value):
        raise InvalidParameterException(
            f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: "
            f"Member must satisfy regular expression pattern: {pattern.pattern}"
        )


def _group_name(ctx: RequestContext, params: Params, *, required: bool = True) -> str:
    """`logGroupName` or `logGroupIdentifier` (a name or an ARN), never both."""
    name, identifier = params.get("logGroupName"), params.get("logGroupIdentifier")
    if name and identifier:
        raise InvalidParameterException("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
    if identifier:
        return _name_from_arn(identifier, ctx)
    if not name and required:
        raise InvalidParameterException("Either LogGroup name or LogGroup ARN must be specified.")
    return str(name or "")


def _name_from_arn(value: str, ctx: RequestContext) -> str:
    """The group's name in a name or an ARN; another account's or region's ARN names no group here."""
    if not value.startswith("arn:"):
        return value
    parts = value.split(":")
    if len(parts) < 7 or parts[5] != "log-group":
        raise InvalidParameterException(f"Invalid log group ARN: {value}")
    if (parts[3], parts[4]) != (ctx.region, ctx.account_id):
        raise ResourceNotFoundException("The specified log group does not exist.")
    return parts[6]


def _kms_target(ctx: RequestContext, params: Params) -> str:
    """AssociateKmsKey's and DisassociateKmsKey's log group: `logGroupName` or `resourceIdentifier`, the
    group's ARN; "" for the account's Logs Insights results (`query-result:*`)."""
    name, identifier = params.get("logGroupName"), params.get("resourceIdentifier")
    if name and identifier:
        raise InvalidParameterException(
            "You can't specify both logGroupName and resourceIdentifier in the same request."
        )
    if not name and not identifier:
        raise InvalidParameterException("Either logGroupName or resourceIdentifier must be specified.")
    if identifier and ":query-result:" in identifier:
        if identifier != f"arn:aws:logs:{ctx.region}:{ctx.account_id}:query-result:*":
            raise InvalidParameterException(
                f"Invalid resourceIdentifier {identifier}: query results are "
                f"arn:aws:logs:{ctx.region}:{ctx.account_id}:query-result:*"
            )
        return ""
    return str(name) if name else _name_from_arn(str(identifier), ctx).removesuffix(":*")


def _local_name(identifier: str, ctx: RequestContext) -> str | None:
    """A DescribeLogGroups identifier's group name, or None when it is another region's or account's."""
    try:
        return _name_from_arn(identifier, ctx).removesuffix(":*")
    except ResourceNotFoundException:
        return None


def _position_token(direction: str, position: Position) -> str:
    return f"{direction}/{position[0]:020d}{position[1]:020d}"


def _read_position(token: str, direction: str | None = None) -> tuple[str, Position]:
    head, _, digits = token.partition("/")
    if (
        head not in ("f", "b")
        or (direction and head != direction)
        or len(digits) != 40
        or not digits.isdigit()
    ):
        raise InvalidParameterException("The specified nextToken is invalid.")
    return head, (int(digits[:20]), int(digits[20:]))


class Logs(InsightsOperations, Service):
    service_name = "logs"

    def __init__(self, *, logs: LogStore, kms: Keyring, data_path: Callable[..., Path]) -> None:
        """The server's one log store, where training jobs and functions write what they run; the KMS
        keyring and a folder for the key Logs Insights results are sealed with."""
        self.store = logs
        self.insights = Insights(logs)
        self.query_keys = QueryResultKeys(data_path("logs"), KmsLogKeys(lambda: kms))

    def close(self) -> None:
        self.query_keys.close()
        super().close()

    def _here(self, ctx: RequestContext) -> LogStore:
        """The groups of the request's account and region: a group made elsewhere is not found here."""
        return self.store.scoped(ctx.account_id, ctx.region)

    def _group_arn(self, ctx: RequestContext, name: str) -> str:
        return ctx.arn("logs", f"log-group:{name}")

    def _describe_group(self, ctx: RequestContext, group: LogGroup) -> Output:
        out: Output = {
            "logGroupName": group.name,
            "creationTime": group.created,
            "metricFilterCount": 0,
            "arn": self._group_arn(ctx, group.name) + ":*",
            "logGroupArn": self._group_arn(ctx, group.name),
            "storedBytes": group.stored_bytes,
            "logGroupClass": group.log_group_class,
        }
        if group.retention_days is not None:
            out["retentionInDays"] = group.retention_days
        if group.kms_key_id:
            out["kmsKeyId"] = group.kms_key_id
        return out

    # -- groups ---------------------------------------------------------------------------------------------

    @_translating
    def create_log_group(self, ctx: RequestContext, params: Params) -> Output:
        name = params["logGroupName"]
        _check_name(name, _GROUP_NAME, "logGroupName")
        if name.lower().startswith("aws/"):
            raise InvalidParameterException("Log groups starting with AWS/ are reserved for AWS.")
        self._here(ctx).create_group(
            name,
            kms_key_id=params.get("kmsKeyId") or None,  # its events are stored encrypted under the key
            log_group_class=params.get("logGroupClass") or "STANDARD",
            tags=params.get("tags"),
        )
        return {}

    @_translating
    def associate_kms_key(self, ctx: RequestContext, params: Params) -> Output:
        """Events the group ingests from now on (or the results of the queries started from now on) are
        stored encrypted under a data key of this key."""
        name = _kms_target(ctx, params)
        if not name:
            self.query_keys.associate(ctx.account_id, ctx.region, params["kmsKeyId"])
            return {}
        self._here(ctx).associate_key(name, params["kmsKeyId"])
        return {}

    @_translating
    def disassociate_kms_key(self, ctx: RequestContext, params: Params) -> Output:
        """New events are stored as before; those the key encrypted still need it."""
        name = _kms_target(ctx, params)
        if not name:
            self.query_keys.disassociate(ctx.account_id, ctx.region)
            return {}
        if not self._here(ctx).get_group(name).kms_key_id:
            raise InvalidParameterException(f"The log group {name} is not associated with a KMS key.")
        self._here(ctx).disassociate_key(name)
        return {}

    @_translating
    def delete_log_group(self, ctx: RequestContext, params: Params) -> Output:
        self._here(ctx).delete_group(params["logGroupName"])
        return {}

    @_translating
    def describe_log_groups(self, ctx: RequestContext, params: Params) -> Output:
        prefix, pattern = params.get("logGroupNamePrefix") or "", params.get("logGroupNamePattern") or ""
        if prefix and pattern:
            raise InvalidParameterException(
                "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters."
            )
        limit, after = _LIST_PAGES.limit(params), _LIST_PAGES.after(params) or ""
        identifiers = params.get("logGroupIdentifiers") or []
        wanted = {name for i in identifiers if (name := _local_name(i, ctx))}  # others' ARNs match nothing
        group_class = params.get("logGroupClass")
        filtered = bool(identifiers or group_class)
        page = self._here(ctx).list_groups(
            prefix=prefix, pattern=pattern, after=after, limit=2**31 if filtered else limit + 1
        )
        groups = [
            g
            for g in page
            if (not identifiers or g.name in wanted) and group_class in (None, g.log_group_class)
        ]
        groups, token = _LIST_PAGES.keyed(groups, params, lambda g: g.name)
        out: Output = {"logGroups": [self._describe_group(ctx, g) for g in groups]}
        if token:
            out["nextToken"] = token
        return out

    @_translating
    def put_retention_policy(self, ctx: RequestContext, params: Params) -> Output:
        self._here(ctx).set_retention(params["logGroupName"], params["retentionInDays"])
        return {}

    @_translating
    def delete_retention_policy(self, ctx: RequestContext, params: Params) -> Output:
        self._here(ctx).set_retention(params["logGroupName"], None)
        return {}

    # -- tags -----------------------------------------------------------------------------------------------

    def _tag_target(self, ctx: RequestContext, arn: str) -> str:
        name = _name_from_arn(arn, ctx).removesuffix(":*")
        if not arn.startswith("arn:"):
            raise InvalidParameterException(f"Invalid resource ARN: {arn}")
        return name

    @_translating
    def tag_resource(self, ctx: RequestContext, params: Params) -> Output:
        name = self._tag_target(ctx, params["resourceArn"])
        self._here(ctx).set_tags(name, {**self._here(ctx).get_group(name).tags, **params["tags"]})
        return {}

    @_translating
    def untag_resource(self, ctx: RequestContext, params: Params) -> Output:
        name = self._tag_target(ctx, params["resourceArn"])
        tags = {k: v for k, v in self._here(ctx).get_group(name).tags.items() if k not in params["tagKeys"]}
        self._here(ctx).set_tags(name, tags)
        return {}

    @_translating
    def list_tags_for_resource(self, ctx: RequestContext, params: Params) -> Output:
        return {"tags": dict(self._here(ctx).get_group(self._tag_target(ctx, params["resourceArn"])).tags)}

    @_translating
    def tag_log_group(self, ctx: RequestContext, params: Params) -> Output:
        name = params["logGroupName"]
        self._here(ctx).set_tags(name, {**self._here(ctx).get_group(name).tags, **params["tags"]})
        return {}

    @_translating
    def untag_log_group(self, ctx: RequestContext, params: Params) -> Output:
        name = params["logGroupName"]
        self._here(ctx).set_tags(
            name, {k: v for k, v in self._here(ctx).get_group(name).tags.items() if k not in params["tags"]}
        )
        return {}

    @_translating
    def list_tags_log_group(self, ctx: RequestContext, params: Params) -> Output:
        return {"tags": dict(self._here(ctx).get_group(params["logGroupName"]).tags)}

    # -- streams --------------------------------------------------------------------------------------------

    @_translating
    def create_log_stream(self, ctx: RequestContext, params: Params) -> Output:
        _check_name(params["logStreamName"], _STREAM_NAME, "logStreamName")
        self._here(ctx).create_stream(params["logGroupName"], params["logStreamName"])
        return {}

    @_translating
    def delete_log_stream(self, ctx: RequestContext, params: Params) -> Output:
        self._here(ctx).delete_stream(params["logGroupName"], params["logStreamName"])
        return {}

    @_translating
    def describe_log_streams(self, ctx: RequestContext, params: Params) -> Output:
        group = _group_name(ctx, params)
        prefix = params.get("logStreamNamePrefix") or ""
        by_last_event = params.get("orderBy") == "LastEventTime"
        if by_last_event and prefix:
            raise InvalidParameterException("Cannot order by LastEventTime with a logStreamNamePrefix.")
        limit, offset = _LIST_PAGES.limit(params), _LIST_PAGES.offset(params)
        streams = self._here(ctx).list_streams(
            group,
            prefix=prefix,
            by_last_event=by_last_event,
            descending=bool(params.get("descending")),
            offset=offset,
            limit=limit + 1,
        )
        out: Output = {"logStreams": []}
        for stream in streams[:limit]:
            item: Output = {
                "logStreamName": stream.name,
                "creationTime": stream.created,
                "arn": ctx.arn("logs", f"log-group:{group}:log-stream:{stream.name}"),
                "storedBytes": stream.stored_bytes,
                "uploadSequenceToken": f"{stream.sequence:056d}",
            }
            if stream.first_event is not None:
                item["firstEventTimestamp"] = stream.first_event
                item["lastEventTimestamp"] = stream.last_event
                item["lastIngestionTime"] = stream.last_ingestion
            out["logStreams"].append(item)
        if len(streams) > limit:
            out["nextToken"] = _LIST_PAGES.offset_token(offset + limit)
        return out

    # -- events ---------------------------------------------------------------------------------------------

    @_translating
    def put_log_events(self, ctx: RequestContext, params: Params) -> Output:
        events = [(e["timestamp"], e["message"]) for e in params["logEvents"]]
        result = self._here(ctx).put_events(params["logGroupName"], params["logStreamName"], events)
        out: Output = {"nextSequenceToken": f"{result.sequence:056d}"}
        rejected = {
            "tooNewLogEventStartIndex": result.too_new_start,
            "tooOldLogEventEndIndex": result.too_old_end,
            "expiredLogEventEndIndex": result.expired_end,
        }
        rejected = {k: v for k, v in rejected.items() if v is not None}
        if rejected:
            out["rejectedLogEventsInfo"] = rejected
        return out

    @_translating
    def get_log_events(self, ctx: RequestContext, params: Params) -> Output:
        """Tokens are positions: `f/<p>` reads forward after p, `b/<p>` backward before p. Without a token,
        the newest events (or, with startFromHead, the oldest); at the end of the stream the forward token
        comes back unchanged, so a poller sees each new event once."""
        group, stream = _group_name(ctx, params), params["logStreamName"]
        limit = params.get("limit") or 10_000
        window = {"start": params.get("startTime"), "end": params.get("endTime")}
        token = params.get("nextToken")
        if token:
            direction, position = _read_position(token)
        else:
            direction, position = ("f", START) if params.get("startFromHead") else ("b", (2**62, 0))
        if direction == "f":
            events = self._here(ctx).read_events(group, stream, after=position, limit=limit, **window)
        else:
            events = self._here(ctx).read_events(group, stream, before=position, limit=limit, **window)
        if events:
            forward, backward = events[-1].position, events[0].position
        elif token:
            forward = backward = position
        else:
            forward = backward = (params.get("startTime") or 0, 0)
        return {
            "events": [
                {"timestamp": e.timestamp, "message": e.message, "ingestionTime": e.ingestion_time}
                for e in events
            ],
            "nextForwardToken": _position_token("f", forward),
            "nextBackwardToken": _position_token("b", backward),
        }

    @_translating
    def filter_log_events(self, ctx: RequestContext, params: Params) -> Output:
        group = _group_name(ctx, params)
        names, prefix = params.get("logStreamNames"), params.get("logStreamNamePrefix") or ""
        if names and prefix:
            raise InvalidParameterException("Cannot specify both logStreamNames and logStreamNamePrefix.")
        try:
            matches = compile_pattern(params.get("filterPattern"))
        except FilterPatternError as exc:
            raise InvalidParameterException(str(exc)) from exc
        key = _EVENT_PAGES.after(params)  # a position, as its 40 digits
        after = _read_position("f/" + key, "f")[1] if key is not None else START
        events, resume = self._here(ctx).filter_events(
            group,
            streams=names,
            stream_prefix=prefix,
            start=params.get("startTime"),
            end=params.get("endTime"),
            after=after,
            matches=matches,
            limit=_EVENT_PAGES.limit(params),
        )
        out: Output = {"events": [self._filtered(e) for e in events]}
        if resume is not None:
            out["nextToken"] = _EVENT_PAGES.key_token(_position_token("f", resume)[2:])
        return out

    @staticmethod
    def _filtered(event: LogEvent) -> Output:
        return {
            "logStreamName": event.stream,
            "timestamp": event.timestamp,
            "message": event.message,
            "ingestionTime": event.ingestion_time,
            "eventId": f"{event.timestamp:020d}{event.id:036d}",
        }
