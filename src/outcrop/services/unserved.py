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


def as_written(_name: str, why: str) -> str:
    """A `message` for reasons that are already the whole refusal."""
    return why


def unserved(
    params: Mapping[str, Any],
    reasons: Mapping[str, str],
    asks: Callable[[str, Any], bool] = lambda _name, value: asks_for(value),
) -> list[str]:
    """The members of `reasons`, in their order, whose value in `params` asks for something."""
    return [name for name in reasons if params.get(name) is not None and asks(name, params[name])]


def refuse_unserved(
    params: Mapping[str, Any],
    reasons: Mapping[str, str],
    error: Callable[[str], ServiceError],
    asks: Callable[[str, Any], bool] = lambda _name, value: asks_for(value),
    message: Callable[[str, str], str] = lambda name, why: f"Outcrop does not serve {name}: {why}.",
) -> None:
    """`error` naming the first member of `reasons` whose value asks for something, and why it cannot be
    (`message` words it, for services whose refusals read otherwise)."""
    for name in unserved(params, reasons, asks)[:1]:
        raise error(message(name, reasons[name]))
