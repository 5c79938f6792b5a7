"""Ingestion jobs: a stop issued at the earliest moment is refused (the job had ended) or honoured
(STOPPING, then STOPPED), never accepted and then lost to COMPLETE, nor to FAILED by a restart; a deleted
data source gets no job."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from outcrop.rag.kbstore import KnowledgeBaseStore
from tests.services.knowledge_bases import create_data_source, create_knowledge_base, fill_bucket


@pytest.fixture
def agent(client: Callable[..., Any]) -> Any:
    return client("bedrock-agent")


def _final(agent: Any, kb_id: str, ds_id: str, job_id: str, seen: list[str]) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = agent.get_ingestion_job(knowledgeBaseId=kb_id, dataSourceId=ds_id, ingestionJobId=job_id)
        seen.append(job["ingestionJob"]["status"])
        if seen[-1] not in ("STARTING", "IN_PROGRESS", "STOPPING"):
            return seen[-1]
        time.sleep(0.05)
    raise AssertionError(f"ingestion job {job_id} still {seen[-1]} after 60 s")


def test_a_stop_at_the_earliest_moment_is_honoured_or_refused(agent: Any, client: Callable[..., Any]) -> None:
    kb_id = create_knowledge_base(agent)
    few = {f"docs/note-{n}.txt": f"Note number {n}.".encode() for n in range(3)}
    ds_id = create_data_source(agent, kb_id, fill_bucket(client("s3"), few))
    for _ in range(3):
        job_id = agent.start_ingestion_job(knowledgeBaseId=kb_id, dataSourceId=ds_id)["ingestionJob"][
            "ingestionJobId"
        ]
        seen: list[str] = []
        try:
            answer = agent.stop_ingestion_job(
                knowledgeBaseId=kb_id, dataSourceId=ds_id, ingestionJobId=job_id
            )
        except ClientError as refused:  # it had already ended: the stop changes nothing
            assert refused.response["Error"]["Code"] == "ConflictException"
            assert "COMPLETE" in refused.response["Error"]["Message"]
            assert _final(agent, kb_id, ds_id, job_id, seen) == "COMPLETE"
            continue
        assert answer["ingestionJob"]["status"] == "STOPPING"
        assert _final(agent, kb_id, ds_id, job_id, seen) == "STOPPED"
        assert "IN_PROGRESS" not in seen  # once accepted, the stop shows until the job ends
    agent.delete_knowledge_base(knowledgeBaseId=kb_id)


def test_no_job_runs_on_a_deleted_data_source(agent: Any, client: Callable[..., Any]) -> None:
    kb_id = create_knowledge_base(agent)
    ds_id = create_data_source(agent, kb_id, fill_bucket(client("s3")))
    agent.delete_data_source(knowledgeBaseId=kb_id, dataSourceId=ds_id)
    with pytest.raises(ClientError) as missing:
        agent.start_ingestion_job(knowledgeBaseId=kb_id, dataSourceId=ds_id)
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    agent.delete_knowledge_base(knowledgeBaseId=kb_id)


def test_jobs_a_restart_cut_short_end_stopped_if_a_stop_was_accepted(tmp_path: Path) -> None:
    store = KnowledgeBaseStore(tmp_path)
    stopped, running = store.add_job("KB1", "DS1", None), store.add_job("KB1", "DS2", None)
    assert store.stop_job(stopped.id) and not store.stop_job("no-such-job")
    store.close()  # the server stops with both running, one of them asked to stop
    store = KnowledgeBaseStore(tmp_path)
    assert getattr(store.job("KB1", "DS1", stopped.id), "status", None) == "STOPPED"
    assert getattr(store.job("KB1", "DS2", running.id), "status", None) == "FAILED"
    assert not store.stop_job(stopped.id)  # an ended job refuses a stop
    store.close()
