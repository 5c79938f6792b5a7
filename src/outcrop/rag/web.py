"""WEB data sources: crawl from seed URLs with httpx, as Bedrock's web crawler does, politely.

Scope: the default keeps to the seed's host and the seed's path; HOST_ONLY keeps to the seed's host;
SUBDOMAINS also follows the seed's host's subdomains. Inclusion and exclusion filters are regular expressions
searched in the URL (exclusion wins). robots.txt is obeyed for our user agent; `crawlerLimits.rateLimit` is
pages per minute per host, `maxPages` bounds the crawl. Pages are returned as bytes for `parse_document`.
"""

from __future__ import annotations

import re
import time
import urllib.robotparser
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

import httpx

USER_AGENT = "bedrockbot-outcrop"
DEFAULT_RATE_LIMIT = 300  # pages per minute per host, Bedrock's maximum
DEFAULT_MAX_PAGES = 1000
TIMEOUT = 10.0
PAGE_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "application/pdf", "text/markdown")


class CrawlConfigError(ValueError):
    """The webConfiguration is invalid (the service answers ValidationException)."""


@dataclass(frozen=True)
class CrawlSettings:
    seeds: tuple[str, ...]
    scope: str | None = None
    rate_limit: int = DEFAULT_RATE_LIMIT
    max_pages: int = DEFAULT_MAX_PAGES
    inclusion: tuple[re.Pattern[str], ...] = ()
    exclusion: tuple[re.Pattern[str], ...] = ()
    user_agent: str = USER_AGENT


@dataclass(frozen=True)
class Page:
    url: str
    content: bytes
    content_type: str


def crawl_settings(configuration: Mapping[str, Any]) -> CrawlSettings:
    """Read `dataSourceConfiguration.webConfiguration`; CrawlConfigError when invalid."""
    seeds = [
        str(seed.get("url", ""))
        for seed in configuration.get("sourceConfiguration", {})
        .get("urlConfiguration", {})
        .get("seedUrls", [])
    ]
    if not seeds:
        raise CrawlConfigError("A WEB data source needs at least one seed URL.")
    for seed in seeds:
        if urlsplit(seed).scheme not in ("http", "https") or not urlsplit(seed).hostname:
            raise CrawlConfigError(f"The seed URL {seed!r} is not an http(s) URL.")
    crawler = configuration.get("crawlerConfiguration") or {}
    limits = crawler.get("crawlerLimits") or {}
    try:
        inclusion = tuple(re.compile(pattern) for pattern in crawler.get("inclusionFilters") or [])
        exclusion = tuple(re.compile(pattern) for pattern in crawler.get("exclusionFilters") or [])
    except re.error as error:
        raise CrawlConfigError(f"A crawler filter is not a valid regular expression: {error}") from error
    scope = crawler.get("scope")
    if scope not in (None, "HOST_ONLY", "SUBDOMAINS"):
        raise CrawlConfigError(f"scope must be HOST_ONLY or SUBDOMAINS, got {scope!r}")
    return CrawlSettings(
        tuple(seeds),
        scope,
        int(limits.get("rateLimit") or DEFAULT_RATE_LIMIT),
        int(limits.get("maxPages") or DEFAULT_MAX_PAGES),
        inclusion,
        exclusion,
        str(crawler.get("userAgent") or USER_AGENT),
    )


def in_scope(url: str, seed: str, scope: str | None) -> bool:
    """Whether `url` may be crawled from `seed` under `scope`."""
    target, origin = urlsplit(url), urlsplit(seed)
    host, seed_host = target.hostname or "", origin.hostname or ""
    if scope == "SUBDOMAINS":
        return host == seed_host or host.endswith("." + seed_host)
    if host != seed_host or target.port != origin.port:
        return False
    if scope == "HOST_ONLY":
        return True
    base = origin.path.rsplit("/", 1)[0] + "/" if origin.path else "/"
    return target.path.startswith(base) or target.path == origin.path


def wanted(url: str, settings: CrawlSettings) -> bool:
    """The inclusion and exclusion filters (exclusion wins; no inclusion filter includes everything)."""
    if any(pattern.search(url) for pattern in settings.exclusion):
        return False
    return not settings.inclusion or any(pattern.search(url) for pattern in settings.inclusion)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.links.append(href)


def links(html: str, base: str) -> list[str]:
    parser = _Links()
    parser.feed(html)
    found = []
    for href in parser.links:
        url = urldefrag(urljoin(base, href.strip())).url
        if urlsplit(url).scheme in ("http", "https"):
            found.append(url)
    return found


@dataclass
class _Robots:
    client: httpx.Client
    user_agent: str
    parsers: dict[str, urllib.robotparser.RobotFileParser] = field(default_factory=dict)

    def allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        parser = self.parsers.get(origin)
        if parser is None:
            parser = urllib.robotparser.RobotFileParser()
            try:
                response = self.client.get(origin + "/robots.txt")
                parser.parse(response.text.splitlines() if response.status_code == 200 else [])
            except httpx.HTTPError:
                parser.parse([])
            self.parsers[origin] = parser
        return parser.can_fetch(self.user_agent, url)


def crawl(
    settings: CrawlSettings,
    client: httpx.Client | None = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
    stop: Callable[[], bool] = lambda: False,
) -> Iterator[Page]:
    """Pages in breadth-first order from the seeds, each fetched once; failed fetches are skipped."""
    own = client is None
    http = client or httpx.Client(
        timeout=TIMEOUT, follow_redirects=True, headers={"User-Agent": settings.user_agent}
    )
    robots = _Robots(http, settings.user_agent)
    interval = 60.0 / settings.rate_limit
    last_fetch: dict[str, float] = {}
    queue = deque((seed, seed) for seed in settings.seeds)
    seen = set(settings.seeds)
    fetched = 0
    try:
        while queue and fetched < settings.max_pages and not stop():
            url, seed = queue.popleft()
            if not wanted(url, settings) or not robots.allowed(url):
                continue
            host = urlsplit(url).netloc
            wait = last_fetch.get(host, -interval) + interval - time.monotonic()
            if wait > 0:
                sleep(wait)
            last_fetch[host] = time.monotonic()
            try:
                response = http.get(url)
            except httpx.HTTPError:
                continue
            fetched += 1
            content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if response.status_code != 200 or content_type not in PAGE_TYPES:
                continue
            yield Page(str(response.url), response.content, content_type)
            if content_type in ("text/html", "application/xhtml+xml"):
                for link in links(response.text, str(response.url)):
                    if link not in seen and in_scope(link, seed, settings.scope):
                        seen.add(link)
                        queue.append((link, seed))
    finally:
        if own:
            http.close()
