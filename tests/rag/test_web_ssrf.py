"""The crawler cannot be turned against the network it runs in: private, loopback, link-local (metadata)
addresses are refused unless the server allows them, redirects leave neither the scope nor the allowed
addresses, and a WEB data source says so in its ingestion job's failure reasons."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from outcrop.rag import web
from outcrop.rag.web import address_kind, crawl, crawl_settings
from tests.rag.web_site import web_site
from tests.server import RunningServer
from tests.services.knowledge_bases import create_knowledge_base, ingest


class _Site(BaseHTTPRequestHandler):
    """`.../go?to=URL` redirects there; any other path is a small page. Every path asked is recorded."""

    asked: list[str]

    def do_GET(self) -> None:
        self.asked.append(self.path)
        if "go?to=" in self.path:
            self.send_response(302)
            self.send_header("Location", self.path.partition("go?to=")[2])
            self.end_headers()
            return
        body = f"<html><body><p>Page {self.path}</p></body></html>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def site(address: str = "127.0.0.1", port: int = 0) -> Iterator[tuple[str, list[str]]]:
    asked: list[str] = []
    handler = type("Handler", (_Site,), {"asked": asked})
    server = ThreadingHTTPServer((address, port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{address}:{server.server_address[1]}", asked
    finally:
        server.shutdown()
        server.server_close()


def run(seed: str, *, allow_private: bool, **crawler: Any) -> tuple[list[str], list[tuple[str, str]]]:
    configuration = {
        "sourceConfiguration": {"urlConfiguration": {"seedUrls": [{"url": seed}]}},
        "crawlerConfiguration": crawler,
    }
    refused: list[tuple[str, str]] = []
    settings = crawl_settings(configuration, allow_private=allow_private)
    pages = [page.url for page in crawl(settings, sleep=lambda _: None, refused=lambda *r: refused.append(r))]
    return pages, refused


def test_address_kinds() -> None:
    assert address_kind("127.0.0.1") == "loopback" and address_kind("::1") == "loopback"
    assert address_kind("::ffff:127.0.0.1") == "loopback"
    assert address_kind("169.254.169.254") == "link-local (cloud metadata)"
    assert address_kind("fe80::1%eth0") == "link-local (cloud metadata)"
    assert address_kind("10.1.2.3") == "private" and address_kind("192.168.0.1") == "private"
    assert address_kind("fd00:ec2::254") == "private"  # EC2's IPv6 metadata address
    assert address_kind("100.100.100.200") == "non-public"  # shared address space (Alibaba's metadata)
    assert address_kind("0.0.0.0") is not None
    assert address_kind("93.184.215.14") is None and address_kind("2606:4700::1111") is None


def test_loopback_seed_is_refused_without_a_connection() -> None:
    with site() as (base, asked):
        pages, refused = run(f"{base}/docs/a.html", allow_private=False)
        assert pages == [] and asked == []  # not even robots.txt was asked
        assert len(refused) == 1 and refused[0][0] == f"{base}/docs/a.html"
        assert "127.0.0.1, a loopback address" in refused[0][1]
        assert "crawl_private_targets" in refused[0][1]
        pages, refused = run(f"{base}/docs/a.html", allow_private=True)
        assert pages == [f"{base}/docs/a.html"] and refused == []


def test_localhost_by_name_is_refused_too() -> None:
    with site() as (base, asked):
        seed = base.replace("127.0.0.1", "localhost") + "/a.html"
        pages, refused = run(seed, allow_private=False)
        assert pages == [] and asked == [] and "loopback" in refused[0][1]


def test_redirect_to_another_host_or_port_is_not_followed() -> None:
    with site() as (base, _), site() as (other, other_asked):
        pages, refused = run(f"{base}/docs/go?to={other}/docs/inside.html", allow_private=True)
        assert pages == [] and other_asked == []
        assert "outside the crawl's scope" in refused[0][1] and other in refused[0][1]
        # in scope, the redirect is followed and the page is kept under its final URL
        pages, refused = run(f"{base}/docs/go?to=/docs/b.html", allow_private=True)
        assert pages == [f"{base}/docs/b.html"] and refused == []
        # HOST_ONLY keeps the host and port: another port is another host
        pages, refused = run(f"{base}/go?to={other}/x.html", allow_private=True, scope="HOST_ONLY")
        assert pages == [] and other_asked == []


def test_every_redirect_hop_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """A public name's redirect to an in-scope name that resolves inside (SUBDOMAINS scope) is refused at
    that hop, before a connection (127.0.0.1 stands for a public address here, 127.0.0.2 for an internal)."""
    real_getaddrinfo, real_kind = socket.getaddrinfo, web.address_kind
    names = {"site.test": "127.0.0.1", "inner.site.test": "127.0.0.2"}

    def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        return real_getaddrinfo(names.get(host, host), port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(web, "address_kind", lambda a: None if a == "127.0.0.1" else real_kind(a))
    with site() as (base, asked):
        port = base.rsplit(":", 1)[1]
        with site("127.0.0.2", int(port)) as (_, inner_asked):
            target = f"http://inner.site.test:{port}/secret.html"
            pages, refused = run(
                f"http://site.test:{port}/go?to={target}", allow_private=False, scope="SUBDOMAINS"
            )
            assert pages == [] and inner_asked == []
            assert refused == [(target, refused[0][1])]
            assert "127.0.0.2, a loopback address" in refused[0][1]
            assert any("go?to=" in path for path in asked)  # the public hop itself was crawled


def test_web_data_source_reports_refused_addresses(tmp_path: Path) -> None:
    """A server on default settings (the shared test servers opt in to private targets)."""
    server = RunningServer(tmp_path / "data").start()
    try:
        agent = server.client("bedrock-agent")
        with web_site(tmp_path / "site") as base:
            kb_id = create_knowledge_base(agent)
            seeds = [{"url": f"{base}/docs/index.html"}, {"url": "http://169.254.169.254/latest/meta-data/"}]
            configuration = {
                "type": "WEB",
                "webConfiguration": {"sourceConfiguration": {"urlConfiguration": {"seedUrls": seeds}}},
            }
            ds = agent.create_data_source(
                knowledgeBaseId=kb_id, name="inside", dataSourceConfiguration=configuration
            )
            job = ingest(agent, kb_id, ds["dataSource"]["dataSourceId"])
        assert job["statistics"]["numberOfNewDocumentsIndexed"] == 0
        assert job["statistics"]["numberOfDocumentsFailed"] == 2
        reasons = job["failureReasons"]
        assert any(f"{base}/docs/index.html" in r and "loopback" in r for r in reasons), reasons
        assert any("169.254.169.254" in r and "link-local (cloud metadata)" in r for r in reasons), reasons
        assert all("crawl_private_targets" in r for r in reasons)
    finally:
        server.stop()
