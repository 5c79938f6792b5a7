"""IAM's glob patterns and policy variables, shared by statements and conditions."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache


@lru_cache(maxsize=4096)
def wildcard(pattern: str, *, ignore_case: bool = False) -> re.Pattern[str]:
    """IAM's glob: `*` any run of characters, `?` one character, everything else literal (a character
    after NUL is literal too: `substitute` marks `${*}` and `${?}` so)."""
    parts: list[str] = []
    literal = False
    for c in pattern:
        if literal or c not in "*?\0":
            parts.append(re.escape(c))
            literal = False
        elif c == "\0":
            literal = True
        else:
            parts.append(".*" if c == "*" else ".")
    body = "".join(parts)
    return re.compile(f"^{body}$", re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


_VARIABLE = re.compile(r"\$\{([^}]+)\}")


def substitute(pattern: str, variables: Mapping[str, Sequence[str]]) -> str:
    """Policy variables (`${aws:username}`); `${*}`, `${?}`, `${$}` are the literal characters."""

    def one(m: re.Match[str]) -> str:
        name, _, default = m.group(1).partition(",")
        name = name.strip()
        if name in ("*", "?", "$"):
            return "\0" + name  # literal: see `wildcard`
        values = variables.get(name.lower())
        if values:
            return values[0]
        return default.strip().strip("'") if default else "\0\0"  # an unknown variable matches nothing

    return _VARIABLE.sub(one, pattern)
