"""Where /opt/ml cannot be mounted (no user namespaces), a v3 job runs what the SDK's drivers would run:
the entry script from the `code` channel with the hyperparameters as `--name value` arguments, or
SourceCode's command, read from `sm_drivers/sourcecode.json`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from outcrop.services.sagemaker import training_v3
from outcrop.services.sagemaker.training_env import JobLayout
from outcrop.services.sagemaker.training_io import JobFailure


class Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, line: str) -> None:
        self.lines.append(line)


def layout_with(tmp_path: Path, source: dict[str, Any]) -> JobLayout:
    layout = JobLayout(tmp_path / "job")
    layout.create(["code", "sm_drivers"])
    (layout.channel_dir("sm_drivers") / "sourcecode.json").write_text(json.dumps(source))
    (layout.channel_dir("code") / "train.py").write_text(
        "import json, sys\nprint(json.dumps(sys.argv[1:]))\n"
    )
    return layout


@pytest.fixture
def no_namespaces(monkeypatch: pytest.MonkeyPatch) -> None:
    def rewritten(command: list[str], env: dict[str, str], folder: Path, stage: Path) -> Any:
        return command, env, False

    monkeypatch.setattr(training_v3, "contained", rewritten)


SPEC = {"AlgorithmSpecification": {"ContainerEntrypoint": ["/bin/bash"], "ContainerArguments": ["-c", "x"]}}


def test_entry_script_runs_with_hyperparameters_as_arguments(tmp_path: Path, no_namespaces: None) -> None:
    layout = layout_with(tmp_path, {"entry_script": "train.py", "source_dir": "src"})
    run = training_v3.container_run(
        SPEC,
        layout,
        {"PATH": "/usr/bin:/bin"},
        {"alpha": 0.5, "note": "a b", "tags": [1]},
        Lines(),  # type: ignore[arg-type]
    )
    assert run.cwd == layout.channel_dir("code") and run.shown == ["/bin/bash", "-c", "x"]
    out = subprocess.run(run.command, cwd=run.cwd, env=run.env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == ["--alpha", "0.5", "--note", "a b", "--tags", "[1]"]
    assert run.env["SM_ENTRY_SCRIPT"] == "train.py"


def test_command_and_missing_drivers(tmp_path: Path, no_namespaces: None) -> None:
    layout = layout_with(tmp_path, {"command": "python train.py --from-command"})
    run = training_v3.container_run(SPEC, layout, {"PATH": "/usr/bin:/bin"}, {}, Lines())  # type: ignore[arg-type]
    out = subprocess.run(run.command, cwd=run.cwd, env=run.env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == ["--from-command"]
    (layout.channel_dir("sm_drivers") / "sourcecode.json").unlink()
    with pytest.raises(JobFailure, match=r"no sm_drivers/sourcecode\.json"):
        training_v3.container_run(SPEC, layout, {"PATH": "/usr/bin:/bin"}, {}, Lines())  # type: ignore[arg-type]
