"""Keeps web pages the developer visits from driving their local server.

Three guards, applied by the gateway to every request and by the OpenAI-compatible API to its own:
- **Host** (DNS rebinding): a page on an attacker's name that resolves to 127.0.0.1 is same-origin with the
  server, so the Host header must name an address the server listens on (loopback, `localhost` and its
  `*.localhost` forms for S3 buckets and API Gateway ids, the bind address) or a name the user configured.
- **Cross-site requests** (CSRF): a form or `fetch` on another origin can send simple requests without a
  preflight. AWS operations need a signature-shaped request even in dev mode (any key, but an
  Authorization header or a presigned query), and a request a browser marks as coming from a page of
  another origin (its `Origin` or `Sec-Fetch-Site` header) runs only when that origin is allowed.
  S3 GET and HEAD stay open, as AWS serves public objects unsigned: reads a page cannot see.
- **CORS**: preflights and `Access-Control-Allow-Origin` only for the console's own origin (same origin)
  and the configured `allowed_origins`.
"""

from __future__ import annotations

import ipaddress
import socket
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

from outcrop.config import Settings
from outcrop.protocol.auth import Caller
from outcrop.protocol.errors import ServiceError
from outcrop.protocol.parse import HttpRequest
from outcrop.protocol.router import protocol_of, service_model
from outcrop.protocol.serialize import HttpResponse, serialize_error

# Names that always reach this machine's loopback: RFC 6761 makes `*.localhost` loopback, and LocalStack's
# public name resolves to 127.0.0.1 (the gateway answers its S3 virtual hosts).
LOCAL_NAMES = ("localhost", "localhost.localstack.cloud")
WILDCARD_BINDS = frozenset({"0.0.0.0", "::", ""})
PREFLIGHT_METHODS = "GET, HEAD, PUT, POST, DELETE"
# S3 answers what AWS serves to anonymous callers (public objects): reads only.
UNSIGNED_READS = frozenset({"GET", "HEAD"})


class InvalidHostHeader(ServiceError):
    code, status, sender_fault = "InvalidHostHeader", 400, True


def host_name(host_header: str) -> str:
    """`[::1]:4566` → `::1`, `Bucket.LocalHost:4566` → `bucket.localhost`."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    if host.count(":") == 1:
        host = host.partition(":")[0]
    return host.rstrip(".")


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


@dataclass(frozen=True)
class OriginPolicy:
    bind_host: str = "127.0.0.1"
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> OriginPolicy:
        return cls(
            settings.host,
            tuple(h.strip().lower() for h in settings.allowed_hosts if h.strip()),
            tuple(o.strip().lower().rstrip("/") for o in settings.allowed_origins if o.strip()),
        )

    # -- Host ------------------------------------------------------------------------------------------------

    def host_allowed(self, host_header: str) -> bool:
        name = host_name(host_header)
        if not name or "*" in self.allowed_hosts:
            return True  # no Host at all is HTTP/1.0 from a tool, never a browser
        if name in LOCAL_NAMES or any(name.endswith("." + local) for local in LOCAL_NAMES):
            return True
        bind = host_name(self.bind_host)
        wildcard = bind in WILDCARD_BINDS
        if name == bind or (wildcard and name == socket.gethostname().lower()):
            return True
        address = _ip(name)
        if address is not None:  # an address literal cannot be rebound; bound to all, every one is ours
            return address.is_loopback or wildcard
        for allowed in self.allowed_hosts:
            if name == allowed.lstrip(".") or (allowed.startswith(".") and name.endswith(allowed)):
                return True
        return False

    # -- origins ---------------------------------------------------------------------------------------------

    def origin_allowed(self, origin: str, host_header: str) -> bool:
        """The console's own origin (the page was served by this server, under an allowed Host) or one
        configured; `null` (sandboxed frames, files) never."""
        origin = origin.strip().lower().rstrip("/")
        if not origin or origin == "null":
            return False
        if "*" in self.allowed_origins or origin in self.allowed_origins:
            return True
        return urlsplit(origin).netloc == host_header.strip().lower() and self.host_allowed(host_header)

    def cross_site(self, request: HttpRequest) -> bool:
        """Whether a browser says the request comes from a page of an origin that is not allowed."""
        origin = request.header("origin")
        if origin:
            return not self.origin_allowed(origin, request.header("host"))
        return request.header("sec-fetch-site").lower() in ("cross-site", "same-site")

    def cors_headers(self, request: HttpRequest) -> dict[str, str]:
        """`Access-Control-Allow-Origin` for an allowed origin (with `Vary: Origin`); nothing otherwise."""
        origin = request.header("origin")
        if origin and self.origin_allowed(origin, request.header("host")):
            return {"access-control-allow-origin": origin, "vary": "Origin"}
        return {"vary": "Origin"} if origin else {}

    def preflight_headers(
        self, request: HttpRequest, methods: str = PREFLIGHT_METHODS
    ) -> dict[str, str] | None:
        """The answer to an allowed origin's preflight (the headers it asks for), None to refuse it."""
        headers = self.cors_headers(request)
        if "access-control-allow-origin" not in headers:
            return None
        asked = request.header("access-control-request-headers")
        headers |= {"access-control-allow-methods": methods, "access-control-max-age": "600"}
        if asked:
            headers["access-control-allow-headers"] = asked
        return headers

    # -- the gateway's two checks ----------------------------------------------------------------------------

    def screen(self, request: HttpRequest, *, internal: bool) -> HttpResponse | None:
        """First look at every request: a Host that is not ours is refused, and a CORS preflight for an
        AWS operation is answered here (Outcrop's own pages and apps answer their own)."""
        if not self.host_allowed(request.header("host")):
            names = "localhost, its subdomains, loopback addresses or the bind address"
            error = InvalidHostHeader(
                f"This server does not answer to the host {host_name(request.header('host'))!r}: it answers "
                f"{names}, and the names in the allowed_hosts setting (OUTCROP_ALLOWED_HOSTS)."
            )
            return serialize_error(None, error, str(uuid.uuid4()), None)
        preflight = request.method == "OPTIONS" and request.header("access-control-request-method")
        if internal or not preflight or not request.header("origin"):
            return None
        headers = self.preflight_headers(request)
        if headers is None:
            message = (
                f"This CORS request is not allowed: the origin {request.header('origin')} is not the "
                "console's and not in the allowed_origins setting (OUTCROP_ALLOWED_ORIGINS)."
            )
            denied = ServiceError(message, code="AccessForbidden", status=403, sender_fault=True)
            response = serialize_error(None, denied, str(uuid.uuid4()), None)
            response.headers["vary"] = "Origin"
            return response
        return HttpResponse(200, headers | {"content-length": "0"}, b"")

    def check_call(self, request: HttpRequest, caller: Caller, service: str) -> None:
        """Before an AWS operation runs: refuse what a web page could have forged (see the module)."""
        if service == "s3" and request.method in UNSIGNED_READS:
            return
        xml = protocol_of(service_model(service)) in ("rest-xml", "query")
        if self.cross_site(request):
            origin = request.header("origin") or "another site"
            raise ServiceError(
                f"Requests from web pages on {origin} are refused: only the console's own origin and "
                "the allowed_origins setting may call AWS operations from a browser.",
                code="AccessDenied" if xml else "AccessDeniedException",
                status=403,
                sender_fault=True,
            )
        if caller.scheme != "anonymous":
            return
        hint = " (any key is accepted in dev mode, but the request must be signed)"
        if service == "s3":
            raise ServiceError("Access Denied" + hint, code="AccessDenied", status=403, sender_fault=True)
        raise ServiceError(
            ("Request is missing Authentication Token" if xml else "Missing Authentication Token") + hint,
            code="MissingAuthenticationToken" if xml else "MissingAuthenticationTokenException",
            status=403,
            sender_fault=True,
        )

    def add_cors(self, request: HttpRequest, response: HttpResponse) -> None:
        """An AWS operation's answer to an allowed origin: readable, with every header it carries."""
        headers = self.cors_headers(request)
        if "access-control-allow-origin" in headers:
            headers["access-control-expose-headers"] = ", ".join(sorted(response.headers))
        for name, value in headers.items():
            response.headers.setdefault(name, value)


__all__ = ["InvalidHostHeader", "OriginPolicy", "host_name"]
