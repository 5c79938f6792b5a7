"""WEB data sources through boto3: crawl a local site, then Retrieve answers with WEB locations."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.rag.web_site import web_site
from tests.server import RunningServer
from tests.services.knowledge_bases import VOLCANO, create_knowledge_base, ingest


def web_source(agent: Any, kb_id: str, seed: str, **crawler: Any) -> str:
    configuration = {
        "type": "WEB",
        "webConfiguration": {
            "sourceConfiguration": {"urlConfiguration": {"seedUrls": [{"url": seed}]}},
            "crawlerConfiguration": {"crawlerLimits": {"rateLimit": 300}, **crawler},
        },
    }
    response = agent.create_data_source(
        knowledgeBaseId=kb_id, name="site", dataSourceConfiguration=configuration
    )
    return str(response["dataSource"]["dataSourceId"])


def test_web_data_source_crawls_and_retrieves(server: RunningServer, tmp_path: Path) -> None:
    agent, runtime = server.client("bedrock-agent"), server.client("bedrock-agent-runtime")
    with web_site(tmp_path) as base:
        kb_id = create_knowledge_base(agent)
        ds_id = web_source(agent, kb_id, f"{base}/docs/index.html", exclusionFilters=[".*skip.*"])
        job = ingest(agent, kb_id, ds_id)
        assert job["status"] == "COMPLETE", job
        stats = job["statistics"]
        assert stats["numberOfDocumentsScanned"] == 3 and stats["numberOfNewDocumentsIndexed"] == 3
        again = ingest(agent, kb_id, ds_id)  # unchanged pages are not indexed again
        assert again["statistics"]["numberOfNewDocumentsIndexed"] == 0
    results = runtime.retrieve(knowledgeBaseId=kb_id, retrievalQuery={"text": VOLCANO})["retrievalResults"]
    assert results[0]["location"] == {"type": "WEB", "webLocation": {"url": f"{base}/docs/volcano.html"}}
    urls = {r["location"]["webLocation"]["url"] for r in results}
    assert not any("secret" in url or "skip" in url for url in urls)


def test_web_data_source_validation(client: Callable[..., Any], server: RunningServer) -> None:
    agent = client("bedrock-agent")
    kb_id = create_knowledge_base(agent)
    with pytest.raises(ClientError) as info:
        web_source(agent, kb_id, "https://example.com/", inclusionFilters=["(unclosed"])
    assert info.value.response["Error"]["Code"] == "ValidationException"
