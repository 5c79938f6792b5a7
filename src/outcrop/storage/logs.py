"""The log store: CloudWatch Logs' groups, streams and events, without HTTP.

The Logs service translates the API onto it; services that run things (training jobs, functions) write
their output here in-process with `put(group, stream, messages)`. Events are ordered by (timestamp, id):
a position in that order is what GetLogEvents tokens encode, so a client polling with its forward token
sees exactly the events that arrived after the last one it read.

This module is the interface: limits, errors, the records and the `LogStore` Protocol, which is what the
rest of Outcrop imports. `sqlitelogs.SqliteLogStore` implements it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from outcrop.storage.logfilter import Predicate

Position = tuple[int, int]  # (timestamp ms, event id): a place in a stream's order
START: Position = (0, 0)
END: Position = (2**62, 0)
DAY_MS = 24 * 3600 * 1000
MAX_AGE_MS = 14 * DAY_MS
MAX_FUTURE_MS = 2 * 3600 * 1000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD = 26
RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)


class LogStoreError(Exception):
    """A domain error; its class name is the CloudWatch Logs error code."""

    @property
    def code(self) -> str:
        return type(self).__name__


class ResourceNotFoundException(LogStoreError):
    pass


class ResourceAlreadyExistsException(LogStoreError):
    pass


class InvalidParameterException(LogStoreError):
    pass


class AccessDeniedException(LogStoreError):
    """A KMS key the group cannot use: missing, another region's, disabled or pending deletion."""


class LogDataKeys(Protocol):
    """KMS as the log store needs it (see `storage.logcrypt`): data keys sealed under a group's key."""

    def new_data_key(
        self, account: str, region: str, key_ref: str, context: Mapping[str, str]
    ) -> tuple[str, bytes]:
        """The key's ARN and a new data key sealed under it; AccessDeniedException if it cannot be used."""
        ...

    def open_data_key(self, account: str, region: str, sealed: bytes, context: Mapping[str, str]) -> bytes:
        """A sealed data key in the clear; AccessDeniedException if its KMS key cannot be used now."""
        ...


@dataclass(frozen=True)
class LogGroup:
    name: str
    created: int
    retention_days: int | None
    stored_bytes: int
    kms_key_id: str | None = None
    log_group_class: str = "STANDARD"
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LogStream:
    group: str
    name: str
    created: int
    first_event: int | None
    last_event: int | None
    last_ingestion: int | None
    sequence: int
    stored_bytes: int


@dataclass(frozen=True)
class LogEvent:
    stream: str
    timestamp: int
    message: str
    ingestion_time: int
    id: int

    @property
    def position(self) -> Position:
        return (self.timestamp, self.id)


@dataclass(frozen=True)
class PutResult:
    sequence: int
    too_new_start: int | None = None
    too_old_end: int | None = None
    expired_end: int | None = None


class LogStore(Protocol):
    """One account's and region's groups (the store's default ones unless it came from `scoped`)."""

    def scoped(self, account: str, region: str) -> LogStore:
        """The same store as another account and region see it: their groups only."""
        ...

    def create_group(
        self,
        name: str,
        *,
        kms_key_id: str | None = None,
        log_group_class: str = "STANDARD",
        tags: Mapping[str, str] | None = None,
    ) -> LogGroup: ...

    def get_group(self, name: str) -> LogGroup: ...

    def delete_group(self, name: str) -> None: ...

    def associate_key(self, name: str, key_ref: str) -> None:
        """Encrypt what the group ingests from now on under a data key of this KMS key."""
        ...

    def disassociate_key(self, name: str) -> None:
        """Ingest in the clear again; what the key encrypted still needs it."""
        ...

    def list_groups(
        self, *, prefix: str = "", pattern: str = "", after: str = "", limit: int = 50
    ) -> list[LogGroup]:
        """Groups named after `after`, by name; `pattern` is a case-insensitive substring."""
        ...

    def set_retention(self, name: str, days: int | None) -> None: ...

    def set_tags(self, name: str, tags: Mapping[str, str]) -> None: ...

    def create_stream(self, group: str, name: str) -> LogStream: ...

    def delete_stream(self, group: str, name: str) -> None: ...

    def list_streams(
        self,
        group: str,
        *,
        prefix: str = "",
        by_last_event: bool = False,
        descending: bool = False,
        offset: int = 0,
        limit: int = 50,
    ) -> list[LogStream]: ...

    def put_events(self, group: str, stream: str, events: Sequence[tuple[int, str]]) -> PutResult:
        """Append a chronological batch, rejecting (by index range) events too old, too new or expired."""
        ...

    def read_events(
        self,
        group: str,
        stream: str,
        *,
        after: Position | None = None,
        before: Position | None = None,
        start: int | None = None,
        end: int | None = None,
        limit: int = 10_000,
    ) -> list[LogEvent]:
        """Events in (timestamp, id) order: the first `limit` after `after`, else the last before `before`."""
        ...

    def filter_events(
        self,
        group: str,
        *,
        streams: Sequence[str] | None = None,
        stream_prefix: str = "",
        start: int | None = None,
        end: int | None = None,
        after: Position = START,
        matches: Predicate | None = None,
        limit: int = 10_000,
        scan_limit: int = 100_000,
    ) -> tuple[list[LogEvent], Position | None]:
        """Matching events across streams in time order, and where to resume when there may be more."""
        ...

    def put(self, group: str, stream: str, messages: Iterable[str | tuple[int, str]]) -> None:
        """Write log lines from inside Outcrop, creating the group and stream on first use."""
        ...

    def close(self) -> None: ...
