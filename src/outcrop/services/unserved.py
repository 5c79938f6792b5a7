"""Request members a service cannot honour: refused by name with the service's validation error, never
accepted and ignored. A member set to its default or an empty value asks for nothing and is accepted, since
SDKs, SAM and consoles send several that way."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from outcrop.protocol.errors import ServiceError


def asks_for(value: Any) -> bool:
    """Whether a value asks for something: None, empty values, False, and objects of only those do not."""
    if isinstance(value, dict):
        return any(asks_for(item) for item in value.values())
    return value not in (None, "", [], {}) and value is not False


def refuse_unserved(
    params: Mapping[str, Any],
    reasons: Mapping[str, str],
    error: Callable[[str], ServiceError],
    asks: Callable[[str, Any], bool] = lambda _name, value: asks_for(value),
) -> None:
    """`error` naming the first member of `reasons` whose value asks for something, and why it cannot be."""
    for name, why in reasons.items():
        if params.get(name) is not None and asks(name, params[name]):
            raise error(f"Outcrop does not serve {name}: {why}.")
