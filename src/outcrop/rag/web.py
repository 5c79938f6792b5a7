"""WEB data sources: crawl from seed URLs with httpx, as Bedrock's web crawler does, politely.

Scope: the default keeps to the seed's host and the seed's path; HOST_ONLY keeps to the seed's host;
SUBDOMAINS also follows the seed's host's subdomains. Inclusion and exclusion filters are regular expressions
searched in the URL (exclusion wins). robots.txt is obeyed for our user agent; `crawlerLimits.rateLimit` is
pages per minute per host, `maxPages` bounds the crawl. Pages are returned as bytes for `parse_document`.

A crawl never leaves its scope, redirects included (each hop is checked; one out of scope is not followed),
and never reaches a private, loopback, link-local (cloud metadata) or otherwise non-public address unless
the server's `crawl_private_targets` setting allows it: every connection resolves the host itself and
checks each address it would connect to, so a name rebound between check and connect cannot slip through.
What is refused is reported through `refused(url, reason)`, which ingestion turns into failure reasons.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import time
import urllib.robotparser
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

import httpcore
import httpx

USER_AGENT = "bedrockbot-outcrop"
DEFAULT_RATE_LIMIT = 300  # pages per minute per host, Bedrock's maximum
DEFAULT_MAX_PAGES = 1000
TIMEOUT = 10.0
PAGE_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "application/pdf", "text/markdown")
MAX_REDIRECTS = 10
ALLOW_SETTING = "set crawl_private_targets = true (OUTCROP_CRAWL_PRIVATE_TARGETS) to crawl such addresses"


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
    allow_private: bool = False  # the server's crawl_private_targets setting


@dataclass(frozen=True)
class Page:
    url: str
    content: bytes
    content_type: str


def crawl_settings(configuration: Mapping[str, Any], *, allow_private: bool = False) -> CrawlSettings:
    """Read `dataSourceConfiguration.webConfiguration`; CrawlConfigError when invalid. `allow_private` is
    the server's setting, never the caller's: a data source cannot opt itself into internal addresses."""
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
        allow_private,
    )


class RefusedAddress(httpcore.ConnectError):
    """A crawl target whose address is not public, refused before any connection is made."""


def address_kind(text: str) -> str | None:
    """What makes an address off-limits to a crawl (None: a public address)."""
    address = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local (cloud metadata)"
    if address.is_private:
        return "private"
    if address.is_multicast or address.is_unspecified or address.is_reserved or not address.is_global:
        return "non-public"
    return None


def checked_addresses(host: str, port: int, allow_private: bool) -> list[str]:
    """The addresses `host` resolves to, every one of them public unless private ones are allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise httpcore.ConnectError(f"{host} could not be resolved: {error}") from error
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    for address in [] if allow_private else addresses:
        kind = address_kind(address)
        if kind is not None:
            raise RefusedAddress(f"{host} resolves to {address}, a {kind} address; {ALLOW_SETTING}")
    return addresses


class _GuardedBackend(httpcore.NetworkBackend):
    """Connects only to the addresses `checked_addresses` approved, resolving once per connection."""

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        failure: Exception = httpcore.ConnectError(f"{host} has no address")
        for address in checked_addresses(host, port, self.allow_private):
            try:
                return self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error
        raise failure

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class _GuardedTransport(httpx.HTTPTransport):
    def __init__(self, allow_private: bool) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=10,
            keepalive_expiry=5.0,
            network_backend=_GuardedBackend(allow_private),
        )


def crawl_client(settings: CrawlSettings) -> httpx.Client:
    """The crawler's HTTP client: no proxies from the environment, redirects followed by hand."""
    return httpx.Client(
        timeout=TIMEOUT,
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": settings.user_agent},
        transport=_GuardedTransport(settings.allow_private),
    )


def _refusal(error: BaseException) -> str | None:
    """The reason an address was refused, from the httpx error that carries it."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, RefusedAddress):
            return f"not crawled: {cause}"
        cause = cause.__cause__ or cause.__context__
    return None


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


def _fetch(
    http: httpx.Client,
    url: str,
    seed: str,
    settings: CrawlSettings,
    robots: _Robots,
    refused: Callable[[str, str], None],
) -> httpx.Response | None:
    """GET `url`, following redirects only while they stay in the crawl's scope (None: nothing to read)."""
    for _ in range(MAX_REDIRECTS + 1):
        try:
            response = http.get(url)
        except httpx.HTTPError as error:
            reason = _refusal(error)
            if reason is not None:
                refused(url, reason)
            return None
        if not response.is_redirect:
            return response
        target = urldefrag(urljoin(str(response.url), response.headers["location"].strip())).url
        if urlsplit(target).scheme not in ("http", "https") or not in_scope(target, seed, settings.scope):
            refused(
                url, f"it redirects to {target}, outside the crawl's scope: the redirect was not followed"
            )
            return None
        if not wanted(target, settings) or not robots.allowed(target):
            return None
        url = target
    refused(url, f"more than {MAX_REDIRECTS} redirects")
    return None


def crawl(
    settings: CrawlSettings,
    client: httpx.Client | None = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
    stop: Callable[[], bool] = lambda: False,
    refused: Callable[[str, str], None] = lambda url, reason: None,
) -> Iterator[Page]:
    """Pages in breadth-first order from the seeds, each fetched once; failed fetches are skipped, and
    refused ones (an address not allowed, a redirect out of scope) reported. A given `client` must guard
    addresses itself: only `crawl_client` does."""
    own = client is None
    http = client or crawl_client(settings)
    robots = _Robots(http, settings.user_agent)
    yielded: set[str] = set()
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
            response = _fetch(http, url, seed, settings, robots, refused)
            if response is None:
                continue
            fetched += 1
            content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if response.status_code != 200 or content_type not in PAGE_TYPES or str(response.url) in yielded:
                continue
            yielded.add(str(response.url))
            yield Page(str(response.url), response.content, content_type)
            if content_type in ("text/html", "application/xhtml+xml"):
                for link in links(response.text, str(response.url)):
                    if link not in seen and in_scope(link, seed, settings.scope):
                        seen.add(link)
                        queue.append((link, seed))
    finally:
        if own:
            http.close()
