"""Amazon SageMaker's control plane: training jobs, models, endpoints and their configs, the registry, tags.

Operations live in mixins under `outcrop.sagemaker.control_*`; this class owns their shared state. Training
runs the user's script in a child process (`outcrop.sagemaker.training`); endpoints are served behind the
hosting seam (`app.sagemaker_hosting`), which InvokeEndpoint (`sagemaker-runtime`) shares.
"""

from __future__ import annotations

import logging
import threading

from outcrop.app import App
from outcrop.sagemaker.control_endpoints import EndpointOperations
from outcrop.sagemaker.control_registry import RegistryOperations
from outcrop.sagemaker.control_training import TrainingOperations
from outcrop.sagemaker.store import SageMakerStore
from outcrop.sagemaker.training import TrainingRunner
from outcrop.services.base import Service

log = logging.getLogger("outcrop.sagemaker")


class SageMaker(TrainingOperations, EndpointOperations, RegistryOperations, Service):
    service_name = "sagemaker"

    def __init__(self, app: App) -> None:
        super().__init__(app)
        self.store = SageMakerStore(app.data_path("sagemaker"))
        self.training = TrainingRunner(app, self.store)
        self._endpoint_locks: dict[str, threading.Lock] = {}
        # What a previous server left unfinished: training jobs end, endpoint changes are finished.
        self.training.recover()
        self.resume_endpoints()

    def close(self) -> None:
        self.training.close()
        self.store.close()
