"""Reading SAM templates and the one-line form: what a local run takes from them, and clear refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from outcrop.lambdas.events import find_route
from outcrop.lambdas.spec import HTTP, REST, Api, AppError, Route
from outcrop.lambdas.template import load_template, one_line_app
from tests.lambdas.apps import APPS, GUIDE_CHAT


def test_demo_template() -> None:
    app = load_template(APPS / "demo" / "template.yaml", overrides={"Greeting": "Hi"})
    assert app.name == "demo"
    assert sorted(app.functions) == ["Aws", "Crash", "Echo", "Hello", "Slow"]
    hello = app.functions["Hello"]
    assert hello.handler == "handlers.hello" and hello.code_dir == (APPS / "demo" / "src").resolve()
    assert hello.timeout == 10 and hello.memory_mb == 256 and app.functions["Slow"].timeout == 1
    assert hello.environment == {"GREETING": "Hi", "REGION_SEEN": "us-east-1-demo"}
    assert (
        app.functions["Echo"].environment["ECHO_ARN"]
        == "arn:aws:lambda:us-east-1:000000000000:function:Hello"
    )
    apis = {api.logical_id: api for api in app.apis}
    assert (apis["ProdApi"].kind, apis["ProdApi"].stage) == (REST, "v1")
    assert apis["ProdApi"].stage_variables == {"flavour": "vanilla"}
    assert (apis["ServerlessRestApi"].kind, apis["ServerlessRestApi"].stage) == (REST, "Prod")
    assert (apis["ServerlessHttpApi"].kind, apis["ServerlessHttpApi"].stage) == (HTTP, "$default")
    assert [r.key for r in apis["ProdApi"].routes] == ["GET /hello/{name}", "POST /boom"]
    versions = {r.path: r.payload_version for r in apis["ServerlessHttpApi"].routes}
    assert versions["/echo/{proxy+}"] == "2.0" and versions["/old/{id}"] == "1.0"
    assert app.buckets == ["demo-notes"]
    rest_cors, http_cors = apis["ProdApi"].cors, apis["ServerlessHttpApi"].cors
    assert rest_cors is not None and rest_cors.allow_origins == ["http://localhost:3000"]
    assert rest_cors.allow_methods == ["GET", "POST"] and rest_cors.max_age == 600
    assert (
        http_cors is not None and http_cors.allow_origins == ["*"] and http_cors.expose_headers == ["x-multi"]
    )
    assert apis["ServerlessRestApi"].cors is None
    assert len({api.api_id for api in app.apis}) == 3
    assert load_template(APPS / "demo" / "template.yaml").apis[0].api_id == app.apis[0].api_id  # stable


def test_guide_chat_template() -> None:
    app = load_template(GUIDE_CHAT / "template.yaml", overrides={"KnowledgeBaseId": "KB12345678"})
    chat = app.functions["ChatFunction"]
    assert chat.handler == "app.lambda_handler"
    assert chat.environment["KNOWLEDGE_BASE_ID"] == "KB12345678"
    assert chat.environment["STREAM_WORKER"] == "StreamWorkerFunction"
    assert app.site is not None and app.site.bucket == "guide-chat-websitebucket"
    assert chat.environment["ANSWERS_BUCKET"] in app.buckets


def test_route_precedence() -> None:
    api = Api(
        "A",
        REST,
        "app",
        "prod",
        routes=[
            Route("ANY", "/{proxy+}", "greedy"),
            Route("GET", "/items/{id}", "param"),
            Route("GET", "/items/special", "literal"),
            Route("ANY", "/items/{id}", "any"),
        ],
    )

    def function(method: str, path: str) -> str | None:
        match = find_route(api, method, path)
        return match.route.function if match else None

    assert function("GET", "/items/special") == "literal"
    assert function("GET", "/items/7") == "param"
    assert function("POST", "/items/7") == "any"
    assert function("GET", "/other/deep/path") == "greedy"
    assert find_route(api, "GET", "/a/b").path_parameters == {"proxy": "a/b"}  # type: ignore[union-attr]


def test_one_line_form(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return 'hi'\n")
    app = one_line_app(f"hi={tmp_path}/app.handler")
    assert app.functions["hi"].handler == "app.handler" and app.functions["hi"].code_dir == tmp_path
    assert [r.key for r in app.apis[0].routes] == ["$default"]
    with pytest.raises(AppError, match=r"name=path/to/module\.handler"):
        one_line_app("no-equals-sign")
    with pytest.raises(AppError, match="no module"):
        one_line_app(f"hi={tmp_path}/missing.handler")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("Resources: {}\nFoo: [", "cannot read"),
        ("Description: no resources\n", "no Resources"),
        (
            "Resources:\n  F:\n    Type: AWS::Serverless::Function\n"
            "    Properties: {Handler: app.h, Runtime: nodejs20.x, CodeUri: .}\n",
            "only Python",
        ),
        (
            "Resources:\n  F:\n    Type: AWS::Serverless::Function\n"
            "    Properties: {Handler: app.h, CodeUri: s3://bucket/code.zip}\n",
            "local folder",
        ),
        (
            "Resources:\n  F:\n    Type: AWS::Serverless::Function\n"
            "    Properties:\n      Handler: app.h\n      Environment: {Variables: {X: !Ref Missing}}\n",
            "no such parameter",
        ),
        (
            "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Handler: app.h\n"
            "      Events: {E: {Type: Api, Properties: {Path: /x, Method: get, RestApiId: !Ref Nope}}}\n",
            "no such parameter or resource",
        ),
    ],
)
def test_templates_outcrop_cannot_run_are_refused_clearly(tmp_path: Path, body: str, message: str) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(body)
    with pytest.raises(AppError, match=message):
        load_template(template)
