"""The embedded log store, its filter patterns, and the in-process `put` other services use."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from outcrop.storage.logfilter import FilterPatternError, compile_pattern
from outcrop.storage.logs import (
    DAY_MS,
    END,
    START,
    InvalidParameterException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
)
from outcrop.storage.sqlitelogs import SqliteLogStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteLogStore]:
    store = SqliteLogStore(tmp_path)
    yield store
    store.close()


def now_ms() -> int:
    return int(time.time() * 1000)


def test_in_process_put_creates_group_and_stream(store: SqliteLogStore) -> None:
    store.put("/outcrop/jobs/train-1", "algo-1", ["epoch 1 loss=0.9", "epoch 2 loss=0.5"])
    store.put("/outcrop/jobs/train-1", "algo-1", [(now_ms() + 1, "done")])
    events = store.read_events("/outcrop/jobs/train-1", "algo-1", after=START)
    assert [e.message for e in events] == ["epoch 1 loss=0.9", "epoch 2 loss=0.5", "done"]
    stream = store.list_streams("/outcrop/jobs/train-1")[0]
    assert stream.first_event is not None and stream.last_event is not None
    assert store.get_group("/outcrop/jobs/train-1").stored_bytes == sum(len(e.message) for e in events)


def test_in_process_put_splits_large_batches(store: SqliteLogStore) -> None:
    lines = [f"{i:06d} " + "x" * 500 for i in range(5000)]  # about 2.6 MB: several PutLogEvents batches
    store.put("/big", "s", lines)
    assert len(store.read_events("/big", "s", after=START)) == 5000


def test_positions_read_forward_and_backward(store: SqliteLogStore) -> None:
    store.create_group("/g")
    store.create_stream("/g", "s")
    base = now_ms() - 1000
    store.put_events("/g", "s", [(base + i, f"m{i}") for i in range(10)])
    first = store.read_events("/g", "s", after=START, limit=4)
    assert [e.message for e in first] == ["m0", "m1", "m2", "m3"]
    following = store.read_events("/g", "s", after=first[-1].position, limit=4)
    assert [e.message for e in following] == ["m4", "m5", "m6", "m7"]
    last = store.read_events("/g", "s", before=END, limit=3)
    assert [e.message for e in last] == ["m7", "m8", "m9"]
    earlier = store.read_events("/g", "s", before=last[0].position, limit=2)
    assert [e.message for e in earlier] == ["m5", "m6"]
    window = store.read_events("/g", "s", after=START, start=base + 2, end=base + 4)
    assert [e.message for e in window] == ["m2", "m3"]
    store.put_events("/g", "s", [(base - 500, "late but older")])
    assert store.read_events("/g", "s", after=START, limit=1)[0].message == "late but older"


def test_batch_rules(store: SqliteLogStore) -> None:
    store.create_group("/g")
    store.create_stream("/g", "s")
    now = now_ms()
    with pytest.raises(InvalidParameterException, match="chronological"):
        store.put_events("/g", "s", [(now, "b"), (now - 1, "a")])
    with pytest.raises(InvalidParameterException, match="24 hours"):
        store.put_events("/g", "s", [(now - DAY_MS - 1, "a"), (now, "b")])
    old = store.put_events("/g", "s", [(now - 15 * DAY_MS, "old"), (now - 15 * DAY_MS + 1, "older")])
    assert (old.too_old_end, old.too_new_start, old.expired_end) == (1, None, None)
    new = store.put_events("/g", "s", [(now, "ok"), (now + 3 * 3600_000, "new")])
    assert (new.too_old_end, new.too_new_start) == (None, 1)
    assert [e.message for e in store.read_events("/g", "s", after=START)] == ["ok"]
    with pytest.raises(ResourceNotFoundException):
        store.put_events("/g", "nope", [(now, "x")])
    with pytest.raises(ResourceAlreadyExistsException):
        store.create_stream("/g", "s")


def test_retention_hides_and_rejects_expired_events(store: SqliteLogStore) -> None:
    store.create_group("/r")
    store.create_stream("/r", "s")
    now = now_ms()
    store.put_events("/r", "s", [(now - 3 * DAY_MS, "three days old"), (now - 3 * DAY_MS + 1, "also old")])
    store.put_events("/r", "s", [(now, "fresh")])
    store.set_retention("/r", 1)
    assert [e.message for e in store.read_events("/r", "s", after=START)] == ["fresh"]
    result = store.put_events("/r", "s", [(now - 2 * DAY_MS, "expired")])
    assert result.expired_end == 0
    with pytest.raises(InvalidParameterException):
        store.set_retention("/r", 2)


def test_filter_across_streams_resumes_where_it_stopped(store: SqliteLogStore) -> None:
    store.create_group("/f")
    base = now_ms() - 10_000
    for n, stream in enumerate(("a", "b")):
        store.create_stream("/f", stream)
        store.put_events("/f", stream, [(base + 10 * i + n, f"{stream}{i}") for i in range(5)])
    events, resume = store.filter_events("/f", limit=3)
    assert [e.message for e in events] == ["a0", "b0", "a1"] and resume is not None
    rest, done = store.filter_events("/f", after=resume)
    assert [e.message for e in rest] == ["b1", "a2", "b2", "a3", "b3", "a4", "b4"] and done is None
    scanned, partial = store.filter_events("/f", matches=lambda m: m == "b4", scan_limit=4)
    assert scanned == [] and partial is not None  # a bounded scan says where to go on
    found, _ = store.filter_events("/f", after=partial, matches=lambda m: m == "b4")
    assert [e.message for e in found] == ["b4"]
    only_b, _ = store.filter_events("/f", streams=["b"], start=base + 20, end=base + 32)
    assert [e.message for e in only_b] == ["b2", "b3"]


def test_delete_stream_and_group(store: SqliteLogStore) -> None:
    store.put("/d", "s", ["x"])
    store.delete_stream("/d", "s")
    assert store.list_streams("/d") == []
    assert store.get_group("/d").stored_bytes == 0
    store.delete_group("/d")
    with pytest.raises(ResourceNotFoundException):
        store.get_group("/d")


def test_survives_reopening(tmp_path: Path) -> None:
    first = SqliteLogStore(tmp_path)
    first.put("/p", "s", ["persisted"])
    first.close()
    second = SqliteLogStore(tmp_path)
    assert [e.message for e in second.read_events("/p", "s", after=START)] == ["persisted"]
    second.close()


@pytest.mark.parametrize(
    ("pattern", "message", "expected"),
    [
        ("", "anything", True),
        ("ERROR", "an ERROR here", True),
        ("ERROR", "an error here", False),
        ("ERROR timeout", "ERROR then timeout", True),
        ("ERROR timeout", "ERROR only", False),
        ('"disk full"', "the disk full now", True),
        ('"disk full"', "full disk", False),
        ("?WARN ?ERROR", "a WARN", True),
        ("?WARN ?ERROR", "INFO", False),
        ("GET -health", "GET /models", True),
        ("GET -health", "GET /health", False),
        ("%ERR(O|0)R%", "ERR0R", True),
        ('{ $.level = "ERROR" }', '{"level": "ERROR"}', True),
        ('{ $.level = "ERR*" }', '{"level": "ERROR"}', True),
        ("{ $.level = ERROR }", '{"level": "WARN"}', False),
        ('{ $.ms >= 100 && $.ok = "yes" }', '{"ms": 150, "ok": "yes"}', True),
        ("{ $.ms >= 100 || $.ms < 0 }", '{"ms": 150}', True),
        ("{ $.ms > 100 }", '{"ms": "150"}', False),
        ("{ $.items[0].id = 7 }", '{"items": [{"id": 7}]}', True),
        ("{ $.missing != 1 }", '{"other": 1}', False),
        ("{ $.level = ERROR }", "not json", False),
    ],
)
def test_filter_patterns(pattern: str, message: str, expected: bool) -> None:
    assert compile_pattern(pattern)(message) is expected


@pytest.mark.parametrize(
    "pattern", ["[ip, user]", '"unclosed', "%[%", "{ $.a = 1 ", "{ ($.a = 1) }", "{ $.ok IS TRUE }"]
)
def test_unsupported_or_malformed_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(FilterPatternError):
        compile_pattern(pattern)
