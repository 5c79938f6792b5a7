"""Lambda function policies (AddPermission / RemovePermission / GetPolicy): one resource-based policy per
function, laid out as Lambda lays it out, kept under the data dir so it survives a restart.

Each policy is `<root>/<account>.<region>.<name>.json` holding the document and its RevisionId, written
atomically; the `auth = "iam"` authorizer reads it (`outcrop.iam.resource_policies.lambda_function_policies`)
to decide requests on the function together with the caller's identity policies.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

Key = tuple[str, str, str]  # (account, region, function name)
POLICY_ID = "default"
MAX_POLICY_BYTES = 20 * 1024  # Lambda's limit on a function's resource-based policy


class PolicyError(Exception):
    """A change Lambda refuses; `code` is Lambda's error code for it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class FunctionPolicies:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()

    def _path(self, key: Key) -> Path:
        return self.root / f"{key[0]}.{key[1]}.{key[2]}.json"

    def _read(self, key: Key) -> tuple[dict[str, Any], str] | None:
        try:
            saved = json.loads(self._path(key).read_text())
        except (OSError, ValueError):
            return None
        return saved["policy"], saved["revision"]

    def _write(self, key: Key, policy: Mapping[str, Any] | None) -> str:
        path = self._path(key)
        if policy is None:
            path.unlink(missing_ok=True)
            return ""
        revision = str(uuid.uuid4())
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(json.dumps({"policy": policy, "revision": revision}))
        os.replace(temporary, path)
        return revision

    def get(self, key: Key) -> tuple[str, str] | None:
        """The policy document as Lambda returns it (compact JSON) and its RevisionId, or None."""
        found = self._read(key)
        if found is None:
            return None
        return json.dumps(found[0], separators=(",", ":")), found[1]

    def text(self, key: Key) -> str | None:
        found = self._read(key)
        return json.dumps(found[0]) if found is not None else None

    def add(self, key: Key, statement: Mapping[str, Any], revision: str | None) -> str:
        """Add one statement; returns the new RevisionId."""
        with self._lock:
            found = self._read(key)
            policy, current = found if found is not None else ({}, "")
            _check_revision(revision, current)
            statements = list(policy.get("Statement") or [])
            if any(s.get("Sid") == statement["Sid"] for s in statements):
                raise PolicyError(
                    "ResourceConflictException",
                    "The statement id (sid) provided already exists. Please choose a new statement id, or "
                    "remove the existing statement.",
                )
            statements.append(dict(statement))
            document = {"Version": "2012-10-17", "Id": POLICY_ID, "Statement": statements}
            if len(json.dumps(document, separators=(",", ":"))) > MAX_POLICY_BYTES:
                raise PolicyError(
                    "PolicyLengthExceededException",
                    "The final policy size is bigger than the limit.",
                )
            return self._write(key, document)

    def remove(self, key: Key, sid: str, revision: str | None) -> None:
        with self._lock:
            found = self._read(key)
            if found is None:
                raise PolicyError(
                    "ResourceNotFoundException", "No policy is associated with the given resource."
                )
            policy, current = found
            _check_revision(revision, current)
            statements = [s for s in policy.get("Statement") or [] if s.get("Sid") != sid]
            if len(statements) == len(policy.get("Statement") or []):
                raise PolicyError(
                    "ResourceNotFoundException", f"Statement {sid} is not found in resource policy."
                )
            self._write(key, {**policy, "Statement": statements} if statements else None)

    def delete(self, key: Key) -> None:
        """The function is gone: so is its policy."""
        with self._lock:
            self._write(key, None)


def _check_revision(given: str | None, current: str) -> None:
    if given and given != current:
        raise PolicyError(
            "PreconditionFailedException",
            "The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to "
            "retrieve the latest Revision Id",
        )
