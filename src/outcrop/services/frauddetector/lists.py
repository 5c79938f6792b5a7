"""Lists (allow and deny lists) that rules test with `$variable in @list_name`, and the account's
encryption key setting (only AWS's DEFAULT key is served: Outcrop does not encrypt this data with a
customer's KMS key, so naming one is refused rather than ignored)."""

from __future__ import annotations

from typing import Any

from outcrop.services.base import RequestContext
from outcrop.services.frauddetector.common import (
    PAGES,
    Base,
    ConflictException,
    ResourceNotFoundException,
    ValidationException,
    iso,
    tag_map,
)
from outcrop.services.frauddetector.rules import parse

MAX_ELEMENTS = 100_000  # AWS's limit on a list's elements


class Lists(Base):
    def _elements(self, elements: list[str]) -> list[str]:
        kept = list(dict.fromkeys(e.strip() for e in elements if e.strip()))
        if len(kept) > MAX_ELEMENTS:
            raise ValidationException(f"A list can hold at most {MAX_ELEMENTS} elements")
        return kept

    def create_list(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["name"]
        tags = tag_map(params.get("tags"))
        body = {
            "name": name,
            "elements": self._elements(params.get("elements") or []),
            "variableType": params.get("variableType", ""),
            "description": params.get("description", ""),
        }
        if not self.store.create("list", name, body):
            raise ValidationException(f"A list named {name} already exists")
        if tags:
            self.store.set_tags(self._arn(ctx, f"list/{name}"), tags)
        return {}

    def _list(self, name: str) -> dict[str, Any]:
        found = self.store.get("list", name)
        if found is None:
            raise ResourceNotFoundException(f"The list {name} does not exist")
        return found.body

    def get_list_elements(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        elements = self._list(params["name"])["elements"]
        return self._page(elements, params, "elements")

    def get_lists_metadata(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        found = self.store.scan("list")
        if params.get("name"):
            self._list(params["name"])
            found = [r for r in found if r.key == params["name"]]
        items = [
            {k: v for k, v in r.body.items() if k != "elements" and v}
            | {
                "createdTime": iso(r.created),
                "updatedTime": iso(r.updated),
                "arn": self._arn(ctx, f"list/{r.key}"),
            }
            for r in found
        ]
        page, token = PAGES.page(items, params)
        return {"lists": page} | ({"nextToken": token} if token else {})

    def update_list(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        body = self._list(params["name"])
        changes: dict[str, Any] = {}
        if params.get("elements") is not None:
            given = self._elements(params["elements"])
            mode = params.get("updateMode") or "REPLACE"
            if mode == "APPEND":
                given = self._elements(body["elements"] + given)
            elif mode == "REMOVE":
                given = [e for e in body["elements"] if e not in set(given)]
            changes["elements"] = given
        elif params.get("updateMode"):
            raise ValidationException("updateMode needs elements")
        for member in ("description", "variableType"):
            if params.get(member) is not None:
                changes[member] = params[member]
        self.store.update("list", params["name"], changes)
        return {}

    def delete_list(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["name"]
        users = [r.key for r in self.store.scan("rule") if name in parse(r.body["expression"]).lists]
        if users:
            raise ConflictException(f"The list {name} is used by the rule {users[0].replace('/', ' ')}")
        self.store.delete("list", name)
        return {}

    def list_elements(self, names: tuple[str, ...]) -> dict[str, list[str]]:
        """The elements of each named list, for evaluating rules (a deleted list is empty)."""
        found = {}
        for name in names:
            stored = self.store.get("list", name)
            found[name] = stored.body["elements"] if stored else []
        return found

    # encryption
    def get_kms_encryption_key(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"kmsKey": {"kmsEncryptionKeyArn": "DEFAULT"}}

    def put_kms_encryption_key(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if params["kmsEncryptionKeyArn"] != "DEFAULT":
            raise ValidationException(
                "Outcrop serves only the DEFAULT encryption key for Fraud Detector: "
                "it does not encrypt this data with a customer managed KMS key"
            )
        return {}
