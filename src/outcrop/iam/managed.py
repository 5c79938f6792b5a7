"""The AWS managed policies users attach most, by ARN: what each allows, written as its facts.

They live in code, not in the store: AWS owns them (`arn:aws:iam::aws:policy/...`), they cannot be
changed, and every account sees the same ones.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from outcrop.iam.managed_service import SERVICE_ROLE_POLICIES

_CREATED = datetime(2015, 2, 6, 18, 39, 46, tzinfo=UTC)


@dataclass(frozen=True)
class ManagedPolicy:
    name: str
    path: str
    description: str
    statements: tuple[dict[str, Any], ...]

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::aws:policy{self.path}{self.name}"

    @property
    def document(self) -> str:
        return json.dumps({"Version": "2012-10-17", "Statement": list(self.statements)})

    @property
    def created(self) -> datetime:
        return _CREATED


def _allow(actions: list[str], resources: list[str] | str = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resources, **extra}


_READ = [
    f"{service}:{verb}*"
    for service, verbs in {
        "bedrock": ("Get", "List"),
        "s3": ("Get", "List"),
        "sagemaker": ("Describe", "List", "Search"),
        "iam": ("Get", "List", "Simulate"),
        "sts": ("GetCallerIdentity",),
        "logs": ("Describe", "Get", "FilterLogEvents", "StartQuery", "TestMetricFilter"),
        "lambda": ("Get", "List"),
        "cloudwatch": ("Describe", "Get", "List"),
        "comprehend": ("Describe", "List", "Detect", "BatchDetect"),
        "polly": ("Describe", "Get", "List"),
        "rekognition": ("Describe", "List", "Get"),
        "textract": ("Get",),
        "transcribe": ("Get", "List"),
        "translate": ("Get", "List", "Describe"),
        "kms": ("Describe", "Get", "List"),
        "cloudtrail": ("Describe", "Get", "List", "LookupEvents"),
    }.items()
    for verb in verbs
]

_PASS_TO = "iam:PassedToService"

POLICIES = (
    ManagedPolicy(
        "AdministratorAccess", "/", "Provides full access to AWS services and resources.", (_allow(["*"]),)
    ),
    ManagedPolicy(
        "ReadOnlyAccess",
        "/",
        "Provides read-only access to AWS services and resources.",
        (_allow(sorted(set(_READ))),),
    ),
    ManagedPolicy(
        "AmazonBedrockFullAccess",
        "/",
        "Provides full access to Amazon Bedrock and the reads its console makes of other services.",
        (
            _allow(["bedrock:*"], Sid="BedrockAll"),
            _allow(["kms:DescribeKey", "iam:ListRoles", "s3:ListAllMyBuckets", "s3:GetBucketLocation"]),
            _allow(
                ["iam:PassRole"],
                "arn:aws:iam::*:role/*AmazonBedrock*",
                Condition={"StringEquals": {_PASS_TO: ["bedrock.amazonaws.com"]}},
            ),
        ),
    ),
    ManagedPolicy(
        "AmazonS3ReadOnlyAccess",
        "/",
        "Provides read only access to all buckets via the AWS Management Console.",
        (_allow(["s3:Get*", "s3:List*", "s3:Describe*", "s3-object-lambda:Get*", "s3-object-lambda:List*"]),),
    ),
    ManagedPolicy(
        "AmazonS3FullAccess",
        "/",
        "Provides full access to all buckets via the AWS Management Console.",
        (_allow(["s3:*", "s3-object-lambda:*"]),),
    ),
    ManagedPolicy(
        "AWSLambdaBasicExecutionRole",
        "/service-role/",
        "Provides write permissions to CloudWatch Logs.",
        (_allow(["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]),),
    ),
    ManagedPolicy(
        "AmazonSageMakerFullAccess",
        "/",
        "Provides full access to Amazon SageMaker via the AWS Management Console and SDK.",
        (
            _allow(["sagemaker:*"], Sid="SageMakerAll"),
            _allow(
                ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                ["arn:aws:s3:::*SageMaker*", "arn:aws:s3:::*Sagemaker*", "arn:aws:s3:::*sagemaker*"],
            ),
            _allow(["s3:CreateBucket", "s3:GetBucketLocation", "s3:ListBucket", "s3:ListAllMyBuckets"]),
            _allow(["logs:*", "cloudwatch:*", "iam:GetRole", "iam:ListRoles", "kms:DescribeKey"]),
            _allow(
                ["iam:PassRole"], "*", Condition={"StringEquals": {_PASS_TO: ["sagemaker.amazonaws.com"]}}
            ),
        ),
    ),
)

# each service-linked role's policy (outcrop/iam/managed_service.py): attached by CreateServiceLinkedRole
SERVICE_ROLE = {
    service: ManagedPolicy(name, "/aws-service-role/", description, statements)
    for service, (name, description, statements) in SERVICE_ROLE_POLICIES.items()
}

BY_ARN = {policy.arn: policy for policy in (*POLICIES, *SERVICE_ROLE.values())}
