"""OpenAI-shaped errors, and the translation of Outcrop's AWS-shaped ones into them.

OpenAI clients read `{"error": {"message", "type", "param", "code"}}` and the HTTP status (the official
client raises BadRequestError for 400, NotFoundError for 404, RateLimitError for 429 and retries 429/5xx).
"""

from __future__ import annotations

import json
from typing import Any

from outcrop.protocol.errors import ServiceError
from outcrop.protocol.serialize import HttpResponse

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
}


class OpenAIError(Exception):
    def __init__(
        self, message: str, status: int = 400, *, param: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.param = param
        self.code = code

    def body(self) -> dict[str, Any]:
        kind = _TYPES.get(self.status, "server_error" if self.status >= 500 else "invalid_request_error")
        return {"error": {"message": self.message, "type": kind, "param": self.param, "code": self.code}}

    def response(self) -> HttpResponse:
        return HttpResponse(
            self.status, {"content-type": "application/json"}, json.dumps(self.body()).encode()
        )


def from_service_error(error: ServiceError) -> OpenAIError:
    """An AWS error raised by shared domain code, with its status kept (ThrottlingException stays a 429)."""
    status = error.status if error.status in (400, 404, 413, 429) or error.status >= 500 else 400
    code = "rate_limit_exceeded" if status == 429 else None
    if "too long" in str(error).lower():
        code = "context_length_exceeded"
    return OpenAIError(str(error), status, code=code)
