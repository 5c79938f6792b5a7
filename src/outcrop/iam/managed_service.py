"""The AWS managed policy each service-linked role carries (`arn:aws:iam::aws:policy/aws-service-role/...`),
keyed by the service principal that owns the role.

Names and ARNs are AWS's. The documents are faithful subsets: for the services Outcrop serves (SageMaker's
notebooks, Application Auto Scaling of SageMaker endpoints, CloudTrail) the actions and resources of the
policy AWS publishes; for the others, the main actions of AWS's published policy, enough to show what the
role is for. None of them widens what a caller can do here: only the service itself assumes such a role.
"""

from __future__ import annotations

from typing import Any


def _allow(actions: list[str], resources: list[str] | str = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resources, **extra}


def _ec2(*verbs: str) -> list[str]:
    return [f"ec2:{verb}" for verb in verbs]


_ENI = _ec2("CreateNetworkInterface", "DeleteNetworkInterface", "DescribeNetworkInterfaces")
_VPC = _ec2("DescribeSubnets", "DescribeSecurityGroups", "DescribeVpcs")
_ALARMS = ["cloudwatch:DescribeAlarms", "cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms"]

# service principal -> (policy name, description, statements)
SERVICE_ROLE_POLICIES: dict[str, tuple[str, str, tuple[dict[str, Any], ...]]] = {
    "sagemaker.amazonaws.com": (
        "AmazonSageMakerNotebooksServiceRolePolicy",
        "Lets SageMaker notebooks reach the account's VPC and file systems.",
        (
            _allow(["fsx:DescribeFileSystems", "elasticfilesystem:DescribeMountTargets"]),
            _allow([*_ENI, "ec2:CreateNetworkInterfacePermission", "ec2:DescribeDhcpOptions", *_VPC]),
        ),
    ),
    "autoscaling.amazonaws.com": (
        "AutoScalingServiceRolePolicy",
        "Lets EC2 Auto Scaling launch, tag and terminate instances and manage its alarms.",
        (
            _allow(
                [
                    *_ec2("RunInstances", "TerminateInstances", "DescribeInstances", "CreateTags"),
                    *_ALARMS,
                    "elasticloadbalancing:RegisterTargets",
                    "elasticloadbalancing:DeregisterTargets",
                    "sns:Publish",
                ]
            ),
        ),
    ),
    "elasticbeanstalk.amazonaws.com": (
        "AWSElasticBeanstalkServiceRolePolicy",
        "Lets Elastic Beanstalk manage the resources of its environments.",
        (
            _allow(
                ["cloudformation:DescribeStacks", "cloudformation:DeleteStack", *_ec2("DescribeInstances")]
            ),
        ),
    ),
    "ecs.amazonaws.com": (
        "AmazonECSServiceRolePolicy",
        "Lets ECS manage network interfaces and load balancer targets for its tasks.",
        (
            _allow(
                [
                    *_ENI,
                    *_VPC,
                    "elasticloadbalancing:RegisterTargets",
                    "elasticloadbalancing:DeregisterTargets",
                ]
            ),
        ),
    ),
    "eks.amazonaws.com": (
        "AmazonEKSServiceRolePolicy",
        "Lets EKS manage the network interfaces and security groups of its clusters.",
        (_allow([*_ENI, *_VPC, "ec2:CreateSecurityGroup", "ec2:DeleteSecurityGroup"]),),
    ),
    "elasticloadbalancing.amazonaws.com": (
        "AWSElasticLoadBalancingServiceRolePolicy",
        "Lets Elastic Load Balancing manage its network interfaces and addresses.",
        (_allow([*_ENI, *_VPC, "ec2:AssociateAddress", "ec2:DisassociateAddress"]),),
    ),
    "rds.amazonaws.com": (
        "AmazonRDSServiceRolePolicy",
        "Lets RDS manage the network resources and logs of its databases.",
        (_allow([*_ENI, *_VPC, "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]),),
    ),
    "es.amazonaws.com": (
        "AmazonElasticsearchServiceRolePolicy",
        "Lets Elasticsearch Service reach the account's VPC.",
        (_allow([*_ENI, *_VPC, "ec2:ModifyNetworkInterfaceAttribute"]),),
    ),
    "opensearchservice.amazonaws.com": (
        "AmazonOpenSearchServiceRolePolicy",
        "Lets OpenSearch Service reach the account's VPC and publish its metrics.",
        (_allow([*_ENI, *_VPC, "ec2:ModifyNetworkInterfaceAttribute", "cloudwatch:PutMetricData"]),),
    ),
    "cloudtrail.amazonaws.com": (
        "CloudTrailServiceRolePolicy",
        "Lets CloudTrail read the organization it records trails for.",
        (
            _allow(
                [
                    "organizations:DescribeAccount",
                    "organizations:DescribeOrganization",
                    "organizations:ListAccounts",
                    "organizations:ListAWSServiceAccessForOrganization",
                ]
            ),
            _allow(["iam:GetRole"], "arn:aws:iam::*:role/aws-service-role/cloudtrail.amazonaws.com/*"),
        ),
    ),
    "config.amazonaws.com": (
        "AWSConfigServiceRolePolicy",
        "Lets AWS Config read the configuration of the resources it records.",
        (
            _allow(
                ["ec2:Describe*", "iam:GetRole", "iam:ListRoles", "s3:GetBucketPolicy", "lambda:GetFunction"]
            ),
        ),
    ),
    "guardduty.amazonaws.com": (
        "AmazonGuardDutyServiceRolePolicy",
        "Lets GuardDuty read the resources its findings are about.",
        (
            _allow(
                [
                    *_ec2("DescribeInstances", "DescribeImages", "DescribeVpcEndpoints"),
                    "organizations:ListAccounts",
                ]
            ),
        ),
    ),
    "organizations.amazonaws.com": (
        "AWSOrganizationsServiceTrustPolicy",
        "Lets Organizations manage its own service-linked role in member accounts.",
        (
            _allow(
                ["iam:DeleteRole"],
                "arn:aws:iam::*:role/aws-service-role/organizations.amazonaws.com/*",
                Sid="AllowDeletionOfServiceLinkedRoleForOrganizations",
            ),
            _allow(["iam:CreateServiceLinkedRole"], Sid="AllowCreationOfServiceLinkedRoles"),
        ),
    ),
    "ssm.amazonaws.com": (
        "AmazonSSMServiceRolePolicy",
        "Lets Systems Manager run commands and automations on the account's instances.",
        (_allow(["ssm:CancelCommand", "ssm:GetCommandInvocation", "ssm:ListCommands", "ssm:SendCommand"]),),
    ),
    "spot.amazonaws.com": (
        "AWSEC2SpotServiceRolePolicy",
        "Lets EC2 Spot launch and manage Spot Instances.",
        (_allow(_ec2("DescribeInstances", "StartInstances", "StopInstances", "RunInstances", "CreateTags")),),
    ),
    "support.amazonaws.com": (
        "AWSSupportServiceRolePolicy",
        "Lets AWS Support read the account's resources to diagnose a case.",
        (_allow(["ec2:Describe*", "iam:GetAccountSummary", "s3:GetBucketLocation", "sagemaker:Describe*"]),),
    ),
    "trustedadvisor.amazonaws.com": (
        "AWSTrustedAdvisorServiceRolePolicy",
        "Lets Trusted Advisor read the account's resources for its checks.",
        (
            _allow(
                [
                    "ec2:Describe*",
                    "iam:GenerateCredentialReport",
                    "iam:GetCredentialReport",
                    "s3:ListAllMyBuckets",
                ]
            ),
        ),
    ),
    "lex.amazonaws.com": (
        "AmazonLexBotPolicy",
        "Lets Lex bots call Amazon Polly to speak their answers.",
        (_allow(["polly:SynthesizeSpeech"]),),
    ),
    "kafka.amazonaws.com": (
        "KafkaServiceRolePolicy",
        "Lets MSK manage the network interfaces of its clusters.",
        (_allow([*_ENI, *_VPC, "ec2:CreateNetworkInterfacePermission"]),),
    ),
    "batch.amazonaws.com": (
        "BatchServiceRolePolicy",
        "Lets AWS Batch manage the instances and groups of its compute environments.",
        (
            _allow(
                [
                    *_ec2("DescribeInstances", "RunInstances", "TerminateInstances"),
                    "autoscaling:Describe*",
                    "ecs:ListClusters",
                ]
            ),
        ),
    ),
    "elasticmapreduce.amazonaws.com": (
        "AmazonEMRCleanupPolicy",
        "Lets EMR terminate and delete EC2 resources its service role has lost the right to clean up.",
        (
            _allow(
                _ec2(
                    "DescribeInstances",
                    "DescribeLaunchTemplates",
                    "DeleteLaunchTemplate",
                    "DescribeSpotInstanceRequests",
                    "ModifyInstanceAttribute",
                    "TerminateInstances",
                    "CancelSpotInstanceRequests",
                    "DeleteNetworkInterface",
                    "DescribeInstanceAttribute",
                    "DescribeVolumeStatus",
                    "DescribeVolumes",
                    "DetachVolume",
                    "DeleteVolume",
                )
            ),
        ),
    ),
    "lakeformation.amazonaws.com": (
        "LakeFormationDataAccessServiceRolePolicy",
        "Lets Lake Formation list the account's buckets when it grants data access.",
        (
            _allow(
                ["s3:ListAllMyBuckets"], ["arn:aws:s3:::*"], Sid="LakeFormationDataAccessServiceRolePolicy"
            ),
        ),
    ),
    "replicator.lambda.amazonaws.com": (
        "AWSLambdaReplicator",
        "Lets Lambda replicate functions across Regions.",
        (
            _allow(
                ["lambda:CreateFunction", "lambda:DeleteFunction", "lambda:DisableReplication"],
                ["arn:aws:lambda:*:*:function:*"],
            ),
            _allow(
                ["iam:PassRole"],
                "*",
                Condition={"StringLikeIfExists": {"iam:PassedToService": "lambda.amazonaws.com"}},
            ),
        ),
    ),
    "sagemaker.application-autoscaling.amazonaws.com": (
        "AWSApplicationAutoscalingSageMakerEndpointPolicy",
        "Lets Application Auto Scaling scale SageMaker endpoints and manage their alarms.",
        (
            _allow(
                [
                    "sagemaker:DescribeEndpoint",
                    "sagemaker:DescribeEndpointConfig",
                    "sagemaker:DescribeInferenceComponent",
                    "sagemaker:UpdateEndpointWeightsAndCapacities",
                    "sagemaker:UpdateInferenceComponentRuntimeConfig",
                    "cloudwatch:DescribeAlarms",
                    "cloudwatch:GetMetricData",
                ],
                ["*"],
                Sid="SageMaker",
            ),
            _allow(
                ["cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms"],
                ["arn:aws:cloudwatch:*:*:alarm:TargetTracking*"],
                Sid="SageMakerCloudWatchUpdate",
            ),
        ),
    ),
    "dynamodb.application-autoscaling.amazonaws.com": (
        "AWSApplicationAutoscalingDynamoDBTablePolicy",
        "Lets Application Auto Scaling scale DynamoDB tables and manage their alarms.",
        (_allow(["dynamodb:DescribeTable", "dynamodb:UpdateTable", *_ALARMS]),),
    ),
    "ecs.application-autoscaling.amazonaws.com": (
        "AWSApplicationAutoscalingECSServicePolicy",
        "Lets Application Auto Scaling scale ECS services and manage their alarms.",
        (_allow(["ecs:DescribeServices", "ecs:UpdateService", *_ALARMS]),),
    ),
}
