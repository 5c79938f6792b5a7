"""Running Logs Insights commands over log events: records, expressions, stats and the result rows.

An event becomes a record of the built-in fields (@timestamp, @message, @logStream, @log, @ptr,
@ingestionTime) plus the fields of a JSON message, flattened with dots as Logs Insights discovers them.
Commands then run in order over the records, as the query language defines.
"""

from __future__ import annotations

import json
import math
import operator
import re
import statistics
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from outcrop.services.logs.insights_ast import (
    Binary,
    Call,
    Command,
    Display,
    Duration,
    Expr,
    Field,
    Fields,
    Filter,
    In,
    Limit,
    Literal,
    Named,
    Parse,
    Regex,
    Sort,
    Stats,
    Unary,
)

Record = dict[str, Any]
_AGGREGATE_KEY = "\0aggregate:"  # where a stats row keeps its aggregates' values while computing
MAX_DISCOVERED = 200  # Logs Insights discovers at most this many fields per JSON event


class QueryError(Exception):
    """A query that reads well but cannot run (an unknown function, a bad argument)."""


class Stamp(int):
    """A time in epoch milliseconds, shown as Logs Insights shows @timestamp."""

    def __str__(self) -> str:
        try:
            moment = datetime.fromtimestamp(int(self) / 1000, tz=UTC)
        except (OverflowError, ValueError, OSError):  # beyond the calendar: the number itself
            return str(int(self))
        return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{int(self) % 1000:03d}"


def flatten(value: Any, prefix: str, into: Record) -> None:
    """JSON objects and arrays as dotted field names (`a.b`, `list.0`), leaves only."""
    if isinstance(value, dict):
        for key, inner in value.items():
            flatten(inner, f"{prefix}.{key}" if prefix else str(key), into)
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            flatten(inner, f"{prefix}.{index}", into)
    elif value is not None and len(into) < MAX_DISCOVERED:
        into[prefix] = value


_REPORT = re.compile(r"REPORT RequestId: (?P<id>\S+)")
_REPORT_FIELDS = {  # a Lambda REPORT line's part, its field, and the factor Logs Insights applies
    "Duration": ("@duration", 1),
    "Billed Duration": ("@billedDuration", 1),
    "Memory Size": ("@memorySize", 1_000_000),  # bytes, as AWS's own queries divide them back
    "Max Memory Used": ("@maxMemoryUsed", 1_000_000),
    "Init Duration": ("@initDuration", 1),
}


def _lambda_report(message: str) -> Record:
    """The fields Logs Insights finds in a Lambda function's REPORT line."""
    head = _REPORT.match(message)
    if head is None:
        return {}
    found: Record = {"@type": "REPORT", "@requestId": head.group("id")}
    for part in message.split("\t")[1:]:
        name, _, value = part.partition(":")
        field = _REPORT_FIELDS.get(name.strip())
        amount = number(value.strip().split(" ")[0]) if field else None
        if field and amount is not None:
            found[field[0]] = amount * field[1]
    return found


def discovered(message: str) -> Record:
    """The fields Logs Insights finds in a message by itself: a JSON object's members, or those of a
    Lambda REPORT line."""
    text = message.strip()
    if text.startswith("REPORT RequestId: "):
        return _lambda_report(text)
    if not text.startswith("{"):
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    found: Record = {}
    if isinstance(value, dict):
        flatten(value, "", found)
    return found


# -- values -----------------------------------------------------------------------------------------------


def number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _compare(op: str, left: Any, right: Any) -> bool:
    if left is None or right is None:
        return op == "!=" and (left is None) != (right is None)
    a, b = number(left), number(right)
    numeric = a is not None and b is not None and not (isinstance(left, str) and isinstance(right, str))
    x: Any = a if numeric else text(left)
    y: Any = b if numeric else text(right)
    return bool(_COMPARISONS[op](x, y))


_COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _arithmetic(op: str, left: Any, right: Any) -> Any:
    a, b = number(left), number(right)
    if a is None or b is None:
        return None
    try:
        if op == "^":
            power = a**b
            return None if isinstance(power, complex) else power
        return {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}.get(
            op, math.fmod
        )(a, b)
    except (OverflowError, ValueError, ZeroDivisionError):  # no number: None, as for a missing field
        return None


def _truthy(value: Any) -> bool:
    return bool(value not in (None, False, 0, 0.0, ""))


# -- scalar functions -------------------------------------------------------------------------------------


def _time_arg(value: Any) -> int:
    found = number(value)
    if found is None:
        raise QueryError(f"expected a time, got {value!r}")
    return int(found)


def _floor_to(stamp: Any, period: Any) -> Stamp | None:
    if stamp is None:
        return None
    step = max(1, _time_arg(period))
    return Stamp(_time_arg(stamp) // step * step)


def _ceil_to(stamp: Any, period: Any) -> Stamp | None:
    floor = _floor_to(stamp, period)
    if floor is None:
        return None
    return floor if floor == _time_arg(stamp) else Stamp(floor + max(1, _time_arg(period)))


def _substr(value: Any, start: Any, length: Any = None) -> str | None:
    if value is None:
        return None
    begin = int(number(start) or 0)
    return text(value)[begin:] if length is None else text(value)[begin : begin + int(number(length) or 0)]


def _none_safe(f: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any) -> Any:
        return None if any(a is None for a in args) else f(*args)

    return run


def _math(f: Callable[[float], Any]) -> Callable[..., Any]:
    def run(value: Any) -> Any:
        found = number(value)
        try:
            return None if found is None else f(found)
        except (ValueError, OverflowError):
            return None

    return run


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "strlen": _none_safe(lambda s: len(text(s))),
    "toupper": _none_safe(lambda s: text(s).upper()),
    "tolower": _none_safe(lambda s: text(s).lower()),
    "trim": _none_safe(lambda s: text(s).strip()),
    "ltrim": _none_safe(lambda s: text(s).lstrip()),
    "rtrim": _none_safe(lambda s: text(s).rstrip()),
    "concat": lambda *xs: "".join(text(x) for x in xs if x is not None),
    "substr": _substr,
    "replace": _none_safe(lambda s, old, new: text(s).replace(text(old), text(new))),
    "strcontains": _none_safe(lambda s, sub: int(text(sub) in text(s))),
    "isempty": lambda s: int(s is None or text(s) == ""),
    "isblank": lambda s: int(s is None or text(s).strip() == ""),
    "ispresent": lambda s: int(s is not None),
    "coalesce": lambda *xs: next((x for x in xs if x is not None), None),
    "abs": _math(abs),
    "ceil": _math(math.ceil),
    "floor": _math(math.floor),
    "sqrt": _math(math.sqrt),
    "log": _math(math.log),
    "greatest": lambda *xs: max((n for x in xs if (n := number(x)) is not None), default=None),
    "least": lambda *xs: min((n for x in xs if (n := number(x)) is not None), default=None),
    "datefloor": _floor_to,
    "dateceil": _ceil_to,
    "frommillis": _none_safe(lambda ms: Stamp(_time_arg(ms))),
    "tomillis": _none_safe(lambda t: int(_time_arg(t))),
    "tonumber": _none_safe(number),
}


def evaluate(expr: Expr, record: Record) -> Any:
    """The value of `expr` for one record; a missing field is None, and None spreads like SQL's NULL."""
    if isinstance(expr, Field):
        return record.get(expr.name)
    if isinstance(expr, Literal):
        return expr.value
    if isinstance(expr, Duration):
        return expr.ms
    if isinstance(expr, Regex):
        return expr.pattern.pattern
    if isinstance(expr, Unary):
        value = evaluate(expr.operand, record)
        if expr.op == "not":
            return not _truthy(value)
        found = number(value)
        return None if found is None else -found
    if isinstance(expr, In):
        value = evaluate(expr.operand, record)
        hit = value is not None and any(_compare("=", value, evaluate(c, record)) for c in expr.choices)
        return hit != expr.negated
    if isinstance(expr, Binary):
        return _binary(expr, record)
    return _call(expr, record)


def _binary(expr: Binary, record: Record) -> Any:
    if expr.op == "and":
        return _truthy(evaluate(expr.left, record)) and _truthy(evaluate(expr.right, record))
    if expr.op == "or":
        return _truthy(evaluate(expr.left, record)) or _truthy(evaluate(expr.right, record))
    left = evaluate(expr.left, record)
    if expr.op == "like":
        if left is None:
            return False
        if isinstance(expr.right, Regex):
            return expr.right.pattern.search(text(left)) is not None
        return text(evaluate(expr.right, record)) in text(left)
    right = evaluate(expr.right, record)
    if expr.op in ("=", "!=", "<", "<=", ">", ">="):
        return _compare(expr.op, left, right)
    return _arithmetic(expr.op, left, right)


def _call(expr: Call, record: Record) -> Any:
    if expr.name == "bin":
        if len(expr.args) != 1:
            raise QueryError("bin takes one period, for example bin(5m)")
        return _floor_to(record.get("@timestamp"), evaluate(expr.args[0], record))
    if expr.name in AGGREGATE_NAMES:
        key = _AGGREGATE_KEY + repr(expr)
        if key in record:  # a stats row's own aggregate
            return record[key]
        raise QueryError(f"{expr.name} is an aggregate function: use it in a stats command")
    function = FUNCTIONS.get(expr.name)
    if function is None:
        raise QueryError(f"unknown function {expr.name}")
    try:
        return function(*(evaluate(a, record) for a in expr.args))
    except TypeError as exc:
        raise QueryError(f"wrong number of arguments to {expr.name}") from exc


# -- stats ------------------------------------------------------------------------------------------------


def _numbers(values: list[Any]) -> list[float]:
    return [n for v in values if (n := number(v)) is not None]


def _percentile(values: list[Any], rank: Any) -> float | None:
    found = sorted(_numbers(values))
    if not found:
        return None
    index = max(0, min(len(found) - 1, math.ceil(float(rank) / 100 * len(found)) - 1))
    return found[index]


AGGREGATORS: dict[str, Callable[[list[Any], list[Any]], Any]] = {
    "count": lambda vs, _: sum(v is not None for v in vs),
    "count_distinct": lambda vs, _: len({text(v) for v in vs if v is not None}),
    "sum": lambda vs, _: sum(_numbers(vs)) if _numbers(vs) else None,
    "avg": lambda vs, _: statistics.fmean(_numbers(vs)) if _numbers(vs) else None,
    "min": lambda vs, _: min(_numbers(vs), default=None),
    "max": lambda vs, _: max(_numbers(vs), default=None),
    "stddev": lambda vs, _: statistics.stdev(_numbers(vs)) if len(_numbers(vs)) > 1 else 0.0,
    "pct": lambda vs, args: _percentile(vs, args[0]) if args else None,
    "earliest": lambda vs, _: next((v for v in vs if v is not None), None),
    "latest": lambda vs, _: next((v for v in reversed(vs) if v is not None), None),
}
AGGREGATE_NAMES = frozenset(AGGREGATORS)


def _aggregate_calls(expr: Expr, into: dict[str, Call]) -> None:
    """Every aggregate call inside `expr`, by the key its value is kept under in a stats row."""
    if isinstance(expr, Call) and expr.name in AGGREGATE_NAMES:
        into[_AGGREGATE_KEY + repr(expr)] = expr
    elif isinstance(expr, Call):
        for arg in expr.args:
            _aggregate_calls(arg, into)
    elif isinstance(expr, Unary):
        _aggregate_calls(expr.operand, into)
    elif isinstance(expr, Binary):
        _aggregate_calls(expr.left, into)
        _aggregate_calls(expr.right, into)
    elif isinstance(expr, In):
        for inner in (expr.operand, *expr.choices):
            _aggregate_calls(inner, into)


def _aggregate(stats: Stats, records: Iterable[Record]) -> list[Record]:
    """One row per group of the `by` values, in the order each group first appears. Each aggregate is
    computed once per group; the columns are then evaluated in order over them and earlier columns."""
    calls: dict[str, Call] = {}
    for item in stats.aggregates:
        _aggregate_calls(item.expr, calls)
    groups: dict[tuple[int | str, ...], tuple[Record, dict[str, list[Any]]]] = {}
    for record in sorted(records, key=lambda r: int(r.get("@timestamp") or 0)):
        keys = {item.name: evaluate(item.expr, record) for item in stats.by}
        group = tuple(int(v) if isinstance(v, Stamp) else text(v) for v in keys.values())  # no strftime
        slot = groups.setdefault(group, (keys, {k: [] for k in calls}))
        for key, call in calls.items():
            slot[1][key].append(1 if call.star or not call.args else evaluate(call.args[0], record))
    rows: list[Record] = []
    for keys, columns in groups.values():
        scope = dict(keys)
        for key, call in calls.items():
            extra = [evaluate(a, {}) for a in call.args[1:]]
            try:
                scope[key] = AGGREGATORS[call.name](columns[key], extra)
            except (OverflowError, ValueError):  # beyond a float: no value, as for no numbers at all
                scope[key] = None
        row = dict(keys)
        for item in stats.aggregates:
            row[item.name] = scope[item.name] = evaluate(item.expr, scope)
        rows.append(row)
    return rows


# -- the pipeline -----------------------------------------------------------------------------------------


def _sort(records: list[Record], keys: tuple[tuple[Expr, bool], ...]) -> list[Record]:
    """Stable sorts from the last key to the first; missing values sort last either way."""
    for expr, descending in reversed(keys):
        values = [(evaluate(expr, r), r) for r in records]
        present = [(v, r) for v, r in values if v is not None]
        missing = [r for v, r in values if v is None]
        numeric = all(number(v) is not None for v, _ in present)
        present.sort(key=lambda p: number(p[0]) if numeric else text(p[0]), reverse=descending)  # type: ignore[arg-type,return-value]
        records = [r for _, r in present] + missing
    return records


class Outcome:
    """What a query found: its rows as [{field, value}] lists, and how many records matched."""

    def __init__(self) -> None:
        self.rows: list[list[dict[str, str]]] = []
        self.matched: int | None = None  # records that passed the filters, counted before stats or limit


def run(commands: list[Command], records: Iterator[Record], limit: int) -> Outcome:
    """Run the commands in order. Without `fields`, `display` or `stats` a row shows every field it has;
    rows that are events keep their @ptr, as Logs Insights returns it."""
    outcome = Outcome()
    current: Iterable[Record] = records
    shown: list[str] | None = None
    aggregated = sorted_ = False
    for command in commands:
        current, shown, aggregated, sorted_ = _apply(command, current, shown, aggregated, sorted_, outcome)
    final = list(current)
    if not aggregated and not sorted_:
        final.sort(key=lambda r: int(r.get("@timestamp") or 0), reverse=True)
    if outcome.matched is None:
        outcome.matched = len(final)
    for record in final[:limit]:
        names = shown if shown is not None else [k for k in record if k != "@ptr"]
        if not aggregated and "@ptr" in record and "@ptr" not in names:
            names = [*names, "@ptr"]
        row = [{"field": n, "value": text(record[n])} for n in names if record.get(n) is not None]
        outcome.rows.append(row)
    return outcome


def _apply(
    command: Command,
    records: Iterable[Record],
    shown: list[str] | None,
    aggregated: bool,
    sorted_: bool,
    outcome: Outcome,
) -> tuple[Iterable[Record], list[str] | None, bool, bool]:
    if isinstance(command, Filter):
        condition = command.condition
        return (r for r in records if _truthy(evaluate(condition, r))), shown, aggregated, sorted_
    if isinstance(command, Fields):
        names = [item.name for item in command.items]
        computed = [item for item in command.items if not isinstance(item.expr, Field)]
        shown = names if shown is None else [*shown, *(n for n in names if n not in shown)]
        return (_with(r, computed) for r in records), shown, aggregated, sorted_
    if isinstance(command, Parse):
        return (_parsed(r, command) for r in records), shown, aggregated, sorted_
    if isinstance(command, Display):
        return records, list(command.names), aggregated, sorted_
    if isinstance(command, Stats):
        kept = list(records)
        outcome.matched = len(kept) if outcome.matched is None else outcome.matched
        rows = _aggregate(command, kept)
        return rows, [i.name for i in (*command.by, *command.aggregates)], True, sorted_
    if isinstance(command, Sort):
        return _sort(list(records), command.keys), shown, aggregated, True
    assert isinstance(command, Limit)
    kept = list(records)
    outcome.matched = len(kept) if outcome.matched is None else outcome.matched
    if not aggregated and not sorted_:
        kept.sort(key=lambda r: int(r.get("@timestamp") or 0), reverse=True)
        sorted_ = True
    return kept[: command.count], shown, aggregated, sorted_


def _with(record: Record, computed: list[Named]) -> Record:
    if not computed:
        return record
    return {**record, **{item.name: evaluate(item.expr, record) for item in computed}}


def _parsed(record: Record, command: Parse) -> Record:
    source = evaluate(command.source, record)
    match = command.pattern.search(text(source)) if source is not None else None
    if match is None:
        return record
    if command.pattern.groupindex:
        found = {name: match.group(name) for name in command.names}
    else:
        found = dict(zip(command.names, match.groups(), strict=True))
    return {**record, **found}
