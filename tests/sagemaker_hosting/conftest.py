from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from outcrop.app import App
from outcrop.config import Settings
from outcrop.services.sagemaker.hosting import EndpointHosting

BUCKET = "models"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    app = App(Settings(data_dir=tmp_path_factory.mktemp("hosting") / "data"))
    app.objects.create_bucket(BUCKET, "us-east-1")
    yield app


@pytest.fixture(scope="module")
def hosting(app: App) -> Iterator[EndpointHosting]:
    hosting = app.sagemaker_hosting
    yield hosting
    hosting.close()


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("scratch")
