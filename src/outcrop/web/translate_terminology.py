"""The download link that Translate's GetTerminology hands out (AWS gives a presigned S3 URL there).

The link carries a per-terminology secret, so it works without AWS credentials, as a presigned URL does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from urllib.parse import unquote

from outcrop.app import App
from outcrop.concurrency import run_blocking
from outcrop.protocol.parse import HttpRequest
from outcrop.protocol.serialize import HttpResponse
from outcrop.services.base import Service
from outcrop.services.translate.provider import Translate

PREFIX = "/_outcrop/translate/terminologies/"
_MEDIA_TYPES = {"CSV": "text/csv", "TSV": "text/tab-separated-values", "TMX": "application/x-tmx+xml"}

Handler = Callable[[HttpRequest], Awaitable[HttpResponse]]


def mount(app: App, services: Mapping[str, Service]) -> dict[str, Handler]:
    translate = services.get("translate")
    if not isinstance(translate, Translate):
        return {}

    async def download(request: HttpRequest) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            return HttpResponse(405, {"allow": "GET, HEAD"})
        name = unquote(request.raw_path.split("?", 1)[0][len(PREFIX) :])
        fmt = (request.query.get("format") or [""])[0].upper()
        token = (request.query.get("token") or [""])[0]
        where = ((request.query.get("account") or [""])[0], (request.query.get("region") or [""])[0])
        body = await run_blocking(lambda: translate.terminology_file(name, fmt, token, where))
        if body is None:
            return HttpResponse(
                404, {"content-type": "text/plain"}, b"no such terminology, or a stale link\n"
            )
        media = _MEDIA_TYPES.get(fmt, "application/octet-stream")
        return HttpResponse(
            200, {"content-type": f"{media}; charset=utf-8"}, b"" if request.method == "HEAD" else body
        )

    return {PREFIX: download}
