"""Real headless Chromium for page tests: Debian's /usr/bin/chromium via Playwright, no browser download.

Usage, from any test:

    from tests.browser import browser_page, take_screenshot

    def test_page(server):
        with browser_page() as page:
            page.goto(server.endpoint + "/")
            shot = take_screenshot(page, "home")      # saved under SCREENSHOT_DIR, decoded and measured
            shot.assert_rendered()                    # not blank: several colours, some ink on the background
            assert "Outcrop" in page.inner_text("body")

On a page with a strict Content-Security-Policy (the console's), `page.wait_for_function` is refused (it
evaluates a string); wait with Playwright's `expect(locator)` assertions, which are not affected.

`take_screenshot` decodes the PNG in a separate blank tab of the same browser (a canvas), so no imaging
library is needed; `Screenshot.color_at(x, y)` and `Screenshot.region` check the pixels of one part.
"""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("OUTCROP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
SCREENSHOT_DIR = Path(tempfile.gettempdir()) / "outcrop-screenshots"

# Decodes a PNG (a data: URL) on a canvas and measures it: size, distinct colours (on a grid of samples),
# the share of sampled pixels that differ from the most common colour, and the colour of each sample.
_MEASURE_JS = """
async ([url, step, box]) => {
  const image = new Image();
  image.src = url;
  await image.decode();
  const canvas = document.createElement("canvas");
  canvas.width = image.width;
  canvas.height = image.height;
  const context = canvas.getContext("2d");
  context.drawImage(image, 0, 0);
  const [x0, y0, w, h] = box || [0, 0, image.width, image.height];
  const data = context.getImageData(x0, y0, w, h).data;
  const counts = new Map();
  let samples = 0;
  for (let y = 0; y < h; y += step) {
    for (let x = 0; x < w; x += step) {
      const i = (y * w + x) * 4;
      const key = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
      counts.set(key, (counts.get(key) || 0) + 1);
      samples++;
    }
  }
  let background = 0, most = -1;
  for (const [key, n] of counts) if (n > most) { most = n; background = key; }
  return {
    width: image.width, height: image.height, distinct: counts.size,
    ink: samples ? 1 - most / samples : 0,
    background: [(background >> 16) & 255, (background >> 8) & 255, background & 255],
  };
}
"""


def chromium_available() -> bool:
    return Path(CHROMIUM).exists()


requires_chromium = pytest.mark.skipif(
    not chromium_available(), reason=f"{CHROMIUM} is not installed (apt-get install chromium)"
)


@contextmanager
def browser_page(*, width: int = 1280, height: int = 860, timeout_ms: int = 20_000) -> Iterator[Any]:
    """A Playwright `Page` in a fresh headless Chromium with its own throw-away profile; closed on exit.

    Console messages of level error and uncaught page errors are collected on `page.outcrop_errors`, and
    responses with a status of 400 or more on `page.outcrop_failed_responses`."""
    from playwright.sync_api import sync_playwright

    profile = Path(tempfile.mkdtemp(prefix="outcrop-chromium-"))
    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                str(profile),
                executable_path=CHROMIUM,
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": width, "height": height},
            )
            try:
                page = context.pages[0] if context.pages else context.new_page()
                page.set_default_timeout(timeout_ms)
                errors: list[str] = []
                page.on("pageerror", lambda error: errors.append(str(error)))
                page.on(
                    "console",
                    lambda message: errors.append(message.text) if message.type == "error" else None,
                )
                page.outcrop_errors = errors  # type: ignore[attr-defined]
                # Every answer of 400 or more, as "STATUS METHOD URL": says which call a console error was.
                failed: list[str] = []
                page.on(
                    "response",
                    lambda response: (
                        failed.append(f"{response.status} {response.request.method} {response.url}")
                        if response.status >= 400
                        else None
                    ),
                )
                page.outcrop_failed_responses = failed  # type: ignore[attr-defined]
                yield page
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


@dataclass
class Screenshot:
    """A saved screenshot and what its pixels say."""

    path: Path
    width: int
    height: int
    distinct_colors: int
    ink: float  # share of sampled pixels that are not the most common (background) colour
    background: tuple[int, int, int]
    _page: Any

    def assert_rendered(self, *, min_colors: int = 6, min_ink: float = 0.01) -> None:
        """Fails on a blank or single-colour page: something was drawn on it."""
        assert self.width > 0 and self.height > 0, f"{self.path}: empty image"
        assert self.distinct_colors >= min_colors, (
            f"{self.path}: only {self.distinct_colors} colours; the page looks blank"
        )
        assert self.ink >= min_ink, f"{self.path}: {self.ink:.3f} of the pixels differ from the background"

    def color_at(self, x: int, y: int) -> tuple[int, int, int]:
        """The colour of one pixel: the only sample, hence the background, of a 1x1 region."""
        return _measure(self._page, self.path, [x, y, 1, 1]).background

    def region(self, x: int, y: int, width: int, height: int) -> Screenshot:
        """The same measures over one rectangle of the screenshot (e.g. an element's bounding box)."""
        return _measure(self._page, self.path, [x, y, width, height])


def take_screenshot(
    page: Any, name: str, *, directory: Path | None = None, full_page: bool = False
) -> Screenshot:
    """Saves `page` as `<directory>/<name>.png` (default SCREENSHOT_DIR) and measures its pixels."""
    folder = directory or SCREENSHOT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return _measure(page, path, None)


def element_screenshot(page: Any, selector: str, name: str, *, directory: Path | None = None) -> Screenshot:
    """Saves and measures only the element matching `selector`."""
    folder = directory or SCREENSHOT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.locator(selector).first.screenshot(path=str(path))
    return _measure(page, path, None)


def _measure(page: Any, path: Path, box: list[int] | None) -> Screenshot:
    result = _evaluate_blank(page, _MEASURE_JS, [_data_url(path), 4, box])
    return Screenshot(
        path=path,
        width=int(result["width"]) if box is None else box[2],
        height=int(result["height"]) if box is None else box[3],
        distinct_colors=int(result["distinct"]),
        ink=float(result["ink"]),
        background=(int(result["background"][0]), int(result["background"][1]), int(result["background"][2])),
        _page=page,
    )


def _evaluate_blank(page: Any, script: str, argument: Any) -> Any:
    """Runs `script` in a new about:blank tab, so the page under test is left as it was."""
    blank = page.context.new_page()
    try:
        return blank.evaluate(script, argument)
    finally:
        blank.close()


def _data_url(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()
