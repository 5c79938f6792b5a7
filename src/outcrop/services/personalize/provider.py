"""Amazon Personalize's control plane: data in, models trained with `implicit`, campaigns deployed.

State is one SQLite file under the data dir (shared with personalize-runtime and personalize-events), each
resource in the account and region that made it; imports, training, deployment, batch, export and data
deletion jobs run on one background thread that resumes after a restart.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from outcrop.config import Settings
from outcrop.personalize.jobs import Worker
from outcrop.personalize.recommend import Recommender
from outcrop.personalize.store import open_store
from outcrop.services.base import Service
from outcrop.services.personalize.data import DataOperations
from outcrop.services.personalize.datajobs import DataJobOperations
from outcrop.services.personalize.models import ModelOperations
from outcrop.services.personalize.recommenders import RecommenderOperations
from outcrop.storage.objects import ObjectStore


class Personalize(DataOperations, DataJobOperations, ModelOperations, RecommenderOperations, Service):
    service_name: ClassVar[str] = "personalize"

    def __init__(self, *, objects: ObjectStore, data_path: Callable[..., Path], settings: Settings) -> None:
        self.store, self.models = open_store(
            data_path("personalize"), account=settings.account_id, region=settings.region
        )
        self.worker = Worker(self.store, objects, Recommender(self.store, self.models), self.models)
        self.worker.start()

    def close(self) -> None:
        self.worker.close()
        self.store.close()
