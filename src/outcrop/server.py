"""Builds the ASGI application: every service module found in `outcrop.services`, behind one gateway."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import os
import pkgutil
import time
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from outcrop import __version__, sandbox
from outcrop.app import App
from outcrop.config import Settings
from outcrop.protocol.gateway import Gateway, GatewaySettings, InternalHandler
from outcrop.protocol.origin import OriginPolicy
from outcrop.protocol.parse import HttpRequest
from outcrop.protocol.serialize import HttpResponse
from outcrop.services.base import Service


def discover_services(app: App) -> dict[str, Service]:
    """One instance of each Service subclass in `outcrop.services`: a module, or a package's `provider`."""
    import outcrop.services as package

    found: dict[str, Service] = {}
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("_") or info.name == "base":
            continue
        name = f"outcrop.services.{info.name}"
        if info.ispkg:  # a service's package holds its provider; other packages are shared helpers
            name += ".provider"
            if importlib.util.find_spec(name) is None:
                continue
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            defined_here = cls.__module__ == module.__name__
            if issubclass(cls, Service) and defined_here and getattr(cls, "service_name", None):
                found[cls.service_name] = construct_service(cls, app)
    return found


def construct_service(cls: type[Service], app: App) -> Service:
    """A service gets what its constructor names, as keyword-only parameters, from the shared parts on App
    (`inference`, `objects`, `logs`, `settings`...): dependencies passed in, never looked up."""
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]  # after `self`
    positional = [
        p.name
        for p in parameters
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    if positional:
        raise TypeError(f"{cls.__name__} takes {positional} by position: services take keyword-only parts")
    wanted = [p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY]
    missing = [name for name in wanted if not hasattr(type(app), name) and not hasattr(app, name)]
    if missing:
        raise TypeError(f"{cls.__name__} asks for {missing}, which the server does not provide")
    return cls(**{name: getattr(app, name) for name in wanted})


def discover_web(app: App, services: Mapping[str, Service]) -> dict[str, InternalHandler]:
    """The `{path: handler}` tables of every module in `outcrop.web` that defines `mount(app, services)`."""
    import outcrop.web as package

    table: dict[str, InternalHandler] = {}
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"outcrop.web.{info.name}")
        mount = getattr(module, "mount", None)
        if callable(mount):
            table.update(mount(app, services))
    return table


def _endpoint_metrics(app: App) -> dict[str, dict[str, dict[str, float]]]:
    """Invocation metrics per SageMaker endpoint and variant, once any endpoint has been served (the
    console's status page shows them; CloudWatch's GetMetricStatistics gives them over time)."""
    if "sagemaker_hosting" not in app.__dict__:  # never started: nothing to report, nothing to load
        return {}
    hosting = app.sagemaker_hosting
    return {name: hosting.endpoint_metrics(name) for name in hosting.deployed()}


def _resident_bytes() -> int:
    """This process's resident memory, read from /proc (0 where there is none)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def build_app(settings: Settings) -> Gateway:
    app = App(settings)
    user_code = sandbox.configure(settings)  # probed once, said at start: how Lambda/SageMaker code runs
    services = discover_services(app)
    started = time.time()

    async def health(request: HttpRequest) -> HttpResponse:
        body: dict[str, Any] = {
            "status": "running",
            "version": __version__,
            "uptime_seconds": round(time.time() - started, 1),
            "services": {name: "available" for name in sorted(services)},
            "models": app.models.states(),
            "usage": app.inference.usage.snapshot(),
            "memory_rss_bytes": _resident_bytes(),
            "recent_requests": [asdict(record) for record in list(gateway.recent)[-50:]],
            "sagemaker_endpoints": _endpoint_metrics(app),
        }
        return HttpResponse(200, {"content-type": "application/json"}, json.dumps(body).encode())

    gateway = Gateway(
        services,
        app.authenticator,
        GatewaySettings(
            default_region=settings.region,
            account_id=settings.account_id,
            max_body_bytes=settings.max_request_mb * 1024**2,
            keepalive_seconds=settings.keepalive_seconds,
        ),
        internal={
            **discover_web(app, services),
            "/_outcrop/health": health,
            "/_localstack/health": health,
        },
        origins=OriginPolicy.from_settings(settings),
    )
    gateway.on_shutdown.extend(service.close for service in services.values())
    gateway.on_shutdown.append(app.close)  # the shared stores, once, after every service that uses them
    gateway.on_shutdown.append(user_code.close)
    return gateway
