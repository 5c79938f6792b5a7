"""The running server's shared parts: settings, the model catalog and registry, stores, the data directory.

The server hands each service the parts its constructor names (`server.construct_service`); heavy parts are
created on first use. Parts shared by several services are closed here, once, after every service closed.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from outcrop.catalog import BUNDLED, Catalog, load_catalog, with_service_models
from outcrop.config import Settings

if TYPE_CHECKING:
    from outcrop.audit.trail import AuditTrail
    from outcrop.backends.registry import ModelRegistry
    from outcrop.guardrails.guardrails import Guardrails
    from outcrop.iam.execution import ExecutionRoles
    from outcrop.iam.store import IamStore
    from outcrop.inference import Inference
    from outcrop.kms.keys import Keyring
    from outcrop.lambdas.registry import FunctionRegistry
    from outcrop.protocol.auth import Authenticator
    from outcrop.rag.kbstore import KnowledgeBaseStore
    from outcrop.services.bedrock.profile_store import InferenceProfileStore
    from outcrop.services.bedrock_agent.agents_store import AgentStore
    from outcrop.services.bedrock_agent.resource_store import AgentResourceStore
    from outcrop.services.bedrock_agent_runtime.session_store import SessionStore
    from outcrop.services.s3.policy import BucketPolicyStore
    from outcrop.services.sagemaker.hosting import EndpointHosting
    from outcrop.storage.logs import LogStore
    from outcrop.storage.objects import ObjectStore


class App:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)

    @cached_property
    def catalog(self) -> Catalog:
        from outcrop.services.bedrock_runtime.bodies.registry import BODY_FORMATS

        catalog = load_catalog(self.settings.catalog_path(), BODY_FORMATS)
        if self.settings.catalog is not None:
            catalog = with_service_models(catalog, load_catalog(BUNDLED, BODY_FORMATS))
        return catalog

    @cached_property
    def authenticator(self) -> Authenticator:
        """Who may call: one Authenticator for the AWS protocols and the OpenAI-compatible API alike."""
        from outcrop.protocol.auth import DevAuthenticator, KeyListAuthenticator
        from outcrop.protocol.sigv4 import SigV4Authenticator

        if self.settings.auth == "dev":
            return DevAuthenticator()
        if self.settings.auth == "keys":
            return KeyListAuthenticator(set(self.settings.access_keys), set(self.settings.api_keys))
        if self.settings.auth == "sigv4":
            return SigV4Authenticator(self.settings.credentials, set(self.settings.api_keys))
        if self.settings.auth == "iam":
            from outcrop.iam.authorizer import IamAuthenticator
            from outcrop.iam.resource_policies import (
                kms_key_policies,
                lambda_function_policies,
                s3_bucket_policies,
            )
            from outcrop.services.bedrock_agent.agents_iam import agent_key_needs
            from outcrop.services.bedrock_agent_runtime.session_iam import session_key_needs

            return IamAuthenticator(
                self.settings.credentials,
                self.iam,
                set(self.settings.api_keys),
                resource_policies={
                    "kms": kms_key_policies(lambda: self.kms),
                    "s3": s3_bucket_policies(lambda: self.bucket_policies),
                    "lambda": lambda_function_policies(lambda: self.lambda_functions.policies),
                },
                dependencies={  # an agent's customer managed key: the caller needs KMS permissions on it
                    "bedrock-agent": agent_key_needs(lambda: self.agents),
                    "bedrock-agent-runtime": session_key_needs(
                        lambda: self.bedrock_sessions, agent_key_needs(lambda: self.agents)
                    ),
                },
            )
        raise ValueError(f"auth must be 'dev', 'keys', 'sigv4' or 'iam', not {self.settings.auth!r}")

    @cached_property
    def iam(self) -> IamStore:
        """IAM's principals and policies, shared by `iam`, `sts` and the `auth = "iam"` authorizer."""
        from outcrop.iam.store import IamStore

        return IamStore(self.data_path("iam") / "iam.sqlite3", self.settings.account_id)

    @cached_property
    def inference(self) -> Inference:
        """The one path of every model call (see `outcrop.inference`)."""
        from outcrop.inference import Inference

        return Inference(
            self.catalog,
            self.models,
            max_in_flight=self.settings.llm_parallel + self.settings.llm_queue,
            parallel=self.settings.llm_parallel,
            max_wait=self.settings.llm_max_wait,
            profiles=self.inference_profiles,
        )

    @cached_property
    def inference_profiles(self) -> InferenceProfileStore:
        """Bedrock's application inference profiles (and resource tags), shared by the control plane that
        makes them and the inference path that resolves them as model ids."""
        from outcrop.services.bedrock.profile_store import InferenceProfileStore

        return InferenceProfileStore(self.data_path("bedrock") / "profiles.sqlite3")

    @cached_property
    def guardrails(self) -> Guardrails:
        """Bedrock guardrails, shared by the control plane that makes them, ApplyGuardrail and every model
        path that enforces them."""
        from outcrop.guardrails.guardrails import Guardrails

        return Guardrails(
            path=self.data_path("bedrock") / "guardrails.sqlite3",
            inference=self.inference,
            models=self.models,
            account_id=self.settings.account_id,
        )

    @cached_property
    def models(self) -> ModelRegistry:
        from outcrop.backends.registry import ModelRegistry

        defaults = {"parallel": self.settings.llm_parallel, "max_queue": self.settings.llm_queue}
        if self.settings.llm_threads:
            defaults["n_threads"] = self.settings.llm_threads
        local = {
            name: {**defaults, **table} if table.get("runtime") == "llamacpp" else table
            for name, table in self.catalog.local.items()
        }
        return ModelRegistry(local, model_dir=self.settings.models_path, fake=self.settings.fake_models)

    @cached_property
    def objects(self) -> ObjectStore:
        """The S3 object store, shared with every service that reads or writes objects in-process."""
        from outcrop.kms.envelope import KmsDataKeys
        from outcrop.storage.localobjects import LocalObjectStore

        # objects stored encrypted (S3's SSE) get their data keys from KMS, opened on first use
        data_keys = KmsDataKeys(lambda: self.kms, self.settings.account_id)
        return LocalObjectStore(self.data_path("s3"), data_keys)

    @cached_property
    def bucket_policies(self) -> BucketPolicyStore:
        """S3's bucket policies, shared by `s3` (which keeps them) and the `auth = "iam"` authorizer."""
        from outcrop.services.s3.policy import BucketPolicyStore

        return BucketPolicyStore(self.data_path("s3") / "policies.sqlite3")

    @cached_property
    def logs(self) -> LogStore:
        """The CloudWatch Logs store, where services write the logs of what they run (training, functions)."""
        from outcrop.services.logs.kms import KmsLogKeys
        from outcrop.storage.sqlitelogs import SqliteLogStore

        return SqliteLogStore(
            self.data_path("logs"),
            account=self.settings.account_id,
            region=self.settings.region,
            data_keys=KmsLogKeys(lambda: self.kms),  # groups with a kmsKeyId: events encrypted under it
        )

    @cached_property
    def audit(self) -> AuditTrail:
        """CloudTrail's append-only event log and trails, which deliver it to S3 buckets."""
        from outcrop.audit.trail import AuditTrail

        return AuditTrail(
            self.data_path("cloudtrail"),
            self.objects,
            self.settings.account_id,
            self.settings.cloudtrail_delivery_seconds,
        )

    @cached_property
    def kms(self) -> Keyring:
        """KMS keys, shared by `kms` and the services that encrypt at rest with them (S3's SSE)."""
        from outcrop.kms.keys import Keyring
        from outcrop.kms.master import load_master_key
        from outcrop.kms.store import KeyStore

        root = self.data_path("kms")
        master = load_master_key(self.settings.kms_master_key, root / "master.key")
        return Keyring(KeyStore(root / "keys.sqlite3"), master)

    @cached_property
    def knowledge_bases(self) -> KnowledgeBaseStore:
        """Knowledge Bases state, shared by bedrock-agent (control plane) and bedrock-agent-runtime."""
        from outcrop.kms.sealed import CustomerKeys
        from outcrop.rag.kbstore import KnowledgeBaseStore
        from outcrop.services.bedrock_agent.kb_sealing import DataSourceKeys

        # data sources with a kmsKeyArn keep their chunks sealed under a data key of that KMS key
        keys = DataSourceKeys(
            CustomerKeys(lambda: self.kms),
            lambda kb, ds: store.data_source(kb, ds),
            lambda kb: store.data_sources(kb),  # keyword search makes terms under each keyed one
        )
        store = KnowledgeBaseStore(
            self.data_path("knowledge-bases"),
            account=self.settings.account_id,
            region=self.settings.region,
            wrap_vectors=keys.wrap,
        )
        return store

    @cached_property
    def agents(self) -> AgentStore:
        """Bedrock Agents state, shared by bedrock-agent (control plane) and bedrock-agent-runtime."""
        from outcrop.kms.sealed import CustomerKeys
        from outcrop.services.bedrock_agent.agents_store import AgentStore

        # agents with a customerEncryptionKeyArn keep their data sealed under data keys of that KMS key
        return AgentStore(self.data_path("bedrock-agents") / "agents.sqlite3", CustomerKeys(lambda: self.kms))

    @cached_property
    def bedrock_sessions(self) -> SessionStore:
        """Bedrock session management's sessions, shared by bedrock-agent-runtime and the `iam` authorizer
        (a session's customer managed key asks KMS permissions of the caller)."""
        from outcrop.kms.sealed import CustomerKeys
        from outcrop.services.bedrock_agent_runtime.session_store import SessionStore

        return SessionStore(
            self.data_path("bedrock-agents") / "sessions.sqlite3", CustomerKeys(lambda: self.kms)
        )

    @cached_property
    def prompt_flows(self) -> AgentResourceStore:
        """Prompt management and flows, shared by bedrock-agent (which writes them), bedrock-agent-runtime
        (InvokeFlow) and bedrock-runtime (a prompt ARN as a Converse modelId)."""
        from outcrop.services.bedrock_agent.resource_store import AgentResourceStore

        return AgentResourceStore(self.data_path("bedrock-agent") / "prompts-flows.sqlite3")

    @cached_property
    def sagemaker_hosting(self) -> EndpointHosting:
        """SageMaker endpoints' workers, shared by `sagemaker` (deploy) and `sagemaker-runtime` (invoke)."""
        from outcrop.services.sagemaker.hosting import EndpointHosting
        from outcrop.services.sagemaker.serving.endpoint import Limits

        limits = Limits(
            load_timeout=self.settings.sagemaker_load_timeout,
            invoke_timeout=self.settings.sagemaker_invoke_timeout,
            max_models=self.settings.sagemaker_max_models,
        )
        return EndpointHosting(
            objects=self.objects,
            logs=self.logs,
            root=self.data_path("sagemaker", "hosting"),
            limits=limits,
            account_id=self.settings.account_id,
            region=self.settings.region,
            execution_roles=self.execution_roles if self.settings.auth == "iam" else None,
        )

    @cached_property
    def lambda_functions(self) -> FunctionRegistry:
        """The functions of the apps served, shared by `lambda` (Invoke) and the API Gateway routes, so
        both run the same functions in the same warm workers."""
        from outcrop.lambdas.registry import FunctionRegistry

        return FunctionRegistry(
            settings=self.settings,
            objects=self.objects,
            logs=self.logs,
            root=self.data_path("lambda"),
            execution_roles=self.execution_roles if self.settings.auth == "iam" else None,
        )

    @cached_property
    def execution_roles(self) -> ExecutionRoles:
        """The role sessions functions and jobs run with (under `auth = "iam"`; elsewhere none)."""
        from outcrop.iam.execution import ExecutionRoles

        return ExecutionRoles(self.iam, enabled=self.settings.auth == "iam")

    def close(self) -> None:
        """Close the shared parts that were created, users before what they use: functions and endpoints
        write to the object and log stores as they stop, so those close last. The models' worker threads and
        child processes (llama.cpp, piper, apertium) stop with the registry."""
        shared = (
            "lambda_functions",
            "sagemaker_hosting",
            "knowledge_bases",
            "agents",
            "bedrock_sessions",
            "prompt_flows",
            "guardrails",
            "models",
            "inference_profiles",
            "bucket_policies",
        )
        # the audit log's writer resolves callers' keys in the IAM store as it builds queued records
        for name in (*shared, "audit", "iam", "objects", "logs", "kms"):
            part = self.__dict__.get(name)
            if part is not None:
                part.close()

    def data_path(self, *parts: str) -> Path:
        """A folder under the data dir, created on first ask."""
        path = self.settings.data_dir.joinpath(*parts)
        path.mkdir(parents=True, exist_ok=True)
        return path
