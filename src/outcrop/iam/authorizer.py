"""`auth = "iam"`: signatures verified as in `sigv4` mode, then every request authorized by IAM policy.

The config's `[credentials]` keys (and bearer API keys) are the account root, allowed everything. Keys that
IAM made (CreateAccessKey) and STS made (AssumeRole, GetSessionToken, with their session token and
expiry) are principals whose policies decide each request, after it is parsed, on the operation's IAM
action and resource ARN.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import lru_cache, partial
from typing import Any

from outcrop.iam.actions import Target, request_keys, target
from outcrop.iam.errors import MalformedPolicyDocument, NoSuchEntity
from outcrop.iam.evaluate import Principal, evaluate, remember, remembered
from outcrop.iam.pass_role import passed_roles, service_principal
from outcrop.iam.policy import Policy
from outcrop.iam.resource_policies import REQUIRED, ResourcePolicySource
from outcrop.iam.store import IamStore, KeyRecord
from outcrop.iam.store_policies import compiled
from outcrop.protocol.auth import Caller, unknown_key, unknown_token
from outcrop.protocol.errors import ServiceError
from outcrop.protocol.parse import HttpRequest
from outcrop.protocol.router import protocol_of, service_model
from outcrop.protocol.sigv4 import SigV4Authenticator

# (operation, params, region, account) -> [(IAM action, resource ARN, its condition keys, lower-case)]
Dependency = Callable[[str, dict[str, Any], str, str], list[tuple[str, str, dict[str, list[str]]]]]
# Services whose denial is `AccessDenied` (XML protocols) rather than `AccessDeniedException` (JSON).
_XML = ("query", "rest-xml")
# STS operations AWS performs for any authenticated caller, whatever its policies say.
_NO_PERMISSION = frozenset({"GetCallerIdentity", "GetSessionToken"})
# Actions whose resource policy is the role's trust policy.
_TRUST_ACTIONS = frozenset({"sts:AssumeRole", "sts:TagSession"})


# The types of input values a resource ARN may be remembered by (a bucket, a key, a model id, a count):
# never bytes (an object's body), lists, maps or booleans (True == 1).
_PLAIN = frozenset({str, int})
_TARGETS: dict[tuple[Any, ...], Target] = {}


def _target(service: str, operation: str, params: dict[str, Any], region: str, account: str) -> Target:
    """`target`, remembered for inputs of plain values only: an action and ARN are a pure function of the
    operation, its input, the region and the account, so what is remembered never goes stale. (Working
    the ARN out took ~5 us a request in the server, a third of authorization.)"""
    for value in params.values():
        if type(value) not in _PLAIN:
            return target(service, operation, params, region, account)
    key = (service, operation, region, account, *params.items())
    found = _TARGETS.get(key)
    if found is None:
        found = target(service, operation, params, region, account)
        if len(_TARGETS) >= 4096:  # many resources (S3 object keys): start over rather than grow
            _TARGETS.clear()
        _TARGETS[key] = found
    return found


@lru_cache(maxsize=4)
def _iso_second(second: int) -> str:
    """aws:CurrentTime, formatted once a second rather than on every request."""
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _with(context: Callable[[], dict[str, list[str]]], keys: dict[str, list[str]]) -> dict[str, list[str]]:
    """The request's context with an action's own keys added (iam:PassedToService, kms:...)."""
    return {**context(), **keys}


def _xml(service: str) -> bool:
    return protocol_of(service_model(service)) in _XML


class IamAuthenticator(SigV4Authenticator):
    def __init__(
        self,
        root_credentials: Mapping[str, str],
        store: IamStore,
        bearer_tokens: set[str] | None = None,
        resource_policies: Mapping[str, ResourcePolicySource] | None = None,
        dependencies: Mapping[str, Dependency] | None = None,
    ) -> None:
        """`dependencies`, by service: the further actions a request needs the caller to be allowed (an
        agent's customer managed key: kms:GenerateDataKey and kms:Decrypt on it, as Bedrock requires)."""
        super().__init__(root_credentials, bearer_tokens)
        self._root = frozenset(root_credentials)
        self.store = store
        self.resource_policies = dict(resource_policies or {})
        self.dependencies = dict(dependencies or {})

    def secret_for(self, request: HttpRequest, caller: Caller) -> str | None:
        root = self._secrets.get(caller.access_key)  # the account root's (SigV4Authenticator's own)
        if root is not None:
            return root
        record = self.store.resolve(caller.access_key)
        if record is None or not record.active:
            return None
        if record.token:
            self._check_session(request, caller, record)
        return record.secret

    @staticmethod
    def _check_session(request: HttpRequest, caller: Caller, record: KeyRecord) -> None:
        given = (
            request.header("x-amz-security-token") or (request.query.get("X-Amz-Security-Token") or [""])[0]
        )
        if given != record.token:
            raise unknown_token(caller.signing_name)
        if time.time() > record.expires:
            xml = caller.signing_name in ("s3", "sts", "iam")
            raise ServiceError(
                "The security token included in the request is expired",
                code="ExpiredToken" if xml else "ExpiredTokenException",
                status=400,
                sender_fault=True,
            )
        if caller.signing_name == "iam" and (
            (record.mfa is None and _session_token(record)) or _federated(record)
        ):
            # AWS: GetSessionToken's credentials call no IAM operation unless made with MFA, and
            # GetFederationToken's none at all; IAM answers as for a token it does not know
            raise unknown_token(caller.signing_name)

    def authorize(
        self,
        request: HttpRequest,
        caller: Caller,
        service: str,
        operation: str,
        params: dict[str, Any],
        source_ip: str,
    ) -> None:
        if caller.scheme == "bearer" or caller.access_key in self._root:
            return  # the account root (and its API keys) may do everything
        if service == "sts" and operation in _NO_PERMISSION:
            return  # AWS: no permission is needed, and policies cannot deny them
        record = self.store.resolve(caller.access_key)
        if record is None:
            raise unknown_key(caller.signing_name)
        if service == "sts":
            _refuse_session_sts(record, operation)
        principal = record.principal
        wanted = _target(service, operation, params, caller.region, principal.account)
        if self._allowed_as_before(principal, wanted, service, operation, params, caller.region):
            return
        self._authorize(request, caller, service, operation, params, source_ip, record, wanted)

    def _allowed_as_before(
        self,
        principal: Principal,
        wanted: Target,
        service: str,
        operation: str,
        params: dict[str, Any],
        region: str,
    ) -> bool:
        """Most requests: one action on a resource with no policy of its own, allowed before by a decision
        no condition took part in (`remembered`), nothing else to check. What `_authorize` would decide,
        without building its context or looking twice; anything else goes there."""
        action, resource = wanted
        if action in _TRUST_ACTIONS or service in self.dependencies:
            return False
        source = self.resource_policies.get(action.partition(":")[0])
        if source is not None and source(resource, region, principal.account) is not None:
            return False
        decision = remembered(principal, action, resource, None)
        return decision is not None and decision.allowed and not passed_roles(service, operation, params)

    def _authorize(
        self,
        request: HttpRequest,
        caller: Caller,
        service: str,
        operation: str,
        params: dict[str, Any],
        source_ip: str,
        record: KeyRecord,
        wanted: Target,
    ) -> None:
        """Every action the request needs, evaluated (or remembered) with the request's context."""
        principal = record.principal
        built: dict[str, list[str]] = {}

        def context() -> dict[str, list[str]]:
            """The request's condition keys, gathered only when a policy that decides reads them."""
            if not built:
                now = time.time()
                built.update(
                    {
                        "aws:sourceip": [source_ip] if source_ip else [],
                        "aws:securetransport": [
                            "true" if request.header("x-forwarded-proto") == "https" else "false"
                        ],
                        "aws:currenttime": [_iso_second(int(now))],
                        "aws:epochtime": [str(int(now))],
                        "aws:requestedregion": [caller.region],
                        "aws:useragent": [request.header("user-agent")],
                        **record.mfa_keys(now),
                        **request_keys(service, params),
                        **self._resource_tags(wanted.resource),
                    }
                )
            return built

        self._require(principal, wanted.action, wanted.resource, context, caller.region, service)
        if service == "sts" and operation == "AssumeRole" and params.get("Tags"):  # as AWS requires
            self._require(principal, "sts:TagSession", wanted.resource, context, caller.region, service)
        # handing a role to a service needs iam:PassRole on it
        for role in passed_roles(service, operation, params):
            passing = {"iam:passedtoservice": [service_principal(service)]}
            self._require(
                principal, "iam:PassRole", role, partial(_with, context, passing), caller.region, service
            )
        needs = self.dependencies.get(service)
        for action, resource, keys in (
            needs(operation, params, caller.region, principal.account) if needs else ()
        ):
            self._require(principal, action, resource, partial(_with, context, keys), caller.region, service)

    def _resource_tags(self, resource: str) -> dict[str, list[str]]:
        """`aws:ResourceTag/...` (and `iam:ResourceTag/...`) of the IAM user or role a request acts on
        (iam operations on it, sts:AssumeRole of it), read from the principal store."""
        prefix = f"arn:aws:iam::{self.store.account_id}:"
        if not resource.startswith(prefix):
            return {}
        kind, _, rest = resource[len(prefix) :].partition("/")
        if kind not in ("user", "role") or not rest:
            return {}
        try:
            tags = self.store.tags(kind, rest.rsplit("/", 1)[-1])
        except NoSuchEntity:
            return {}
        found: dict[str, list[str]] = {}
        for key, value in tags.items():
            found[f"aws:resourcetag/{key.lower()}"] = found[f"iam:resourcetag/{key.lower()}"] = [value]
        return found

    def _require(
        self,
        principal: Principal,
        action: str,
        resource: str,
        context: Callable[[], dict[str, list[str]]],
        region: str,
        service: str,
    ) -> None:
        """One action on one resource, evaluated for the caller: AccessDenied, worded as AWS words it.
        A decision no condition took part in is remembered (`remembered`), so a repeated request on the
        same resource neither gathers its context nor scans the policies again."""
        resource_policy = None
        prefix = action.partition(":")[0]
        if action in _TRUST_ACTIONS:  # the role's trust policy is its resource policy
            resource_policy = self.store.trust_policy(resource)
        elif prefix in self.resource_policies:
            found = self.resource_policies[prefix](resource, region, principal.account)
            if found is not None:
                resource, text = found
                resource_policy = _resource_policy(text)
        decision = remembered(principal, action, resource, resource_policy)
        if decision is None:
            owner = resource.split(":")[4] if resource.count(":") >= 5 else ""
            required = prefix in REQUIRED and resource_policy is not None  # none: CreateKey, lists
            theirs = prefix in self.resource_policies and owner.isdigit() and owner != principal.account
            decision = evaluate(
                principal,
                action,
                resource,
                context(),
                resource_policy,
                resource_required=required,
                cross_account=theirs,
            )
            remember(principal, action, resource, resource_policy, decision)
        if not decision.allowed:
            message = decision.message(principal, action, resource)
            raise ServiceError(
                message,
                code="AccessDenied" if _xml(service) else "AccessDeniedException",
                status=403,
                sender_fault=True,
            )


def _refuse_session_sts(record: KeyRecord, operation: str) -> None:
    """AWS: GetSessionToken's credentials (with MFA or without) call no STS operation but AssumeRole
    and GetCallerIdentity, GetFederationToken's none but GetCallerIdentity, worded as STS words its
    refusal of GetSessionToken to them."""
    if (operation != "AssumeRole" and _session_token(record)) or _federated(record):
        raise ServiceError(
            f"Cannot call {operation} with session credentials",
            code="AccessDenied",
            status=403,
            sender_fault=True,
        )


def _session_token(record: KeyRecord) -> bool:
    """Credentials GetSessionToken made: a session acting as an IAM user or the root (an `arn:aws:iam:`
    principal), where AssumeRole's and GetFederationToken's act as STS principals."""
    return bool(record.token) and record.principal.arn.split(":", 3)[2] == "iam"


def _federated(record: KeyRecord) -> bool:
    """Credentials GetFederationToken made (a federated-user principal)."""
    return bool(record.token) and ":federated-user/" in record.principal.arn


def _resource_policy(text: str) -> Policy | None:
    """A stored resource policy, compiled once; one IAM would not accept counts as none (deny-by-default)."""
    try:
        return compiled(text, "resource")
    except MalformedPolicyDocument:
        return None
