"""The functions and APIs of every app the server was started with, and the warm pools that run them.

One registry per server, built by the server (`App.lambda_functions`) and given to both the `lambda` service
and the API Gateway mount, so `lambda.invoke` and HTTP routes run the same functions in the same workers.
"""

from __future__ import annotations

import mimetypes
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from outcrop.concurrency import run_blocking
from outcrop.lambdas.deployed import Deployed, DeployedFunctions
from outcrop.lambdas.logship import LogShipper
from outcrop.lambdas.pending import PendingEvents
from outcrop.lambdas.policies import FunctionPolicies
from outcrop.lambdas.spec import AppError, AppSpec, FunctionSpec, StaticSite
from outcrop.lambdas.template import load_template, one_line_app
from outcrop.lambdas.workers import FunctionPool, Outcome

if TYPE_CHECKING:
    from outcrop.config import Settings
    from outcrop.iam.execution import ExecutionRoles, RoleSession
    from outcrop.storage.logs import LogStore
    from outcrop.storage.objects import ObjectStore


Key = tuple[str, str, str]  # (account, region, function name)
IDLE_WORKER_SECONDS = 600.0  # Lambda keeps an idle execution environment for minutes, then lets it go
REAP_EVERY_SECONDS = 30.0


class FunctionGone(LookupError):
    """The function was deleted after work for it was accepted: a queued event is dropped instead of
    starting workers again for a function that no longer exists."""


class FunctionRegistry:
    def __init__(
        self,
        *,
        settings: Settings,
        objects: ObjectStore,
        logs: LogStore,
        root: Path,
        execution_roles: ExecutionRoles | None = None,
    ) -> None:
        """`settings` names the apps and functions to serve and the address their workers call back;
        `objects` holds the apps' buckets and sites, `logs` the functions' output; state is kept in `root`;
        `execution_roles` gives a function made with a Role that role's credentials (`auth = "iam"`)."""
        self.settings = settings
        self.default = (settings.account_id, settings.region)  # where templates' functions live
        self.execution_roles = execution_roles
        self._sessions: dict[Key, RoleSession] = {}
        self.objects = objects
        self.log_store = logs
        self.apps: dict[str, AppSpec] = {}
        self.functions: dict[Key, FunctionSpec] = {}  # by (account, region, name)
        self._pools: dict[Key, FunctionPool] = {}
        self._lock = threading.Lock()
        self._site_stamps: dict[str, float] = {}
        self._logs: LogShipper | None = None
        self._closing = threading.Event()
        self._worker_logs = _folder(root / "worker-logs")
        for leftover in self._worker_logs.glob("*.log"):  # from workers of a server that did not stop cleanly
            leftover.unlink(missing_ok=True)
        self._reaper: threading.Thread | None = None
        overrides = dict(settings.app_parameters)
        for template in settings.apps:
            self.add(
                load_template(
                    Path(template), overrides=overrides, region=settings.region, account=settings.account_id
                )
            )
        for declaration in settings.functions:
            self.add(one_line_app(declaration))
        self.pending = PendingEvents(_folder(root / "pending-events"))
        self.store = DeployedFunctions(_folder(root / "functions"), self.default)
        self.policies = FunctionPolicies(_folder(root / "policies"))  # resource-based policies
        self.deployed: dict[Key, Deployed] = {}
        for deployed in self.store.load():
            if deployed.spec.key not in self.functions:  # a template's function of the same name wins
                self.deployed[deployed.spec.key] = deployed
                self.functions[deployed.spec.key] = deployed.spec

    def add(self, spec: AppSpec) -> None:
        """An app's functions, in the server's default account and region."""
        if spec.name in self.apps:
            raise AppError(f"two apps are named {spec.name!r}: keep each template in its own folder")
        placed = {
            name: replace(f, account=self.default[0], region=self.default[1])
            for name, f in spec.functions.items()
        }
        for function in placed.values():
            if function.key in self.functions:
                raise AppError(
                    f"function {function.name!r} is declared twice"
                    f" (apps {self.functions[function.key].app!r} and {spec.name!r})"
                )
        spec.functions.update(placed)
        self.apps[spec.name] = spec
        self.functions.update((f.key, f) for f in placed.values())

    # -- functions -----------------------------------------------------------------------------------------

    def find(
        self, name_or_arn: str, *, account: str | None = None, region: str | None = None
    ) -> FunctionSpec | None:
        """By name, full ARN (`arn:aws:lambda:region:account:function:name[:qualifier]`) or partial ARN
        (`account:function:name`). A name is looked up in `account` and `region` (the server's default
        ones unless given); an ARN in its own."""
        account, region = account or self.default[0], region or self.default[1]
        name = name_or_arn
        if ":function:" in name:
            head, name = name.split(":function:", 1)
            fields = head.split(":")
            if len(fields) >= 5:  # arn:aws:lambda:region:account
                region, account = fields[3], fields[4]
            elif fields[-1]:
                account = fields[-1]
        name = name.split(":", 1)[0]
        return self.functions.get((account, region, name))

    def version(self, spec: FunctionSpec, qualifier: str | None) -> FunctionSpec | None:
        """The function as `qualifier` names it: $LATEST (or none) itself, a number its published version."""
        if qualifier in (None, "$LATEST"):
            return spec
        deployed = self.deployed.get(spec.key)
        published = deployed.versions.get(str(qualifier)) if deployed is not None else None
        return published.spec if published is not None else None

    def listed(self, account: str, region: str) -> list[FunctionSpec]:
        """The functions of one account's region, by name."""
        return sorted(
            (f for f in self.functions.values() if (f.account, f.region) == (account, region)),
            key=lambda f: f.name,
        )

    def put_deployed(self, deployed: Deployed) -> None:
        """Create or replace a function made through the API; its running workers are retired."""
        self.store.save(deployed)
        self.deployed[deployed.spec.key] = deployed
        self.functions[deployed.spec.key] = deployed.spec
        self._retire(deployed.spec.key)

    def save_deployed(self, deployed: Deployed) -> None:
        """Record a change that leaves $LATEST's code and settings as they are (a version published or
        deleted): no worker is retired, except a deleted version's own."""
        self.store.save(deployed)
        self.deployed[deployed.spec.key] = deployed
        with self._lock:
            gone = [
                key
                for key, pool in self._pools.items()
                if pool.spec.key == deployed.spec.key
                and pool.spec.version not in ("$LATEST", *deployed.versions)
            ]
        for key in gone:
            self._retire(key)

    def delete_deployed(self, spec: FunctionSpec) -> None:
        self.deployed.pop(spec.key, None)
        self.functions.pop(spec.key, None)
        with self._lock:
            keys = [key for key, pool in self._pools.items() if pool.spec.key == spec.key]
        for key in keys:  # $LATEST's workers and every published version's
            self._retire(key)
        self.store.delete(spec)
        self.policies.delete(spec.key)

    def _retire(self, key: Key) -> None:
        with self._lock:
            pool = self._pools.pop(key, None)
        if pool is not None:
            pool.retire()

    @staticmethod
    def _pool_key(spec: FunctionSpec) -> Key:
        """Each published version runs in its own workers (its own code); a name never holds a colon."""
        account, region, name = spec.key
        return spec.key if spec.version == "$LATEST" else (account, region, f"{name}:{spec.version}")

    def arn(self, function: FunctionSpec | str) -> str:
        """A function's ARN, in its account and region (a bare name: the server's default ones)."""
        if isinstance(function, str):
            account, region, name = (*self.default, function)
        else:
            account, region, name = function.key
            if function.version != "$LATEST":
                name = f"{name}:{function.version}"
        return f"arn:aws:lambda:{region}:{account}:function:{name}"

    def pool(self, spec: FunctionSpec, *, live: bool = False) -> FunctionPool:
        """The function's workers, started on first use. With `live`, FunctionGone where the function was
        deleted (checked under the lock its deletion retires pools with, so no pool outlives it)."""
        key = self._pool_key(spec)
        with self._lock:
            if live and self.functions.get(spec.key) is None:
                raise FunctionGone(spec.name)
            pool = self._pools.get(key)
            session = self._sessions.get(key)
            if pool is not None and session is not None and not session.fresh():
                self._pools.pop(key).retire()  # its role credentials run out: new workers, new ones
                pool = None
            if pool is None:
                concurrency = self.settings.lambda_concurrency
                if spec.reserved_concurrency:
                    concurrency = min(concurrency, spec.reserved_concurrency)
                if self._logs is None:
                    self._logs = LogShipper(self._ship)
                    self._reaper = threading.Thread(
                        target=self._reap, name="outcrop-lambda-reaper", daemon=True
                    )
                    self._reaper.start()
                shipper, scope = self._logs, (spec.account, spec.region)
                pool = FunctionPool(
                    spec,
                    self.environment(spec),
                    self._worker_logs,
                    lambda group, stream, events: shipper.put(scope, group, stream, events),
                    max(1, concurrency),
                )
                self._pools[key] = pool
            return pool

    def _ship(
        self, scope: tuple[str, str], group: str, stream: str, events: Sequence[tuple[int, str]]
    ) -> None:
        """A function's log lines go to CloudWatch Logs in the function's own account and region."""
        self.log_store.scoped(*scope).put(group, stream, events)

    async def invoke(
        self, spec: FunctionSpec, event: Any, client_context: Any = None, *, live: bool = False
    ) -> Outcome:
        """Run the function; with `live` (an event queued earlier), FunctionGone if it was deleted since."""
        pool = self.pool(spec, live=live)
        async with pool.waiting_room:
            return await run_blocking(
                lambda: pool.invoke(event, arn=self.arn(spec), client_context=client_context)
            )

    def environment(self, spec: FunctionSpec) -> dict[str, str]:
        """Lambda's reserved variables, then the function's own, then what makes boto3 reach Outcrop.
        Only PATH and HOME come from the server's own environment, so the worker finds its tools as the
        server does; nothing else of it (Outcrop's settings included) leaks into a function."""
        settings = self.settings
        host = settings.host if settings.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        access_key, secret_key = _credentials(settings)
        role = self._role_environment(spec)
        return {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/tmp"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(spec.code_dir),
            "HF_HUB_OFFLINE": "1",
            # Powertools' Tracer needs an X-Ray daemon Outcrop does not run: tracing is off unless set.
            "POWERTOOLS_TRACE_DISABLED": "true",
            **spec.environment,
            "_HANDLER": spec.handler,
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_REGION": spec.region or settings.region,
            "AWS_DEFAULT_REGION": spec.region or settings.region,
            "AWS_ACCESS_KEY_ID": access_key,
            "AWS_SECRET_ACCESS_KEY": secret_key,
            "AWS_SESSION_TOKEN": "",
            "AWS_ENDPOINT_URL": f"http://{host}:{settings.port}",
            **role,
        }

    def _role_environment(self, spec: FunctionSpec) -> dict[str, str]:
        """The execution role's credentials, as Lambda sets them, for a function made with a Role under
        `auth = "iam"` (a template's functions run with the server's credentials, as in every mode)."""
        deployed = self.deployed.get(spec.key)
        if self.execution_roles is None or deployed is None or not deployed.role:
            return {}
        from outcrop.iam.execution import RoleNotAssumable
        from outcrop.protocol.errors import ServiceError

        try:
            session = self.execution_roles.assume(deployed.role, spec.name, "lambda.amazonaws.com")
        except RoleNotAssumable as exc:
            raise ServiceError(
                str(exc), code="InvalidParameterValueException", status=400, sender_fault=True
            ) from exc
        if session is None:
            return {}
        self._sessions[self._pool_key(spec)] = session
        return session.environment()

    # -- buckets and static sites ---------------------------------------------------------------------------

    def create_buckets(self, spec: AppSpec) -> None:
        """The template's buckets, as a deploy creates them (existing ones and their objects are kept)."""
        from outcrop.storage.objects import StoreError

        for bucket in spec.buckets:
            try:
                self.objects.get_bucket(bucket)
            except StoreError:
                self.objects.create_bucket(bucket, self.settings.region)
        if spec.site is not None:
            self.sync_site(spec.site)

    def sync_site(self, site: StaticSite) -> None:
        """Upload the site's files into its bucket when they changed (a deploy's `aws s3 sync`)."""
        files = [p for p in site.source.rglob("*") if p.is_file()] if site.source.is_dir() else []
        stamp = max((p.stat().st_mtime for p in files), default=0.0) + len(files)
        if self._site_stamps.get(site.bucket) == stamp:
            return
        from outcrop.storage.objects import ObjectAttributes, StoreError

        store = self.objects
        try:
            store.get_bucket(site.bucket)
        except StoreError:
            store.create_bucket(site.bucket, self.settings.region)
        for path in files:
            content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            key = path.relative_to(site.source).as_posix()
            store.put_object(site.bucket, key, path.read_bytes(), ObjectAttributes(content_type=content_type))
        self._site_stamps[site.bucket] = stamp

    def stats(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            pools = dict(self._pools)
        return {
            self.arn(pool.spec): {
                "idle": pool.workers()[0],
                "busy": pool.workers()[1],
                "invocations": pool.invocations,
            }
            for pool in pools.values()
        }

    def last_modified(self, spec: FunctionSpec) -> float:
        pool = self._pools.get(self._pool_key(spec))
        return pool.last_modified if pool else _newest(spec.code_dir)

    def resume_pending(self) -> None:
        """Run the asynchronous invocations a previous server accepted and did not finish."""
        settings = self.settings
        host = settings.host if settings.host not in ("0.0.0.0", "::", "") else "127.0.0.1"

        def run(function: str, event: Any, client_context: Any) -> bool:
            spec = self.find(function)  # an ARN; a bare name (files from before regions): the default's
            qualifier = function.split(":")[7] if function.count(":") >= 7 else None
            spec = self.version(spec, qualifier) if spec is not None else None
            if spec is None:
                return False
            try:
                pool = self.pool(spec, live=True)
            except FunctionGone:
                return False
            pool.invoke(event, arn=self.arn(spec), client_context=client_context)
            return True

        self.pending.resume(f"http://{host}:{settings.port}/_outcrop/health", run)

    def _reap(self) -> None:
        while not self._closing.wait(REAP_EVERY_SECONDS):
            with self._lock:
                pools = list(self._pools.values())
            for pool in pools:
                pool.reap(IDLE_WORKER_SECONDS)

    def close(self) -> None:
        self._closing.set()
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()
        if self._logs is not None:
            self._logs.close()


def _folder(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _newest(folder: Path) -> float:
    try:
        return max((p.stat().st_mtime for p in folder.rglob("*.py")), default=time.time())
    except OSError:
        return time.time()


def _credentials(settings: Settings) -> tuple[str, str]:
    """Credentials the server accepts, so a handler's boto3 signs requests Outcrop verifies."""
    if settings.credentials:
        return next(iter(settings.credentials.items()))
    if settings.access_keys:
        return settings.access_keys[0], "outcrop-local"
    return "test", "test"
