"""Agents for Amazon Bedrock, the Knowledge Bases control plane: knowledge bases, data sources, jobs.

State lives in the knowledge base store shared with bedrock-agent-runtime (SQLite in the data dir, closed by
the server); ingestion runs in background threads (rag/ingest.py). Vectors are stored at the embedding
model's native size, the same size Retrieve queries with, whatever `dimensions` the knowledge base's
configuration names.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from outcrop.config import Settings
from outcrop.inference import Caller, Inference, backend_errors
from outcrop.kms.keys import Keyring
from outcrop.kms.sealed import CustomerKeys
from outcrop.lambdas.registry import FunctionRegistry
from outcrop.protocol.errors import (
    ConflictException,
    ResourceNotFoundException,
    ServiceUnavailableException,
    ValidationException,
)
from outcrop.rag.chunking import ChunkingConfigError, chunk_text, whitespace_tokens
from outcrop.rag.documents import DocumentIngestor, DocumentRequestError, identifier_key, identifier_of
from outcrop.rag.ingest import Ingestor, bucket_of, document_id, start_job
from outcrop.rag.kbstore import DataSource, IngestionJob, KnowledgeBase, KnowledgeBaseStore, new_id
from outcrop.rag.retrieve import knowledge_base_embedder
from outcrop.rag.web import CrawlConfigError, crawl_settings
from outcrop.services.base import RequestContext, Service
from outcrop.services.bedrock_agent.agents_groups import ActionGroupOperations
from outcrop.services.bedrock_agent.agents_store import AgentStore
from outcrop.services.bedrock_agent.flows import FlowOperations
from outcrop.services.bedrock_agent.kb_sealing import DataSourceKeys, wanted_key
from outcrop.services.bedrock_agent.paging import PAGES as _PAGES
from outcrop.services.bedrock_agent.prompts import PromptOperations
from outcrop.services.bedrock_agent.resource_store import AgentResourceStore
from outcrop.storage.objects import ObjectStore

LANCE_STORAGE = ("OPENSEARCH_SERVERLESS", "OPENSEARCH_MANAGED_CLUSTER", "S3_VECTORS")
PGVECTOR_STORAGE = ("RDS",)
_SAMPLE = "Outcrop checks a chunking configuration on this text. It has two sentences."


def _time(stamp: float) -> datetime:
    return datetime.fromtimestamp(stamp, UTC)


class BedrockAgent(ActionGroupOperations, PromptOperations, FlowOperations, Service):
    service_name = "bedrock-agent"

    def __init__(
        self,
        *,
        inference: Inference,
        knowledge_bases: KnowledgeBaseStore,
        objects: ObjectStore,
        agents: AgentStore,
        lambda_functions: FunctionRegistry,
        prompt_flows: AgentResourceStore,
        settings: Settings,
        kms: Keyring,
    ) -> None:
        self.inference = inference
        self.crawl_private_targets = settings.crawl_private_targets  # WEB data sources (rag/web.py)
        self.store = knowledge_bases
        self.objects = objects
        self.agents = agents
        self.lambda_functions = lambda_functions
        self.prompt_flows = prompt_flows  # prompt management and flows (prompts.py, flows.py)
        # data sources with a kmsKeyArn: a data key each, which the chunk store seals their chunks with
        self.ds_keys = DataSourceKeys(CustomerKeys(lambda: kms), knowledge_bases.data_source)

    # -- knowledge bases -------------------------------------------------------------------------------------

    def _kb(self, ctx: RequestContext, kb_id: str) -> KnowledgeBase:
        """A knowledge base of the request's account and region: one made elsewhere is not found here."""
        kb = self.store.knowledge_base(kb_id)
        if kb is None or (kb.account, kb.region) != (ctx.account_id, ctx.region):
            raise ResourceNotFoundException(f"Knowledge base with id {kb_id} does not exist")
        return kb

    @staticmethod
    def _kb_view(kb: KnowledgeBase, status: str = "ACTIVE") -> dict[str, Any]:
        return {**kb.body, "status": status, "createdAt": _time(kb.created), "updatedAt": _time(kb.updated)}

    def _check_kb_config(self, params: dict[str, Any]) -> tuple[str, int]:
        """Validate the configuration; returns the store kind and the vectors' (native) dimension."""
        config = params["knowledgeBaseConfiguration"]
        if config["type"] != "VECTOR" or "vectorKnowledgeBaseConfiguration" not in config:
            raise ValidationException(
                f"Knowledge base type {config['type']} is not supported here; use VECTOR with a "
                "vectorKnowledgeBaseConfiguration."
            )
        arn = config["vectorKnowledgeBaseConfiguration"]["embeddingModelArn"]
        model = self.inference.find(arn)
        if model is None or model.kind != "embedding":
            raise ValidationException(
                f"The embedding model {arn} is not an embedding model of this server's catalog."
            )
        storage = (params.get("storageConfiguration") or {}).get("type", "OPENSEARCH_SERVERLESS")
        if storage in LANCE_STORAGE:
            kind = "lance"
        elif storage in PGVECTOR_STORAGE:
            kind = "pgvector"
        else:
            supported = ", ".join((*LANCE_STORAGE, *PGVECTOR_STORAGE))
            raise ValidationException(
                f"Storage type {storage} is not supported by Outcrop; use one of {supported} "
                "(OpenSearch and S3 Vectors are served by the embedded LanceDB store, RDS by PostgreSQL)."
            )
        return kind, self.inference.embedder(Caller(), model).dimensions

    def create_knowledge_base(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        kind, dimension = self._check_kb_config(params)
        kb_id = new_id()
        body = {
            "knowledgeBaseId": kb_id,
            "name": params["name"],
            "knowledgeBaseArn": ctx.arn("bedrock", f"knowledge-base/{kb_id}"),
            "roleArn": params["roleArn"],
            "knowledgeBaseConfiguration": params["knowledgeBaseConfiguration"],
        }
        for optional in ("description", "storageConfiguration"):
            if optional in params:
                body[optional] = params[optional]
        try:
            kb = self.store.add_knowledge_base(body, kind, dimension, ctx.account_id, ctx.region)
        except KeyError as error:
            raise ConflictException(f"A knowledge base named {params['name']} already exists.") from error
        try:
            self.store.vectors(kb)
        except Exception as error:
            self.store.delete_knowledge_base(kb_id)
            raise ServiceUnavailableException(f"The vector store could not be created: {error}") from error
        self.keep_knowledge_base_tags(body["knowledgeBaseArn"], params.get("tags") or {})
        return {"knowledgeBase": self._kb_view(kb, "CREATING")}

    def get_knowledge_base(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"knowledgeBase": self._kb_view(self._kb(ctx, params["knowledgeBaseId"]))}

    def list_knowledge_bases(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        page, token = _PAGES.page(self.store.knowledge_bases(ctx.account_id, ctx.region), params)
        summaries = [
            {
                "knowledgeBaseId": kb.id,
                "name": kb.body["name"],
                "status": "ACTIVE",
                "updatedAt": _time(kb.updated),
                **({"description": kb.body["description"]} if "description" in kb.body else {}),
            }
            for kb in page
        ]
        return {"knowledgeBaseSummaries": summaries, **({"nextToken": token} if token else {})}

    def update_knowledge_base(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        kb = self._kb(ctx, params["knowledgeBaseId"])
        old = kb.body["knowledgeBaseConfiguration"]
        new = params["knowledgeBaseConfiguration"]
        if new != old:
            raise ValidationException("The knowledgeBaseConfiguration of a knowledge base cannot be changed.")
        if params.get("storageConfiguration", kb.body.get("storageConfiguration")) != kb.body.get(
            "storageConfiguration"
        ):
            raise ValidationException("The storageConfiguration of a knowledge base cannot be changed.")
        body = {**kb.body, "name": params["name"], "roleArn": params["roleArn"]}
        body.pop("description", None)
        if "description" in params:
            body["description"] = params["description"]
        self.store.update_knowledge_base(kb.id, body)
        return {"knowledgeBase": self._kb_view(self._kb(ctx, kb.id), "UPDATING")}

    def delete_knowledge_base(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        kb = self._kb(ctx, params["knowledgeBaseId"])
        with self.store.running_lock:  # held while deleting: no job starts on what is being deleted
            if any(ds.id in self.store.running for ds in self.store.data_sources(kb.id)):
                raise ConflictException("An ingestion job is running on this knowledge base.")
            self.store.delete_knowledge_base(kb.id)
        return {"knowledgeBaseId": kb.id, "status": "DELETING"}

    # -- data sources ----------------------------------------------------------------------------------------

    def _ds(self, ctx: RequestContext, kb_id: str, ds_id: str) -> DataSource:
        self._kb(ctx, kb_id)
        ds = self.store.data_source(kb_id, ds_id)
        if ds is None:
            raise ResourceNotFoundException(
                f"Data source with id {ds_id} does not exist in knowledge base {kb_id}"
            )
        return ds

    @staticmethod
    def _ds_view(ds: DataSource, status: str = "AVAILABLE") -> dict[str, Any]:
        body = {k: v for k, v in ds.body.items() if not k.startswith("_")}
        return {**body, "status": status, "createdAt": _time(ds.created), "updatedAt": _time(ds.updated)}

    @staticmethod
    def _check_ds_config(params: dict[str, Any]) -> None:
        config = params["dataSourceConfiguration"]
        if config["type"] == "CUSTOM":
            BedrockAgent._check_chunking(params)
            return
        if config["type"] == "WEB":
            try:
                crawl_settings(config.get("webConfiguration") or {})
            except CrawlConfigError as error:
                raise ValidationException(f"Invalid webConfiguration: {error}") from error
            BedrockAgent._check_chunking(params)
            return
        if config["type"] != "S3":
            raise ValidationException(
                f"Data source type {config['type']} is not supported yet; use S3, WEB or CUSTOM."
            )
        s3 = config.get("s3Configuration")
        if not s3:
            raise ValidationException("An S3 data source needs an s3Configuration with a bucketArn.")
        if not str(s3["bucketArn"]).startswith("arn:aws:s3:::"):
            raise ValidationException(
                f"bucketArn {s3['bucketArn']} is not an S3 bucket ARN (arn:aws:s3:::name)."
            )
        BedrockAgent._check_chunking(params)

    @staticmethod
    def _check_chunking(params: dict[str, Any]) -> None:
        chunking = (params.get("vectorIngestionConfiguration") or {}).get("chunkingConfiguration")
        if chunking:
            try:
                chunk_text(_SAMPLE, chunking, whitespace_tokens, lambda texts: [[1.0, 0.0] for _ in texts])
            except ChunkingConfigError as error:
                raise ValidationException(f"Invalid chunkingConfiguration: {error}") from error

    def create_data_source(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        kb = self._kb(ctx, params["knowledgeBaseId"])
        self._check_ds_config(params)
        body = {
            "knowledgeBaseId": kb.id,
            "dataSourceId": new_id(),
            "name": params["name"],
            "dataSourceConfiguration": params["dataSourceConfiguration"],
            "dataDeletionPolicy": params.get("dataDeletionPolicy", "DELETE"),
        }
        for optional in ("description", "vectorIngestionConfiguration", "serverSideEncryptionConfiguration"):
            if optional in params:
                body[optional] = params[optional]
        key = wanted_key(params)
        if key:  # its chunks are sealed under a data key of this KMS key
            body.update(self.ds_keys.new_key(kb, key))
        try:
            ds = self.store.add_data_source(kb.id, body)
        except KeyError as error:
            raise ConflictException(f"A data source named {params['name']} already exists.") from error
        return {"dataSource": self._ds_view(ds)}

    def get_data_source(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"dataSource": self._ds_view(self._ds(ctx, params["knowledgeBaseId"], params["dataSourceId"]))}

    def list_data_sources(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        kb = self._kb(ctx, params["knowledgeBaseId"])
        page, token = _PAGES.page(self.store.data_sources(kb.id), params)
        summaries = [
            {
                "knowledgeBaseId": kb.id,
                "dataSourceId": ds.id,
                "name": ds.body["name"],
                "status": "AVAILABLE",
                "updatedAt": _time(ds.updated),
                **({"description": ds.body["description"]} if "description" in ds.body else {}),
            }
            for ds in page
        ]
        return {"dataSourceSummaries": summaries, **({"nextToken": token} if token else {})}

    def update_data_source(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ds = self._ds(ctx, params["knowledgeBaseId"], params["dataSourceId"])
        self._check_ds_config(params)
        old_chunking = (ds.body.get("vectorIngestionConfiguration") or {}).get("chunkingConfiguration")
        new_chunking = (params.get("vectorIngestionConfiguration") or {}).get("chunkingConfiguration")
        if "vectorIngestionConfiguration" in params and old_chunking != new_chunking:
            raise ValidationException("The chunkingConfiguration of a data source cannot be changed.")
        if "serverSideEncryptionConfiguration" in params and wanted_key(params) != wanted_key(ds.body):
            raise ValidationException(  # its chunks are sealed under a data key of the key it was made with
                "The kmsKeyArn of a data source's serverSideEncryptionConfiguration cannot be changed."
            )
        body = {
            **ds.body,
            "name": params["name"],
            "dataSourceConfiguration": params["dataSourceConfiguration"],
            "dataDeletionPolicy": params.get(
                "dataDeletionPolicy", ds.body.get("dataDeletionPolicy", "DELETE")
            ),
        }
        for optional in ("description", "vectorIngestionConfiguration", "serverSideEncryptionConfiguration"):
            if optional in params:
                body[optional] = params[optional]
        self.store.update_data_source(ds.id, body)
        return {"dataSource": self._ds_view(self._ds(ctx, ds.kb_id, ds.id))}

    def delete_data_source(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ds = self._ds(ctx, params["knowledgeBaseId"], params["dataSourceId"])
        with self.store.running_lock:  # held while deleting: no job starts on what is being deleted
            if ds.id in self.store.running:
                raise ConflictException("An ingestion job is running on this data source.")
            keys = self.store.delete_data_source(ds.kb_id, ds.id)
        if ds.body.get("dataDeletionPolicy", "DELETE") == "DELETE" and keys:
            vectors = self.store.vectors(self._kb(ctx, ds.kb_id))
            for key in keys:
                vectors.delete_document(document_id(ds.id, key))
        return {"knowledgeBaseId": ds.kb_id, "dataSourceId": ds.id, "status": "DELETING"}

    # -- ingestion jobs --------------------------------------------------------------------------------------

    @staticmethod
    def _job_view(job: IngestionJob) -> dict[str, Any]:
        view: dict[str, Any] = {
            "knowledgeBaseId": job.kb_id,
            "dataSourceId": job.ds_id,
            "ingestionJobId": job.id,
            "status": job.status,
            "statistics": job.statistics,
            "startedAt": _time(job.started),
            "updatedAt": _time(job.updated),
        }
        if job.description:
            view["description"] = job.description
        if job.failure_reasons:
            view["failureReasons"] = job.failure_reasons
        return view

    def start_ingestion_job(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ds = self._ds(ctx, params["knowledgeBaseId"], params["dataSourceId"])
        kb = self._kb(ctx, ds.kb_id)
        if ds.body["dataSourceConfiguration"]["type"] not in ("S3", "WEB"):
            raise ValidationException(
                "Ingestion jobs run on S3 and WEB data sources; use IngestKnowledgeBaseDocuments."
            )
        embedder = knowledge_base_embedder(self.inference, Caller(ctx.access_key), kb)
        with self.store.running_lock:
            if ds.id in self.store.running:
                raise ConflictException(
                    f"An ingestion job is already running for data source {ds.id}; wait for it to finish."
                )
            self._ds(ctx, ds.kb_id, ds.id)  # deleted since it was read: not found, and no job runs on it
            self.store.running.add(ds.id)
        try:
            job = self.store.add_job(kb.id, ds.id, params.get("description"))
            private = self.crawl_private_targets
            ingestor = Ingestor(self.store, self.objects, kb, ds, embedder, job.id, private)
            start_job(ingestor, job.id)
        except BaseException:
            with self.store.running_lock:
                self.store.running.discard(ds.id)
            raise
        return {"ingestionJob": self._job_view(job)}

    def _job(self, ctx: RequestContext, params: dict[str, Any]) -> IngestionJob:
        ds = self._ds(ctx, params["knowledgeBaseId"], params["dataSourceId"])
        job = self.store.job(ds.kb_id, ds.id, params["ingestionJobId"])
        if job is None:
            raise ResourceNotFoundException(
                f"Ingestion job with id {params['ingestionJobId']} does not exist"
            )
        return job

    def get_ingestion_job(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"ingestionJob": self._job_view(self._job(ctx, params))}

    def stop_ingestion_job(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        job = self._job(ctx, params)
        if not self.store.stop_job(job.id):  # read and written together: a job that ended refuses
            status = getattr(self.store.job(job.kb_id, job.ds_id, job.id), "status", "DELETED")
            raise ConflictException(f"The ingestion job is {status}; only a running job can be stopped.")
        return {"ingestionJob": {**self._job_view(job), "status": "STOPPING"}}

    def list_ingestion_jobs(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ds = self._ds(ctx, params["knowledgeBaseId"], params["dataSourceId"])
        jobs = self.store.jobs(ds.kb_id, ds.id)
        for entry in params.get("filters") or []:
            jobs = [job for job in jobs if job.status in entry["values"]]
        sort = params.get("sortBy") or {"attribute": "STARTED_AT", "order": "DESCENDING"}
        descending = sort["order"] == "DESCENDING"
        if sort["attribute"] == "STATUS":
            jobs.sort(key=lambda job: job.status, reverse=descending)
        else:
            jobs.sort(key=lambda job: job.started, reverse=descending)
        page, token = _PAGES.page(jobs, params)
        return {
            "ingestionJobSummaries": [self._job_view(j) for j in page],
            **({"nextToken": token} if token else {}),
        }

    # -- documents -------------------------------------------------------------------------------------------

    def _document_view(
        self, ds: DataSource, key: str, status: str, reason: str | None, updated: float | None
    ) -> dict[str, Any]:
        bucket = bucket_of(ds) if ds.body["dataSourceConfiguration"]["type"] == "S3" else None
        view: dict[str, Any] = {
            "knowledgeBaseId": ds.kb_id,
            "dataSourceId": ds.id,
            "status": status,
            "identifier": identifier_of(key, ds, bucket),
        }
        if reason:
            view["statusReason"] = reason
        if updated:
            view["updatedAt"] = _time(updated)
        return view

    def ingest_knowledge_base_documents(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ds = self._ds(ctx, params["knowledgeBaseId"], params["dataSourceId"])
        kb = self._kb(ctx, ds.kb_id)
        embedder = knowledge_base_embedder(self.inference, Caller(ctx.access_key), kb)
        ingestor = DocumentIngestor(self.store, self.objects, kb, ds, embedder)
        details = []
        try:
            for entry in params["documents"]:
                with backend_errors():
                    outcome = ingestor.ingest(entry)
                details.append(
                    self._document_view(ds, outcome.key, outcome.status, outcome.reason, time.time())
                )
        except DocumentRequestError as error:
            raise ValidationException(str(error)) from error
        return {"documentDetails": details}

    def _identified(self, ctx: RequestContext, params: dict[str, Any]) -> tuple[DataSource, list[str]]:
        ds = self._ds(ctx, params["knowledgeBaseId"], params["dataSourceId"])
        try:
            return ds, [identifier_key(identifier, ds) for identifier in params["documentIdentifiers"]]
        except DocumentRequestError as error:
            raise ValidationException(str(error)) from error

    def get_knowledge_base_documents(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ds, keys = self._identified(ctx, params)
        known = self.store.documents(ds.kb_id, ds.id)
        details = []
        for key in keys:
            doc = known.get(key)
            if doc is None:
                details.append(self._document_view(ds, key, "NOT_FOUND", None, None))
            else:
                details.append(self._document_view(ds, key, doc.status, doc.reason, doc.updated))
        return {"documentDetails": details}

    def list_knowledge_base_documents(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ds = self._ds(ctx, params["knowledgeBaseId"], params["dataSourceId"])
        documents = sorted(self.store.documents(ds.kb_id, ds.id).values(), key=lambda doc: doc.key)
        page, token = _PAGES.page(documents, params)
        details = [self._document_view(ds, d.key, d.status, d.reason, d.updated) for d in page]
        return {"documentDetails": details, **({"nextToken": token} if token else {})}

    def delete_knowledge_base_documents(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        ds, keys = self._identified(ctx, params)
        vectors = self.store.vectors(self._kb(ctx, ds.kb_id))
        details = []
        for key in keys:
            vectors.delete_document(document_id(ds.id, key))
            self.store.forget_document(ds.kb_id, ds.id, key)
            details.append(self._document_view(ds, key, "DELETING", None, time.time()))
        return {"documentDetails": details}
