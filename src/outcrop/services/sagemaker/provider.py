"""Amazon SageMaker's control plane: training jobs, models, endpoints and their configs, the registry, tags.

Operations live in mixins beside this module (`control_training`, `control_endpoints`, `control_registry`);
this class owns their shared state. Training runs the user's script in a child process (`training`);
endpoints are served behind the hosting seam (`hosting.EndpointHosting`), which InvokeEndpoint
(`sagemaker-runtime`) shares: the server builds it once and passes it to both.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from outcrop.config import Settings
from outcrop.lambdas.registry import FunctionRegistry
from outcrop.services.base import Service
from outcrop.services.sagemaker.control_endpoints import EndpointOperations
from outcrop.services.sagemaker.control_pipelines import PipelineOperations
from outcrop.services.sagemaker.control_processing import ProcessingOperations
from outcrop.services.sagemaker.control_registry import RegistryOperations
from outcrop.services.sagemaker.control_training import TrainingOperations
from outcrop.services.sagemaker.control_transform import TransformOperations
from outcrop.services.sagemaker.control_tuning import TuningOperations
from outcrop.services.sagemaker.hosting import EndpointHosting
from outcrop.services.sagemaker.processing import ProcessingRunner
from outcrop.services.sagemaker.store import SageMakerStore
from outcrop.services.sagemaker.training import TrainingRunner
from outcrop.services.sagemaker.transform import TransformRunner
from outcrop.storage.logs import LogStore
from outcrop.storage.objects import ObjectStore

if TYPE_CHECKING:
    from outcrop.iam.execution import ExecutionRoles

log = logging.getLogger("outcrop.sagemaker")


class SageMaker(
    TrainingOperations,
    EndpointOperations,
    RegistryOperations,
    ProcessingOperations,
    PipelineOperations,
    TuningOperations,
    TransformOperations,
    Service,
):
    service_name = "sagemaker"

    def __init__(
        self,
        *,
        objects: ObjectStore,
        logs: LogStore,
        sagemaker_hosting: EndpointHosting,
        data_path: Callable[..., Path],
        settings: Settings,
        lambda_functions: FunctionRegistry | None = None,
        execution_roles: ExecutionRoles | None = None,
    ) -> None:
        """`objects` and `logs` are what training jobs read and write; `data_path` gives the folders of the
        control plane's records and of running jobs; `execution_roles` gives training jobs their RoleArn's
        credentials (`auth = "iam"`)."""
        self.hosting = sagemaker_hosting
        self.store = SageMakerStore(
            data_path("sagemaker"), account=settings.account_id, region=settings.region
        )
        self.training = TrainingRunner(
            self.store,
            objects=objects,
            logs=logs,
            root=data_path("sagemaker", "training"),
            execution_roles=execution_roles,
        )
        self.processing = ProcessingRunner(
            self.store,
            objects=objects,
            logs=logs,
            root=data_path("sagemaker", "processing"),
            execution_roles=execution_roles,
        )
        self.transform = TransformRunner(
            self.store,
            objects=objects,
            logs=logs,
            root=data_path("sagemaker", "transform"),
            limits=sagemaker_hosting.limits,
        )
        self._endpoint_locks: dict[str, threading.Lock] = {}
        # What a previous server left unfinished: training jobs end, endpoint changes are finished.
        self.training.recover()
        self.processing.recover()
        self.transform.recover()
        self.resume_endpoints()
        self.start_tuning()
        self.start_pipelines(lambda_functions)  # Lambda steps run on the local Lambda runtime

    def close(self) -> None:
        self.pipelines.close()
        self.tuning.close()
        self.training.close()
        self.processing.close()
        self.transform.close()
        self.store.close()
