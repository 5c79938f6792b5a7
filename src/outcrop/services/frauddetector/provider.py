"""Amazon Fraud Detector: variables, labels, event types, models trained on this machine
(gradient-boosted trees, scores 0..1000), detectors with rules in the rule language, and predictions.

The operations live in groups (catalog, training, detectors, predictions) over one SQLite store; trained
models are files under the data dir. External (SageMaker) models, batch predictions, minor model
versions (UpdateModelVersion) and Account Takeover Insights are not served: they answer a clear error.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from outcrop.config import Settings
from outcrop.services.base import Service
from outcrop.services.frauddetector.catalog import Catalog
from outcrop.services.frauddetector.detectors import Detectors
from outcrop.services.frauddetector.lists import Lists
from outcrop.services.frauddetector.predictions import Predictions
from outcrop.services.frauddetector.store import FraudStore
from outcrop.services.frauddetector.training import Training
from outcrop.storage.objects import ObjectStore


class FraudDetector(Catalog, Lists, Predictions, Training, Detectors, Service):
    service_name: ClassVar[str] = "frauddetector"

    def __init__(self, *, objects: ObjectStore, settings: Settings, data_path: Callable[..., Path]) -> None:
        self.objects = objects
        self.settings = settings
        self.data_path = data_path
        self.model_dir = data_path("frauddetector") / "models"
        self.store = FraudStore(data_path("frauddetector") / "frauddetector.sqlite3")
        self._start_training()

    def close(self) -> None:
        self._stop_training()
        self.store.close()
