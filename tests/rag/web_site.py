"""A small local web site for the crawler tests, served by http.server in a thread (never the internet)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.services.knowledge_bases import VOLCANO

PAGES = {
    "robots.txt": "User-agent: *\nDisallow: /docs/secret/\n",
    "docs/index.html": (
        "<html><body><h1>Index</h1><p>Welcome to the test site about many things.</p>"
        '<a href="volcano.html">volcanoes</a> <a href="/docs/coffee.html#brew">coffee</a> '
        '<a href="secret/hidden.html">hidden</a> <a href="skip-me.html">skip</a> '
        '<a href="/other/outside.html">outside</a> <a href="https://example.com/">away</a></body></html>'
    ),
    "docs/volcano.html": f"<html><head><title>Volcanoes</title></head><body><p>{VOLCANO}</p></body></html>",
    "docs/coffee.html": (
        "<html><body><p>A pour-over needs water at ninety-four degrees and a medium-fine grind.</p>"
        '<a href="index.html">home</a></body></html>'
    ),
    "docs/secret/hidden.html": "<html><body><p>Robots must never read this secret page.</p></body></html>",
    "docs/skip-me.html": "<html><body><p>The exclusion filter drops this page.</p></body></html>",
    "other/outside.html": "<html><body><p>Outside the seed's path, inside its host.</p></body></html>",
}


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def web_site(root: Path) -> Iterator[str]:
    """Serve PAGES from `root`; yields the base URL (http://127.0.0.1:port)."""
    for name, text in PAGES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
