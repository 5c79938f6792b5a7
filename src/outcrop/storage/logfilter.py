"""CloudWatch Logs filter patterns, the common subset: terms, quoted phrases, `?` alternatives,
`-` exclusions, `%regex%`, and JSON selectors such as `{ $.level = "ERROR" && $.latency > 100 }`.

Matching is case-sensitive, as in CloudWatch. Space-delimited `[a, b, ...]` patterns are refused with an
error rather than silently matching nothing.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from typing import Any

Predicate = Callable[[str], bool]


class FilterPatternError(ValueError):
    """The pattern is malformed or uses syntax Outcrop does not support."""


def compile_pattern(pattern: str | None) -> Predicate:
    text = (pattern or "").strip()
    if not text:
        return lambda message: True
    if text.startswith("{"):
        return _json_pattern(text)
    if text.startswith("["):
        raise FilterPatternError("Space-delimited filter patterns ([...]) are not supported by Outcrop yet.")
    if len(text) > 1 and text.startswith("%") and text.endswith("%"):
        try:
            regex = re.compile(text[1:-1])
        except re.error as exc:
            raise FilterPatternError(f"Invalid regular expression in filter pattern: {exc}") from exc
        return lambda message: regex.search(message) is not None
    return _term_pattern(text)


def _term_pattern(text: str) -> Predicate:
    try:
        tokens = shlex.split(text, posix=True)
    except ValueError as exc:
        raise FilterPatternError(f"Invalid filter pattern: {exc}") from exc
    required = [t for t in tokens if not t.startswith(("?", "-")) or len(t) == 1]
    excluded = [t[1:] for t in tokens if t.startswith("-") and len(t) > 1]
    any_of = [t[1:] for t in tokens if t.startswith("?") and len(t) > 1]

    def matches(message: str) -> bool:
        return (
            all(t in message for t in required)
            and not any(t in message for t in excluded)
            and (not any_of or any(t in message for t in any_of))
        )

    return matches


_CONDITION = re.compile(
    r"\s*(\$(?:\.[A-Za-z0-9_\-]+|\[\d+\])+)\s*(=|!=|<=|>=|<|>)\s*(\"(?:[^\"\\]|\\.)*\"|[^\s&|)]+)\s*"
)


def _json_pattern(text: str) -> Predicate:
    if not text.endswith("}"):
        raise FilterPatternError("Invalid filter pattern: a JSON pattern must end with '}'.")
    body = text[1:-1].strip()
    if "(" in body:
        raise FilterPatternError("Parentheses in JSON filter patterns are not supported by Outcrop yet.")
    alternatives = [part.split("&&") for part in body.split("||")]
    compiled = [[_condition(c) for c in conj] for conj in alternatives]

    def matches(message: str) -> bool:
        try:
            document = json.loads(message)
        except ValueError:
            return False
        return any(all(check(document) for check in conj) for conj in compiled)

    return matches


def _condition(text: str) -> Callable[[Any], bool]:
    m = _CONDITION.fullmatch(text)
    if m is None:
        raise FilterPatternError(f"Invalid filter pattern: cannot read condition {text.strip()!r}.")
    path, op, raw = m.groups()
    steps: list[str | int] = [
        int(s[1:-1]) if s.startswith("[") else s[1:] for s in re.findall(r"\.[^.\[]+|\[\d+\]", path)
    ]
    quoted = raw.startswith('"')
    value = raw[1:-1] if quoted else raw

    def check(document: Any) -> bool:
        found = _select(document, steps)
        if found is _MISSING:
            return False  # a condition on a missing field never holds, = or !=
        if op in ("=", "!=") and (quoted or not _is_number(value)):
            actual = json.dumps(found) if isinstance(found, bool) or found is None else str(found)
            equal = re.fullmatch(re.escape(value).replace(r"\*", ".*"), actual) is not None
            return equal if op == "=" else not equal
        if not _is_number(value) or isinstance(found, bool) or not isinstance(found, int | float):
            return False
        number = float(value)
        return {
            "=": found == number,
            "!=": found != number,
            "<": found < number,
            ">": found > number,
            "<=": found <= number,
            ">=": found >= number,
        }[op]

    return check


_MISSING = object()


def _select(document: Any, steps: list[str | int]) -> Any:
    for step in steps:
        in_list = isinstance(step, int) and isinstance(document, list) and step < len(document)
        in_dict = isinstance(step, str) and isinstance(document, dict) and step in document
        if in_list or in_dict:
            document = document[step]
        else:
            return _MISSING
    return document


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
