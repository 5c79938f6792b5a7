"""Lambda's published versions: PublishVersion, ListVersionsByFunction and `Publish` on create and update.

A version is an immutable snapshot of $LATEST (its code folder and settings) with the next number; it runs
in its own workers and survives restarts. Publishing when nothing changed since the last version answers
that version, as Lambda does. Aliases are not served.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from outcrop.lambdas.deployed import Deployed
from outcrop.services.base import RequestContext
from outcrop.services.lambda_functions.errors import (
    InvalidParameterValueException,
    PreconditionFailedException,
)
from outcrop.services.lambda_functions.unserved import refuse_unserved
from outcrop.services.paging import Pager

if TYPE_CHECKING:
    from outcrop.lambdas.registry import FunctionRegistry
    from outcrop.lambdas.spec import FunctionSpec

Params = dict[str, Any]
Output = dict[str, Any]

_VERSION_PAGES = Pager(
    InvalidParameterValueException,
    "The Marker is not one this server gave.",
    default=50,
    maximum=50,
    token="Marker",
    size="MaxItems",
)


def _same(a: FunctionSpec, b: FunctionSpec) -> bool:
    """Whether two snapshots run the same code with the same settings (the version number aside)."""
    return replace(a, version="$LATEST") == replace(b, version="$LATEST")


class VersionOperations:
    """Mixed into the Lambda service, which gives the registry, lookups and the configuration shape."""

    functions: FunctionRegistry

    def _function(self, ctx: RequestContext, params: Params) -> FunctionSpec:
        raise NotImplementedError

    def _deployed(self, ctx: RequestContext, params: Params, *, versions: bool = False) -> Deployed:
        raise NotImplementedError

    def _configuration(self, spec: FunctionSpec) -> Output:
        raise NotImplementedError

    def _publish(self, deployed: Deployed, description: str | None = None) -> FunctionSpec:
        """The version a publish gives: the newest one if $LATEST has not changed since, else a new one."""
        if deployed.versions:
            newest = deployed.versions[str(max(int(n) for n in deployed.versions))]
            if newest.code_sha256 == deployed.code_sha256 and _same(
                replace(newest.spec, description=deployed.spec.description), deployed.spec
            ):
                return newest.spec
        number = str(deployed.last_version + 1)
        spec = replace(deployed.spec, version=number)
        if description is not None:
            spec = replace(spec, description=description)
        snapshot = replace(deployed, spec=spec, versions={}, last_version=0)
        self.functions.save_deployed(
            replace(deployed, versions={**deployed.versions, number: snapshot}, last_version=int(number))
        )
        return spec

    def publish_version(self, ctx: RequestContext, params: Params) -> Output:
        deployed = self._deployed(ctx, {"FunctionName": params["FunctionName"]})
        refuse_unserved(params, "PublishTo")
        if params.get("CodeSha256") and params["CodeSha256"] != deployed.code_sha256:
            raise InvalidParameterValueException(
                f"CodeSHA256 ({params['CodeSha256']}) is different from current CodeSHA256 in $LATEST "
                f"({deployed.code_sha256}). Please try again with the CodeSHA256 in $LATEST."
            )
        if params.get("RevisionId") and params["RevisionId"] != self._configuration(deployed.spec).get(
            "RevisionId"
        ):
            raise PreconditionFailedException(
                "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/"
                "GetAlias API to retrieve the latest Revision Id"
            )
        return self._configuration(self._publish(deployed, params.get("Description")))

    def list_versions_by_function(self, ctx: RequestContext, params: Params) -> Output:
        spec = self._function(ctx, {"FunctionName": params["FunctionName"]})
        deployed = self.functions.deployed.get(spec.key)
        published = deployed.versions if deployed is not None else {}
        latest = self._configuration(spec)
        latest["FunctionArn"] = f"{latest['FunctionArn']}:$LATEST"
        versions = [latest, *(self._configuration(published[n].spec) for n in sorted(published, key=int))]
        page, marker = _VERSION_PAGES.page(versions, params)
        output: Output = {"Versions": page}
        if marker:
            output["NextMarker"] = marker
        return output

    def _delete_version(self, deployed: Deployed, number: str) -> None:
        """DeleteFunction with a version's number: that version goes, $LATEST and the others stay."""
        versions = {n: v for n, v in deployed.versions.items() if n != number}
        self.functions.save_deployed(replace(deployed, versions=versions))
