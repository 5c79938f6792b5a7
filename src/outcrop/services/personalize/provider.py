"""Amazon Personalize's control plane: data in, models trained with `implicit`, campaigns deployed.

State is one SQLite file under the data dir (shared with personalize-runtime and personalize-events);
imports, training, deployment and batch jobs run on one background thread that resumes after a restart.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from outcrop.personalize.jobs import Worker
from outcrop.personalize.recommend import Recommender
from outcrop.personalize.store import PersonalizeStore
from outcrop.services.base import Service
from outcrop.services.personalize.data import DataOperations
from outcrop.services.personalize.models import ModelOperations
from outcrop.services.personalize.recommenders import RecommenderOperations
from outcrop.storage.objects import ObjectStore


def open_store(data_path: Callable[..., Path]) -> tuple[PersonalizeStore, Path]:
    """The shared store, and the folder of trained models, of the three Personalize services."""
    root = data_path("personalize")
    return PersonalizeStore(root / "personalize.sqlite3"), root / "models"


class Personalize(DataOperations, ModelOperations, RecommenderOperations, Service):
    service_name: ClassVar[str] = "personalize"

    def __init__(self, *, objects: ObjectStore, data_path: Callable[..., Path]) -> None:
        self.store, self.models = open_store(data_path)
        self.worker = Worker(self.store, objects, Recommender(self.store, self.models), self.models)
        self.worker.start()

    def close(self) -> None:
        self.worker.close()
        self.store.close()
