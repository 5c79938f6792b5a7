"""AWS's policy evaluation logic, within one account.

Default deny; an explicit Deny in any policy wins; otherwise an Allow from an identity-based policy (the
user's, its groups', or the assumed role's, narrowed by the permissions boundary and the session policy
when there are any) or from the resource's own policy naming the principal admits the request. The
account root is allowed all.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from outcrop.iam.policy import Policy, Statement

PrincipalKind = Literal["root", "user", "assumed-role", "service"]


@dataclass(frozen=True)
class Principal:
    """Who calls, with every identity-based policy that applies to them, compiled."""

    kind: PrincipalKind
    arn: str
    account: str
    user_id: str
    name: str = ""  # user name, or role name for an assumed role
    role_arn: str = ""  # the role of an assumed-role session
    identity: tuple[Policy, ...] = ()
    session: tuple[Policy, ...] | None = None  # session policies, when the session was given any
    boundary: tuple[Policy, ...] | None = None  # the permissions boundary, when the user or role has one
    tags: tuple[tuple[str, str], ...] = ()  # principal tags (a role's, overridden by session tags)
    transitive: tuple[str, ...] = ()  # session tag keys a chained AssumeRole passes on
    # identity statements whose Action matches, by action: most requests then test a handful, not all
    _by_action: dict[str, tuple[Statement, ...]] = field(default_factory=dict, compare=False, repr=False)
    # decisions no condition or policy variable took part in, by (action, resource, resource policy)
    _decisions: dict[tuple[str, str, str | None], Decision] = field(
        default_factory=dict, compare=False, repr=False
    )

    def statements_for(self, action: str) -> tuple[Statement, ...]:
        found = self._by_action.get(action)
        if found is None:
            found = tuple(s for p in self.identity for s in p.statements if s.action.matches(action))
            if len(self._by_action) < 1024:
                self._by_action[action] = found
        return found

    @property
    def identifiers(self) -> frozenset[str]:
        """What a resource or trust policy's `"AWS"` principal names to mean this very caller. Naming the
        account instead (`account_identifiers`) only delegates to the account's identity policies."""
        return frozenset({self.arn, self.role_arn} - {""})

    @property
    def account_identifiers(self) -> frozenset[str]:
        return frozenset({self.account, f"arn:aws:iam::{self.account}:root"})

    def variables(self) -> dict[str, list[str]]:
        """The global condition keys that describe the principal (lower-case, as conditions read them)."""
        found = {
            "aws:principalarn": [self.role_arn or self.arn],
            "aws:principalaccount": [self.account],
            "aws:userid": [self.user_id],
            "aws:principaltype": [
                {"root": "Account", "user": "User", "assumed-role": "AssumedRole", "service": "Service"}[
                    self.kind
                ]
            ],
        }
        if self.kind == "user":
            found["aws:username"] = [self.name]
        for key, value in self.tags:
            found[f"aws:principaltag/{key.lower()}"] = [value]
        return found


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""  # why not, in AWS's words: "no identity-based policy allows", ...
    matched: tuple[str, ...] = field(default=())  # the statements that decided (policy label + Sid)

    def message(self, principal: Principal, action: str, resource: str) -> str:
        """AWS's AccessDenied sentence."""
        who = {"root": "User", "user": "User", "assumed-role": "User", "service": "Service"}[principal.kind]
        head = f"{who}: {principal.arn} is not authorized to perform: {action} on resource: {resource}"
        if self.reason.startswith("explicit deny"):
            return f"{head} with an {self.reason}"
        return f"{head} because {self.reason} the {action} action"


def statement_applies(
    statement: Statement,
    action: str,
    resource: str,
    context: Mapping[str, Sequence[str]],
    principal: Principal | None = None,
) -> bool:
    """Whether one statement speaks about this request (its Effect aside)."""
    if not statement.action.matches(action):
        return False
    if statement.resource is not None and not statement.resource.matches(resource, context):
        return False
    if statement.principal is not None:
        if principal is None:
            return False
        if principal_named(statement.principal, principal) == statement.not_principal:
            return False
    return all(condition.holds(context) for condition in statement.conditions)


def principal_named(
    named: Mapping[str, tuple[str, ...]], principal: Principal, *, account_counts: bool = False
) -> bool:
    """Whether a policy's Principal element names this caller (or, with `account_counts`, its account)."""
    if "*" in named:
        return True
    if principal.kind == "service":
        return principal.arn in named.get("Service", ())
    ids = principal.identifiers | principal.account_identifiers if account_counts else principal.identifiers
    if principal.kind == "root":
        ids = ids | principal.account_identifiers
    return any(value == "*" or value in ids for value in named.get("AWS", ()))


def trusts(
    policy: Policy,
    principal: Principal,
    context: Mapping[str, Sequence[str]],
    action: str = "sts:AssumeRole",
) -> bool:
    """Whether a role's trust policy lets this principal (or its account) assume it (or, with
    `action` sts:TagSession, pass session tags)."""
    context = {**principal.variables(), **context}
    allowed = False
    for statement in policy.statements:
        if not statement.action.matches(action):
            continue
        if statement.principal is None:
            continue
        if principal_named(statement.principal, principal, account_counts=True) == statement.not_principal:
            continue
        if not all(condition.holds(context) for condition in statement.conditions):
            continue
        if not statement.allow:
            return False
        allowed = True
    return allowed


def _scan(
    statements: Iterable[Statement],
    action: str,
    resource: str,
    context: Mapping[str, Sequence[str]],
    principal: Principal | None = None,
) -> tuple[bool, bool, str]:
    """(some statement denies, some statement allows, the deciding statement's Sid)."""
    allowed, sid = False, ""
    for statement in statements:
        if statement_applies(statement, action, resource, context, principal):
            if not statement.allow:
                return True, allowed, statement.sid
            if not allowed:
                allowed, sid = True, statement.sid
    return False, allowed, sid


def _all(policies: Iterable[Policy]) -> Iterator[Statement]:
    for policy in policies:
        yield from policy.statements


def evaluate(
    principal: Principal,
    action: str,
    resource: str,
    context: Mapping[str, Sequence[str]],
    resource_policy: Policy | None = None,
    *,
    resource_required: bool = False,
    cross_account: bool = False,
) -> Decision:
    """Decide one request. `context` holds the request's condition keys, lower-case. With
    `resource_required` (KMS key policies) identity policies count only where the resource policy
    allows the request or names the account, delegating to them. With `cross_account` (the resource
    is another account's) both must allow: the resource's policy, naming the caller or its account,
    and the caller's own identity policies."""
    if principal.kind == "root":
        return Decision(True)
    context = {**principal.variables(), **context}
    denied, identity_allows, sid = _scan(principal.statements_for(action), action, resource, context)
    if denied:
        return Decision(False, "explicit deny in an identity-based policy", (sid,))
    resource_allows = False
    if resource_policy is not None:
        denied, resource_allows, rsid = _scan(
            resource_policy.statements, action, resource, context, principal
        )
        if denied:
            return Decision(False, "explicit deny in a resource-based policy", (rsid,))
    bounded = session_allows = True
    if principal.boundary is not None:
        denied, bounded, bsid = _scan(_all(principal.boundary), action, resource, context)
        if denied:
            return Decision(False, "explicit deny in a permissions boundary", (bsid,))
    if principal.session is not None:
        denied, session_allows, ssid = _scan(_all(principal.session), action, resource, context)
        if denied:
            return Decision(False, "explicit deny in a session policy", (ssid,))
    if not bounded:
        if resource_allows and principal.kind == "assumed-role" and resource_policy is not None:
            # a resource policy naming the role (not this very session) is bounded too
            session_only = replace(principal, role_arn="", _by_action={}, _decisions={})
            resource_allows = _scan(resource_policy.statements, action, resource, context, session_only)[1]
        if identity_allows and not resource_allows:
            return Decision(False, "no permissions boundary allows")
        identity_allows = False
    if identity_allows and not session_allows and not resource_allows:
        return Decision(False, "no session policy allows")
    if cross_account:
        delegated = resource_policy is not None and _delegates(
            resource_policy, principal, action, resource, context
        )
        if not (resource_allows or delegated):
            return Decision(False, "no resource-based policy allows")
        if not identity_allows:
            return Decision(False, "no identity-based policy allows")
        return Decision(True, matched=(sid,))
    if resource_required and not resource_allows and identity_allows:
        delegated = resource_policy is not None and _delegates(
            resource_policy, principal, action, resource, context
        )
        if not delegated:
            return Decision(False, "no resource-based policy allows")
    if identity_allows or resource_allows:
        return Decision(True, matched=(sid,))
    return Decision(False, "no identity-based policy allows")


def remembered(
    principal: Principal, action: str, resource: str, resource_policy: Policy | None
) -> Decision | None:
    """A decision `evaluate` made before for the same principal, action, resource and resource policy,
    when none of the statements it could consult read the request's context (conditions, variables):
    such a decision is the same for every request. The principal is the store's, rebuilt after every
    IAM write, so what it remembers never outlives a change to its policies."""
    return principal._decisions.get((action, resource, resource_policy.document if resource_policy else None))


def remember(
    principal: Principal, action: str, resource: str, resource_policy: Policy | None, decision: Decision
) -> None:
    """Keep `decision` for `remembered` when no statement that speaks of `action` reads the context."""
    statements = [
        *principal.statements_for(action),
        *_all(principal.boundary or ()),
        *_all(principal.session or ()),
        *(resource_policy.statements if resource_policy else ()),
    ]
    if any(s.reads_context and s.action.matches(action) for s in statements):
        return
    decisions = principal._decisions
    if len(decisions) >= 4096:  # many resources (S3 object keys): start over rather than grow
        decisions.clear()
    decisions[(action, resource, resource_policy.document if resource_policy else None)] = decision


def _delegates(
    policy: Policy, principal: Principal, action: str, resource: str, context: Mapping[str, Sequence[str]]
) -> bool:
    """Whether a resource policy allows this request to the principal's whole account."""
    for statement in policy.statements:
        if not statement.allow or statement.principal is None or statement.not_principal:
            continue
        if not principal_named(statement.principal, principal, account_counts=True):
            continue
        if (
            statement.action.matches(action)
            and (statement.resource is None or statement.resource.matches(resource, context))
            and all(condition.holds(context) for condition in statement.conditions)
        ):
            return True
    return False
