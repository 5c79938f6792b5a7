"""AWS Lambda: Invoke and the read side of the control plane, over the functions of the apps Outcrop serves.

Functions come from the SAM templates and one-line declarations given to `outcrop serve` (see
`outcrop.lambdas`); API Gateway routes (`outcrop.web.apigateway`) run the same functions in the same warm
workers. Creating functions through the API (CreateFunction with a zip) is not served yet.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from outcrop.lambdas.registry import FunctionRegistry
from outcrop.lambdas.spec import FunctionSpec
from outcrop.protocol.errors import ServiceError
from outcrop.services.base import RequestContext, Service

Params = dict[str, Any]
Output = dict[str, Any]
LIST_PAGE = 50


def _not_found(ctx: RequestContext, name: str) -> ServiceError:
    arn = name if name.startswith("arn:") else ctx.arn("lambda", f"function:{name}")
    return ServiceError(
        f"Function not found: {arn}",
        code="ResourceNotFoundException",
        status=404,
        sender_fault=True,
        extra={"Type": "User"},
    )


def _invalid_content(message: str) -> ServiceError:
    return ServiceError(
        message, code="InvalidRequestContentException", status=400, sender_fault=True, extra={"Type": "User"}
    )


class LambdaFunctions(Service):
    service_name = "lambda"

    def __init__(self, app: Any) -> None:
        super().__init__(app)
        self.functions = FunctionRegistry(app)
        self._async_invocations = ThreadPoolExecutor(max_workers=8, thread_name_prefix="outcrop-lambda-event")

    def close(self) -> None:
        self._async_invocations.shutdown(wait=False, cancel_futures=True)
        self.functions.close()

    def _function(self, ctx: RequestContext, params: Params) -> FunctionSpec:
        name = str(params["FunctionName"])
        spec = self.functions.find(name)
        qualifier = params.get("Qualifier") or (name.split(":")[7] if name.count(":") >= 7 else None)
        if spec is None or qualifier not in (None, "$LATEST"):
            raise _not_found(ctx, name if qualifier in (None, "$LATEST") else f"{name}:{qualifier}")
        return spec

    # -- Invoke --------------------------------------------------------------------------------------------

    def invoke(self, ctx: RequestContext, params: Params) -> Output:
        spec = self._function(ctx, params)
        raw = params.get("Payload") or b""
        try:
            event = json.loads(raw) if raw.strip() else {}
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _invalid_content(f"Could not parse request body into json: {exc}") from exc
        client_context = None
        if params.get("ClientContext"):
            try:
                client_context = json.loads(base64.b64decode(params["ClientContext"]))
            except (binascii.Error, ValueError) as exc:
                raise _invalid_content("Client context must be a valid Base64-encoded JSON object.") from exc
        kind = params.get("InvocationType") or "RequestResponse"
        if kind == "DryRun":
            return {"StatusCode": 204}
        if kind == "Event":
            self._async_invocations.submit(self.functions.invoke, spec, event, client_context)
            return {"StatusCode": 202, "Payload": b""}
        outcome = self.functions.invoke(spec, event, client_context)
        output: Output = {"StatusCode": 200, "ExecutedVersion": "$LATEST"}
        if outcome.error is not None:
            output["FunctionError"] = "Unhandled"
            output["Payload"] = json.dumps(outcome.error).encode()
        else:
            output["Payload"] = (outcome.payload or "null").encode()
        if params.get("LogType") == "Tail":
            output["LogResult"] = outcome.log_tail()
        return output

    # -- control plane (read) ------------------------------------------------------------------------------

    def get_function(self, ctx: RequestContext, params: Params) -> Output:
        spec = self._function(ctx, params)
        return {
            "Configuration": self._configuration(spec),
            "Code": {"RepositoryType": "S3"},
            "Tags": {"aws:cloudformation:stack-name": spec.app},
        }

    def get_function_configuration(self, ctx: RequestContext, params: Params) -> Output:
        return self._configuration(self._function(ctx, params))

    def list_functions(self, ctx: RequestContext, params: Params) -> Output:
        names = sorted(self.functions.functions)
        marker = params.get("Marker")
        if marker:
            names = [n for n in names if n > marker]
        limit = min(int(params.get("MaxItems") or LIST_PAGE), LIST_PAGE)
        page = names[:limit]
        output: Output = {"Functions": [self._configuration(self.functions.functions[n]) for n in page]}
        if len(names) > limit:
            output["NextMarker"] = page[-1]
        return output

    def _configuration(self, spec: FunctionSpec) -> Output:
        files = sorted(p for p in spec.code_dir.rglob("*.py") if "__pycache__" not in p.parts)
        digest = hashlib.sha256()
        size = 0
        for path in files:
            data = path.read_bytes()
            size += len(data)
            digest.update(path.relative_to(spec.code_dir).as_posix().encode() + b"\0" + data)
        modified = time.strftime(
            "%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime(self.functions.last_modified(spec))
        )
        return {
            "FunctionName": spec.name,
            "FunctionArn": self.functions.arn(spec.name),
            "Runtime": spec.runtime,
            "Role": f"arn:aws:iam::{self.app.settings.account_id}:role/outcrop-lambda",
            "Handler": spec.handler,
            "CodeSize": size,
            "Description": spec.description,
            "Timeout": max(1, round(spec.timeout)),
            "MemorySize": spec.memory_mb,
            "LastModified": modified,
            "CodeSha256": base64.b64encode(digest.digest()).decode(),
            "Version": "$LATEST",
            "Environment": {"Variables": dict(spec.environment)},
            "TracingConfig": {"Mode": "PassThrough"},
            "State": "Active",
            "LastUpdateStatus": "Successful",
            "PackageType": "Zip",
            "Architectures": ["x86_64"],
            "EphemeralStorage": {"Size": 512},
            "LoggingConfig": {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{spec.name}"},
        }
