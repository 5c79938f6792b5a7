"""GBNF for integers within JSON-schema bounds (`minimum`, `maximum` and their exclusive forms).

llama-cpp-python's schema converter writes any integer for `{"type": "integer", "minimum": 1,
"maximum": 10}`, so a model could write 20 and the call would then fail validation and be refused. The
rule here allows exactly the integers in range, digit by digit (no leading zeros, at most 16 digits).
"""

from __future__ import annotations

import math
from typing import Any

_DIGITS = 16


def integer_bounds(schema: dict[str, Any]) -> tuple[int | None, int | None] | None:
    """The inclusive (low, high) an integer schema allows; None when it sets no bound."""
    low: int | None = None
    high: int | None = None
    for key, inclusive in (("minimum", True), ("exclusiveMinimum", False)):
        value = schema.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            bound = math.ceil(value) if inclusive else math.floor(value) + 1
            low = bound if low is None else max(low, bound)
    for key, inclusive in (("maximum", True), ("exclusiveMaximum", False)):
        value = schema.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            bound = math.floor(value) if inclusive else math.ceil(value) - 1
            high = bound if high is None else min(high, bound)
    return None if low is None and high is None else (low, high)


def integer_range_rule(low: int | None, high: int | None) -> str | None:
    """A GBNF expression (ending in the converter's `space`) for the integers in [low, high]; None
    when the range is empty."""
    if low is not None and high is not None and low > high:
        return None
    parts: list[str] = []
    if low is None or low < 0:  # the negative part, written as "-" and its absolute value
        top = None if low is None else -low
        bottom = 1 if high is None or high >= 0 else -high
        parts.append(f'"-" {_natural(bottom, top)}')
    if high is None or high >= 0:
        parts.append(_natural(max(low or 0, 0), high))
    return f"({' | '.join(parts)}) space"


def _natural(low: int, high: int | None) -> str:
    """Non-negative integers in [low, high] (high None: unbounded, up to the digit limit)."""
    alternatives: list[str] = []
    longest = len(str(low)) if high is None else len(str(high))
    if high is None and len(str(low)) < _DIGITS:  # every longer number
        alternatives.append(f"[1-9] [0-9]{{{len(str(low))},{_DIGITS - 1}}}")
    for length in range(len(str(low)), longest + 1):
        start = low if length == len(str(low)) else 10 ** (length - 1)
        end = high if high is not None and length == len(str(high)) else 10**length - 1
        if start <= end:
            alternatives.append(_between(str(start), str(end)))
    return "(" + " | ".join(alternatives) + ")"


def _between(low: str, high: str) -> str:
    """Digit strings of one length from `low` to `high` (inclusive)."""
    if not low:
        return '""'
    if low == high:
        return f'"{low}"'
    rest = len(low) - 1
    if low[1:] == "0" * rest and high[1:] == "9" * rest:  # every digit string from low[0]... to high[0]...
        return f"[{low[0]}-{high[0]}]" + (f" [0-9]{{{rest}}}" if rest else "")
    if low[0] == high[0]:
        return f'"{low[0]}" {_between(low[1:], high[1:])}'
    options = [f'"{low[0]}" {_between(low[1:], "9" * rest)}' if rest else f'"{low[0]}"']
    first, last = int(low[0]) + 1, int(high[0]) - 1
    if first <= last:
        options.append(f"[{first}-{last}]" + (f" [0-9]{{{rest}}}" if rest else ""))
    options.append(f'"{high[0]}" {_between("0" * rest, high[1:])}' if rest else f'"{high[0]}"')
    return "(" + " | ".join(options) + ")"
