"""Logs Insights queries as data: the expressions and commands that the parser builds and the
evaluator runs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# -- expressions ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    name: str


@dataclass(frozen=True)
class Literal:
    value: str | float | int


@dataclass(frozen=True)
class Regex:
    pattern: re.Pattern[str]


@dataclass(frozen=True)
class Duration:
    ms: int


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Expr, ...]
    star: bool = False  # count(*)


@dataclass(frozen=True)
class Unary:
    op: str  # "not" or "-"
    operand: Expr


@dataclass(frozen=True)
class Binary:
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class In:
    operand: Expr
    choices: tuple[Expr, ...]
    negated: bool


Expr = Field | Literal | Regex | Duration | Call | Unary | Binary | In


# -- commands ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Named:
    """An expression and the column it makes: its alias, else the text the user wrote."""

    expr: Expr
    name: str


@dataclass(frozen=True)
class Fields:
    items: tuple[Named, ...]


@dataclass(frozen=True)
class Display:
    names: tuple[str, ...]


@dataclass(frozen=True)
class Filter:
    condition: Expr


@dataclass(frozen=True)
class Stats:
    aggregates: tuple[Named, ...]
    by: tuple[Named, ...]


@dataclass(frozen=True)
class Sort:
    keys: tuple[tuple[Expr, bool], ...]  # (expression, descending)


@dataclass(frozen=True)
class Limit:
    count: int


@dataclass(frozen=True)
class Parse:
    source: Expr
    pattern: re.Pattern[str]
    names: tuple[str, ...] = field(default=())


Command = Fields | Display | Filter | Stats | Sort | Limit | Parse
