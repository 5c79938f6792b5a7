"""Data sources with a customer managed key (`serverSideEncryptionConfiguration.kmsKeyArn`): each gets a
data key under that KMS key when it is created (encryption context `knowledgeBaseArn` = its knowledge base's
ARN), kept only sealed in the data source's stored body; the chunks it ingests are sealed with it
(`rag.sealed`), and every search that returns them opens it through KMS again, so a disabled key stops
Retrieve (AccessDeniedException) and ingestion (the job fails, saying why), as on AWS.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from outcrop.kms.errors import KmsError
from outcrop.kms.sealed import CustomerKeys
from outcrop.protocol.errors import AccessDeniedException, ValidationException
from outcrop.rag.kbstore import DataSource, KnowledgeBase
from outcrop.rag.sealed import SealedVectors
from outcrop.storage.vectors import VectorStore

CONTEXT_KEY = "knowledgeBaseArn"
SEALED_KEY = "_dataKey"  # the data source body's sealed data key (never shown: views drop "_" members)


def kb_arn(kb: KnowledgeBase) -> str:
    return str(
        kb.body.get("knowledgeBaseArn") or f"arn:aws:bedrock:{kb.region}:{kb.account}:knowledge-base/{kb.id}"
    )


def wanted_key(params: dict[str, Any]) -> str | None:
    return (params.get("serverSideEncryptionConfiguration") or {}).get("kmsKeyArn") or None


class DataSourceKeys:
    def __init__(
        self,
        keys: CustomerKeys,
        data_source: Callable[[str, str], DataSource | None],
        data_sources: Callable[[str], list[DataSource]] | None = None,
    ) -> None:
        """`data_source(kb_id, ds_id)` finds a stored data source and `data_sources(kb_id)` lists a knowledge
        base's (the knowledge-base store's lookups); without the list, keyword search sees no sealed chunk."""
        self.keys = keys
        self.data_source = data_source
        self.data_sources = data_sources

    def new_key(self, kb: KnowledgeBase, key_ref: str) -> dict[str, str]:
        """The members a data source keeps for its key; a key KMS refuses is a ValidationException."""
        try:
            _, _, sealed = self.keys.new_data_key(kb.account, kb.region, key_ref, {CONTEXT_KEY: kb_arn(kb)})
        except KmsError as exc:
            raise ValidationException(
                f"The KMS key {key_ref} cannot be used to encrypt the data source: {exc.code}: {exc.message}"
            ) from exc
        return {SEALED_KEY: base64.b64encode(sealed).decode()}

    def wrap(self, kb: KnowledgeBase, store: VectorStore) -> VectorStore:
        """The knowledge base's chunk store, sealing and opening its keyed data sources' chunks."""

        def opener(ds_id: str) -> bytes | None:
            ds = self.data_source(kb.id, ds_id)
            if ds is None or SEALED_KEY not in ds.body:
                return None
            key_arn = wanted_key(ds.body)
            try:
                return self.keys.open_data_key(
                    kb.account, kb.region, base64.b64decode(ds.body[SEALED_KEY]), {CONTEXT_KEY: kb_arn(kb)}
                )
            except KmsError as exc:
                raise AccessDeniedException(
                    f"Amazon Bedrock cannot decrypt the data of data source {ds_id} with the KMS key "
                    f"{key_arn}: {exc.code}: {exc.message}"
                ) from exc

        def keyed() -> list[str]:
            listed = self.data_sources(kb.id) if self.data_sources is not None else []
            return [ds.id for ds in listed if SEALED_KEY in ds.body]

        return SealedVectors(store, opener, keyed)
