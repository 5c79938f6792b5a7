"""The web console at `/`: static pages that talk to Outcrop the way any client does.

The browser signs AWS calls itself (SigV4 with the Web Crypto API, credentials from the console's settings)
and calls the OpenAI-compatible API and `/_outcrop/health`, so the console needs no server code beyond
serving its files, and it shows exactly what a boto3 user would get. Every asset is served from here, and
`auth.json` tells the page the server's auth mode: under `auth = "iam"` it signs in with a key pair first.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from functools import cache
from importlib import resources
from pathlib import PurePosixPath

from outcrop.app import App
from outcrop.protocol.parse import HttpRequest
from outcrop.protocol.serialize import HttpResponse
from outcrop.services.base import Service

ASSET_PREFIX = "/_outcrop/console/"
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
# The console only talks to its own origin.
_SECURITY = {
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}

Handler = Callable[[HttpRequest], Awaitable[HttpResponse]]


@cache
def _asset(name: str) -> bytes | None:
    """The bytes of one file of `static/console`; None for anything outside it or missing."""
    parts = PurePosixPath(name).parts
    if not parts or any(part in ("..", "") or part.startswith(".") for part in parts):
        return None
    node = resources.files("outcrop.web").joinpath("static", "console", *parts)
    return node.read_bytes() if node.is_file() else None


def _file_response(name: str, request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        return HttpResponse(405, {"allow": "GET, HEAD", "content-type": "text/plain"}, b"Method Not Allowed")
    body = _asset(name)
    if body is None:
        return HttpResponse(404, {"content-type": "text/plain; charset=utf-8"}, b"Not Found")
    kind = _TYPES.get(PurePosixPath(name).suffix, "application/octet-stream")
    headers = {"content-type": kind, "cache-control": "no-cache", **_SECURITY}
    return HttpResponse(200, headers, body)


async def index(request: HttpRequest) -> HttpResponse:
    return _file_response("index.html", request)


async def asset(request: HttpRequest) -> HttpResponse:
    path = request.raw_path.split("?", 1)[0]
    return _file_response(path.removeprefix(ASSET_PREFIX) or "index.html", request)


async def to_console(request: HttpRequest) -> HttpResponse:
    return HttpResponse(308, {"location": ASSET_PREFIX, "content-type": "text/plain"}, b"")


def mount(app: App, services: Mapping[str, Service]) -> dict[str, Handler]:
    body = json.dumps({"auth": app.settings.auth}).encode()

    async def auth_mode(request: HttpRequest) -> HttpResponse:
        """Only the mode's name: the page needs it to know whether to ask for a key before any call."""
        return HttpResponse(200, {"content-type": "application/json", "cache-control": "no-cache"}, body)

    # The gateway serves "/" here only for a plain page load (never a prefix, a query or a bucket's host).
    return {
        "/": index,
        ASSET_PREFIX: asset,
        ASSET_PREFIX.rstrip("/"): to_console,
        ASSET_PREFIX + "auth.json": auth_mode,
    }
