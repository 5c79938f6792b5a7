"""The web crawler against a local http.server: scope, filters, robots.txt and the rate limit. The site is on
127.0.0.1, so these crawls opt in to private targets as the server's crawl_private_targets setting does."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from outcrop.rag.web import CrawlConfigError, crawl, crawl_settings, in_scope
from tests.rag.web_site import web_site


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with web_site(tmp_path_factory.mktemp("site")) as base:
        yield base


def configuration(seed: str, **crawler: object) -> dict[str, object]:
    return {
        "sourceConfiguration": {"urlConfiguration": {"seedUrls": [{"url": seed}]}},
        "crawlerConfiguration": crawler,
    }


def paths(base: str, **crawler: object) -> list[str]:
    settings = crawl_settings(configuration(f"{base}/docs/index.html", **crawler), allow_private=True)
    return [page.url.removeprefix(base) for page in crawl(settings, sleep=lambda _: None)]


def test_default_scope_follows_same_path_links_and_obeys_robots(site: str) -> None:
    assert paths(site) == [
        "/docs/index.html",
        "/docs/volcano.html",
        "/docs/coffee.html",
        "/docs/skip-me.html",
    ]


def test_host_only_scope_and_filters(site: str) -> None:
    found = paths(site, scope="HOST_ONLY", exclusionFilters=[".*skip.*"])
    assert found == ["/docs/index.html", "/docs/volcano.html", "/docs/coffee.html", "/other/outside.html"]
    included = paths(site, inclusionFilters=[r"index\.html$", "volcano"])
    assert included == ["/docs/index.html", "/docs/volcano.html"]


def test_rate_limit_and_max_pages(site: str) -> None:
    waits: list[float] = []
    settings = crawl_settings(
        configuration(f"{site}/docs/index.html", crawlerLimits={"rateLimit": 60, "maxPages": 2}),
        allow_private=True,
    )
    pages = list(crawl(settings, sleep=waits.append))
    assert len(pages) == 2
    assert waits and all(0 < wait <= 1.0 for wait in waits)  # 60 pages a minute: a second apart


def test_subdomain_scope() -> None:
    seed = "https://example.com/docs/a.html"
    assert in_scope("https://docs.example.com/x", seed, "SUBDOMAINS")
    assert not in_scope("https://docs.example.com/x", seed, "HOST_ONLY")
    assert in_scope("https://example.com/blog", seed, "HOST_ONLY")
    assert not in_scope("https://example.com/blog", seed, None)
    assert in_scope("https://example.com/docs/b.html", seed, None)
    assert not in_scope("https://notexample.com/docs/b.html", seed, "SUBDOMAINS")


def test_invalid_configurations() -> None:
    with pytest.raises(CrawlConfigError):
        crawl_settings({"sourceConfiguration": {"urlConfiguration": {"seedUrls": []}}})
    with pytest.raises(CrawlConfigError):
        crawl_settings(configuration("ftp://example.com/"))
    with pytest.raises(CrawlConfigError, match="regular expression"):
        crawl_settings(configuration("https://example.com/", inclusionFilters=["(unclosed"]))
