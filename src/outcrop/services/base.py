"""What every service method gets besides its input: who called, where, and whether they are still there."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import ClassVar

from outcrop.inference import Caller

DEFAULT_ACCOUNT_ID = "000000000000"


@dataclass
class RequestContext:
    """Per-request facts. `cancel` is set when the client hangs up, so long work can stop."""

    service: str
    operation: str
    request_id: str
    region: str
    account_id: str = DEFAULT_ACCOUNT_ID
    access_key: str = "anonymous"
    base_url: str = "http://localhost:4566"
    headers: dict[str, str] = field(default_factory=dict)
    cancel: threading.Event = field(default_factory=threading.Event)

    @property
    def caller(self) -> Caller:
        """Who this request is, for the inference path (metering, access control), with its cancel flag."""
        return Caller(self.access_key, self.cancel)

    def arn(
        self, service: str, resource: str, *, region: str | None = None, account: str | None = None
    ) -> str:
        return f"arn:aws:{service}:{self.region if region is None else region}:" + (
            f"{self.account_id if account is None else account}:{resource}"
        )


class Service:
    """Base of every service: `service_name` is botocore's name for it (e.g. `bedrock-runtime`).

    Methods are named as operations in snake_case and take `(ctx, params)`; they return the output dict
    or raise a ServiceError. A plain method runs in a worker thread; an `async def` runs on the event loop.
    What a service uses (stores, the inference path, settings) its `__init__` names as keyword-only
    parameters, and the server passes them in; a service that uses nothing has no `__init__`.
    """

    service_name: ClassVar[str]

    def close(self) -> None:
        """Release what this service built itself at server shutdown; the shared parts it was given
        (stores, hosting, registries) are closed once by `App.close`, after every service."""
