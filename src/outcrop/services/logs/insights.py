"""CloudWatch Logs Insights queries over the log store: started, run in the background, then read.

StartQuery reads the query (so a malformed one is refused at once) and hands it to a small worker pool;
GetQueryResults sees it Scheduled, Running, then Complete, Failed or Cancelled, as on AWS. Queries are
kept per account and region in memory (the newest `KEEP` of them): a restart forgets them, as AWS
forgets results after seven days.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from outcrop.kms.sealed import seal
from outcrop.services.logs.insights_ast import (
    Binary,
    Call,
    Command,
    Display,
    Expr,
    Field,
    Fields,
    Filter,
    In,
    Parse,
    Sort,
    Stats,
    Unary,
)
from outcrop.services.logs.insights_eval import QueryError, Record, Stamp, discovered, run
from outcrop.services.logs.insights_parser import parse_query
from outcrop.storage.logs import START, LogEvent, LogStore

KEEP = 1000
PAGE = 5000
FIELDS_SAMPLE = 10_000  # GetLogGroupFields reads at most this many events
RUNNING = ("Scheduled", "Running")
BUILT_IN = ("@timestamp", "@message", "@logStream", "@log", "@ptr", "@ingestionTime")


@dataclass
class Query:
    """One query's request, state and, once complete, its rows and statistics."""

    id: str
    account: str
    region: str
    groups: list[str]
    text: str
    start_ms: int
    end_ms: int
    limit: int
    created: int
    status: str = "Scheduled"
    rows: list[list[dict[str, str]]] = field(default_factory=list)
    statistics: dict[str, float] = field(default_factory=dict)
    failure: str = ""
    duration_ms: int = 0
    cancel: threading.Event = field(default_factory=threading.Event)
    kms_key: str = ""  # results under a customer key: `rows` stays empty, `sealed_rows` holds them
    sealed_key: bytes = b""
    sealed_rows: bytes = b""


def now_ms() -> int:
    return int(time.time() * 1000)


def _names(expr: Expr, into: set[str]) -> None:
    if isinstance(expr, Field):
        into.add(expr.name)
    elif isinstance(expr, Call):
        for arg in expr.args:
            _names(arg, into)
    elif isinstance(expr, Unary):
        _names(expr.operand, into)
    elif isinstance(expr, Binary):
        _names(expr.left, into)
        _names(expr.right, into)
    elif isinstance(expr, In):
        for inner in (expr.operand, *expr.choices):
            _names(inner, into)


def needs_discovery(commands: list[Command]) -> bool:
    """Whether the query can see a discovered field: it names one, or its rows show every field. The
    AWS example's `fields @timestamp, @message | sort @timestamp asc` reads no JSON at all."""
    names: set[str] = set()
    for command in commands:
        if isinstance(command, Fields | Stats):
            items = command.items if isinstance(command, Fields) else (*command.aggregates, *command.by)
            for item in items:
                _names(item.expr, names)
        elif isinstance(command, Filter):
            _names(command.condition, names)
        elif isinstance(command, Sort):
            for expr, _ in command.keys:
                _names(expr, names)
        elif isinstance(command, Parse):
            _names(command.source, names)
        elif isinstance(command, Display):
            names.update(command.names)
    if not any(isinstance(c, Fields | Display | Stats) for c in commands):
        return True
    return bool(names - {"@timestamp", "@message", "@logStream", "@log", "@ptr", "@ingestionTime"})


def record_of(event: LogEvent, group: str, account: str, discover: bool = True) -> Record:
    """An event as Logs Insights sees it: the built-in fields, then what its JSON message holds."""
    pointer = base64.urlsafe_b64encode(f"{group}\n{event.stream}\n{event.id}".encode()).decode()
    record: Record = {
        "@timestamp": Stamp(event.timestamp),
        "@message": event.message,
        "@logStream": event.stream,
        "@log": f"{account}:{group}",
        "@ingestionTime": Stamp(event.ingestion_time),
    }
    for name, value in discovered(event.message).items() if discover else ():
        record.setdefault(name, value)
    record["@ptr"] = pointer
    return record


class Insights:
    """The queries of every account and region, and the workers that run them."""

    def __init__(self, store: LogStore, *, workers: int = 2) -> None:
        self.store = store
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="logs-insights")
        self._queries: dict[tuple[str, str, str], Query] = {}
        self._lock = threading.Lock()

    def start(
        self,
        account: str,
        region: str,
        groups: Sequence[str],
        window_ms: tuple[int, int],
        text: str,
        limit: int,
        sealer: Callable[[str], tuple[str, bytes, bytes] | None] | None = None,
    ) -> Query:
        """Read the query (QuerySyntaxError if it cannot be) and schedule it; the groups must exist.
        `sealer` gives a query id's (KMS key ARN, clear data key, sealed data key) when results take one."""
        commands = parse_query(text)
        scoped = self.store.scoped(account, region)
        for group in groups:
            scoped.get_group(group)  # ResourceNotFoundException for a group not in this region
        query = Query(
            id=str(uuid.uuid4()),
            account=account,
            region=region,
            groups=list(dict.fromkeys(groups)),
            text=text,
            start_ms=window_ms[0],
            end_ms=window_ms[1],  # inclusive, at that millisecond (as the CloudWatch team describes it)
            limit=limit,
            created=now_ms(),
        )
        found = sealer(query.id) if sealer is not None else None
        clear = None
        if found is not None:
            query.kms_key, clear, query.sealed_key = found
        with self._lock:
            self._queries[(account, region, query.id)] = query
            self._forget_old()
        self._pool.submit(self._run, query, commands, clear)
        return query

    def _forget_old(self) -> None:
        finished = [k for k, q in self._queries.items() if q.status not in RUNNING]
        for key in finished[: max(0, len(self._queries) - KEEP)]:
            del self._queries[key]

    def get(self, account: str, region: str, query_id: str) -> Query | None:
        with self._lock:
            return self._queries.get((account, region, query_id))

    def listed(self, account: str, region: str) -> list[Query]:
        """This account's and region's queries, newest first."""
        with self._lock:
            found = [q for (a, r, _), q in self._queries.items() if (a, r) == (account, region)]
        return sorted(found, key=lambda q: q.created, reverse=True)

    def stop(self, query: Query) -> bool:
        """Cancel a query still scheduled or running; False when it had already finished."""
        with self._lock:
            if query.status not in RUNNING:
                return False
            query.cancel.set()
            query.status = "Cancelled"
            return True

    def close(self) -> None:
        """At shutdown: running queries stop where they are, queued ones never start."""
        with self._lock:
            for query in self._queries.values():
                query.cancel.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- running ----------------------------------------------------------------------------------------

    def _run(self, query: Query, commands: list[Command], clear_key: bytes | None = None) -> None:
        began = now_ms()
        with self._lock:
            if query.status != "Scheduled":
                return
            query.status = "Running"
        counts = Counter[str]()
        try:
            records = self._records(query, counts, needs_discovery(commands))
            outcome = run(commands, records, query.limit)
        except QueryError as exc:
            self._finish(query, "Failed", began, failure=str(exc))
            return
        except Exception as exc:  # a store failure ends the query as AWS's would: Failed, with a reason
            self._finish(query, "Failed", began, failure=f"{type(exc).__name__}: {exc}")
            return
        if clear_key is None:
            query.rows = outcome.rows
        else:  # sealed under the query's data key, which only KMS can open again
            query.sealed_rows = seal(clear_key, json.dumps(outcome.rows).encode())
        query.statistics = {
            "recordsMatched": float(outcome.matched or 0),
            "recordsScanned": float(counts["records"]),
            "estimatedRecordsSkipped": 0.0,
            "bytesScanned": float(counts["bytes"]),
            "estimatedBytesSkipped": 0.0,
            "logGroupsScanned": float(len(query.groups)),
        }
        self._finish(query, "Complete", began)

    def _finish(self, query: Query, status: str, began: int, failure: str = "") -> None:
        with self._lock:
            query.duration_ms = now_ms() - began
            if query.status == "Running":  # a StopQuery meanwhile keeps it Cancelled
                query.status, query.failure = status, failure

    def _records(self, query: Query, counts: Counter[str], discover: bool) -> Iterator[Record]:
        """Every event of the query's groups in its window, group by group, in time order."""
        scoped = self.store.scoped(query.account, query.region)
        for group in query.groups:
            for event in self._events(scoped, group, query.start_ms, query.end_ms + 1, query.cancel):
                counts["records"] += 1
                counts["bytes"] += len(event.message.encode())
                yield record_of(event, group, query.account, discover)

    @staticmethod
    def _events(
        store: LogStore, group: str, start: int, end: int, cancel: threading.Event | None = None
    ) -> Iterator[LogEvent]:
        after = START
        while cancel is None or not cancel.is_set():
            events, resume = store.filter_events(
                group, start=start, end=end, after=after, limit=PAGE, scan_limit=PAGE
            )
            yield from events
            if resume is None:
                return
            after = resume

    # -- fields -----------------------------------------------------------------------------------------

    def group_fields(self, account: str, region: str, group: str, at_s: int | None) -> list[tuple[str, int]]:
        """The fields of the group's events near `at_s` (8 minutes either side) or in the last 15 minutes,
        each with the share of (at most FIELDS_SAMPLE) events that have it."""
        if at_s is None:
            end = now_ms()
            start = end - 15 * 60_000
        else:
            start, end = at_s * 1000 - 8 * 60_000, at_s * 1000 + 8 * 60_000
        scoped = self.store.scoped(account, region)
        scoped.get_group(group)
        seen = Counter[str]()
        total = 0
        for event in self._events(scoped, group, start, end):
            total += 1
            seen.update([*BUILT_IN, *discovered(event.message)])
            if total == FIELDS_SAMPLE:
                break
        return [(name, round(100 * count / total)) for name, count in seen.items()] if total else []
