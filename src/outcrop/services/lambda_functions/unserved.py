"""Function options Outcrop cannot honour: refused by name, never accepted and ignored.

Functions run in local Python workers: there is no VPC, no layer store, no dead-letter queue, no EFS, no
container image, no SnapStart, no tenant isolation, no managed capacity, no durable execution, no code
signing, and `PublishTo` (publishing to managed instances). Each option set to its default or an empty value
(VpcConfig with empty lists, as SAM and the console send; SnapStart ApplyOn=None) is accepted, since it asks
for nothing. `Publish` is served (see `versions`).
"""

from __future__ import annotations

from typing import Any

from outcrop.services import unserved as shared
from outcrop.services.lambda_functions.errors import InvalidParameterValueException
from outcrop.services.unserved import asks_for

Params = dict[str, Any]

_WHY = {
    "VpcConfig": "functions run on this server, not in a VPC",
    "DeadLetterConfig": "there is no SQS or SNS to send failed events to",
    "KMSKeyArn": "environment variables are not encrypted with a customer managed key here",
    "Layers": "there are no layers: package dependencies in the zip",
    "FileSystemConfigs": "there is no EFS to mount",
    "ImageConfig": "container images are not supported",
    "SnapStart": "there is no SnapStart",
    "TenancyConfig": "there is no tenant isolation",
    "CapacityProviderConfig": "there are no managed instances",
    "DurableConfig": "there are no durable functions",
    "RuntimeConfig": "runtime versions are the server's own Python",
    "AcceleratorConfig": "functions get no accelerators",
    "CodeSigningConfigArn": "code signing is not served",
    "PublishTo": "there are no managed instances to publish to",
    "SourceKMSKeyArn": "deployment packages are not encrypted with a customer managed key here",
    "S3ObjectStorageMode": "the zip is always copied (COPY)",
    "TenantId": "there is no tenant isolation",
    "DurableExecutionName": "there are no durable functions",
}


def _asks(name: str, value: Any) -> bool:
    """Whether a member's value asks for something (its default or an empty value does not)."""
    if name == "VpcConfig":
        return bool(
            value.get("SubnetIds") or value.get("SecurityGroupIds") or value.get("Ipv6AllowedForDualStack")
        )
    if name == "DeadLetterConfig":
        return bool(value.get("TargetArn"))
    if name == "SnapStart":
        return bool(value.get("ApplyOn", "None") != "None")
    if name == "S3ObjectStorageMode":
        return bool(value != "COPY")
    return asks_for(value)


def refuse_unserved(params: Params, *names: str) -> None:
    """InvalidParameterValueException for the first of `names` set to something Outcrop cannot do."""
    reasons = {name: _WHY[name] for name in names}
    shared.refuse_unserved(params, reasons, InvalidParameterValueException, _asks)


CREATE = (
    "VpcConfig",
    "DeadLetterConfig",
    "KMSKeyArn",
    "Layers",
    "FileSystemConfigs",
    "ImageConfig",
    "SnapStart",
    "TenancyConfig",
    "CapacityProviderConfig",
    "DurableConfig",
    "RuntimeConfig",
    "AcceleratorConfig",
    "CodeSigningConfigArn",
    "PublishTo",
)
UPDATE_CONFIGURATION = tuple(
    n for n in CREATE if n not in ("TenancyConfig", "CodeSigningConfigArn", "PublishTo")
)
UPDATE_CODE = ("PublishTo", "SourceKMSKeyArn", "S3ObjectStorageMode")
INVOKE = ("TenantId", "DurableExecutionName")
