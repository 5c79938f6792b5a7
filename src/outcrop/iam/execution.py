"""Execution roles: the credentials a Lambda function or SageMaker job runs with.

Under `auth = "iam"` the service assumes the function's `Role` (the job's `RoleArn`) as AWS does: the role
must exist and its trust policy must name the service principal (`lambda.amazonaws.com`,
`sagemaker.amazonaws.com`); the session is an STS session like AssumeRole's, so calls the code makes back
into Outcrop are authorized as that role. In the other modes every request is admitted and nothing changes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from outcrop.iam.evaluate import Principal, trusts
from outcrop.iam.store import IamStore

SESSION_SECONDS = 6 * 3600  # how long one execution environment's credentials last
REFRESH_SECONDS = 900  # credentials with less left than this are renewed before an environment starts


class RoleNotAssumable(Exception):
    """The role does not exist, or its trust policy does not let the service assume it."""


@dataclass(frozen=True)
class RoleSession:
    access_key_id: str
    secret_access_key: str
    session_token: str
    expires: float

    def environment(self) -> dict[str, str]:
        """The variables AWS's runtimes set, which every SDK's default credential chain reads."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
        }

    def fresh(self) -> bool:
        return self.expires - time.time() > REFRESH_SECONDS


class ExecutionRoles:
    def __init__(self, store: IamStore, *, enabled: bool) -> None:
        """`enabled` only under `auth = "iam"`: elsewhere code runs with the server's own credentials."""
        self.store = store
        self.enabled = enabled

    def assume(self, role_arn: str, session_name: str, service: str) -> RoleSession | None:
        """A session of `role_arn` for `service` (e.g. "lambda.amazonaws.com"); None when not enabled."""
        if not self.enabled:
            return None
        trust = self.store.trust_policy(role_arn)
        caller = Principal("service", service, self.store.account_id, service)
        if trust is None or not trusts(trust, caller, {}):
            if service == "lambda.amazonaws.com":
                raise RoleNotAssumable("The role defined for the function cannot be assumed by Lambda.")
            raise RoleNotAssumable(
                f"Could not assume role {role_arn}. Please ensure that the role exists and allows principal "
                f"'{service}' to assume the role."
            )
        name = role_arn.rsplit("/", 1)[-1]
        session = self.store.create_session("role", name, _session_name(session_name), SESSION_SECONDS, None)
        return RoleSession(session["id"], session["secret"], session["token"], float(session["expires"]))


def _session_name(name: str) -> str:
    """A role session name STS accepts ([\\w+=,.@-], 2 to 64 characters)."""
    cleaned = "".join(c if c.isalnum() or c in "+=,.@-_" else "-" for c in name)[:64]
    return cleaned if len(cleaned) >= 2 else f"{cleaned}--"
