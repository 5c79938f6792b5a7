"""Service-linked roles (CreateServiceLinkedRole, DeleteServiceLinkedRole and its deletion status) and
the renaming updates (UpdateUser, UpdateGroup, UpdateRoleDescription). Mixed into `Iam`."""

from __future__ import annotations

import json
from typing import Any

from outcrop.iam.errors import InvalidInput, NoSuchEntity
from outcrop.iam.managed import SERVICE_ROLE
from outcrop.iam.store import IamStore
from outcrop.services.base import RequestContext
from outcrop.services.iam import shapes

Params = dict[str, Any]
Output = dict[str, Any]

# Each service's service-linked role name as AWS's documentation names it, and whether the service
# takes a CustomSuffix (services that may hold several such roles).
SERVICE_ROLES: dict[str, tuple[str, bool]] = {
    "sagemaker.amazonaws.com": ("AWSServiceRoleForAmazonSageMakerNotebooks", False),
    "autoscaling.amazonaws.com": ("AWSServiceRoleForAutoScaling", True),
    "elasticbeanstalk.amazonaws.com": ("AWSServiceRoleForElasticBeanstalk", False),
    "ecs.amazonaws.com": ("AWSServiceRoleForECS", False),
    "eks.amazonaws.com": ("AWSServiceRoleForAmazonEKS", False),
    "elasticloadbalancing.amazonaws.com": ("AWSServiceRoleForElasticLoadBalancing", False),
    "rds.amazonaws.com": ("AWSServiceRoleForRDS", False),
    "es.amazonaws.com": ("AWSServiceRoleForAmazonElasticsearchService", False),
    "opensearchservice.amazonaws.com": ("AWSServiceRoleForAmazonOpenSearchService", False),
    "cloudtrail.amazonaws.com": ("AWSServiceRoleForCloudTrail", False),
    "config.amazonaws.com": ("AWSServiceRoleForConfig", False),
    "guardduty.amazonaws.com": ("AWSServiceRoleForAmazonGuardDuty", False),
    "organizations.amazonaws.com": ("AWSServiceRoleForOrganizations", False),
    "ssm.amazonaws.com": ("AWSServiceRoleForAmazonSSM", False),
    "spot.amazonaws.com": ("AWSServiceRoleForEC2Spot", False),
    "support.amazonaws.com": ("AWSServiceRoleForSupport", False),
    "trustedadvisor.amazonaws.com": ("AWSServiceRoleForTrustedAdvisor", False),
    "lex.amazonaws.com": ("AWSServiceRoleForLexBots", False),
    "kafka.amazonaws.com": ("AWSServiceRoleForKafka", False),
    "batch.amazonaws.com": ("AWSServiceRoleForBatch", False),
    "elasticmapreduce.amazonaws.com": ("AWSServiceRoleForEMRCleanup", False),
    "lakeformation.amazonaws.com": ("AWSServiceRoleForLakeFormationDataAccess", False),
    "replicator.lambda.amazonaws.com": ("AWSServiceRoleForLambdaReplicator", False),
    "sagemaker.application-autoscaling.amazonaws.com": (
        "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint",
        False,
    ),
    "dynamodb.application-autoscaling.amazonaws.com": (
        "AWSServiceRoleForApplicationAutoScaling_DynamoDBTable",
        False,
    ),
    "ecs.application-autoscaling.amazonaws.com": (
        "AWSServiceRoleForApplicationAutoScaling_ECSService",
        False,
    ),
}


def _trust(service: str) -> str:
    statement = {"Effect": "Allow", "Principal": {"Service": [service]}, "Action": ["sts:AssumeRole"]}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


class RoleMoreOperations:
    store: IamStore

    # -- service-linked roles --------------------------------------------------------------------------

    def create_service_linked_role(self, ctx: RequestContext, params: Params) -> Output:
        """The role at `/aws-service-role/<service>/`, named as AWS names it, trusting only its service.
        A service whose role name AWS's documentation gives is known here; others are refused rather than
        given a made-up name."""
        service = params["AWSServiceName"]
        known = SERVICE_ROLES.get(service)
        if known is None:
            raise InvalidInput(
                f"Outcrop does not know the service-linked role of {service} (it knows those of: "
                f"{', '.join(sorted(SERVICE_ROLES))})."
            )
        name, takes_suffix = known
        suffix = params.get("CustomSuffix")
        if suffix and not takes_suffix:
            raise InvalidInput(f"Custom suffix is not allowed for {service}")
        if suffix:
            name = f"{name}_{suffix}"
        if any(r["name"].lower() == name.lower() for r in self.store.entities("role")):
            raise InvalidInput(
                f"Service role name {name} has been taken in this account, please try a different suffix."
            )
        record = self.store.create(
            "role",
            name,
            f"/aws-service-role/{service}/",
            trust=_trust(service),
            description=params.get("Description") or "",
            max_session=3600,
            service=service,
        )
        self.store.attach("role", record["name"], SERVICE_ROLE[service].arn)  # its service's permissions
        return {"Role": shapes.role(self.store.get("role", record["name"]), {})}

    def delete_service_linked_role(self, ctx: RequestContext, params: Params) -> Output:
        """Deleted at once (no Outcrop service holds resources that use it), so the task it answers has
        already SUCCEEDED when GetServiceLinkedRoleDeletionStatus asks."""
        name = params["RoleName"]
        service = self.store.role_service(name)
        if service is None:
            raise InvalidInput(f"Role {name} is not a service-linked role.")
        task = self.store.deletion_task(name, service)
        self.store.delete_service_role(name)
        return {"DeletionTaskId": task}

    def get_service_linked_role_deletion_status(self, ctx: RequestContext, params: Params) -> Output:
        task = params["DeletionTaskId"]
        if not task.startswith("task/aws-service-role/"):
            raise InvalidInput(f"Invalid deletion task id {task}.")
        status = self.store.deletion_status(task)
        if status is None:
            raise NoSuchEntity(f"Deletion task {task} does not exist.")
        return {"Status": status}

    # -- updates ---------------------------------------------------------------------------------------

    def update_user(self, ctx: RequestContext, params: Params) -> Output:
        self.store.rename("user", params["UserName"], params.get("NewUserName"), params.get("NewPath"))
        return {}

    def update_group(self, ctx: RequestContext, params: Params) -> Output:
        self.store.rename("group", params["GroupName"], params.get("NewGroupName"), params.get("NewPath"))
        return {}

    def update_role_description(self, ctx: RequestContext, params: Params) -> Output:
        """Allowed on a service-linked role too, as on AWS (its description is the account's to edit)."""
        name = params["RoleName"]
        self.store.update_role(name, description=params.get("Description") or "")
        return {"Role": shapes.role(self.store.get("role", name), self.store.tags("role", name))}
