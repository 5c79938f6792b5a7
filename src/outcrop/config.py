"""One settings object: defaults, then a TOML config file, then OUTCROP_* env vars, then CLI flags.

Config file example (`outcrop serve --config outcrop.toml`):

    host = "0.0.0.0"
    port = 4566
    data_dir = "/var/lib/outcrop"
    catalog = "my-catalog.toml"     # replaces the bundled model catalog
    fake_models = false             # true: deterministic fake models, for fast tests and demos
    auth = "dev"                    # "keys": only access_keys / api_keys; "sigv4": verify signatures;
                                    # "iam": verify signatures, then authorize every request by IAM policy
    kms_master_key = "base64 of 32 bytes"  # wraps KMS key material; unset: a 0600 key file in the data dir
    llm_threads = 2
    apps = ["examples/guide-chat/template.yaml"]   # Lambda + API Gateway apps (SAM templates)
    allowed_hosts = ["devbox.lan", ".devbox.lan"]   # Host names the server also answers to (a leading
                                    # dot: the name and its subdomains; "*": any). Always answered:
                                    # localhost and *.localhost, loopback addresses, the bind address
                                    # (any IP address when bound to 0.0.0.0 or ::); others are refused
                                    # with 400 InvalidHostHeader, so DNS rebinding cannot reach the server
    allowed_origins = ["http://localhost:3000"]     # web pages that may call the AWS APIs and /v1 from
                                    # the browser (CORS); the console's own origin always may. Requests
                                    # from other pages' origins are refused ("*": any origin)
    crawl_private_targets = false   # true: KB web crawlers may fetch private, loopback, link-local and
                                    # metadata addresses (a local test site); false refuses them
    allow_unsandboxed = true        # where user code (Lambda handlers, SageMaker scripts and models)
                                    # cannot be sandboxed with bubblewrap (not installed, or no user
                                    # namespaces, as in many containers), run it with the server's rights
                                    # (said at start); false refuses to run it there. Sandboxed code sees
                                    # the data dir empty, the system read-only, only the server's port
    [credentials]                   # with auth = "sigv4" or "iam": access key -> secret key (a table:
                                    # last); under "iam" these keys are the account root, allowed all,
                                    # and keys made by IAM CreateAccessKey or STS are IAM principals
    AKIAEXAMPLE = "secret"
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any


def default_data_dir() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "outcrop"


def default_model_cache() -> Path:
    """Assembled model files, once per user: every data dir shares them (each file is checked by SHA-256)."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "outcrop" / "models"


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 4566
    data_dir: Path = field(default_factory=default_data_dir)
    model_dir: Path | None = None  # where assembled model files are cached; default ~/.cache/outcrop/models
    catalog: Path | None = None  # None: the bundled catalog.toml
    fake_models: bool = False
    region: str = "us-east-1"
    account_id: str = "000000000000"
    auth: str = "dev"
    access_keys: list[str] = field(default_factory=list)
    api_keys: list[str] = field(default_factory=list)
    credentials: dict[str, str] = field(default_factory=dict)  # access key -> secret, for auth = "sigv4"
    llm_threads: int = 0  # 0: all cores
    llm_parallel: int = 4  # sequences decoded together per model
    llm_queue: int = 16  # waiting requests per model before ThrottlingException
    llm_max_wait: float = 45.0  # expected seconds in the queue past which a call is throttled (0: no limit)
    log_level: str = "info"
    max_request_mb: int = 1024  # larger request bodies are refused with HTTP 413
    # A call whose answer is one JSON body (Converse, RetrieveAndGenerate, ...) still running after this many
    # seconds answers 200 at once and sends a space this often until its body, so SDK read timeouts (60 s in
    # boto3) do not cut off a long local generation; 0: never (see protocol/keepalive.py).
    keepalive_seconds: float = 10.0
    apps: list[Path] = field(default_factory=list)  # SAM template.yaml files of Lambda + API Gateway apps
    functions: list[str] = field(default_factory=list)  # one-line apps: "name=path/to/module.handler"
    app_parameters: dict[str, str] = field(default_factory=dict)  # template Parameters, as sam's overrides
    lambda_concurrency: int = 4  # busy worker processes per function at most
    sagemaker_load_timeout: float = 600.0  # seconds an endpoint's worker may take to load its model
    sagemaker_invoke_timeout: float = 60.0  # seconds an InvokeEndpoint may run (SageMaker's own limit)
    sagemaker_max_models: int = 8  # models a multi-model endpoint instance keeps loaded (LRU beyond)
    # KMS's master key, base64 of 32 bytes, from this setting (config file or OUTCROP_KMS_MASTER_KEY); when
    # unset, from `kms/master.key` in the data dir, generated on first start with 0600 permissions (no OS
    # keyring). A key file beside the data guards a copied database only: set this to keep the key elsewhere.
    kms_master_key: str = ""
    cloudtrail_delivery_seconds: float = 300.0  # how often trails deliver log files (CloudTrail: ~5 minutes)
    allowed_hosts: list[str] = field(default_factory=list)  # extra Host names answered (see above)
    allowed_origins: list[str] = field(default_factory=list)  # browser origins allowed besides the console's
    crawl_private_targets: bool = False  # KB web crawls may reach private/loopback/link-local addresses
    allow_unsandboxed: bool = True  # user code runs unboxed where bubblewrap cannot box it (see above)

    @property
    def models_path(self) -> Path:
        return self.model_dir or default_model_cache()

    def catalog_path(self) -> Path:
        return self.catalog or Path(__file__).with_name("catalog.toml")


def _coerce(name: str, value: Any) -> Any:
    if name in ("data_dir", "model_dir", "catalog"):
        return Path(value).expanduser() if value not in (None, "") else None
    if name == "apps":  # OUTCROP_APPS="a/template.yaml,b/template.yaml"
        items = value.split(",") if isinstance(value, str) else value
        return [Path(item).expanduser() for item in items if str(item)]
    if name == "functions" and isinstance(value, str):  # OUTCROP_FUNCTIONS="hi=src/app.handler,..."
        return [v for v in value.split(",") if v]
    if name == "app_parameters" and isinstance(value, str):  # OUTCROP_APP_PARAMETERS="Key=value,Key2=v"
        return dict(pair.split("=", 1) for pair in value.split(",") if "=" in pair)
    if name in ("port", "llm_threads", "llm_parallel", "llm_queue", "max_request_mb", "lambda_concurrency"):
        return int(value)
    if name in (
        "sagemaker_load_timeout",
        "sagemaker_invoke_timeout",
        "cloudtrail_delivery_seconds",
        "llm_max_wait",
        "keepalive_seconds",
    ):
        return float(value)
    if name == "sagemaker_max_models":
        return int(value)
    if name in ("fake_models", "crawl_private_targets", "allow_unsandboxed"):
        return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")
    if name == "credentials" and isinstance(value, str):  # OUTCROP_CREDENTIALS="AKID:secret,AKID2:secret2"
        return dict(pair.split(":", 1) for pair in value.split(",") if ":" in pair)
    if name in ("access_keys", "api_keys", "allowed_hosts", "allowed_origins") and isinstance(value, str):
        return [v for v in value.split(",") if v]
    return value


def load_settings(config_file: Path | None = None, overrides: dict[str, Any] | None = None) -> Settings:
    values: dict[str, Any] = {}
    config_file = config_file or (
        Path(os.environ["OUTCROP_CONFIG"]) if os.environ.get("OUTCROP_CONFIG") else None
    )
    names = {f.name for f in fields(Settings)}
    if config_file is not None:
        with config_file.open("rb") as handle:
            data = tomllib.load(handle)
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown settings in {config_file}: {', '.join(sorted(unknown))}")
        values.update(data)
    for name in names:
        env = os.environ.get(f"OUTCROP_{name.upper()}")
        if env is not None:
            values[name] = env
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    settings = Settings(**{k: _coerce(k, v) for k, v in values.items()})
    if settings.data_dir is None:
        settings.data_dir = default_data_dir()
    return settings
