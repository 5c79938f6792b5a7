"""What a training script sees, as the SageMaker training toolkit lays it out inside its container.

The toolkit's container has `/opt/ml/{input,model,output,code}`; here each job gets the same tree under its
own folder, and the script learns where things are from the same `SM_*` variables, JSON config files and
`--name value` arguments, so an unmodified SageMaker script runs as it would in the cloud.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CURRENT_HOST = "algo-1"

# vCPUs and GPUs of the instance sizes and families AWS sells; used only to cap what a job is told it has.
_SIZE_VCPUS = {"medium": 2, "large": 2, "xlarge": 4}
_GPU_FAMILIES = {"p2": 1, "p3": 1, "p3dn": 8, "p4d": 8, "p4de": 8, "p5": 8, "g4dn": 1, "g5": 1, "g6": 1}

# Image repository names of the SageMaker framework containers -> the framework their training runs.
_FRAMEWORK_REPOSITORIES = (
    ("pytorch", "pytorch"),
    ("scikit-learn", "sklearn"),
    ("sklearn", "sklearn"),
    ("xgboost", "xgboost"),
    ("tensorflow", "tensorflow"),
    ("huggingface", "huggingface"),
    ("mxnet", "mxnet"),
)


@dataclass(frozen=True)
class Resources:
    """What an instance type means on this machine."""

    instance_type: str
    num_cpus: int
    num_gpus: int
    requested_cpus: int
    requested_gpus: int


def local_resources(instance_type: str) -> Resources:
    """The instance type's vCPUs capped at this machine's cores; no GPUs (the frameworks are CPU builds)."""
    requested_cpus, requested_gpus = _instance_shape(instance_type)
    cores = os.cpu_count() or 1
    return Resources(instance_type, max(1, min(requested_cpus, cores)), 0, requested_cpus, requested_gpus)


def _instance_shape(instance_type: str) -> tuple[int, int]:
    match = re.fullmatch(r"ml\.([a-z0-9-]+)\.(\d*)(medium|large|xlarge|metal)", instance_type)
    if match is None:
        return 2, 0
    family, multiple, size = match.groups()
    vcpus = _SIZE_VCPUS.get(size, 96) * (int(multiple) if multiple else 1)
    gpus = _GPU_FAMILIES.get(family, 0)
    if gpus == 1 and multiple:
        gpus = {"8": 4, "12": 4, "16": 8, "24": 4, "48": 8}.get(multiple, 1)
    return vcpus, gpus


def framework_of(image: str) -> str | None:
    """The framework a SageMaker container image runs, from its repository name (None: not a known one)."""
    repository = image.rsplit("/", 1)[-1].split(":", 1)[0].split("@", 1)[0].lower()
    for marker, framework in _FRAMEWORK_REPOSITORIES:
        if marker in repository:
            return framework
    return None


def decode_hyperparameters(raw: dict[str, str]) -> dict[str, Any]:
    """The toolkit's reading: each value is JSON if it parses (the SDK JSON-encodes them), else the string."""
    decoded: dict[str, Any] = {}
    for name, value in raw.items():
        try:
            decoded[name] = json.loads(value)
        except ValueError:
            decoded[name] = value
    return decoded


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _arg_text(value: Any) -> str:
    """A value as the toolkit writes it on the command line: maps as `k=v,k=v`, None as '', else str()."""
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in sorted(value.items()))
    return "" if value is None else str(value)


def command_args(hyperparameters: dict[str, Any]) -> list[str]:
    """Hyperparameters as the toolkit passes them to a script: `--name value`, sorted by name."""
    args: list[str] = []
    for name in sorted(hyperparameters):
        args += [f"--{name}" if len(name) > 1 else f"-{name}", _arg_text(hyperparameters[name])]
    return args


@dataclass(frozen=True)
class JobLayout:
    """One job's `/opt/ml` equivalent."""

    root: Path

    @property
    def input_dir(self) -> Path:
        return self.root / "input"

    @property
    def config_dir(self) -> Path:
        return self.root / "input" / "config"

    @property
    def data_dir(self) -> Path:
        return self.root / "input" / "data"

    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    @property
    def output_dir(self) -> Path:
        return self.root / "output"

    @property
    def output_data_dir(self) -> Path:
        return self.root / "output" / "data"

    @property
    def intermediate_dir(self) -> Path:
        return self.root / "output" / "intermediate"

    @property
    def code_dir(self) -> Path:
        return self.root / "code"

    @property
    def venv_dir(self) -> Path:
        return self.root / "venv"

    def channel_dir(self, channel: str) -> Path:
        return self.data_dir / channel

    def create(self, channels: list[str]) -> None:
        for folder in (
            self.config_dir,
            self.model_dir,
            self.output_data_dir,
            self.intermediate_dir,
            self.code_dir,
        ):
            folder.mkdir(parents=True, exist_ok=True)
        for channel in channels:
            self.channel_dir(channel).mkdir(parents=True, exist_ok=True)


def training_environment(
    *,
    layout: JobLayout,
    job_name: str,
    region: str,
    program: str,
    hyperparameters: dict[str, Any],
    framework_parameters: dict[str, Any],
    channels: dict[str, dict[str, Any]],
    resources: Resources,
    user_environment: dict[str, str],
) -> dict[str, str]:
    """The `SM_*` variables (and their JSON config files, written into the layout) the toolkit provides."""
    hosts = [CURRENT_HOST]
    group = {
        "instance_group_name": "homogeneousCluster",
        "instance_type": resources.instance_type,
        "hosts": hosts,
    }
    resource_config = {
        "current_host": CURRENT_HOST,
        "current_instance_type": resources.instance_type,
        "current_group_name": "homogeneousCluster",
        "hosts": hosts,
        "instance_groups": [group],
        "network_interface_name": "eth0",
    }
    input_data_config = {
        name: {
            "TrainingInputMode": channel.get("InputMode", "File"),
            "S3DistributionType": channel["DataSource"]["S3DataSource"].get(
                "S3DataDistributionType", "FullyReplicated"
            ),
            "RecordWrapperType": channel.get("RecordWrapperType", "None"),
            **({"ContentType": channel["ContentType"]} if channel.get("ContentType") else {}),
        }
        for name, channel in channels.items()
    }
    raw_hyperparameters = {**{k: _text(v) for k, v in framework_parameters.items()}}
    raw_hyperparameters.update({k: _text(v) for k, v in hyperparameters.items()})
    (layout.config_dir / "hyperparameters.json").write_text(json.dumps(raw_hyperparameters))
    (layout.config_dir / "resourceconfig.json").write_text(json.dumps(resource_config))
    (layout.config_dir / "inputdataconfig.json").write_text(json.dumps(input_data_config))

    channel_dirs = {name: str(layout.channel_dir(name)) for name in channels}
    module_name = program[:-3] if program.endswith(".py") else program
    user_args = command_args(hyperparameters)
    training_env = {
        "job_name": job_name,
        "current_host": CURRENT_HOST,
        "current_instance_type": resources.instance_type,
        "hosts": hosts,
        "master_hostname": CURRENT_HOST,
        "is_master": True,
        "network_interface_name": "eth0",
        "num_cpus": resources.num_cpus,
        "num_gpus": resources.num_gpus,
        "hyperparameters": hyperparameters,
        "additional_framework_parameters": {},
        "channel_input_dirs": channel_dirs,
        "input_data_config": input_data_config,
        "resource_config": resource_config,
        "input_dir": str(layout.input_dir),
        "input_config_dir": str(layout.config_dir),
        "model_dir": str(layout.model_dir),
        "output_dir": str(layout.output_dir),
        "output_data_dir": str(layout.output_data_dir),
        "output_intermediate_dir": str(layout.intermediate_dir),
        "module_dir": str(framework_parameters.get("sagemaker_submit_directory", "")),
        "module_name": module_name,
        "user_entry_point": program,
        "log_level": int(framework_parameters.get("sagemaker_container_log_level", 20)),
    }
    env: dict[str, str] = {
        "SM_TRAINING_ENV": json.dumps(training_env),
        "SM_HOSTS": json.dumps(hosts),
        "SM_CURRENT_HOST": CURRENT_HOST,
        "SM_CURRENT_INSTANCE_TYPE": resources.instance_type,
        "SM_NETWORK_INTERFACE_NAME": "eth0",
        "SM_NUM_CPUS": str(resources.num_cpus),
        "SM_NUM_GPUS": str(resources.num_gpus),
        "SM_HPS": json.dumps(hyperparameters),
        "SM_CHANNELS": json.dumps(sorted(channels)),
        "SM_MODEL_DIR": str(layout.model_dir),
        "SM_INPUT_DIR": str(layout.input_dir),
        "SM_INPUT_CONFIG_DIR": str(layout.config_dir),
        "SM_OUTPUT_DIR": str(layout.output_dir),
        "SM_OUTPUT_DATA_DIR": str(layout.output_data_dir),
        "SM_OUTPUT_INTERMEDIATE_DIR": str(layout.intermediate_dir),
        "SM_MODULE_DIR": str(training_env["module_dir"]),
        "SM_MODULE_NAME": module_name,
        "SM_USER_ENTRY_POINT": program,
        "SM_USER_ARGS": json.dumps(user_args),
        "SM_LOG_LEVEL": str(training_env["log_level"]),
        "SM_RESOURCE_CONFIG": json.dumps(resource_config),
        "SM_INPUT_DATA_CONFIG": json.dumps(input_data_config),
        "SM_FRAMEWORK_PARAMS": "{}",
        "TRAINING_JOB_NAME": job_name,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "OMP_NUM_THREADS": str(resources.num_cpus),
        "PYTHONUNBUFFERED": "1",
        "HF_HUB_OFFLINE": "1",
    }
    for name, folder in channel_dirs.items():
        env[f"SM_CHANNEL_{name.upper()}"] = folder
    for name, value in hyperparameters.items():
        text = _text(value)
        env[f"SM_HP_{name.upper()}"] = text
        env[f"SM_HP_{re.sub(r'[^A-Za-z0-9_]', '_', name).upper()}"] = text
    return {**user_environment, **env}
