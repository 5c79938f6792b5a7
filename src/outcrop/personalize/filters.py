"""Personalize filter expressions: parsed when the filter is created, applied to each recommendation.

    EXCLUDE ItemID WHERE Items.GENRE IN ("Comedy", "Drama") AND Items.PRICE < $PRICE
        | INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click")

Clauses joined by `|` are evaluated apart: excluded sets unite, included sets unite, then the included
set less the excluded one remains. A clause whose `$PARAMETER` gets no value is left out, as on AWS.
Conditions test Items fields (categorical values split on `|`) against values, `$PARAMETER`s or, for
related items, `CurrentItem.FIELD`, or test the user's Interactions.EVENT_TYPE (case-insensitive); one
clause tests one dataset.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from outcrop.personalize.errors import InvalidInput

_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<num>-?\d+(?:\.\d+)?)|(?P<param>\$[A-Za-z_][A-Za-z0-9_]*)'
    r"|(?P<op><=|>=|!=|=|<|>|\(|\)|,|\|)|(?P<word>[A-Za-z_][A-Za-z0-9_.]*))"
)
_COMPARE = ("=", "!=", "<", ">", "<=", ">=")
Value = str | float
MAX_MASKS = 256


@dataclass(frozen=True)
class Condition:
    dataset: str  # Items or Interactions
    field: str
    op: str  # IN, NOT IN, or a comparison
    values: tuple[Value, ...] | str  # literals, or a parameter name


@dataclass(frozen=True)
class Clause:
    include: bool
    groups: tuple[tuple[Condition, ...], ...]  # OR of ANDs


@dataclass(frozen=True)
class Context:
    """What a filter is applied to: the model's items, their Items fields, the user's interactions."""

    items: Sequence[str]
    item_index: Mapping[str, int]
    item_fields: Mapping[str, Mapping[str, Any]]
    user_events: Mapping[str, set[str]]  # item id -> the user's (lower-cased) event types on it
    masks: dict[Condition, np.ndarray] = dataclasses.field(default_factory=dict)  # Items conditions, reused
    current_item: Mapping[str, Any] | None = None  # the Items row of a related-items request's item


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise InvalidInput(f"The filter expression is not valid near: {text[pos : pos + 20]!r}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


def parse(text: str, item_fields: Sequence[str] | None) -> list[Clause]:
    """The clauses of an expression; `item_fields` are the Items schema's fields (None: no Items dataset)."""
    tokens = _tokens(text)
    clauses: list[Clause] = []
    current: list[tuple[str, str]] = []
    for token in [*tokens, ("op", "|")]:
        if token == ("op", "|"):
            if not current:
                raise InvalidInput("The filter expression has an empty clause.")
            clauses.append(_clause(current, item_fields))
            current = []
        else:
            current.append(token)
    return clauses


def _clause(tokens: list[tuple[str, str]], item_fields: Sequence[str] | None) -> Clause:
    words = [value.upper() if kind == "word" else value for kind, value in tokens]
    if len(words) < 3 or words[0] not in ("INCLUDE", "EXCLUDE") or words[2] != "WHERE":
        raise InvalidInput("A filter expression starts with INCLUDE or EXCLUDE ItemID WHERE.")
    if words[1] != "ITEMID":
        raise InvalidInput(f"Outcrop filters items (ItemID); {tokens[1][1]} filters are not supported.")
    groups: list[list[Condition]] = [[]]
    pos = 3
    while True:
        condition, pos = _condition(tokens, pos, item_fields)
        groups[-1].append(condition)
        if pos == len(tokens):
            break
        joiner = tokens[pos][1].upper()
        if joiner == "OR":
            groups.append([])
        elif joiner != "AND":
            raise InvalidInput(f"Expected AND or OR in the filter expression, found {tokens[pos][1]!r}.")
        pos += 1
    datasets = {c.dataset for group in groups for c in group}
    if len(datasets) > 1:
        raise InvalidInput(
            "You can't use Interactions and Items datasets in one expression: chain them with |."
        )
    return Clause(words[0] == "INCLUDE", tuple(tuple(g) for g in groups))


def _condition(
    tokens: list[tuple[str, str]], pos: int, item_fields: Sequence[str] | None
) -> tuple[Condition, int]:
    if pos >= len(tokens) or tokens[pos][0] != "word" or "." not in tokens[pos][1]:
        raise InvalidInput("Each condition names a dataset field, such as Items.GENRE.")
    dataset, _, field = tokens[pos][1].partition(".")
    if dataset not in ("Items", "Interactions"):
        raise InvalidInput(f"Outcrop filters on Items and Interactions fields, not {dataset}.")
    if dataset == "Interactions" and field != "EVENT_TYPE":
        raise InvalidInput("Interactions can be filtered only by EVENT_TYPE.")
    if dataset == "Items":
        if item_fields is None:
            raise InvalidInput("The filter uses Items fields, but the dataset group has no Items dataset.")
        if field not in item_fields:
            raise InvalidInput(f"The Items dataset's schema has no field {field}.")
    pos += 1
    rest = [value.upper() if kind == "word" else value for kind, value in tokens[pos:]]
    if rest[:2] == ["NOT", "IN"]:
        op, pos = "NOT IN", pos + 2
    elif rest[:1] == ["IN"]:
        op, pos = "IN", pos + 1
    elif rest[:1] and rest[0] in _COMPARE:
        op, pos = rest[0], pos + 1
    else:
        raise InvalidInput("A condition needs IN, NOT IN or a comparison (=, <, >, <=, >=).")
    if dataset == "Interactions" and op not in ("IN", "NOT IN"):
        raise InvalidInput("Interactions.EVENT_TYPE is tested with IN or NOT IN.")
    if pos < len(tokens) and tokens[pos][0] == "word" and tokens[pos][1].startswith("CurrentItem."):
        if dataset != "Items":
            raise InvalidInput("CurrentItem is compared with Items fields.")
        other = tokens[pos][1].partition(".")[2]
        if item_fields is not None and other not in item_fields:
            raise InvalidInput(f"The Items dataset's schema has no field {other}.")
        return Condition(dataset, field, op, tokens[pos][1]), pos + 1
    if op in ("IN", "NOT IN"):
        values, pos = _list(tokens, pos)
    else:
        values, pos = _single(tokens, pos)
    return Condition(dataset, field, op, values), pos


def _list(tokens: list[tuple[str, str]], pos: int) -> tuple[tuple[Value, ...] | str, int]:
    if pos >= len(tokens) or tokens[pos] != ("op", "("):
        raise InvalidInput("IN takes a parenthesized list of values or a $PARAMETER.")
    pos += 1
    if pos < len(tokens) and tokens[pos][0] == "param":
        if pos + 1 >= len(tokens) or tokens[pos + 1] != ("op", ")"):
            raise InvalidInput("A $PARAMETER stands alone in its parentheses.")
        return tokens[pos][1][1:], pos + 2
    values: list[Value] = []
    while True:
        value, pos = _literal(tokens, pos)
        values.append(value)
        if pos < len(tokens) and tokens[pos] == ("op", ","):
            pos += 1
            continue
        if pos < len(tokens) and tokens[pos] == ("op", ")"):
            return tuple(values), pos + 1
        raise InvalidInput("A value list is closed with ).")


def _single(tokens: list[tuple[str, str]], pos: int) -> tuple[tuple[Value, ...] | str, int]:
    if pos < len(tokens) and tokens[pos][0] == "param":
        return tokens[pos][1][1:], pos + 1
    value, pos = _literal(tokens, pos)
    return (value,), pos


def _literal(tokens: list[tuple[str, str]], pos: int) -> tuple[Value, int]:
    if pos >= len(tokens) or tokens[pos][0] not in ("str", "num"):
        raise InvalidInput('Filter values are quoted strings ("Comedy") or numbers.')
    kind, text = tokens[pos]
    return (text[1:-1].replace('\\"', '"') if kind == "str" else float(text)), pos + 1


def parameters(clauses: Sequence[Clause]) -> set[str]:
    return {
        c.values
        for cl in clauses
        for g in cl.groups
        for c in g
        if isinstance(c.values, str) and not c.values.startswith("CurrentItem.")
    }


def allowed(clauses: Sequence[Clause], context: Context, values: Mapping[str, str]) -> np.ndarray:
    """A mask over `context.items`: True where the filter lets the item through."""
    n = len(context.items)
    included = np.zeros(n, dtype=bool)
    excluded = np.zeros(n, dtype=bool)
    any_include = False
    for clause in clauses:
        groups = [[_bind(c, values, context.current_item) for c in group] for group in clause.groups]
        if any(c is None for group in groups for c in group):
            continue  # a parameter without a value leaves its clause out
        matched = np.zeros(n, dtype=bool)
        for group in groups:
            hits = np.ones(n, dtype=bool)
            for condition in group:
                assert condition is not None
                hits &= _matches(condition, context)
            matched |= hits
        if clause.include:
            any_include = True
            included |= matched
        else:
            excluded |= matched
    return (included if any_include else np.ones(n, dtype=bool)) & ~excluded


def _bind(
    condition: Condition, values: Mapping[str, str], current: Mapping[str, Any] | None
) -> Condition | None:
    if not isinstance(condition.values, str):
        return condition
    if condition.values.startswith("CurrentItem."):  # the value of the item recommendations are related to
        if current is None:
            raise InvalidInput("A filter with CurrentItem applies only to related-items recommendations.")
        found = current.get(condition.values.partition(".")[2])
        if found is None:
            return None
        if isinstance(found, str):
            parts = tuple(found.split("|")) if condition.op in ("IN", "NOT IN") else (found,)
            return Condition(condition.dataset, condition.field, condition.op, parts)
        return Condition(condition.dataset, condition.field, condition.op, (float(found),))
    raw = values.get(condition.values)
    if raw is None or raw == "":
        return None
    literals: list[Value] = []
    for kind, text in _tokens(raw):
        if kind == "str":
            literals.append(text[1:-1].replace('\\"', '"'))
        elif kind == "num":
            literals.append(float(text))
        elif (kind, text) != ("op", ","):
            raise InvalidInput(f"The filter value for {condition.values} is not a list of quoted strings.")
    return Condition(condition.dataset, condition.field, condition.op, tuple(literals))


def _matches(condition: Condition, context: Context) -> np.ndarray:
    values = condition.values
    assert not isinstance(values, str)
    if condition.dataset == "Interactions":  # only the user's few items can match
        wanted = {str(v).lower() for v in values}
        out = np.zeros(len(context.items), dtype=bool)
        for item, events in context.user_events.items():
            index = context.item_index.get(item)
            if index is not None and events & wanted:
                out[index] = True
        return out if condition.op == "IN" else ~out
    cached = context.masks.get(condition)
    if cached is None:  # the same for every user: worked out once per catalog version
        cached = np.fromiter(
            (
                _test(context.item_fields.get(item, {}).get(condition.field), condition.op, values)
                for item in context.items
            ),
            dtype=bool,
            count=len(context.items),
        )
        if len(context.masks) >= MAX_MASKS:  # each distinct $PARAMETER value is a condition of its own
            context.masks.clear()
        context.masks[condition] = cached
    return cached


def _test(field: Any, op: str, values: tuple[Value, ...]) -> bool:
    if field is None:
        return op == "NOT IN"
    if op in ("IN", "NOT IN"):
        parts = set(str(field).split("|")) if isinstance(field, str) else {field}
        wanted = {str(v) for v in values if isinstance(v, str)}
        numbers = {v for v in values if isinstance(v, float)}
        numeric = {float(p) for p in parts if isinstance(p, int | float)}
        hit = bool({str(p) for p in parts} & wanted) or bool(numeric & numbers)
        return hit if op == "IN" else not hit
    target = values[0]
    try:
        left: Any = float(field) if isinstance(target, float) else str(field)
    except (TypeError, ValueError):
        return False
    result: bool = {
        "=": left == target,
        "!=": left != target,
        "<": left < target,
        ">": left > target,
        "<=": left <= target,
        ">=": left >= target,
    }[op]
    return result
