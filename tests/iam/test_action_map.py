"""Every operation of every served service has its IAM action and resource ARN mapped."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore import xform_name

from outcrop.app import App
from outcrop.config import Settings
from outcrop.iam.action_table import PREFIXES, RULES
from outcrop.iam.actions import bedrock_model, target
from outcrop.protocol.router import service_model
from outcrop.server import discover_services


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """The operations each served service implements, found as the server finds them."""
    app = App(Settings(data_dir=Path(tmp_path_factory.mktemp("actions")), fake_models=True))
    services = discover_services(app)
    found = {
        name: [op for op in service_model(name).operation_names if hasattr(service, xform_name(op))]
        for name, service in services.items()
    }
    app.close()
    return found


def test_every_served_operation_has_an_iam_action_and_resource(served: dict[str, list[str]]) -> None:
    missing = [f"{name} {op}" for name, ops in served.items() for op in ops if op not in RULES.get(name, {})]
    assert missing == [], "add these to outcrop/iam/action_table.py"
    assert set(served) <= set(PREFIXES)


def test_every_rule_names_a_modelled_operation_and_resolves() -> None:
    for service, rules in RULES.items():
        operations = set(service_model(service).operation_names)
        assert set(rules) <= operations, f"{service}: {set(rules) - operations}"
        for operation in rules:
            found = target(service, operation, {}, "us-east-1", "123456789012")
            assert found.action.startswith(PREFIXES[service] + ":")
            assert found.resource == "*" or found.resource.startswith("arn:aws:")


@pytest.mark.parametrize(
    ("service", "operation", "params", "action", "resource"),
    [
        (
            "bedrock-runtime",
            "Converse",
            {"modelId": "amazon.titan-text-express-v1"},
            "bedrock:InvokeModel",
            "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-text-express-v1",
        ),
        (
            "bedrock-runtime",
            "ConverseStream",
            {"modelId": "us.anthropic.claude-3-haiku-20240307-v1:0"},
            "bedrock:InvokeModelWithResponseStream",
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-haiku-20240307-v1:0",
        ),
        (
            "bedrock-agent-runtime",
            "InvokeAgent",
            {"agentId": "A1", "agentAliasId": "TSTALIASID"},
            "bedrock:InvokeAgent",
            "arn:aws:bedrock:us-east-1:123456789012:agent-alias/A1/TSTALIASID",
        ),
        ("s3", "HeadBucket", {"Bucket": "b"}, "s3:ListBucket", "arn:aws:s3:::b"),
        ("s3", "GetObject", {"Bucket": "b", "Key": "k/1"}, "s3:GetObject", "arn:aws:s3:::b/k/1"),
        ("s3", "ListBuckets", {}, "s3:ListAllMyBuckets", "arn:aws:s3:::*"),
        (
            "sagemaker-runtime",
            "InvokeEndpoint",
            {"EndpointName": "My-Endpoint"},
            "sagemaker:InvokeEndpoint",
            "arn:aws:sagemaker:us-east-1:123456789012:endpoint/my-endpoint",
        ),
        (
            "lambda",
            "Invoke",
            {"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:f"},
            "lambda:InvokeFunction",
            "arn:aws:lambda:us-east-1:123456789012:function:f",
        ),
        (
            "kms",
            "Encrypt",
            {"KeyId": "alias/app"},
            "kms:Encrypt",
            "arn:aws:kms:us-east-1:123456789012:alias/app",
        ),
        ("iam", "GetRole", {"RoleName": "r"}, "iam:GetRole", "arn:aws:iam::123456789012:role/r"),
    ],
)
def test_resources_are_the_arns_aws_authorizes(
    service: str, operation: str, params: dict[str, str], action: str, resource: str
) -> None:
    found = target(service, operation, params, "us-east-1", "123456789012")
    assert (found.action, found.resource) == (action, resource)


def test_a_model_arn_given_is_the_resource() -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc"
    assert bedrock_model(arn, "us-east-1", "123456789012") == arn
