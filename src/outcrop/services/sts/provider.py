"""AWS STS: who am I. SDKs and tools call GetCallerIdentity to check their credentials."""

from __future__ import annotations

from typing import Any

from outcrop.services.base import RequestContext, Service


class Sts(Service):
    service_name = "sts"

    def get_caller_identity(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "UserId": ctx.access_key if ctx.access_key != "anonymous" else ctx.account_id,
            "Account": ctx.account_id,
            "Arn": f"arn:aws:iam::{ctx.account_id}:root",
        }
