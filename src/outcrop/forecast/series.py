"""Rows of a CSV import become typed columns, and columns become one regular series per item.

Amazon Forecast reads headerless CSV whose columns follow the dataset's schema, parses timestamps with a
Java-style `TimestampFormat`, aggregates the target to the forecast frequency by sum and fills gaps
(zero by default in the middle and at the back, so every series ends where the dataset ends).
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

FREQUENCIES = ("Y", "M", "W", "D", "H", "30min", "15min", "10min", "5min", "1min")
SEASON = {"Y": 1, "M": 12, "W": 52, "D": 7, "H": 24, "30min": 48, "15min": 96, "10min": 144, "5min": 288}
_RANGE = {"Y": "YS", "M": "MS", "W": "W-MON", "H": "h"}
_PERIOD = {"Y": "Y", "M": "M", "W": "W-SUN"}  # W-SUN periods start on Monday
_JAVA = (("yyyy", "%Y"), ("MM", "%m"), ("dd", "%d"), ("HH", "%H"), ("hh", "%H"), ("mm", "%M"), ("ss", "%S"))
FILLS = ("zero", "value", "mean", "median", "min", "max")


class DataError(Exception):
    """The data cannot be used as asked; the message is what the job's Message says."""


Column = list[Any]
Table = dict[str, Column]
SeriesKey = tuple[str, ...]


@dataclass(frozen=True)
class Series:
    """One item's regular series: the timestamp of its first value, and its values at the frequency."""

    start: pd.Timestamp
    values: np.ndarray[Any, np.dtype[np.float64]]


def season_of(frequency: str) -> int:
    """The seasonal period the models and MASE use for a frequency (1 where no season applies)."""
    return SEASON.get(frequency, 1)


def strptime_format(java: str) -> str:
    """A Java date pattern as Forecast takes it (`yyyy-MM-dd HH:mm:ss`, `'T'` literals) in strptime form."""
    out, rest = "", java.replace("'T'", "T")
    while rest:
        for token, code in _JAVA:
            if rest.startswith(token):
                out, rest = out + code, rest[len(token) :]
                break
        else:
            if rest[0].isalpha() and rest[0] != "T":
                raise ValueError(rest[0])
            out, rest = out + rest[0].replace("%", "%%"), rest[1:]
    return out


def default_timestamp_format(frequency: str) -> str:
    return "yyyy-MM-dd" if frequency in ("Y", "M", "W", "D") else "yyyy-MM-dd HH:mm:ss"


def parse_timestamps(values: Sequence[str], java_format: str) -> pd.Series:
    """Parsed timestamps (NaT where a value does not match); a date-only format also takes a time part."""
    fmt = strptime_format(java_format)
    raw = pd.Series(list(values), dtype="object")
    parsed = pd.to_datetime(raw, format=fmt, errors="coerce")
    if "%H" not in fmt and bool(parsed.isna().any()):
        longer = pd.to_datetime(raw, format=fmt + " %H:%M:%S", errors="coerce")
        parsed = parsed.fillna(longer)
    return parsed


def parse_csv(text: str, attributes: Sequence[tuple[str, str]], java_format: str) -> Table:
    """Typed columns of a headerless CSV (a first line naming the attributes is skipped as a header)."""
    names = [name for name, _ in attributes]
    rows = list(csv.reader(io.StringIO(text)))
    if rows and [cell.strip() for cell in rows[0]] == names:
        rows = rows[1:]
    table: Table = {name: [] for name in names}
    for number, row in enumerate(rows, start=1):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(names):
            raise DataError(
                f"Line {number} has {len(row)} columns; the dataset's schema has {len(names)} "
                f"({', '.join(names)})"
            )
        for (name, kind), cell in zip(attributes, row, strict=True):
            table[name].append(_typed(cell.strip(), kind, name, number))
    for name, kind in attributes:
        if kind == "timestamp":
            parsed = parse_timestamps(table[name], java_format)
            bad = np.flatnonzero(parsed.isna().to_numpy())
            if bad.size:
                raise DataError(
                    f"{bad.size} timestamp(s) in column {name} do not match the format {java_format}, "
                    f"the first is {table[name][int(bad[0])]!r}"
                )
            table[name] = [t.isoformat() for t in parsed]
    return table


def _typed(cell: str, kind: str, name: str, line: int) -> Any:
    if kind == "float" or kind == "integer":
        if cell == "":
            return None  # a missing target is filled like a missing timestamp
        try:
            number = float(cell) if kind == "float" else int(cell)
        except ValueError:
            raise DataError(f"Line {line}: the {kind} column {name} holds {cell!r}") from None
        if isinstance(number, float) and not math.isfinite(number):
            raise DataError(f"Line {line}: the {kind} column {name} holds {cell!r}")
        return number
    return cell


def concat(tables: Sequence[Table]) -> Table:
    """One table of several imports with the same columns."""
    out: Table = {}
    for table in tables:
        for name, column in table.items():
            out.setdefault(name, []).extend(column)
    return out


def bucket(stamps: pd.Series, frequency: str) -> pd.Series:
    """Each timestamp's period start at the frequency (Monday weeks, first of month or year)."""
    if frequency in _PERIOD:
        return stamps.dt.to_period(_PERIOD[frequency]).dt.start_time
    return stamps.dt.floor(_RANGE.get(frequency, frequency))


def future(last: pd.Timestamp, steps: int, frequency: str) -> list[pd.Timestamp]:
    """The `steps` period starts after `last`."""
    return list(pd.date_range(start=last, periods=steps + 1, freq=_RANGE.get(frequency, frequency))[1:])


def build_series(
    table: Table,
    *,
    keys: Sequence[str],
    timestamp: str,
    target: str,
    frequency: str,
    fill: Mapping[str, str] | None = None,
) -> dict[SeriesKey, Series]:
    """One regular series per key: sums per period, middle and back gaps filled as `fill` says."""
    if not table.get(timestamp):
        raise DataError("The target time series dataset holds no data")
    frame = pd.DataFrame({name: table[name] for name in (*keys, timestamp, target)})
    frame[timestamp] = bucket(pd.to_datetime(frame[timestamp]), frequency)
    frame[target] = pd.to_numeric(frame[target], errors="coerce")
    summed = frame.groupby([*keys, timestamp], sort=True)[target].sum(min_count=1)
    end = frame[timestamp].max()
    rules = dict(fill or {})
    out: dict[SeriesKey, Series] = {}
    for key, group in summed.groupby(level=list(range(len(keys))), sort=True):
        values = group.droplevel(list(range(len(keys))))
        index = pd.date_range(values.index.min(), end, freq=_RANGE.get(frequency, frequency))
        full = values.reindex(index)
        known = full.to_numpy(dtype=float)
        last_seen = values.index.max()
        middle = np.asarray(index <= last_seen)
        filled = known.copy()
        observed = known[~np.isnan(known)]
        for part, where in (("middlefill", middle), ("backfill", ~middle)):
            gaps = where & np.isnan(known)
            if gaps.any():
                filled[gaps] = _fill_value(rules, part, observed)
        name = tuple(str(k) for k in (key if isinstance(key, tuple) else (key,)))
        out[name] = Series(pd.Timestamp(index[0]), filled)
    return out


def _fill_value(rules: Mapping[str, str], part: str, observed: np.ndarray[Any, Any]) -> float:
    method = rules.get(part, "zero")
    if method == "value":
        return float(rules.get(f"{part}_value", "0"))
    if method == "zero" or observed.size == 0:
        return 0.0
    if method == "mean":
        return float(np.mean(observed))
    if method == "median":
        return float(np.median(observed))
    return float(observed.min() if method == "min" else observed.max())


def check_fill(transformations: Mapping[str, str]) -> str | None:
    """Why a target's filling transformations cannot be honoured, or None."""
    for key, value in transformations.items():
        if key in ("middlefill", "backfill"):
            if value not in FILLS:
                return f"The {key} method {value} is not supported; use one of {', '.join(FILLS)}"
        elif key in ("middlefill_value", "backfill_value"):
            if not re.fullmatch(r"-?\d+(\.\d+)?", value):
                return f"The {key} {value!r} is not a number"
        elif key == "frontfill":
            if value != "none":
                return "The target's frontfill can only be none"
        else:
            return f"The transformation {key} is not supported for the target field"
    return None
