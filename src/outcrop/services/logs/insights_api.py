"""The Logs Insights operations (StartQuery, GetQueryResults, StopQuery, DescribeQueries,
GetLogGroupFields): the API's parameters and errors around `insights.Insights`."""

from __future__ import annotations

from typing import Any

from outcrop.services.base import RequestContext
from outcrop.services.logs.errors import (
    InvalidParameterException,
    LimitExceededException,
    MalformedQueryException,
    ResourceNotFoundException,
)
from outcrop.services.logs.insights import RUNNING, Insights, Query
from outcrop.services.logs.insights_parser import QuerySyntaxError
from outcrop.services.logs.query_results import QueryResultKeys
from outcrop.storage.logs import LogStoreError

Params = dict[str, Any]
Output = dict[str, Any]
MAX_GROUPS = 50
MAX_CONCURRENT = 30  # AWS's default quota of concurrent queries per account
# AWS documents startTime/endTime in seconds, yet its own large-query example passes milliseconds and its
# specification logs millisecond-precise windows: a value this large (year 5138 in seconds, 1973 in
# milliseconds) is read as milliseconds, as AWS evidently does.
MILLISECONDS_FROM = 10**11


def _window_ms(params: Params) -> tuple[int, int]:
    """The inclusive window in milliseconds; each end is read in seconds or milliseconds by its size."""
    start, end = (
        int(v) if v >= MILLISECONDS_FROM else int(v) * 1000 for v in (params["startTime"], params["endTime"])
    )
    if end < start:
        raise InvalidParameterException("endTime must be greater than or equal to startTime.")
    return start, end


def _group_of(ctx: RequestContext, value: str) -> str:
    """A group name, or the name in an ARN of this account and region (another's names no group here)."""
    if not value.startswith("arn:"):
        return value
    parts = value.split(":")
    if len(parts) < 7 or parts[5] != "log-group":
        raise InvalidParameterException(f"Invalid log group ARN: {value}")
    if (parts[3], parts[4]) != (ctx.region, ctx.account_id):
        raise ResourceNotFoundException(f"Log group '{value}' does not exist.")
    return parts[6]


def _groups(ctx: RequestContext, params: Params) -> list[str]:
    given = [k for k in ("logGroupName", "logGroupNames", "logGroupIdentifiers") if params.get(k)]
    if len(given) != 1:
        raise InvalidParameterException(
            "Exactly one of logGroupName, logGroupNames or logGroupIdentifiers must be specified."
        )
    value = params[given[0]]
    names = [value] if isinstance(value, str) else list(value)
    if len(names) > MAX_GROUPS:
        raise InvalidParameterException(f"A query can search at most {MAX_GROUPS} log groups.")
    return [_group_of(ctx, n).removesuffix(":*") for n in names]


def _not_found(exc: LogStoreError) -> ResourceNotFoundException | InvalidParameterException:
    if exc.code == "ResourceNotFoundException":
        return ResourceNotFoundException(str(exc))
    return InvalidParameterException(str(exc))


class InsightsOperations:
    """Mixed into the Logs service, whose `insights` runs the queries."""

    insights: Insights
    query_keys: QueryResultKeys

    def close(self) -> None:
        """Stop the query workers, then whatever the service itself closes."""
        self.insights.close()
        closing = getattr(super(), "close", None)
        if closing is not None:
            closing()

    def start_query(self, ctx: RequestContext, params: Params) -> Output:
        if params.get("queryLanguage") not in (None, "CWLI"):
            raise InvalidParameterException(
                f"queryLanguage {params['queryLanguage']} is not supported by this server: Outcrop runs "
                "Logs Insights' own query language (CWLI) only."
            )
        groups = _groups(ctx, params)
        window = _window_ms(params)
        running = [q for q in self.insights.listed(ctx.account_id, ctx.region) if q.status in RUNNING]
        if len(running) >= MAX_CONCURRENT:
            raise LimitExceededException(
                f"Account maximum query concurrency limit of [{MAX_CONCURRENT}] reached."
            )
        text = params["queryString"]
        try:
            query = self.insights.start(
                ctx.account_id,
                ctx.region,
                groups,
                window,
                text,
                params.get("limit") or 10_000,
                lambda query_id: self.query_keys.sealer(ctx.account_id, ctx.region, query_id),
            )
        except QuerySyntaxError as exc:
            raise MalformedQueryException(
                exc.message,
                extra={
                    "queryCompileError": {
                        "location": {"startCharOffset": exc.start, "endCharOffset": exc.end},
                        "message": exc.message,
                    }
                },
            ) from exc
        except LogStoreError as exc:
            raise _not_found(exc) from exc
        return {"queryId": query.id}

    def _query(self, ctx: RequestContext, query_id: str) -> Query:
        query = self.insights.get(ctx.account_id, ctx.region, query_id)
        if query is None:
            raise ResourceNotFoundException(f"Query does not exist: {query_id}")
        return query

    def get_query_results(self, ctx: RequestContext, params: Params) -> Output:
        """Rows only once the query is complete; `maxItems` pages them with an offset token."""
        query = self._query(ctx, params["queryId"])
        rows = query.rows if query.status == "Complete" else []
        if query.kms_key and query.status == "Complete":  # opened through KMS at every read
            rows = self.query_keys.open_rows(
                ctx.account_id, ctx.region, query.id, query.sealed_key, query.sealed_rows
            )
        offset = 0
        if params.get("nextToken"):
            token = params["nextToken"]
            if not (token.startswith("o/") and token[2:].isdigit()):
                raise InvalidParameterException("The specified nextToken is invalid.")
            offset = int(token[2:])
        size = params.get("maxItems") or len(rows)
        out: Output = {
            "queryLanguage": "CWLI",
            "results": rows[offset : offset + size],
            "statistics": dict(query.statistics)
            or {"recordsMatched": 0.0, "recordsScanned": 0.0, "bytesScanned": 0.0},
            "status": query.status,
        }
        if query.kms_key:
            out["encryptionKey"] = query.kms_key
        if offset + size < len(rows):
            out["nextToken"] = f"o/{offset + size}"
        return out

    def stop_query(self, ctx: RequestContext, params: Params) -> Output:
        return {"success": self.insights.stop(self._query(ctx, params["queryId"]))}

    def describe_queries(self, ctx: RequestContext, params: Params) -> Output:
        if params.get("queryLanguage") not in (None, "CWLI"):
            return {"queries": []}  # no query of another language was ever run here
        group, status = params.get("logGroupName"), params.get("status")
        queries = [
            q
            for q in self.insights.listed(ctx.account_id, ctx.region)
            if (group is None or group in q.groups) and (status is None or q.status == status)
        ]
        offset = 0
        if params.get("nextToken"):
            token = params["nextToken"]
            if not (token.startswith("o/") and token[2:].isdigit()):
                raise InvalidParameterException("The specified nextToken is invalid.")
            offset = int(token[2:])
        size = params.get("maxResults") or 1000
        out: Output = {
            "queries": [
                {
                    "queryLanguage": "CWLI",
                    "queryId": q.id,
                    "queryString": q.text,
                    "status": q.status,
                    "createTime": q.created,
                    "logGroupName": q.groups[0],
                    "queryDuration": q.duration_ms,
                    "bytesScanned": q.statistics.get("bytesScanned", 0.0),
                }
                for q in queries[offset : offset + size]
            ]
        }
        if offset + size < len(queries):
            out["nextToken"] = f"o/{offset + size}"
        return out

    def get_log_group_fields(self, ctx: RequestContext, params: Params) -> Output:
        name, identifier = params.get("logGroupName"), params.get("logGroupIdentifier")
        if bool(name) == bool(identifier):
            raise InvalidParameterException(
                "Exactly one of logGroupName or logGroupIdentifier must be specified."
            )
        group = _group_of(ctx, str(name or identifier)).removesuffix(":*")
        try:
            found = self.insights.group_fields(ctx.account_id, ctx.region, group, params.get("time"))
        except LogStoreError as exc:
            raise _not_found(exc) from exc
        return {"logGroupFields": [{"name": n, "percent": p} for n, p in found]}
