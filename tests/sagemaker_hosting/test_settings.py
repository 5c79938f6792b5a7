"""Endpoint limits come from Settings: the OUTCROP_SAGEMAKER_* variables and the config file both work."""

from __future__ import annotations

from pathlib import Path

import pytest

from outcrop.app import App
from outcrop.config import load_settings
from outcrop.services.sagemaker.serving.endpoint import Limits


def test_environment_variables_reach_the_hosting_limits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OUTCROP_SAGEMAKER_LOAD_TIMEOUT", "12.5")
    monkeypatch.setenv("OUTCROP_SAGEMAKER_INVOKE_TIMEOUT", "3")
    monkeypatch.setenv("OUTCROP_SAGEMAKER_MAX_MODELS", "2")
    app = App(load_settings(overrides={"data_dir": tmp_path / "data"}))
    hosting = app.sagemaker_hosting
    try:
        assert hosting.limits == Limits(load_timeout=12.5, invoke_timeout=3.0, max_models=2)
    finally:
        hosting.close()


def test_the_config_file_sets_them_and_defaults_match_sagemaker(tmp_path: Path) -> None:
    config = tmp_path / "outcrop.toml"
    config.write_text("sagemaker_max_models = 4\n")
    settings = load_settings(config, overrides={"data_dir": tmp_path / "data"})
    assert (settings.sagemaker_load_timeout, settings.sagemaker_invoke_timeout) == (600.0, 60.0)
    assert settings.sagemaker_max_models == 4
