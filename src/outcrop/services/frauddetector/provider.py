"""Amazon Fraud Detector: variables, labels, event types, models trained on this machine
(gradient-boosted trees, scores 0..1000), detectors with rules in the rule language, predictions one by one
or in batch jobs over S3.

The operations live in groups (catalog, training, detectors, predictions, batch predictions) over one SQLite
store. Every resource lives in the account and region of the request that made it, so each (account,
region) gets its own `Operations`, bound to that partition of the store and of the model files; the
service's methods hand each request to its partition's. One background thread runs every partition's
long work (training, batch imports, batch predictions). External (SageMaker) models, minor model versions
(UpdateModelVersion) and Account Takeover Insights are not served: they answer a clear error.
"""

from __future__ import annotations

import inspect
import logging
import queue
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from botocore import xform_name

from outcrop.config import Settings
from outcrop.protocol.router import service_model
from outcrop.services.base import RequestContext, Service
from outcrop.services.frauddetector.batch import BatchPredictions
from outcrop.services.frauddetector.catalog import Catalog
from outcrop.services.frauddetector.common import (
    ConflictException,
    Jobs,
    ResourceNotFoundException,
    ValidationException,
)
from outcrop.services.frauddetector.detectors import Detectors
from outcrop.services.frauddetector.lists import Lists
from outcrop.services.frauddetector.model import FraudModel
from outcrop.services.frauddetector.predictions import Predictions
from outcrop.services.frauddetector.store import FraudData, Where
from outcrop.services.frauddetector.training import Training
from outcrop.storage.objects import ObjectStore

log = logging.getLogger(__name__)


def _modelling(code: str) -> frozenset[str]:
    """The operations (as method names) whose botocore model lists `code` among their errors. Elsewhere AWS
    answers a missing or conflicting resource with a ValidationException, and so does Outcrop."""
    model = service_model("frauddetector")
    return frozenset(
        xform_name(name)
        for name in model.operation_names
        if code in [error.name for error in model.operation_model(name).error_shapes]
    )


NOT_FOUND_MODELLED = _modelling("ResourceNotFoundException")
CONFLICT_MODELLED = _modelling("ConflictException")


class Operations(Catalog, Lists, Predictions, Training, Detectors, BatchPredictions):
    """One account and region's Fraud Detector: its view of the store and its model files, with the queue and
    the loaded models every partition shares. Made per request (it is a few references), so no region a
    client names is kept."""

    def __init__(
        self,
        data: FraudData,
        where: Where,
        *,
        objects: ObjectStore,
        settings: Settings,
        root: Path,
        jobs: Jobs,
        models: dict[str, FraudModel],
    ) -> None:
        self.store = data.at(where)
        self.objects = objects
        self.settings = settings
        self.model_dir = model_dir(root, where)
        self._jobs = jobs
        self._models_cache = models


def model_dir(root: Path, where: Where) -> Path:
    """A partition's model files: `models/<region>/<account>/` (a region has a '-', a model id never)."""
    account, region = where
    return root / "models" / region / account


def _is_operation(name: str, member: Any) -> bool:
    if name.startswith("_") or not callable(member):
        return False
    return list(inspect.signature(member).parameters) == ["self", "ctx", "params"]


OPERATION_NAMES = tuple(
    name for name, member in inspect.getmembers(Operations) if _is_operation(name, member)
)


class FraudDetector(Service):
    service_name: ClassVar[str] = "frauddetector"

    def __init__(self, *, objects: ObjectStore, settings: Settings, data_path: Callable[..., Path]) -> None:
        self.objects = objects
        self.settings = settings
        self.root = data_path("frauddetector")
        self.data = FraudData(
            self.root / "frauddetector.sqlite3",
            account=settings.account_id,
            region=settings.region,
            moved=self._move_old_models,
        )
        self._models: dict[str, FraudModel] = {}
        self._jobs: Jobs = queue.Queue()
        for where in self.data.places():
            for key in self.at(where).pending():
                self._jobs.put((where, key))
        self._worker = threading.Thread(target=self._work, name="frauddetector-jobs", daemon=True)
        self._worker.start()

    def at(self, where: Where) -> Operations:
        """The operations of one account and region."""
        return Operations(
            self.data,
            where,
            objects=self.objects,
            settings=self.settings,
            root=self.root,
            jobs=self._jobs,
            models=self._models,
        )

    def _move_old_models(self, where: Where) -> None:
        """Model files from before regions (`models/<model id>/...`) go to the default partition's folder."""
        old = self.root / "models"
        if not old.is_dir():
            return
        target = model_dir(self.root, where)
        for entry in list(old.iterdir()):
            if "-" not in entry.name:
                target.mkdir(parents=True, exist_ok=True)
                shutil.move(str(entry), str(target / entry.name))

    def _work(self) -> None:
        while True:
            item = self._jobs.get()
            if item is None:
                return
            where, key = item
            try:
                self.at(where).work(key)
            except Exception:  # a bug: the job stays visible as it was, the thread goes on
                log.exception("frauddetector job %s in %s failed", key, where)

    def close(self) -> None:
        self._jobs.put(None)
        self._worker.join(timeout=5)
        self.data.close()


def _operation(name: str) -> Callable[[FraudDetector, RequestContext, dict[str, Any]], dict[str, Any]]:
    """The service method for one operation: run by the request's partition, a not-found or conflict
    the operation does not model answered as the ValidationException AWS gives instead."""

    def run(self: FraudDetector, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        try:
            result: dict[str, Any] = getattr(self.at((ctx.account_id, ctx.region)), name)(ctx, params)
        except ResourceNotFoundException as error:
            if name in NOT_FOUND_MODELLED:
                raise
            raise ValidationException(error.message) from None
        except ConflictException as error:
            if name in CONFLICT_MODELLED:
                raise
            raise ValidationException(error.message) from None
        return result

    run.__name__ = run.__qualname__ = name
    run.__doc__ = getattr(Operations, name).__doc__
    return run


for _name in OPERATION_NAMES:
    setattr(FraudDetector, _name, _operation(_name))
