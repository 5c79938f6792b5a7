"""A shape-aware fuzzer for a running Outcrop: every implemented operation of every served service, driven by
botocore's models, sent by boto3 itself with real signatures, so every answer is also parsed by botocore.

Each request is a valid input (shapes.valid_value) with one mutation: at the shape level (shapes.py), or at
the wire level just before signing (bad JSON/XML/CBOR, wrong content types, stray X-Amz-Target, wrong method
or path, odd query strings, ranges and dates). A finding is a 5xx, an error code the operation does not model
(nor a common AWS code), an answer botocore cannot parse, or no answer at all.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import importlib.util
import inspect
import pkgutil
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.history import BaseHistoryHandler, get_global_history_recorder

from tests.fuzz.shapes import DELETE, Target, set_path, shape_mutations, valid_value
from tests.fuzz.wire import WIRE_MUTATIONS, WireMutation, mutate_body

ACCESS_KEY, SECRET_KEY = "AKIAOUTCROPFUZZ", "fuzz-secret"
SERVER_ENV = {"OUTCROP_AUTH": "sigv4", "OUTCROP_CREDENTIALS": f"{ACCESS_KEY}:{SECRET_KEY}"}

# Codes any AWS service may answer besides those its operations model (AWS's "Common Errors" and the
# per-protocol ones botocore knows).
COMMON_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "IncompleteSignature",
        "InvalidAction",
        "InvalidClientTokenId",
        "InvalidParameterCombination",
        "InvalidParameterValue",
        "InvalidQueryParameter",
        "MalformedQueryString",
        "MissingAction",
        "MissingAuthenticationToken",
        "MissingParameter",
        "NotAuthorized",
        "RequestExpired",
        "ThrottlingException",
        "Throttling",
        "ValidationError",
        "ValidationException",
        "SerializationException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "UnknownOperationException",
        "RequestEntityTooLarge",
        "InvalidInputException",
        "InvalidParameterException",
    }
)
# S3 answers its documented error codes on any operation (the model names only a few).
S3_CODES = frozenset(
    {
        "AuthorizationHeaderMalformed",
        "AuthorizationQueryParametersError",
        "BadDigest",
        "BucketAlreadyExists",
        "BucketAlreadyOwnedByYou",
        "BucketNotEmpty",
        "EntityTooLarge",
        "EntityTooSmall",
        "IncompleteBody",
        "InvalidArgument",
        "InvalidBucketName",
        "InvalidBucketState",
        "InvalidDigest",
        "InvalidLocationConstraint",
        "InvalidObjectState",
        "InvalidPart",
        "InvalidPartOrder",
        "InvalidRange",
        "InvalidRequest",
        "InvalidTag",
        "InvalidStorageClass",
        "InvalidURI",
        "KeyTooLongError",
        "MalformedXML",
        "MalformedPolicy",
        "MetadataTooLarge",
        "MethodNotAllowed",
        "MissingContentLength",
        "MissingRequestBodyError",
        "MissingSecurityHeader",
        "NoSuchBucket",
        "NoSuchBucketPolicy",
        "NoSuchKey",
        "NoSuchLifecycleConfiguration",
        "NoSuchTagSet",
        "NoSuchUpload",
        "NoSuchVersion",
        "NoSuchCORSConfiguration",
        "PreconditionFailed",
        "RequestTimeTooSkewed",
        "XAmzContentSHA256Mismatch",
        "InvalidEncryptionAlgorithmError",
        "ServerSideEncryptionConfigurationNotFoundError",
        "NoSuchPublicAccessBlockConfiguration",
        "OwnershipControlsNotFoundError",
        "ObjectLockConfigurationNotFoundError",
        "InvalidToken",
        "UnexpectedContent",
        "InvalidBucketAclWithObjectOwnership",
        "NoSuchObjectLockConfiguration",
        "KMS.NotFoundException",
        "InvalidObjectName",
        "MalformedACLError",
        "IllegalLocationConstraintException",
        "304",
        "InvalidPartNumber",
    }
)


# A service's own word for bad input, documented for every operation though its model lists it on some.
SERVICE_VALIDATION_CODES = {"iam": frozenset({"InvalidInput"})}


@dataclass
class Outcome:
    """One request's answer, as botocore saw it."""

    target: Target
    mutation: str
    status: int
    code: str
    problem: str  # "" when the answer is acceptable


@dataclass
class Report:
    sent: int = 0
    skipped: int = 0  # mutations botocore itself refused to serialize
    refused: int = 0  # 501 NotImplemented: a feature Outcrop says it does not serve (S3's SSE-C...)
    rerouted: int = 0  # wire mutations another operation answered (its 2xx read as this one's error)
    findings: list[Outcome] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    skip_reasons: Counter[str] = field(default_factory=Counter)

    def count(self, problem: str) -> int:
        return sum(1 for f in self.findings if f.problem.startswith(problem))

    def summary(self) -> str:
        kinds = Counter(f.problem.split(":")[0] for f in self.findings)
        head = (
            f"{self.sent} requests ({self.skipped} not sendable, {self.refused} NotImplemented, "
            f"{self.rerouted} answered by another operation): "
        )
        return head + (", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "no findings")


def discover_targets() -> list[Target]:
    """Every operation a served service implements, found as `server.discover_services` finds services."""
    import outcrop.services as package
    from outcrop.protocol.router import service_model
    from outcrop.services.base import Service

    targets: list[Target] = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if info.name.startswith("_") or info.name == "base":
            continue
        name = f"outcrop.services.{info.name}" + (".provider" if info.ispkg else "")
        if info.ispkg and importlib.util.find_spec(name) is None:
            continue
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            service = getattr(cls, "service_name", None)
            if not (issubclass(cls, Service) and cls.__module__ == module.__name__ and service):
                continue
            model = service_model(service)
            for op in sorted(model.operation_names):
                if callable(getattr(cls, xform_name(op), None)):
                    targets.append(Target(service, model.operation_model(op)))
    return targets


def allowed_codes(target: Target, *, wire: bool) -> frozenset[str]:
    """The codes an answer may carry: the operation's modelled errors (any of the service's after a
    wire-level mutation, which may reach another operation) and the common ones."""
    from outcrop.protocol.gateway import VALIDATION_ERROR_CODES

    model = target.operation.service_model
    operations = [model.operation_model(n) for n in model.operation_names] if wire else [target.operation]
    codes = {s.metadata.get("error", {}).get("code", s.name) for op in operations for s in op.error_shapes}
    codes |= {s.name for op in operations for s in op.error_shapes}
    codes |= COMMON_CODES | {VALIDATION_ERROR_CODES.get(target.service, "ValidationException")}
    codes |= SERVICE_VALIDATION_CODES.get(target.service, frozenset())
    if target.service == "s3":  # S3 words bad input in its own codes, never ValidationException
        codes = (codes | S3_CODES) - {"ValidationException", "ValidationError", "SerializationException"}
    return frozenset(codes)


# -- the run -------------------------------------------------------------------------------------------------


class _StatusAsSent(BaseHistoryHandler):  # type: ignore[misc]
    """The HTTP status as the server sent it. botocore's S3 handlers turn a 200 whose body is not the
    operation's XML into a 500 before any `before-parse` handler of ours runs (a GetObject answer to a
    CopyObject whose method a wire mutation changed); its history records the response first."""

    def __init__(self, fuzzer: Fuzzer) -> None:
        self.fuzzer = fuzzer

    def emit(self, event_type: str, payload: Any, source: str) -> None:
        if event_type == "HTTP_RESPONSE" and isinstance(payload, dict):
            self.fuzzer._answer = {"status": payload.get("status_code", 0)}


def _may_reroute(label: str) -> bool:
    """A wire mutation, or a missing required member that tells operations apart (ListParts without its
    uploadId is GET /bucket/key, GetObject), may reach another operation, which answers for itself."""
    return label.startswith("wire:") or label == "shape:missing-required"


def _wire(mutate: WireMutation, rng: random.Random, target: Target) -> Callable[[Any], None]:
    return lambda request: mutate(request, rng, target)


class Fuzzer:
    def __init__(self, endpoint: str, seed: int = 18) -> None:
        self.endpoint = endpoint
        self.rng = random.Random(seed)
        self.report = Report()
        self._clients: dict[str, Any] = {}
        self._pending: Callable[[Any], None] | None = None  # the mutation the next request carries
        self._answer: dict[str, Any] = {}
        self._sent = False
        recorder = get_global_history_recorder()
        recorder.add_handler(_StatusAsSent(self))
        recorder.enable()

    def client(self, service: str) -> Any:
        if service not in self._clients:
            config = Config(
                parameter_validation=False,
                retries={"total_max_attempts": 1},
                read_timeout=60,
                connect_timeout=10,
                s3={"addressing_style": "path"},
            )
            client = boto3.client(
                service,
                endpoint_url=self.endpoint,
                region_name="us-east-1",
                aws_access_key_id=ACCESS_KEY,
                aws_secret_access_key=SECRET_KEY,
                config=config,
            )
            client.meta.events.register("before-sign", self._before_sign)
            client.meta.events.register_first("before-parse", self._before_parse)  # the status as sent
            client.meta.events.register("before-send", self._before_send)
            self._clients[service] = client
        return self._clients[service]

    def _before_sign(self, request: Any, **_: Any) -> None:
        if self._pending is not None:
            self._pending(request)

    def _before_send(self, **_: Any) -> None:
        self._sent = True

    def _before_parse(self, response_dict: Any, **_: Any) -> None:
        self._answer.setdefault("status", response_dict.get("status_code", 0))

    def prepare(self) -> None:
        """What the valid requests name: a bucket and an object."""
        s3 = self.client("s3")
        self._pending = None
        with contextlib.suppress(ClientError):
            s3.create_bucket(Bucket="fuzz-bucket")
        s3.put_object(Bucket="fuzz-bucket", Key="fuzz.txt", Body=b"fuzz object body\n" * 10)

    def send(
        self, target: Target, params: dict[str, Any], label: str, wire: Callable[[Any], None] | None
    ) -> None:
        client = self.client(target.service)
        method = getattr(client, xform_name(target.operation.name))
        self._pending, self._answer, self._sent = wire, {}, False
        status, code, problem = 0, "", ""
        started = time.monotonic()
        try:
            result = method(**params)
            status = result.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            for value in result.values():  # read streams: event streams must parse event by event
                if hasattr(value, "read"):
                    value.read()
                elif hasattr(value, "__iter__") and type(value).__name__ == "EventStream":
                    for _ in value:
                        pass
        except ClientError as error:
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            code = error.response.get("Error", {}).get("Code", "")
            head = target.operation.http.get("method") == "HEAD"
            sent_status = int(self._answer.get("status", status))
            if status == 501 and code == "NotImplemented":  # an honest refusal of a feature not served
                self.report.refused += 1
            elif _may_reroute(label) and sent_status < 500 <= status:
                # botocore calls an S3 200 whose body is not this operation's XML a 500: a mutated method,
                # path or query reached another operation, which answered correctly for itself
                self.report.rerouted += 1
            elif status >= 500:
                problem = f"5xx: {status} {code}"
            elif not code or (code.isdigit() and not head and code != "304"):
                problem = f"no-code: {status} {error.response.get('Error')}"
            elif not (head and code.isdigit()) and code not in allowed_codes(
                target, wire=label.startswith("wire:")
            ):
                problem = f"unmodelled: {code} ({error.response.get('Error', {}).get('Message', '')[:120]})"
        except Exception as error:
            unsendable = "Invalid header value" in str(error)  # http.client refuses control characters
            if not self._sent or unsendable:  # botocore refused to serialize it: nothing reached the server
                self._pending = None
                self.report.skipped += 1
                self.report.skip_reasons[f"{type(error).__name__}: {str(error)[:80]}"] += 1
                return
            status = int(self._answer.get("status", 0))
            if _may_reroute(label) and 200 <= status < 300:
                # a mutated method or path reached another operation (PUT /bucket?location is CreateBucket),
                # whose 2xx body is not this operation's document
                self.report.rerouted += 1
            else:
                kind = "unparseable" if self._answer else "no-answer"
                problem = f"{kind}: {type(error).__name__}: {str(error)[:200]}"
                if not self._answer and time.monotonic() - started > 55:
                    problem = f"hang: {problem}"
        finally:
            self._pending = None
        self.report.sent += 1
        self.report.statuses[status] += 1
        if problem:
            self.report.findings.append(Outcome(target, label, status, code, problem))

    def requests(self, target: Target, per_operation: int) -> Iterator[tuple[dict[str, Any], str, Any]]:
        """`per_operation` requests for one operation: shape mutations, then wire ones, one of each kind."""
        rng = self.rng
        shape = target.operation.input_shape
        for index in range(per_operation):
            params = valid_value(shape, "", rng) if shape is not None else {}
            if index % 3 == 2 and target.operation.auth_type != "none":
                # (an unsigned operation, mutated on the wire, is a plain web request: the console's)
                name = rng.choice(sorted(WIRE_MUTATIONS))
                yield params, f"wire:{name}", _wire(WIRE_MUTATIONS[name], random.Random(rng.random()), target)
                continue
            mutations = shape_mutations(target.operation, rng, 1)
            if not mutations:
                yield params, "valid", None
                continue
            mutation = mutations[0]
            if mutation.in_body:
                yield (
                    params,
                    f"shape:{mutation.kind}",
                    (lambda request, m=mutation: mutate_body(request, target, m)),
                )
            else:
                changed = copy.deepcopy(params)
                if set_path(
                    changed, mutation.path, mutation.value if mutation.value is not DELETE else DELETE
                ):
                    yield changed, f"shape:{mutation.kind}", None

    def run(
        self, targets: list[Target], per_operation: int, progress: Callable[[Report], None] | None = None
    ) -> Report:
        self.prepare()
        for number, target in enumerate(targets):
            if target.service == "s3" and number % 5 == 0:
                self.prepare()
            for params, label, wire in self.requests(target, per_operation):
                self.send(target, params, label, wire)
            if progress is not None:
                progress(self.report)
        return self.report
