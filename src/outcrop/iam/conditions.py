"""Policy conditions: the operator families IAM documents, over the request's context keys.

Within one condition key the policy's values are ORed; keys and operators are ANDed. A key missing from
the request fails a condition, except `...IfExists` (passes), the negated operators (pass: nothing
matched), `Null` (tests presence) and `ForAllValues:` (passes on an empty set).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from outcrop.iam.patterns import substitute, wildcard

Context = Mapping[str, Sequence[str]]  # lower-case key -> the request's values


def _lower(a: str, b: str) -> bool:
    return a.lower() == b.lower()


def _like(value: str, pattern: str) -> bool:
    return wildcard(pattern).match(value) is not None


def _arn_like(value: str, pattern: str) -> bool:
    """ARNs match part by part: a wildcard never crosses the first five colons."""
    v, p = value.split(":", 5), pattern.split(":", 5)
    if len(v) != 6 or len(p) != 6:
        return False
    return all(_like(a, b) for a, b in zip(v, p, strict=True))


def _number(text: str) -> float:
    return float(text)


def _date(text: str) -> float:
    if text.replace(".", "", 1).isdigit():
        return float(text)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def _ip(value: str, network: str) -> bool:
    try:
        return ipaddress.ip_address(value) in ipaddress.ip_network(network, strict=False)
    except ValueError:
        return False


def _compare(
    convert: Callable[[str], float], test: Callable[[float, float], bool]
) -> Callable[[str, str], bool]:
    def check(value: str, policy: str) -> bool:
        try:
            return test(convert(value), convert(policy))
        except ValueError:
            return False

    return check


# operator -> (match one request value against one policy value, negated)
_OPERATORS: dict[str, tuple[Callable[[str, str], bool], bool]] = {
    "StringEquals": (str.__eq__, False),
    "StringNotEquals": (str.__eq__, True),
    "StringEqualsIgnoreCase": (_lower, False),
    "StringNotEqualsIgnoreCase": (_lower, True),
    "StringLike": (_like, False),
    "StringNotLike": (_like, True),
    "NumericEquals": (_compare(_number, float.__eq__), False),
    "NumericNotEquals": (_compare(_number, float.__eq__), True),
    "NumericLessThan": (_compare(_number, float.__lt__), False),
    "NumericLessThanEquals": (_compare(_number, float.__le__), False),
    "NumericGreaterThan": (_compare(_number, float.__gt__), False),
    "NumericGreaterThanEquals": (_compare(_number, float.__ge__), False),
    "DateEquals": (_compare(_date, float.__eq__), False),
    "DateNotEquals": (_compare(_date, float.__eq__), True),
    "DateLessThan": (_compare(_date, float.__lt__), False),
    "DateLessThanEquals": (_compare(_date, float.__le__), False),
    "DateGreaterThan": (_compare(_date, float.__gt__), False),
    "DateGreaterThanEquals": (_compare(_date, float.__ge__), False),
    "Bool": (_lower, False),
    "BinaryEquals": (str.__eq__, False),
    "IpAddress": (_ip, False),
    "NotIpAddress": (_ip, True),
    "ArnEquals": (_arn_like, False),
    "ArnLike": (_arn_like, False),
    "ArnNotEquals": (_arn_like, True),
    "ArnNotLike": (_arn_like, True),
}


@dataclass(frozen=True)
class Condition:
    operator: str  # as written, e.g. "ForAnyValue:StringLikeIfExists"
    key: str  # lower case: condition keys are case-insensitive
    values: tuple[str, ...]

    def holds(self, context: Context) -> bool:
        name = self.operator
        quantifier = ""
        for prefix in ("ForAnyValue:", "ForAllValues:"):
            if name.startswith(prefix):
                quantifier, name = prefix, name[len(prefix) :]
        if_exists = name.endswith("IfExists") and name != "IfExists"
        if if_exists:
            name = name[: -len("IfExists")]
        present = context.get(self.key)
        if name == "Null":
            want_missing = self.values[0].lower() == "true" if self.values else False
            return (not present) == want_missing
        match, negated = _OPERATORS[name]
        if not present:
            return if_exists or negated or quantifier == "ForAllValues:"
        values = [
            substitute(v, {k: list(vs) for k, vs in context.items()}) if "${" in v else v for v in self.values
        ]

        def any_match(request_value: str) -> bool:
            return any(match(request_value, v) for v in values)

        if quantifier == "ForAllValues:":
            return all(any_match(r) != negated for r in present)
        if negated:
            return not any(any_match(r) for r in present)
        return any(any_match(r) for r in present)


def _operator_known(operator: str) -> bool:
    name = operator
    for prefix in ("ForAnyValue:", "ForAllValues:"):
        if name.startswith(prefix):
            name = name[len(prefix) :]
    if name.endswith("IfExists"):
        name = name[: -len("IfExists")]
    return name in _OPERATORS or name == "Null"


def parse_conditions(block: Any) -> tuple[Condition, ...]:
    """A statement's Condition block; ValueError on an unknown operator or a value of the wrong type."""
    if not isinstance(block, dict):
        raise ValueError("Condition is not an object")
    found: list[Condition] = []
    for operator, keys in block.items():
        if not isinstance(keys, dict):
            raise ValueError("condition operator value is not an object")
        if not _operator_known(operator):
            if keys:
                raise ValueError(f"unknown condition operator {operator}")
            continue
        for key, raw in keys.items():
            items = raw if isinstance(raw, list) else [raw]
            if not all(isinstance(v, str | bool | int | float) for v in items):
                raise ValueError("condition value")
            texts = tuple(str(v).lower() if isinstance(v, bool) else str(v) for v in items)
            found.append(Condition(operator, key.lower(), texts))
    return tuple(found)
