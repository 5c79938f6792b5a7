"""What an app declares: functions, the APIs in front of them, and an optional static site bucket."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

REST = "REST"  # API Gateway REST API (AWS::Serverless::Api, `Api` events): payload 1.0
HTTP = "HTTP"  # API Gateway HTTP API (AWS::Serverless::HttpApi, `HttpApi` events): payload 2.0 by default


class AppError(Exception):
    """A template or function declaration Outcrop cannot run; the message says what to change."""


@dataclass
class FunctionSpec:
    name: str
    handler: str  # module.function, module relative to code_dir (dots for packages)
    code_dir: Path
    runtime: str = "python3.11"
    timeout: float = 3.0
    memory_mb: int = 128
    environment: dict[str, str] = field(default_factory=dict)
    reserved_concurrency: int | None = None
    description: str = ""
    app: str = ""
    account: str = ""  # where the function lives; empty: the server's default account and region
    region: str = ""
    version: str = "$LATEST"  # a published version's number; $LATEST is the one that changes

    @property
    def key(self) -> tuple[str, str, str]:
        """(account, region, name): a name is unique within one account's region only."""
        return (self.account, self.region, self.name)


@dataclass
class Route:
    """One API route: method (or ANY) and path template (`/items/{id}`, `/{proxy+}`), to one function."""

    method: str
    path: str
    function: str
    payload_version: str = "1.0"

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}" if self.path != "$default" else "$default"

    def pattern(self) -> re.Pattern[str]:
        if self.path == "$default":
            return re.compile(r"/.*")
        parts = []
        for segment in self.path.strip("/").split("/"):
            if segment.startswith("{") and segment.endswith("+}"):
                parts.append(f"(?P<{_group(segment[1:-2])}>.+)")
            elif segment.startswith("{") and segment.endswith("}"):
                parts.append(f"(?P<{_group(segment[1:-1])}>[^/]+)")
            else:
                parts.append(re.escape(segment))
        return re.compile("/" + "/".join(parts) + "/?")

    def specificity(self) -> tuple[int, int, int, int]:
        """API Gateway prefers literal segments to parameters, parameters to greedy ones, methods to ANY."""
        segments = [s for s in self.path.strip("/").split("/") if s] if self.path != "$default" else []
        literal = sum(1 for s in segments if not s.startswith("{"))
        greedy = sum(1 for s in segments if s.endswith("+}")) + (self.path == "$default")
        return (-greedy, literal, len(segments), self.method != "ANY")


def _group(name: str) -> str:
    """Path parameter names become regex group names; the original name is kept by `Api.param_names`."""
    return "p_" + hashlib.sha1(name.encode()).hexdigest()[:10]


@dataclass
class Cors:
    """An API's CORS settings: preflight answers, and (HTTP APIs) headers added to every answer."""

    allow_origins: list[str]
    allow_methods: list[str] = field(default_factory=lambda: ["*"])
    allow_headers: list[str] = field(default_factory=list)
    expose_headers: list[str] = field(default_factory=list)
    max_age: int | None = None
    allow_credentials: bool = False

    def origin_for(self, origin: str) -> str | None:
        """The Access-Control-Allow-Origin value for a request from `origin`, or None if not allowed."""
        if not origin:
            return None
        if "*" in self.allow_origins:
            return origin if self.allow_credentials else "*"
        return origin if origin in self.allow_origins else None


@dataclass
class Api:
    logical_id: str
    kind: str  # REST or HTTP
    app: str
    stage: str
    routes: list[Route] = field(default_factory=list)
    stage_variables: dict[str, str] = field(default_factory=dict)
    cors: Cors | None = None

    @property
    def api_id(self) -> str:
        """Stable across restarts, so bookmarked URLs keep working; ten lower-case characters like AWS's."""
        digest = hashlib.sha256(f"{self.app}/{self.logical_id}".encode()).digest()
        alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
        return "".join(alphabet[b % 36] for b in digest[:10])

    def param_names(self, route: Route) -> dict[str, str]:
        names = re.findall(r"\{([^}+]+)\+?\}", route.path)
        return {_group(name): name for name in names}


@dataclass
class StaticSite:
    """An S3 bucket the app's static files are synced into and served from, as CloudFront would."""

    bucket: str
    source: Path
    index: str = "index.html"


@dataclass
class AppSpec:
    name: str
    source: Path  # the template, or "" for the one-line form
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    apis: list[Api] = field(default_factory=list)
    site: StaticSite | None = None
    buckets: list[str] = field(default_factory=list)  # every AWS::S3::Bucket: created when the app loads
