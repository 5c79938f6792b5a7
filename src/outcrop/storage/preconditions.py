"""Which bytes of an object a read gets, and whether it gets them: S3's preconditions (ETag and time) and
byte ranges. Shared by the S3 service and by in-process readers; failures are store errors named as S3's.
"""

from __future__ import annotations

from datetime import datetime

from outcrop.storage.objects import InvalidRange, NoSuchKey, NotModified, ObjectInfo, PreconditionFailed

_FAILED = "At least one of the pre-conditions you specified did not hold"


def etag_matches(condition: str, etag: str) -> bool:
    """An If-Match / If-None-Match header against an ETag: `*`, a list, quoted or weak forms."""
    wanted = {part.strip().removeprefix("W/").strip('"') for part in condition.split(",")}
    return "*" in wanted or etag.strip('"') in wanted


def check_preconditions(
    info: ObjectInfo,
    *,
    if_match: str | None = None,
    if_none_match: str | None = None,
    if_modified_since: datetime | None = None,
    if_unmodified_since: datetime | None = None,
    copy_source: bool = False,
) -> None:
    """If-Match / If-Unmodified-Since fail with PreconditionFailed, If-None-Match / If-Modified-Since with
    NotModified, as S3 does: an If-Match that holds outranks If-Unmodified-Since, an If-None-Match outranks
    If-Modified-Since. For a copy source every failure is PreconditionFailed."""
    modified = info.last_modified.replace(microsecond=0)
    if (if_match is not None and not etag_matches(if_match, info.etag)) or (
        if_match is None and if_unmodified_since is not None and modified > if_unmodified_since
    ):
        condition = "If-Match" if if_match is not None else "If-Unmodified-Since"
        raise PreconditionFailed(
            _FAILED, Condition=f"x-amz-copy-source-{condition}" if copy_source else condition
        )
    not_modified = (if_none_match is not None and etag_matches(if_none_match, info.etag)) or (
        if_none_match is None and if_modified_since is not None and modified <= if_modified_since
    )
    if not_modified and copy_source:
        raise PreconditionFailed(_FAILED)
    if not_modified:
        raise NotModified("Not Modified", ETag=info.etag, LastModified=modified.isoformat())


def check_write_preconditions(
    current: ObjectInfo | None, key: str, *, if_match: str | None = None, if_none_match: str | None = None
) -> None:
    """Conditional writes: `If-None-Match: *` refuses to overwrite, If-Match requires the current ETag."""
    if if_none_match == "*" and current is not None:
        raise PreconditionFailed(_FAILED, Condition="If-None-Match")
    if if_match is not None:
        if current is None:
            raise NoSuchKey("The specified key does not exist.", Key=key)
        if not etag_matches(if_match, current.etag):
            raise PreconditionFailed(_FAILED, Condition="If-Match")


def byte_range(spec: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive (first, last) bytes a `bytes=` Range asks of an object of `size` bytes; None for the
    whole object (no range, or one S3 ignores: malformed, several ranges, last before first)."""
    if not spec or not spec.startswith("bytes=") or "," in spec:
        return None
    first_text, dash, last_text = spec[6:].strip().partition("-")
    if not dash or not (first_text.isdigit() or last_text.isdigit()):
        return None
    if not first_text:
        suffix = _offset(last_text)
        if suffix == 0 or size == 0:
            raise _unsatisfiable(spec, size)
        return max(0, size - suffix), size - 1
    first = _offset(first_text)
    last = _offset(last_text) if last_text.isdigit() else size - 1
    if last_text and last < first:
        return None
    if first >= size:
        raise _unsatisfiable(spec, size)
    return first, min(last, size - 1)


def _offset(digits: str) -> int:
    """A byte offset; past 2**64 (thousands of digits would pass int()'s limit) it is just past any object."""
    return int(digits) if len(digits) <= 20 else 2**64


def _unsatisfiable(spec: str, size: int) -> InvalidRange:
    return InvalidRange(
        "The requested range is not satisfiable", RangeRequested=spec, ActualObjectSize=str(size)
    )
