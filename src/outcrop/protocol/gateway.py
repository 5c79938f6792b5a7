"""The ASGI application: route → authenticate → parse → validate → authorize → call the service → serialize.

Also where the HTTP-level AWS behaviours live: `aws-chunked` bodies, S3 virtual-host addressing, client
disconnects stopping the work they started, and retries with the same `amz-sdk-invocation-id` joining
the call already running instead of starting a second one.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
import traceback
import uuid
from asyncio import FIRST_COMPLETED
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from botocore import xform_name
from botocore.model import OperationModel

from outcrop.concurrency import run_blocking
from outcrop.protocol.auth import Authenticator, Authorizer, Caller, identify
from outcrop.protocol.calls import ApiCall
from outcrop.protocol.chunked import is_aws_chunked, unchunk
from outcrop.protocol.errors import (
    InternalServerException,
    NotImplementedOperation,
    ServiceError,
    ValidationException,
)
from outcrop.protocol.fallback import aws_only, declared_length, guess_protocol, names_operation, unrouted
from outcrop.protocol.keepalive import AnswerLost, keeps_alive, kept_alive
from outcrop.protocol.origin import OriginPolicy
from outcrop.protocol.parse import HttpRequest, parse_request
from outcrop.protocol.router import (
    RouteMatch,
    Router,
    service_hint_from_user_agent,
    service_model,
)
from outcrop.protocol.serialize import HttpResponse, serialize_error, serialize_output
from outcrop.protocol.shared_calls import SharedCall, SharedCalls
from outcrop.protocol.validate import require_members, validate
from outcrop.services.base import RequestContext, Service

log = logging.getLogger("outcrop.gateway")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
InternalHandler = Callable[[HttpRequest], Awaitable[HttpResponse]]

# Which of two services wins a URI that both model identically (the user agent usually settles it first).
ROUTE_PRIORITY = (
    "s3",
    "bedrock-runtime",
    "bedrock",
    "bedrock-agent-runtime",
    "bedrock-agent",
    "sagemaker-runtime",
)

# Services whose input-validation failures carry another code than ValidationException (same message).
VALIDATION_ERROR_CODES = {
    "s3": "InvalidArgument",  # a header or query value S3 cannot read
    "logs": "InvalidParameterException",
    "sagemaker-runtime": "ValidationError",
    "iam": "ValidationError",  # the query services word it so (botocore models no code for it)
    "sts": "ValidationError",
    **dict.fromkeys(
        ("forecast", "forecastquery", "personalize", "personalize-runtime", "personalize-events"),
        "InvalidInputException",
    ),
}
# S3 does not validate input against its model: it answers its own errors (InvalidArgument,
# InvalidLocationConstraint, ...) from the service, never a ValidationException.
UNVALIDATED_SERVICES = frozenset({"s3"})


@dataclass
class RequestRecord:
    """One line of the recent-requests log shown by the console."""

    at: float
    service: str
    operation: str
    status: int
    millis: float


@dataclass
class GatewaySettings:
    default_region: str = "us-east-1"
    account_id: str = "000000000000"
    max_body_bytes: int = 1024**3  # bodies are held in memory; S3 multipart carries bigger objects
    retry_grace_seconds: float = 20.0  # how long a call whose client left waits for a retry to join it
    retry_memory_seconds: float = 120.0  # how long a finished result is kept for a late retry
    retry_memory_delivered: int = 256  # how many results their clients already got are kept for one
    keepalive_seconds: float = 10.0  # a JSON answer running longer starts and sends a space this often
    base_hosts: tuple[str, ...] = ("localhost", "127.0.0.1", "s3.localhost.localstack.cloud")


class Gateway:
    def __init__(
        self,
        services: Mapping[str, Service],
        authenticator: Authenticator,
        settings: GatewaySettings | None = None,
        internal: Mapping[str, InternalHandler] | None = None,
        origins: OriginPolicy | None = None,
    ) -> None:
        self.services = dict(services)
        self.origins = origins or OriginPolicy()  # Host, cross-site and CORS checks (protocol/origin.py)
        self.authenticator = authenticator
        self.authorizer = authenticator if isinstance(authenticator, Authorizer) else None
        self.settings = settings or GatewaySettings()
        self.internal = dict(internal or {})
        # Mounts, longest first ("/" is an exact path only: a mount there would take every unsigned request).
        mounts = [key for key in self.internal if key.endswith("/") and key != "/"]
        self._mounts = sorted(mounts, key=len, reverse=True)
        self.router = Router(self.services, ROUTE_PRIORITY)
        self.recent: deque[RequestRecord] = deque(maxlen=200)
        self._shared = SharedCalls(
            self.settings.retry_grace_seconds,
            self.settings.retry_memory_seconds,
            self.settings.retry_memory_delivered,
        )
        self.on_shutdown: list[Callable[[], None]] = []
        # Services that record every answered call; called on the event loop, so they only enqueue it.
        self.observers = [o for s in self.services.values() if (o := getattr(s, "observe_call", None))]

    # -- ASGI ----------------------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        request = await self._read_request(scope, receive)
        disconnected = asyncio.Event()
        watcher = asyncio.create_task(self._watch_disconnect(receive, disconnected))
        try:
            response, service, operation = await self._handle(scope, request, disconnected)
            head = request.method == "HEAD"
            if head or response.status in (204, 304):
                await self._drop_body(response, keep_length=head)
            await self._send(send, response, disconnected, head=head)
        finally:
            watcher.cancel()
        status = response.status
        if service:
            self.recent.append(
                RequestRecord(time.time(), service, operation, status, 1000 * (time.perf_counter() - started))
            )

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for hook in self.on_shutdown:
                    hook()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _read_request(self, scope: Scope, receive: Receive) -> HttpRequest:
        chunks: list[bytes] = []
        size = 0
        # A declared length over the limit is refused before a byte is read; an undeclared (chunked)
        # body is counted as it streams in and dropped once it passes the limit.
        too_large = declared_length(scope.get("headers", [])) > self.settings.max_body_bytes
        while not too_large:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.settings.max_body_bytes:
                too_large = True  # keep draining, hold nothing: the request is refused whole
            else:
                chunks.append(chunk)
            if not message.get("more_body"):
                break
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope["headers"]:
            name = raw_name.decode("latin-1").lower()
            value = raw_value.decode("latin-1")
            headers[name] = f"{headers[name]},{value}" if name in headers else value
        raw_path = scope.get("raw_path") or scope["path"].encode()
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        request = HttpRequest(
            scope["method"], raw_path.decode("latin-1").split("?")[0], query, headers, b"".join(chunks)
        )
        request.too_large = too_large
        return request

    @staticmethod
    async def _watch_disconnect(receive: Receive, disconnected: asyncio.Event) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                disconnected.set()
                return

    @staticmethod
    async def _drop_body(response: HttpResponse, *, keep_length: bool) -> None:
        """HEAD answers, 204 and 304 carry no body. A HEAD keeps the Content-Length the service declared
        (HeadObject's object size); one without it, such as a HEAD error, says 0."""
        body = response.body
        if not isinstance(body, bytes) and hasattr(body, "aclose"):
            await body.aclose()
        response.body = b""
        if not keep_length:
            response.headers.pop("content-length", None)

    async def _send(
        self, send: Send, response: HttpResponse, disconnected: asyncio.Event, *, head: bool = False
    ) -> None:
        body = response.body
        headers = dict(response.headers)
        if isinstance(body, bytes) and not (head and "content-length" in headers):
            headers["content-length"] = str(len(body))
        raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        await send({"type": "http.response.start", "status": response.status, "headers": raw_headers})
        if isinstance(body, bytes):
            await send({"type": "http.response.body", "body": body})
            return
        try:
            async for chunk in body:
                if disconnected.is_set():
                    break
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except AnswerLost as lost:
            log.warning("closing the connection unfinished: %s", lost)
            return  # the server closes a response left unfinished: the client sees it broken
        finally:
            if isinstance(body, AsyncIterator) and hasattr(body, "aclose"):
                await body.aclose()
        if not disconnected.is_set():
            await send({"type": "http.response.body", "body": b""})

    # -- dispatch ------------------------------------------------------------------------------------------

    async def _handle(
        self, scope: Scope, request: HttpRequest, disconnected: asyncio.Event
    ) -> tuple[HttpResponse, str, str]:
        request_id = str(uuid.uuid4())
        handler = self._internal_handler(request.raw_path)
        if request.raw_path == "/" and (request.query or self._virtual_host_path(request) != "/"):
            handler = None  # "/" is the console only for a plain page load; bucket listings stay S3's
        if ".execute-api." in request.header("host"):  # API Gateway's host form: the local API Gateway
            handler = self.internal.get("/_outcrop/execute-api/", handler)
        screened = self.origins.screen(request, internal=handler is not None)
        if screened is not None:
            return screened, "", ""
        route: RouteMatch | None = None
        caller: Caller | None = None
        params: dict[str, Any] = {}
        try:
            if request.too_large:
                limit = self.settings.max_body_bytes
                raise ServiceError(
                    f"The request body is larger than this server accepts ({limit} bytes).",
                    code="RequestEntityTooLarge",
                    status=413,
                    sender_fault=True,
                )
            unsigned = "authorization" not in request.headers
            if handler is not None and unsigned and not names_operation(request):
                return await handler(request), "", ""
            caller = identify(request, self.settings.default_region)
            if is_aws_chunked(request) and caller.signing_name in ("s3", None):  # S3's encoding only
                unchunk(request)
            route = self._route(request, caller.signing_name)
            if route is None:
                if handler is not None and not aws_only(request, caller.scheme):
                    return await handler(request), "", ""
                return unrouted(self.router, request, caller.signing_name, request_id), "", ""
            self.authenticator.authenticate(request, caller)
            try:
                params = parse_request(route.operation, request, route.labels, route.protocol)
                if route.service not in UNVALIDATED_SERVICES:
                    validate(route.operation.input_shape, params)
                else:
                    require_members(route.operation, params)
            except ValidationException as error:
                error.code = VALIDATION_ERROR_CODES.get(route.service, error.code)
                raise
            self.origins.check_call(request, caller, route.service)
            if self.authorizer is not None:
                client = scope.get("client") or ("", 0)
                self.authorizer.authorize(
                    request, caller, route.service, route.operation.name, params, str(client[0])
                )
            ctx = RequestContext(
                service=route.service,
                operation=route.operation.name,
                request_id=request_id,
                region=caller.region,
                account_id=self.settings.account_id,
                access_key=caller.access_key,
                base_url=self._base_url(scope, request),
                headers=request.headers,
            )
            response = await self._run_shared_or_alone(
                route, ctx, params, request, caller.access_key, disconnected
            )
        except ServiceError as error:
            if route is None:  # refused before routing (body size, aws-chunked framing, signature)
                model, protocol = guess_protocol(
                    self.router, request, caller.signing_name if caller else None
                )
                response = serialize_error(model, error, request_id, protocol)
            else:
                response = serialize_error(service_model(route.service), error, request_id, route.protocol)
        except Exception:
            log.error(
                "unhandled error in %s: %s",
                route.operation.name if route else "routing",
                traceback.format_exc(),
            )
            model = service_model(route.service) if route else None
            response = serialize_error(
                model,
                InternalServerException("An internal error occurred."),
                request_id,
                route.protocol if route else None,
            )
        if route is not None and caller is not None and self.observers:
            body = response.body if isinstance(response.body, bytes) else None
            client = (scope.get("client") or ("", 0))[0]
            call = ApiCall(
                at=time.time(),
                service=route.service,
                operation=route.operation.name,
                region=caller.region,
                access_key=caller.access_key,
                source_ip=str(client),
                user_agent=request.header("user-agent"),
                request_id=request_id,
                params=params,
                status=response.status,
                headers=response.headers,
                body=body,
            )
            for observe in self.observers:
                observe(call)
        self.origins.add_cors(request, response)
        return response, route.service if route else "", route.operation.name if route else ""

    def _internal_handler(self, path: str) -> InternalHandler | None:
        """Outcrop's own pages and APIs: an exact path, or the longest mount (a key ending in `/`) above it.

        They answer requests that carry no AWS signature, and any request no AWS operation matches."""
        handler = self.internal.get(path)
        if handler is not None:
            return handler
        for prefix in self._mounts:
            if path.startswith(prefix):
                return self.internal[prefix]
        return None

    def _route(self, request: HttpRequest, signing_name: str | None) -> RouteMatch | None:
        if request.header("smithy-protocol") == "rpc-v2-cbor":
            return self.router.by_rpc_v2_path(request.raw_path)
        target = request.header("x-amz-target")
        if target and signing_name not in self.router.rest_only:  # S3 never routes by X-Amz-Target
            return self.router.by_target(target, signing_name=signing_name)
        content_type = request.header("content-type")
        if request.method == "POST" and content_type.startswith("application/x-www-form-urlencoded"):
            action = parse_qs(request.body.decode("latin-1")).get("Action", [""])[0]
            if action:
                return self.router.by_action(signing_name, action)
        if "Action" in request.query and request.method == "GET":
            found = self.router.by_action(signing_name, request.query["Action"][0])
            if found is not None:
                return found
        path = self._virtual_host_path(request)
        hint = service_hint_from_user_agent(request.header("user-agent"))
        return self.router.by_path(
            request.method,
            path,
            request.query,
            signing_name=signing_name,
            service_hint=hint,
            headers=request.headers,
        )

    def _virtual_host_path(self, request: HttpRequest) -> str:
        """`bucket.localhost:4566/key` is S3's virtual-hosted style: the bucket moves into the path."""
        host = request.header("host").rsplit(":", 1)[0]
        for base in self.settings.base_hosts:
            if host.endswith("." + base):
                bucket = host[: -len(base) - 1]
                return f"/{bucket}{request.raw_path}" if request.raw_path != "/" else f"/{bucket}"
        return request.raw_path

    @staticmethod
    def _base_url(scope: Scope, request: HttpRequest) -> str:
        host = request.header("host") or "localhost:4566"
        return f"{scope.get('scheme', 'http')}://{host}"

    async def _run_shared_or_alone(
        self,
        route: RouteMatch,
        ctx: RequestContext,
        params: dict[str, Any],
        request: HttpRequest,
        access_key: str,
        disconnected: asyncio.Event,
    ) -> HttpResponse:
        invocation_id = request.header("amz-sdk-invocation-id")
        if not invocation_id or route.operation.has_event_stream_output:
            task = asyncio.create_task(self._execute(route, ctx, params))

            def stop_alone() -> None:
                ctx.cancel.set()
                task.cancel()

            return await self._answer(route, ctx, task, disconnected, stop_alone)
        # the region too: an SDK re-signs for a bucket's region under the same invocation id (S3's redirect)
        key = (access_key, invocation_id, route.operation.name, ctx.region)
        shared_calls = self._shared
        shared_calls.forget_old_results()
        shared = shared_calls.calls.get(key)
        if shared is None or shared.failed:  # an error is not an answer to keep: a retry runs the call again
            shared = SharedCall(asyncio.create_task(self._execute(route, ctx, params)), ctx)
            shared_calls.calls[key] = shared
            shared.task.add_done_callback(shared.mark_finished)
        else:
            shared.waiters += 1
            log.info("retry %s of %s joins the call already running", invocation_id, route.operation.name)
        response = await self._answer(
            route, ctx, shared.task, disconnected, lambda: shared_calls.leave(key, shared)
        )
        if shared.task.done() and (
            shared.failed or not isinstance(response.body, bytes) or len(response.body) > 1024**2
        ):
            shared_calls.calls.pop(key, None)
        return response

    async def _answer(
        self,
        route: RouteMatch,
        ctx: RequestContext,
        task: asyncio.Task[HttpResponse],
        disconnected: asyncio.Event,
        leave: Callable[[], None],
    ) -> HttpResponse:
        """The task's answer; 499 (after `leave`) if the client goes first; a kept-alive 200 if it is a
        JSON answer still running after `keepalive_seconds` (see keepalive.py)."""
        wait = self.settings.keepalive_seconds
        alive = wait > 0 and keeps_alive(route.operation, route.protocol)
        stop = asyncio.create_task(disconnected.wait())
        await asyncio.wait({task, stop}, timeout=wait if alive else None, return_when=FIRST_COMPLETED)
        stop.cancel()
        if task.done():
            return task.result()
        if disconnected.is_set():
            leave()
            return HttpResponse(499)
        return kept_alive(route.operation, route.protocol, ctx.request_id, task, wait, leave)

    async def _execute(self, route: RouteMatch, ctx: RequestContext, params: dict[str, Any]) -> HttpResponse:
        service = self.services[route.service]
        operation: OperationModel = route.operation
        try:
            method = getattr(service, xform_name(operation.name), None)
            if method is None:
                raise NotImplementedOperation(route.service, operation.name)
            if inspect.iscoroutinefunction(method):
                output = await method(ctx, params)
            else:
                output = await run_blocking(lambda: method(ctx, params))
            return serialize_output(operation, output or {}, ctx.request_id, route.protocol)
        except ServiceError as error:
            return serialize_error(operation.service_model, error, ctx.request_id, route.protocol)
        except Exception:
            log.error("unhandled error in %s %s: %s", route.service, operation.name, traceback.format_exc())
            return serialize_error(
                operation.service_model,
                InternalServerException("An internal error occurred."),
                ctx.request_id,
                route.protocol,
            )


__all__ = ["Gateway", "GatewaySettings", "HttpResponse", "RequestRecord"]
