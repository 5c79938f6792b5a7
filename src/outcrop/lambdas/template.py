"""Reads SAM templates (and the one-line `name=path/module.handler` form) into `AppSpec`s.

CloudFormation's short tags (!Ref, !Sub, !GetAtt, ...) are read as `{"Ref": ...}` / `{"Fn::Sub": ...}`, then
resolved against the template's parameters (defaults, or `--parameter-overrides`), the pseudo parameters,
and the physical names Outcrop gives resources. Only what running the functions locally needs is read.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from outcrop.lambdas.spec import HTTP, REST, Api, AppError, AppSpec, Cors, FunctionSpec, Route, StaticSite

PYTHON_RUNTIME = re.compile(r"python3\.\d+")
_SHORT_TAGS = {
    "Ref": "Ref",
    "Condition": "Condition",
    **{
        name: f"Fn::{name}"
        for name in [
            "Sub",
            "GetAtt",
            "Join",
            "Select",
            "Split",
            "If",
            "Equals",
            "Not",
            "And",
            "Or",
            "FindInMap",
            "Base64",
            "GetAZs",
            "ImportValue",
            "Cidr",
        ]
    },
}


class _CloudFormationLoader(yaml.SafeLoader):  # type: ignore[misc]
    """YAML with CloudFormation's intrinsic-function tags."""


def _intrinsic(full_name: str) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if full_name == "Fn::GetAtt" and isinstance(value, str):
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {full_name: value}

    return construct


for _tag, _full in _SHORT_TAGS.items():
    _CloudFormationLoader.add_constructor(f"!{_tag}", _intrinsic(_full))


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        document = yaml.load(path.read_text(), Loader=_CloudFormationLoader)
    except (OSError, yaml.YAMLError) as exc:
        raise AppError(f"cannot read {path}: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("Resources"), dict):
        raise AppError(f"{path} is not a SAM/CloudFormation template (no Resources)")
    return document


class _Resolver:
    """Evaluates intrinsic functions to plain values, as far as a local run can."""

    def __init__(
        self, app: str, template: dict[str, Any], overrides: dict[str, str], region: str, account: str
    ):
        self.app, self.region, self.account = app, region, account
        self.values: dict[str, Any] = {
            "AWS::Region": region,
            "AWS::AccountId": account,
            "AWS::StackName": app,
            "AWS::StackId": f"arn:aws:cloudformation:{region}:{account}:stack/{app}/outcrop",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": None,
        }
        for name, declared in (template.get("Parameters") or {}).items():
            default = declared.get("Default", "") if isinstance(declared, dict) else ""
            self.values[name] = overrides.get(name, default)
        self.resources: dict[str, dict[str, Any]] = template["Resources"]

    def physical_name(self, logical_id: str) -> str:
        resource = self.resources.get(logical_id, {})
        properties = resource.get("Properties") or {}
        kind = resource.get("Type", "")
        explicit = properties.get("FunctionName") or properties.get("BucketName")
        if explicit:
            return str(self.resolve(explicit))
        if kind == "AWS::S3::Bucket":
            return f"{self.app}-{logical_id}".lower()[:63]
        return logical_id

    def attribute(self, logical_id: str, attribute: str) -> str:
        name = self.physical_name(logical_id)
        kind = self.resources.get(logical_id, {}).get("Type", "")
        if attribute == "Arn" and kind == "AWS::Serverless::Function":
            return f"arn:aws:lambda:{self.region}:{self.account}:function:{name}"
        if attribute == "Arn" and kind == "AWS::S3::Bucket":
            return f"arn:aws:s3:::{name}"
        return name

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {k: self.resolve(v) for k, v in value.items()}
        ((name, argument),) = value.items()
        if name == "Ref":
            if argument in self.values:
                return self.values[argument]
            if argument in self.resources:
                return self.physical_name(argument)
            raise AppError(f"!Ref {argument}: no such parameter or resource")
        if name == "Fn::GetAtt":
            logical_id, attribute = argument if isinstance(argument, list) else str(argument).split(".", 1)
            return self.attribute(logical_id, attribute)
        if name == "Fn::Sub":
            text, extra = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
            return re.sub(r"\$\{([^}!]+)\}", lambda m: str(self._sub(m.group(1), extra)), text)
        if name == "Fn::Join":
            separator, items = argument
            return str(separator).join(str(self.resolve(i)) for i in self.resolve(items))
        if name == "Fn::Select":
            index, items = argument
            return self.resolve(items)[int(self.resolve(index))]
        if name == "Fn::Split":
            separator, text = argument
            return str(self.resolve(text)).split(separator)
        if name.startswith("Fn::") or name == "Condition":
            raise AppError(f"{name} is not supported by Outcrop's local templates")
        return {name: self.resolve(argument)}

    def _sub(self, name: str, extra: dict[str, Any]) -> Any:
        if name in extra:
            return self.resolve(extra[name])
        if "." in name:
            logical_id, attribute = name.split(".", 1)
            return self.attribute(logical_id, attribute)
        return self.resolve({"Ref": name})


def load_template(
    path: Path,
    *,
    overrides: dict[str, str] | None = None,
    region: str = "us-east-1",
    account: str = "000000000000",
) -> AppSpec:
    """The app a SAM template declares; its name is the folder holding the template."""
    path = path.resolve()
    template = read_yaml(path)
    name = path.parent.name
    resolver = _Resolver(name, template, overrides or {}, region, account)
    all_globals = template.get("Globals") or {}
    globals_ = resolver.resolve(all_globals.get("Function") or {})
    rest_globals = resolver.resolve(all_globals.get("Api") or {})
    http_globals = resolver.resolve(all_globals.get("HttpApi") or {})
    app = AppSpec(name=name, source=path)
    apis: dict[str, Api] = {}
    for logical_id, resource in resolver.resources.items():
        kind = resource.get("Type")
        properties = resolver.resolve(resource.get("Properties") or {})
        if kind == "AWS::Serverless::Api":
            properties = {**rest_globals, **properties}
            stage = str(properties.get("StageName") or "Prod")
            variables = {k: str(v) for k, v in (properties.get("Variables") or {}).items()}
            cors = _rest_cors(properties.get("Cors"))
            apis[logical_id] = Api(logical_id, REST, name, stage, stage_variables=variables, cors=cors)
        elif kind == "AWS::Serverless::HttpApi":
            properties = {**http_globals, **properties}
            stage = str(properties.get("StageName") or "$default")
            variables = {k: str(v) for k, v in (properties.get("StageVariables") or {}).items()}
            cors = _http_cors(properties.get("CorsConfiguration"))
            apis[logical_id] = Api(logical_id, HTTP, name, stage, stage_variables=variables, cors=cors)
        elif kind == "AWS::S3::Bucket":
            app.buckets.append(resolver.physical_name(logical_id))
            sync = ((resource.get("Metadata") or {}).get("Outcrop") or {}).get("Sync")
            if sync:
                app.site = StaticSite(resolver.physical_name(logical_id), path.parent / str(sync))
    for logical_id, resource in resolver.resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        properties = {**globals_, **resolver.resolve(resource.get("Properties") or {})}
        environment = {
            **((globals_.get("Environment") or {}).get("Variables") or {}),
            **((properties.get("Environment") or {}).get("Variables") or {}),
        }
        function = _function(logical_id, resolver.physical_name(logical_id), properties, environment, path)
        function.app = name
        app.functions[function.name] = function
        for event_name, event in (properties.get("Events") or {}).items():
            _add_route(apis, name, function.name, f"{logical_id}.{event_name}", event)
    for implicit in ("ServerlessRestApi", "ServerlessHttpApi"):
        api = apis.get(implicit)
        if api is not None and api.cors is None:  # SAM applies the Globals to the APIs it creates too
            rest = api.kind == REST
            api.cors = (
                _rest_cors(rest_globals.get("Cors"))
                if rest
                else _http_cors(http_globals.get("CorsConfiguration"))
            )
    app.apis = [api for api in apis.values() if api.routes]
    return app


def _unquote(value: Any) -> str:
    """REST API CORS values are header values in single quotes (`"'*'"`), as SAM writes them."""
    return str(value).strip().strip("'")


def _split(value: Any) -> list[str]:
    items = value if isinstance(value, list) else _unquote(value).split(",")
    return [str(item).strip() for item in items if str(item).strip()]


def _rest_cors(setting: Any) -> Cors | None:
    """`Cors: "'*'"` or `Cors: {AllowOrigin, AllowMethods, AllowHeaders, MaxAge, AllowCredentials}`."""
    if not setting:
        return None
    if not isinstance(setting, dict):
        setting = {"AllowOrigin": setting}
    return Cors(
        allow_origins=_split(setting.get("AllowOrigin", "'*'")),
        allow_methods=_split(setting.get("AllowMethods", "'*'")),
        allow_headers=_split(setting.get("AllowHeaders", "''")),
        max_age=int(_unquote(setting["MaxAge"])) if setting.get("MaxAge") else None,
        allow_credentials=str(setting.get("AllowCredentials", "")).lower() == "true",
    )


def _http_cors(setting: Any) -> Cors | None:
    """`CorsConfiguration: true` (anything allowed) or the AllowOrigins/AllowMethods/... lists."""
    if not setting:
        return None
    if not isinstance(setting, dict):
        return Cors(allow_origins=["*"], allow_methods=["*"], allow_headers=["*"])
    return Cors(
        allow_origins=_split(setting.get("AllowOrigins", [])),
        allow_methods=_split(setting.get("AllowMethods", [])),
        allow_headers=_split(setting.get("AllowHeaders", [])),
        expose_headers=_split(setting.get("ExposeHeaders", [])),
        max_age=int(setting["MaxAge"]) if setting.get("MaxAge") is not None else None,
        allow_credentials=bool(setting.get("AllowCredentials", False)),
    )


def _function(
    logical_id: str, name: str, properties: dict[str, Any], environment: dict[str, Any], template: Path
) -> FunctionSpec:
    where = f"{template}: {logical_id}"
    runtime = str(properties.get("Runtime") or "python3.11")
    if properties.get("PackageType") == "Image" or not PYTHON_RUNTIME.fullmatch(runtime):
        raise AppError(f"{where}: only Python zip functions run locally (Runtime python3.x), not {runtime!r}")
    handler = properties.get("Handler")
    if not handler or "." not in str(handler):
        raise AppError(f"{where}: Handler must be module.function (e.g. app.lambda_handler)")
    code_uri = properties.get("CodeUri") or "."
    if not isinstance(code_uri, str) or code_uri.startswith("s3://"):
        raise AppError(f"{where}: CodeUri must be a local folder next to the template")
    code_dir = (template.parent / code_uri).resolve()
    if not code_dir.is_dir():
        raise AppError(f"{where}: CodeUri {code_dir} is not a folder")
    reserved = properties.get("ReservedConcurrentExecutions")
    return FunctionSpec(
        name=name,
        handler=str(handler),
        code_dir=code_dir,
        runtime=runtime,
        timeout=float(properties.get("Timeout") or 3),
        memory_mb=int(properties.get("MemorySize") or 128),
        environment={k: "" if v is None else str(v) for k, v in environment.items()},
        reserved_concurrency=int(reserved) if reserved is not None else None,
        description=str(properties.get("Description") or ""),
    )


def _add_route(apis: dict[str, Api], app: str, function: str, where: str, event: dict[str, Any]) -> None:
    kind = event.get("Type")
    properties = event.get("Properties") or {}
    if kind not in ("Api", "HttpApi"):
        return  # S3, SQS, Schedule... events have no local trigger yet
    rest = kind == "Api"
    reference = properties.get("RestApiId" if rest else "ApiId")
    logical_id = str(reference) if reference else ("ServerlessRestApi" if rest else "ServerlessHttpApi")
    api = apis.get(logical_id)
    if api is None:
        if reference:
            raise AppError(f"{where}: {logical_id} is not an API declared in the template")
        api = apis[logical_id] = Api(logical_id, REST if rest else HTTP, app, "Prod" if rest else "$default")
    method = str(properties.get("Method") or "ANY").upper()
    path = str(properties.get("Path") or ("" if rest else "$default"))
    if not path:
        raise AppError(f"{where}: an Api event needs a Path")
    method = "ANY" if method in ("ANY", "X-AMAZON-APIGATEWAY-ANY-METHOD", "*") else method
    version = "1.0" if rest else str(properties.get("PayloadFormatVersion") or "2.0")
    api.routes.append(Route(method, path, function, version))


def one_line_app(declaration: str) -> AppSpec:
    """`name=path/to/module.handler`: one function behind an HTTP API that takes every path and method."""
    name, sep, target = declaration.partition("=")
    if not sep or not name or "." not in target:
        raise AppError(
            f"--function {declaration!r}: write name=path/to/module.handler (e.g. hi=src/app.handler)"
        )
    location, _, function_name = target.rpartition(".")
    module_path = Path(location)
    code_dir = module_path.parent.resolve() if module_path.parent != Path("") else Path.cwd()
    if not (code_dir / f"{module_path.name}.py").is_file() and not (code_dir / module_path.name).is_dir():
        raise AppError(f"--function {declaration!r}: no module {module_path.name} in {code_dir}")
    function = FunctionSpec(name, f"{module_path.name}.{function_name}", code_dir, app=name)
    api = Api("ServerlessHttpApi", HTTP, name, "$default", routes=[Route("ANY", "$default", name, "2.0")])
    return AppSpec(name=name, source=Path(""), functions={name: function}, apis=[api])
