"""API Gateway, locally: the routes of the apps' REST and HTTP APIs, each running its Lambda function.

Three ways in, as LocalStack users know them and as a browser likes them:
  /restapis/<apiId>/<stage>/_user_request_/<path>   (REST APIs; HTTP APIs with stage `$default` too)
  /_aws/execute-api/<apiId>/<stage>/<path>          (LocalStack's newer form; `$default` stages have none)
  /_apps/<app>/<path>                               (every API of the app, plus its static site)
  http://<apiId>.execute-api.localhost.localstack.cloud:4566/<stage>/<path>   (needs the gateway to hand
      requests for that host to `/_outcrop/execute-api/`; see docs/lambda-apigateway.md)
"""

from __future__ import annotations

import html
import json
import logging
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from outcrop.concurrency import run_blocking
from outcrop.lambdas.events import Match, build_event, find_route
from outcrop.lambdas.registry import FunctionRegistry
from outcrop.lambdas.responses import add_cors, http_response, preflight
from outcrop.lambdas.spec import REST, Api, AppSpec
from outcrop.protocol.parse import HttpRequest
from outcrop.protocol.serialize import HttpResponse

if TYPE_CHECKING:
    from outcrop.app import App
    from outcrop.protocol.gateway import InternalHandler
    from outcrop.services.base import Service
    from outcrop.storage.objects import ObjectStore

log = logging.getLogger("outcrop.apigateway")
HOST_MOUNT = "/_outcrop/execute-api/"
EXECUTE_API_PATH = "/_aws/execute-api/"
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway's quota on a request's payload


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> HttpResponse:
    return HttpResponse(
        status, {"content-type": "application/json", **(headers or {})}, json.dumps(body).encode()
    )


def _too_large() -> HttpResponse:
    """What API Gateway answers for a request body over its 10 MB payload quota."""
    return _json(413, {"message": "Request Too Long"}, {"x-amzn-errortype": "RequestTooLargeException"})


def _missing_route(api: Api | None) -> HttpResponse:
    """What API Gateway answers for a path no route takes: REST says 403, HTTP APIs say 404."""
    if api is not None and api.kind == REST:
        return _json(
            403,
            {"message": "Missing Authentication Token"},
            {"x-amzn-errortype": "MissingAuthenticationTokenException"},
        )
    return _json(404, {"message": "Not Found"})


def _is_preflight(api: Api, request: HttpRequest, path: str) -> bool:
    """An OPTIONS request to a path of an API with CORS settings, unless a route takes OPTIONS itself."""
    if api.cors is None or request.method != "OPTIONS":
        return False
    if any(route.method == "OPTIONS" for route in api.routes if route.pattern().fullmatch(path)):
        return False
    return any(route.pattern().fullmatch(path) for route in api.routes)


def stage_prefix(api: Api) -> str:
    return "" if api.stage == "$default" else f"{api.stage}/"


class LocalApiGateway:
    def __init__(
        self, registry: FunctionRegistry, objects: ObjectStore, *, account_id: str, host: str, port: int
    ) -> None:
        """`objects` holds the apps' static sites; `account_id` goes into events, `host` and `port` into the
        URLs this announces."""
        self.registry = registry
        self.objects = objects
        self.account_id = account_id
        self.host, self.port = host, port
        self.apis: dict[str, Api] = {api.api_id: api for spec in registry.apps.values() for api in spec.apis}

    # -- entry points --------------------------------------------------------------------------------------

    async def restapis(self, request: HttpRequest) -> HttpResponse:
        """`/restapis/<apiId>/<stage>/_user_request_/<path>`."""
        parts = request.raw_path.split("/", 5)  # "", "restapis", id, stage, "_user_request_", rest
        if len(parts) < 5 or parts[4] != "_user_request_":
            return _json(404, {"message": "Use /restapis/<apiId>/<stage>/_user_request_/<path>"})
        api = self.apis.get(parts[2])
        if api is None:
            return _json(404, {"message": f"No API with id {parts[2]} is served here"})
        if parts[3] != api.stage:
            return _missing_route(api)
        return await self._run(api, request, "/" + (parts[5] if len(parts) > 5 else ""))

    async def execute_api_path(self, request: HttpRequest) -> HttpResponse:
        """`/_aws/execute-api/<apiId>/<stage>/<path>`, LocalStack's newer path form (REST and HTTP APIs)."""
        _, _, rest = request.raw_path.partition(EXECUTE_API_PATH)
        api_id, _, rest = rest.partition("/")
        api = self.apis.get(api_id)
        if api is None:
            return _json(404, {"message": f"No API with id {api_id} is served here"})
        return await self._staged(api, request, "/" + rest)

    async def by_host(self, request: HttpRequest) -> HttpResponse:
        """`<apiId>.execute-api.<domain>/<stage>/<path>` (`/<path>` for a `$default` stage)."""
        api = self.apis.get(request.header("host").split(".", 1)[0])
        if api is None:
            return _json(404, {"message": "No API with this host's id is served here"})
        path = request.raw_path
        if path.startswith(HOST_MOUNT):
            path = "/" + path[len(HOST_MOUNT) :]
        return await self._staged(api, request, path)

    async def _staged(self, api: Api, request: HttpRequest, path: str) -> HttpResponse:
        """`/<stage>/<path>`, or just `/<path>` for an HTTP API's `$default` stage."""
        if api.stage != "$default":
            stage, _, rest = path.lstrip("/").partition("/")
            if stage != api.stage:
                return _missing_route(api)
            path = "/" + rest
        return await self._run(api, request, path)

    async def apps(self, request: HttpRequest) -> HttpResponse:
        """`/_apps/<app>/<path>`: the app's API routes first, then its static site (as CloudFront would)."""
        _, _, name_and_path = request.raw_path.partition("/_apps/")
        name, slash, rest = name_and_path.partition("/")
        if not name:
            if "text/html" in request.header("accept"):
                return HttpResponse(200, {"content-type": "text/html; charset=utf-8"}, self._index_page())
            return _json(200, {"apps": self.describe()})
        spec = self.registry.apps.get(name)
        if spec is None:
            return _json(404, {"message": f"No app named {name!r}; apps: {sorted(self.registry.apps)}"})
        if not slash:
            return HttpResponse(308, {"location": f"/_apps/{name}/"}, b"")
        path = "/" + rest
        for api in spec.apis:
            if _is_preflight(api, request, path):
                return preflight(api, request)
            match = find_route(api, request.method, path)
            if match is not None:
                return await self._invoke(match, request)
        if spec.site is not None and request.method in ("GET", "HEAD"):
            return await run_blocking(lambda: self._static(spec, path))
        return _missing_route(spec.apis[0] if len(spec.apis) == 1 else None)

    # -- running -------------------------------------------------------------------------------------------

    async def _run(self, api: Api, request: HttpRequest, path: str) -> HttpResponse:
        if _is_preflight(api, request, path):
            return preflight(api, request)
        match = find_route(api, request.method, path)
        if match is None:
            return _missing_route(api)
        return await self._invoke(match, request)

    async def _invoke(self, match: Match, request: HttpRequest) -> HttpResponse:
        if len(request.body or b"") > MAX_PAYLOAD_BYTES:
            return add_cors(match.api, request, _too_large())
        spec = self.registry.functions[(*self.registry.default, match.route.function)]  # templates' region
        request_id = str(uuid.uuid4())
        event = build_event(match, request, request_id, self.account_id)
        outcome = await self.registry.invoke(spec, event)
        if outcome.error is not None:
            log.warning(
                "%s failed (%s): %s",
                spec.name,
                outcome.error.get("errorType"),
                outcome.error.get("errorMessage"),
            )
        response = http_response(
            outcome, request_id, version=match.route.payload_version, rest=match.api.kind == REST
        )
        return add_cors(match.api, request, response)

    def _static(self, spec: AppSpec, path: str) -> HttpResponse:
        from outcrop.storage.objects import StoreError

        site = spec.site
        assert site is not None
        self.registry.sync_site(site)
        key = unquote(path.lstrip("/"))
        if not key or key.endswith("/"):
            key += site.index
        try:
            info, handle = self.objects.open_object(site.bucket, key)
            with handle:
                data = handle.read()
        except StoreError:
            return _json(404, {"message": f"No object {key} in bucket {site.bucket}"})
        headers = {
            "content-type": info.attributes.content_type,
            "etag": info.etag,
            "cache-control": "no-cache",
        }
        return HttpResponse(200, headers, data)

    # -- discovery -----------------------------------------------------------------------------------------

    def describe(self) -> list[dict[str, Any]]:
        base = self._base_url()
        apps = []
        for spec in self.registry.apps.values():
            apis = []
            for api in spec.apis:
                apis.append(
                    {
                        "id": api.api_id,
                        "type": api.kind,
                        "stage": api.stage,
                        "url": f"{base}/restapis/{api.api_id}/{api.stage}/_user_request_/",
                        "executeApiUrl": f"{base}{EXECUTE_API_PATH}{api.api_id}/{stage_prefix(api)}",
                        "hostUrl": self._host_url(api),
                        "routes": [{"route": r.key, "function": r.function} for r in api.routes],
                    }
                )
            apps.append(
                {
                    "name": spec.name,
                    "url": f"{base}/_apps/{spec.name}/",
                    "functions": sorted(spec.functions),
                    "apis": apis,
                    "site": spec.site.bucket if spec.site else None,
                }
            )
        return apps

    def _index_page(self) -> bytes:
        """`/_apps/` in a browser: each app, its functions and its URLs, as links."""
        e = html.escape
        rows = []
        for app in self.describe():
            functions = ", ".join(app["functions"])
            rows.append(f'<h2><a href="{e(app["url"])}">{e(app["name"])}</a></h2>')
            rows.append(f"<p>functions: {e(functions)}</p><ul>")
            for api in app["apis"]:
                routes = ", ".join(f"{r['route']} → {r['function']}" for r in api["routes"])
                link = f'<a href="{e(api["url"])}">{e(api["url"])}</a>'
                title = f"{api['type']} API <code>{e(api['id'])}</code> (stage {e(api['stage'])})"
                rows.append(f"<li>{title}: {link}<br>{e(routes)}</li>")
            rows.append("</ul>")
        body = "".join(rows) or "<p>No apps: start the server with <code>--app template.yaml</code>.</p>"
        page = f'<!doctype html><meta charset="utf-8"><title>Outcrop apps</title><h1>Lambda apps</h1>{body}'
        return page.encode()

    def _base_url(self) -> str:
        host = self.host if self.host not in ("0.0.0.0", "::", "") else "localhost"
        return f"http://{host}:{self.port}"

    def _host_url(self, api: Api) -> str:
        port = self.port
        return f"http://{api.api_id}.execute-api.localhost.localstack.cloud:{port}/{stage_prefix(api)}"

    def announce(self) -> None:
        for described in self.describe():
            log.info(
                "app %s: %s (functions: %s)",
                described["name"],
                described["url"],
                ", ".join(described["functions"]),
            )
            for api in described["apis"]:
                log.info("  %s API %s: %s", api["type"], api["id"], api["url"])
                log.info("    also %s and %s", api["executeApiUrl"], api["hostUrl"])
                for route in api["routes"]:
                    log.info("    %s -> %s", route["route"], route["function"])


def mount(app: App, services: Mapping[str, Service]) -> dict[str, InternalHandler]:
    """The routes of the functions the `lambda` service serves, from the same registry."""
    if "lambda" not in services:
        return {}
    registry, settings = app.lambda_functions, app.settings
    gateway = LocalApiGateway(
        registry, app.objects, account_id=settings.account_id, host=settings.host, port=settings.port
    )
    for spec in registry.apps.values():
        registry.create_buckets(spec)
    gateway.announce()
    return {
        "/restapis/": gateway.restapis,
        "/_apps/": gateway.apps,
        "/_apps": gateway.apps,
        HOST_MOUNT: gateway.by_host,
        EXECUTE_API_PATH: gateway.execute_api_path,
    }
