"""What the gateway tells the services that watch every call (CloudTrail records them): one answered call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class ApiCall:
    """One answered AWS API call, for the services that record calls (CloudTrail: `observe_call`)."""

    at: float
    service: str
    operation: str
    region: str
    access_key: str
    source_ip: str
    user_agent: str
    request_id: str
    params: dict[str, Any]
    status: int
    headers: dict[str, str]
    body: bytes | None  # None when streamed
