"""Find which service and operation an HTTP request is for, from botocore's models alone.

json and query services are found by `X-Amz-Target` or `Action`; rest services by method + URI template.
Several services share a signing name (every bedrock-* signs as `bedrock`; sagemaker and sagemaker-runtime
share `sagemaker`), so the signing name only narrows the candidates: the path decides, and where two URIs
tie, botocore's own `api/<service>#` user-agent token breaks the tie.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import Any
from urllib.parse import unquote

import botocore.session
from botocore.model import OperationModel, ServiceModel

_LABEL = re.compile(r"\{([^}]+)\}")


@cache
def _botocore_session() -> Any:
    return botocore.session.get_session()


@cache
def service_model(name: str) -> ServiceModel:
    """botocore's model of one service, loaded once."""
    model: ServiceModel = _botocore_session().get_service_model(name)
    return model


def protocol_of(model: ServiceModel) -> str:
    return str(model.metadata.get("protocol"))


def signing_name_of(model: ServiceModel) -> str:
    md = model.metadata
    return str(md.get("signingName") or md.get("endpointPrefix") or model.service_name)


@dataclass(frozen=True)
class RouteMatch:
    service: str
    operation: OperationModel
    labels: dict[str, str]
    protocol: str  # the wire protocol of this request (a service may accept json and smithy-rpc-v2-cbor)


@dataclass
class _UriTemplate:
    """A compiled `requestUri`: path regex, label names, and required query literals."""

    service: str
    operation: OperationModel
    method: str
    regex: re.Pattern[str]
    labels: list[tuple[str, bool]]  # (name, greedy)
    query_literals: dict[str, str | None] = field(default_factory=dict)
    literal_length: int = 0
    first_segment: str = ""  # the URI's first path segment when it is literal, else "" (a label)
    # required input members bound to the query string or a header: S3 models PutObject, CopyObject,
    # UploadPart and UploadPartCopy with one URI, told apart only by uploadId, partNumber, x-amz-copy-source
    required_query: tuple[str, ...] = ()
    required_headers: tuple[str, ...] = ()

    @classmethod
    def compile(cls, service: str, operation: OperationModel) -> _UriTemplate:
        uri: str = operation.http.get("requestUri", "/")
        path, _, query = uri.partition("?")
        pattern = ""
        labels: list[tuple[str, bool]] = []
        pos = 0
        literal_length = 0
        for m in _LABEL.finditer(path):
            literal = path[pos : m.start()]
            pattern += re.escape(literal)
            literal_length += len(literal)
            name = m.group(1)
            greedy = name.endswith("+")
            name = name.rstrip("+")
            labels.append((name, greedy))
            pattern += f"(?P<L{len(labels) - 1}>.+)" if greedy else f"(?P<L{len(labels) - 1}>[^/]+)"
            pos = m.end()
        literal = path[pos:]
        pattern += re.escape(literal)
        literal_length += len(literal)
        query_literals: dict[str, str | None] = {}
        for part in filter(None, query.split("&")):
            key, sep, value = part.partition("=")
            query_literals[key] = value if sep else None
        required_query: list[str] = []
        required_headers: list[str] = []
        shape = operation.input_shape
        for name in shape.required_members if shape is not None else ():
            member = shape.members[name]
            location = member.serialization.get("location")
            if location == "querystring":
                required_query.append(member.serialization.get("name", name))
            elif location == "header":
                required_headers.append(member.serialization.get("name", name).lower())
        head = path.lstrip("/").split("/", 1)[0]
        return cls(
            first_segment="" if "{" in head else head,
            service=service,
            operation=operation,
            method=operation.http.get("method", "POST"),
            regex=re.compile(f"^{pattern}$"),
            labels=labels,
            query_literals=query_literals,
            literal_length=literal_length,
            required_query=tuple(required_query),
            required_headers=tuple(required_headers),
        )

    def match(
        self, method: str, raw_path: str, query: Mapping[str, list[str]]
    ) -> tuple[int, dict[str, str]] | None:
        if method != self.method:
            return None
        for key, value in self.query_literals.items():
            if key not in query or (value is not None and value not in query[key]):
                return None
        m = self.regex.match(raw_path)
        if m is None:
            return None
        labels = {name: unquote(m.group(f"L{i}")) for i, (name, _greedy) in enumerate(self.labels)}
        greedy_count = sum(1 for _, greedy in self.labels if greedy)
        score = len(self.query_literals) * 1000 + self.literal_length * 10 - greedy_count
        return score, labels

    def labels_fit(self, labels: Mapping[str, str]) -> int:
        """Minus the URI labels that break their member's pattern: bedrock-agent and bedrock-agent-runtime
        both model `/tags/{resourceArn}`, told apart only by the ARN's form."""
        from outcrop.protocol.validate import _compiled  # validate imports errors, which imports this

        shape = self.operation.input_shape
        misfits = 0
        for member in shape.members.values() if shape is not None else ():
            if member.serialization.get("location") != "uri":
                continue
            value = labels.get(member.serialization.get("name", member.name))
            pattern = member.metadata.get("pattern")
            compiled = _compiled(pattern) if value is not None and pattern else None
            misfits += 1 if compiled is not None and compiled.search(value or "") is None else 0
        return -misfits

    def fit(self, query: Mapping[str, list[str]], headers: Mapping[str, str]) -> int:
        """How well the request supplies this operation's required query/header members: breaks URI ties."""
        present = sum(1 for k in self.required_query if k in query) + sum(
            1 for h in self.required_headers if h in headers
        )
        return present - (len(self.required_query) + len(self.required_headers) - present) * 2


class Router:
    """Routes for a fixed set of served services."""

    def __init__(self, services: Iterable[str], priority: Iterable[str] = ()) -> None:
        self._priority = {name: i for i, name in enumerate(priority)}
        self._by_target: dict[str, tuple[str, ServiceModel]] = {}
        self._query_services: dict[str, ServiceModel] = {}
        self._templates: dict[tuple[str, str, str], list[_UriTemplate]] = {}
        self.signing_names: dict[str, set[str]] = {}
        self._service_ids: dict[str, str] = {}
        for name in services:
            model = service_model(name)
            self._service_ids[model.service_id.hyphenize()] = name
            self.signing_names.setdefault(signing_name_of(model), set()).add(name)
            protocol = protocol_of(model)
            if protocol in ("json", "smithy-rpc-v2-cbor") and model.metadata.get("targetPrefix"):
                self._by_target[str(model.metadata["targetPrefix"])] = (name, model)
            if protocol == "query":
                self._query_services[signing_name_of(model)] = model
            if protocol in ("rest-json", "rest-xml"):
                for op_name in model.operation_names:
                    template = _UriTemplate.compile(name, model.operation_model(op_name))
                    first = template.first_segment
                    self._templates.setdefault((name, template.method, first), []).append(template)

    @cached_property
    def rest_only(self) -> frozenset[str]:
        """Signing names whose services all speak rest protocols: an X-Amz-Target header never routes them."""
        return frozenset(
            name
            for name, served in self.signing_names.items()
            if all(protocol_of(service_model(s)).startswith("rest") for s in served)
        )

    def by_target(
        self, target: str, protocol: str = "json", *, signing_name: str | None = None
    ) -> RouteMatch | None:
        """The operation an X-Amz-Target names, among the services of the signing name when one is given."""
        prefix, _, op_name = target.rpartition(".")
        found = self._by_target.get(prefix)
        if found is None or op_name not in found[1].operation_names:
            return None
        if signing_name is not None and signing_name_of(found[1]) != signing_name:
            return None
        return RouteMatch(found[0], found[1].operation_model(op_name), {}, protocol)

    def by_rpc_v2_path(self, raw_path: str) -> RouteMatch | None:
        """smithy-rpc-v2-cbor names the operation in the path: /service/<targetPrefix>/operation/<name>."""
        parts = raw_path.strip("/").split("/")
        if len(parts) != 4 or parts[0] != "service" or parts[2] != "operation":
            return None
        return self.by_target(f"{unquote(parts[1])}.{parts[3]}", "smithy-rpc-v2-cbor")

    def by_action(self, signing_name: str | None, action: str) -> RouteMatch | None:
        models = (
            [self._query_services[signing_name]]
            if signing_name in self._query_services
            else list(self._query_services.values())
        )
        for model in models:
            if action in model.operation_names:
                return RouteMatch(model.service_name, model.operation_model(action), {}, "query")
        return None

    def by_path(
        self,
        method: str,
        raw_path: str,
        query: Mapping[str, list[str]],
        *,
        signing_name: str | None = None,
        service_hint: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> RouteMatch | None:
        services = self.signing_names.get(signing_name, set()) if signing_name else self._service_ids.values()
        hinted = self._service_ids.get(service_hint or "")
        head = raw_path.lstrip("/").split("/", 1)[0]
        best: tuple[tuple[int, int, int, int, int], _UriTemplate, dict[str, str]] | None = None
        for service in services:
            for segment in (head, ""):
                for template in self._templates.get((service, method, segment), ()):
                    found = template.match(method, raw_path, query)
                    if found is None:
                        continue
                    score, labels = found
                    rank = (
                        1 if template.service == hinted else 0,
                        score,
                        template.fit(query, headers or {}),
                        template.labels_fit(labels),
                        -self._priority.get(template.service, len(self._priority)),
                    )
                    if best is None or rank > best[0]:
                        best = (rank, template, labels)
        if best is None:
            return None
        return RouteMatch(
            best[1].service, best[1].operation, best[2], protocol_of(best[1].operation.service_model)
        )


_UA_API = re.compile(r"(?:^|\s)api/([a-z0-9-]+)#")


def service_hint_from_user_agent(user_agent: str) -> str | None:
    """botocore writes `api/<service id>#<version>` into its user agent; that names the service exactly."""
    m = _UA_API.search(user_agent)
    return m.group(1) if m else None
