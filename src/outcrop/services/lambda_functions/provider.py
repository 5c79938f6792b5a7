"""AWS Lambda: Invoke and the read side of the control plane, over the functions of the apps Outcrop serves.

Functions come from the SAM templates and one-line declarations given to `outcrop serve` (see
`outcrop.lambdas`); API Gateway routes (`outcrop.web.apigateway`) run the same functions in the same warm
workers. CreateFunction / UpdateFunctionCode / UpdateFunctionConfiguration / DeleteFunction manage functions
from a zip (inline or in S3); those can be invoked but have no API Gateway routes (no API Gateway control
plane yet).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from outcrop.config import Settings
from outcrop.lambdas.deployed import Deployed, PackageError
from outcrop.lambdas.registry import FunctionGone, FunctionRegistry
from outcrop.lambdas.spec import FunctionSpec
from outcrop.lambdas.template import PYTHON_RUNTIME
from outcrop.protocol.errors import ServiceError
from outcrop.services.base import RequestContext, Service
from outcrop.services.lambda_functions.errors import (
    InvalidParameterValueException,
    InvalidRequestContentException,
    RequestTooLargeException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from outcrop.services.lambda_functions.permissions import PermissionOperations
from outcrop.services.lambda_functions.unserved import (
    CREATE,
    INVOKE,
    UPDATE_CODE,
    UPDATE_CONFIGURATION,
    refuse_unserved,
)
from outcrop.services.lambda_functions.versions import VersionOperations
from outcrop.services.paging import Pager
from outcrop.storage.objects import ObjectStore, StoreError

Params = dict[str, Any]
Output = dict[str, Any]
LIST_PAGE = 50
MAX_SYNC_PAYLOAD = 6 * 1024 * 1024  # Lambda's limit on an invocation's request payload
MAX_ENVIRONMENT_BYTES = 4 * 1024  # Lambda's limit on a function's environment variables, keys and values
# Variables the runtime sets itself; Lambda refuses a function configuration that tries to set them.
RESERVED_VARIABLES = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_DEFAULT_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_LAMBDA_RUNTIME_API",
        "AWS_REGION",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "LAMBDA_RUNTIME_DIR",
        "LAMBDA_TASK_ROOT",
    }
)


_FUNCTION_PAGES = Pager(
    InvalidParameterValueException,
    "The Marker is not one this server gave.",
    default=LIST_PAGE,
    maximum=LIST_PAGE,
    token="Marker",
    size="MaxItems",
)


def _not_found(ctx: RequestContext, name: str) -> ServiceError:
    arn = name if name.startswith("arn:") else ctx.arn("lambda", f"function:{name}")
    return ResourceNotFoundException(f"Function not found: {arn}")


class LambdaFunctions(PermissionOperations, VersionOperations, Service):
    service_name = "lambda"

    def __init__(
        self, *, lambda_functions: FunctionRegistry, objects: ObjectStore, settings: Settings
    ) -> None:
        """`lambda_functions` is the registry the API Gateway routes share (the server closes it);
        `objects` holds code packages uploaded to S3; `settings` gives the account of default roles."""
        self.functions = lambda_functions
        self.objects = objects
        self.account_id = settings.account_id
        self.functions.resume_pending()
        self._background: set[asyncio.Task[Any]] = set()

    def close(self) -> None:
        for task in self._background:
            task.cancel()

    def _function(self, ctx: RequestContext, params: Params) -> FunctionSpec:
        name = str(params["FunctionName"])
        spec = self.functions.find(name, account=ctx.account_id, region=ctx.region)
        if spec is not None and (spec.account, spec.region) != (ctx.account_id, ctx.region):
            spec = None  # another region's ARN: Lambda serves a region's own functions only
        # `name:1`, `account:function:name:1` and a full ARN ending `:1` carry a qualifier too.
        _, qualified = name.split(":function:", 1) if ":function:" in name else ("", name)
        qualifier = params.get("Qualifier") or (qualified.split(":", 1)[1] if ":" in qualified else None)
        version = self.functions.version(spec, qualifier) if spec is not None else None
        if version is None:
            raise _not_found(ctx, name if qualifier in (None, "$LATEST") else f"{name}:{qualifier}")
        return version

    # -- Invoke --------------------------------------------------------------------------------------------

    async def invoke(self, ctx: RequestContext, params: Params) -> Output:
        """Runs on the event loop: waiting for a free worker holds no thread (see FunctionPool)."""
        spec = self._function(ctx, params)
        refuse_unserved(params, *INVOKE)
        event, client_context = _event_and_context(params)
        kind = params.get("InvocationType") or "RequestResponse"
        if kind == "DryRun":
            return {"StatusCode": 204}
        if kind == "Event":
            saved = self.functions.pending.save(self.functions.arn(spec), event, client_context)
            task = asyncio.create_task(self._run_event(spec, event, client_context, saved))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            return {"StatusCode": 202, "Payload": b""}
        outcome = await self.functions.invoke(spec, event, client_context)
        output: Output = {"StatusCode": 200, "ExecutedVersion": spec.version}
        if outcome.error is not None:
            output["FunctionError"] = "Unhandled"
            output["Payload"] = json.dumps(outcome.error).encode()
        else:
            output["Payload"] = (outcome.payload or "null").encode()
        if params.get("LogType") == "Tail":
            output["LogResult"] = outcome.log_tail()
        return output

    async def _run_event(self, spec: FunctionSpec, event: Any, client_context: Any, saved: Path) -> None:
        """An accepted `Event` invocation: its file goes when it has run (a server stopping leaves it)."""
        try:
            await self.functions.invoke(spec, event, client_context, live=True)
        except asyncio.CancelledError:
            raise  # the server is stopping: the next start runs it again
        except FunctionGone:
            pass  # deleted since the event was accepted: dropped, with no workers started for it
        self.functions.pending.done(saved)

    async def invoke_with_response_stream(self, ctx: RequestContext, params: Params) -> Output:
        """The handler's result as one PayloadChunk then InvokeComplete: Python handlers return a whole
        result (AWS's Python runtimes do not stream either), so the chunk comes when the handler returns."""
        spec = self._function(ctx, params)
        refuse_unserved(params, *INVOKE)
        event, client_context = _event_and_context(params)
        if params.get("InvocationType") == "DryRun":
            return {"StatusCode": 204}
        outcome = await self.functions.invoke(spec, event, client_context)
        tail = params.get("LogType") == "Tail"

        async def events() -> AsyncIterator[tuple[str, dict[str, Any]]]:
            complete: dict[str, Any] = {}
            if outcome.error is None:
                yield "PayloadChunk", {"Payload": (outcome.payload or "null").encode()}
            else:
                complete["ErrorCode"] = str(outcome.error.get("errorType") or "Unhandled")
                complete["ErrorDetails"] = json.dumps(outcome.error)
            if tail:
                complete["LogResult"] = outcome.log_tail()
            yield "InvokeComplete", complete

        return {"StatusCode": 200, "ExecutedVersion": spec.version, "EventStream": events()}

    # -- control plane (read) ------------------------------------------------------------------------------

    def get_function(self, ctx: RequestContext, params: Params) -> Output:
        spec = self._function(ctx, params)
        deployed = self.functions.deployed.get(spec.key)
        tags = deployed.tags if deployed else {"aws:cloudformation:stack-name": spec.app}
        return {"Configuration": self._configuration(spec), "Code": {"RepositoryType": "S3"}, "Tags": tags}

    def get_function_configuration(self, ctx: RequestContext, params: Params) -> Output:
        return self._configuration(self._function(ctx, params))

    def list_functions(self, ctx: RequestContext, params: Params) -> Output:
        after = _FUNCTION_PAGES.after(params) or ""
        # FunctionVersion=ALL adds each function's published versions after it; MasterRegion lists
        # Lambda@Edge replicas, and there are none.
        listed = [] if params.get("MasterRegion") else self.functions.listed(ctx.account_id, ctx.region)
        functions = [f for f in listed if f.name > after]
        page, marker = _FUNCTION_PAGES.keyed(functions, params, lambda f: f.name)
        configurations = []
        for function in page:
            configurations.append(self._configuration(function))
            deployed = self.functions.deployed.get(function.key)
            if params.get("FunctionVersion") == "ALL" and deployed is not None:
                versions = sorted(deployed.versions.items(), key=lambda item: int(item[0]))
                configurations += [self._configuration(v.spec) for _, v in versions]
        output: Output = {"Functions": configurations}
        if marker:
            output["NextMarker"] = marker
        return output

    def _configuration(self, spec: FunctionSpec) -> Output:
        deployed = self.functions.deployed.get(spec.key)
        if deployed is not None and spec.version != "$LATEST":
            deployed = deployed.versions[spec.version]
        if deployed is not None:
            sha, size, changed = deployed.code_sha256, deployed.code_size, deployed.last_modified
        else:
            sha, size = _folder_digest(spec.code_dir)
            changed = self.functions.last_modified(spec)
        modified = time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime(changed))
        return {
            "FunctionName": spec.name,
            "FunctionArn": self.functions.arn(spec),
            "Runtime": spec.runtime,
            "Role": deployed.role if deployed else f"arn:aws:iam::{spec.account}:role/outcrop-lambda",
            "Handler": spec.handler,
            "CodeSize": size,
            "Description": spec.description,
            "Timeout": max(1, round(spec.timeout)),
            "MemorySize": spec.memory_mb,
            "LastModified": modified,
            "CodeSha256": sha,
            "Version": spec.version,
            "Environment": {"Variables": dict(spec.environment)},
            "TracingConfig": {"Mode": "PassThrough"},
            "State": "Active",
            "LastUpdateStatus": "Successful",
            "PackageType": "Zip",
            "Architectures": ["x86_64"],
            "EphemeralStorage": {"Size": 512},
            "LoggingConfig": {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{spec.name}"},
        }

    # -- control plane (write): functions from a zip -------------------------------------------------------

    def create_function(self, ctx: RequestContext, params: Params) -> Output:
        name = str(params["FunctionName"])
        refuse_unserved(params, *CREATE)
        if ":" in name or "/" in name:
            raise InvalidParameterValueException("Outcrop creates functions by name, not by ARN.")
        if self.functions.find(name, account=ctx.account_id, region=ctx.region) is not None:
            raise ResourceConflictException(f"Function already exist: {name}")
        if params.get("PackageType") == "Image" or (params["Code"] or {}).get("ImageUri"):
            raise InvalidParameterValueException(
                "Outcrop runs zip packages only; container images are not supported."
            )
        runtime = str(params.get("Runtime") or "")
        if not PYTHON_RUNTIME.fullmatch(runtime):
            raise InvalidParameterValueException(
                f"Outcrop runs Python functions only (Runtime python3.x), not {runtime!r}."
            )
        handler = _checked_handler(str(params.get("Handler") or ""))
        environment = _checked_environment((params.get("Environment") or {}).get("Variables") or {})
        code_dir, sha, size = self._unpack(ctx.account_id, ctx.region, name, params["Code"])
        spec = FunctionSpec(
            name=name,
            handler=handler,
            code_dir=code_dir,
            runtime=runtime,
            timeout=float(params.get("Timeout") or 3),
            memory_mb=int(params.get("MemorySize") or 128),
            environment=environment,
            description=str(params.get("Description") or ""),
            account=ctx.account_id,
            region=ctx.region,
        )
        deployed = Deployed(spec, sha, size, time.time(), str(params["Role"]), dict(params.get("Tags") or {}))
        self.functions.put_deployed(deployed)
        if not params.get("Publish"):
            return self._configuration(spec)
        # Version 1 answers with the function's own (unqualified) ARN, as Lambda does on create.
        return {**self._configuration(self._publish(deployed)), "FunctionArn": self.functions.arn(spec)}

    def update_function_code(self, ctx: RequestContext, params: Params) -> Output:
        deployed = self._deployed(ctx, params)
        refuse_unserved(params, *UPDATE_CODE)
        if params.get("ImageUri"):
            raise InvalidParameterValueException(
                "Outcrop runs zip packages only; container images are not supported."
            )
        code = {k: params[k] for k in ("ZipFile", "S3Bucket", "S3Key", "S3ObjectVersion") if params.get(k)}
        if params.get("DryRun"):
            return self._configuration(deployed.spec)
        code_dir, sha, size = self._unpack(*deployed.spec.key, code)
        spec = replace(deployed.spec, code_dir=code_dir)
        updated = replace(deployed, spec=spec, code_sha256=sha, code_size=size, last_modified=time.time())
        self.functions.put_deployed(updated)
        return self._configuration(self._publish(updated) if params.get("Publish") else spec)

    def update_function_configuration(self, ctx: RequestContext, params: Params) -> Output:
        deployed = self._deployed(ctx, params)
        refuse_unserved(params, *UPDATE_CONFIGURATION)
        spec = deployed.spec
        runtime = str(params.get("Runtime") or spec.runtime)
        if not PYTHON_RUNTIME.fullmatch(runtime):
            raise InvalidParameterValueException(
                f"Outcrop runs Python functions only (Runtime python3.x), not {runtime!r}."
            )
        environment = params.get("Environment")
        if environment is not None:
            _checked_environment(environment.get("Variables") or {})
        spec = replace(
            spec,
            handler=_checked_handler(str(params.get("Handler") or spec.handler)),
            runtime=runtime,
            timeout=float(params.get("Timeout") or spec.timeout),
            memory_mb=int(params.get("MemorySize") or spec.memory_mb),
            description=str(params["Description"]) if "Description" in params else spec.description,
            environment=dict(environment.get("Variables") or {})
            if environment is not None
            else spec.environment,
        )
        self.functions.put_deployed(
            replace(
                deployed, spec=spec, last_modified=time.time(), role=str(params.get("Role") or deployed.role)
            )
        )
        return self._configuration(spec)

    def delete_function(self, ctx: RequestContext, params: Params) -> Output:
        deployed = self._deployed(ctx, params, versions=True)
        version = self._function(ctx, params).version
        if params.get("Qualifier") == "$LATEST":
            raise InvalidParameterValueException(
                "$LATEST version cannot be deleted without deleting the function."
            )
        if version != "$LATEST":
            self._delete_version(deployed, version)
        else:
            self.functions.delete_deployed(deployed.spec)
        return {}

    def _deployed(self, ctx: RequestContext, params: Params, *, versions: bool = False) -> Deployed:
        """The function made through the API that a change names; a published version never changes
        (only DeleteFunction, `versions`, may name one)."""
        spec = self._function(ctx, params)
        if spec.version != "$LATEST" and not versions:
            raise InvalidParameterValueException(
                f"Version {spec.version} of {spec.name} is published and cannot change: name the function "
                "without a qualifier to change $LATEST."
            )
        deployed = self.functions.deployed.get(spec.key)
        if deployed is None:
            where = (
                self.functions.apps[spec.app].source
                if spec.app in self.functions.apps
                else "the server's options"
            )
            raise InvalidParameterValueException(
                f"Function {spec.name} is declared in {where}; change it there (code changes are picked up "
                "without a restart)."
            )
        return deployed

    def _unpack(self, account: str, region: str, name: str, code: dict[str, Any]) -> tuple[Path, str, int]:
        package = code.get("ZipFile")
        if package is None and code.get("S3Bucket") and code.get("S3Key"):
            try:
                package = self.objects.read_object(str(code["S3Bucket"]), str(code["S3Key"]))
            except StoreError as exc:
                raise InvalidParameterValueException(
                    f"Error occurred while GetObject. S3 Error Code: {exc.code}. S3 Error Message: {exc}"
                ) from exc
        if not package:
            raise InvalidParameterValueException(
                "Please provide a source for function code (ZipFile, or S3Bucket and S3Key)."
            )
        try:
            return self.functions.store.unpack(account, region, name, bytes(package))
        except PackageError as exc:
            raise InvalidParameterValueException(str(exc)) from exc


def _checked_handler(handler: str) -> str:
    if "." not in handler.strip("."):
        raise InvalidParameterValueException("Handler must be module.function (e.g. app.lambda_handler).")
    return handler


def _checked_environment(variables: dict[str, Any]) -> dict[str, str]:
    """The function's environment variables, refused as Lambda does when reserved or over 4 KB."""
    reserved = sorted(RESERVED_VARIABLES.intersection(variables))
    if reserved:
        raise InvalidParameterValueException(
            "The environment variables set keys the Lambda runtime reserves for itself, which a function "
            f"cannot change: {', '.join(reserved)}."
        )
    size = sum(len(str(key).encode()) + len(str(value).encode()) for key, value in variables.items())
    if size > MAX_ENVIRONMENT_BYTES:
        raise InvalidParameterValueException(
            f"The environment variables take {size} bytes, over Lambda's {MAX_ENVIRONMENT_BYTES}-byte limit."
        )
    return {str(key): str(value) for key, value in variables.items()}


def _event_and_context(params: Params) -> tuple[Any, Any]:
    """The invocation's JSON payload and optional base64 JSON client context, or the error Lambda gives."""
    raw = params.get("Payload") or b""
    if len(raw) > MAX_SYNC_PAYLOAD:
        raise RequestTooLargeException(
            f"{len(raw)} byte payload is too large for the Invoke operation (6291456 bytes)"
        )
    try:
        event = json.loads(raw) if raw.strip() else {}
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidRequestContentException(f"Could not parse request body into json: {exc}") from exc
    client_context = None
    if params.get("ClientContext"):
        try:
            client_context = json.loads(base64.b64decode(params["ClientContext"]))
        except (binascii.Error, ValueError) as exc:
            raise InvalidRequestContentException(
                "Client context must be a valid Base64-encoded JSON object."
            ) from exc
    return event, client_context


def _folder_digest(folder: Path) -> tuple[str, int]:
    """A template function's code has no zip: hash its Python files (path and bytes) instead."""
    digest = hashlib.sha256()
    size = 0
    for path in sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts):
        data = path.read_bytes()
        size += len(data)
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + data)
    return base64.b64encode(digest.digest()).decode(), size
