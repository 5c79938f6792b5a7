"""Request bytes to pixels: sniff the format, decode images, render PDF pages, read their text layer.

Formats are recognised by their magic bytes, never by a file name, so a corrupt PNG and a Word file get
different answers (corrupt vs unsupported), as the AWS services give them.
"""

from __future__ import annotations

import io
import itertools
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from outcrop.backends.vision import (
    Box,
    CorruptImage,
    ImageTooLarge,
    Line,
    PageText,
    UnsupportedFormat,
    Word,
)

MAX_SIDE = 10_000  # pixels; both services refuse larger images
PDF_DPI = 150  # OCR reads 10-point text well at this resolution
MAX_RENDER_SIDE = 2400

_MAGIC = [
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"%PDF-", "pdf"),
]


def sniff(data: bytes) -> str | None:
    """The format of `data` by its leading bytes (a PDF may start after some junk, as readers allow)."""
    for magic, name in _MAGIC:
        if data.startswith(magic):
            return name
    if b"%PDF-" in data[:1024]:
        return "pdf"
    return None


def decode_image(data: bytes, allowed: tuple[str, ...] = ("png", "jpeg")) -> np.ndarray:
    """An RGB uint8 array of `data`, upright per its EXIF orientation; raises the VisionError that fits."""
    fmt = sniff(data)
    if fmt not in allowed:
        raise UnsupportedFormat(f"Request has unsupported image format; expected one of {', '.join(allowed)}")
    return _to_rgb(_open(data))


def _open(data: bytes) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if max(image.size) > MAX_SIDE:
                raise ImageTooLarge(
                    f"Image is {image.size[0]}x{image.size[1]} pixels; at most {MAX_SIDE} per side"
                )
            image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise CorruptImage(f"Unable to decode the image: {exc}") from exc
    except Image.DecompressionBombWarning as exc:
        raise ImageTooLarge(str(exc)) from exc
    return image


def _to_rgb(image: Image.Image) -> np.ndarray:
    try:
        upright = ImageOps.exif_transpose(image) or image
        return np.asarray(upright.convert("RGB"))
    except (OSError, ValueError) as exc:
        raise CorruptImage(f"Unable to decode the image: {exc}") from exc


@dataclass
class DocumentPage:
    """One page as pixels, plus the words of its text layer when the PDF has one."""

    pixels: np.ndarray
    text_layer: PageText | None


def document_pages(data: bytes, *, max_pages: int | None = None) -> list[DocumentPage]:
    """Every page of a PNG, JPEG, TIFF (multi-page too) or PDF; `max_pages` refuses longer documents."""
    fmt = sniff(data)
    if fmt is None:
        raise UnsupportedFormat("Request has unsupported document format")
    if fmt == "pdf":
        return _pdf_pages(data, max_pages)
    image = _open(data)
    frames = getattr(image, "n_frames", 1)
    if max_pages is not None and frames > max_pages:
        raise UnsupportedFormat(f"The document has {frames} pages; this operation accepts {max_pages}")
    pages = []
    for index in range(frames):
        try:
            image.seek(index)
        except EOFError as exc:
            raise CorruptImage(f"Unable to read page {index + 1}: {exc}") from exc
        pages.append(DocumentPage(_to_rgb(image).copy(), None))
    return pages


def _pdf_pages(data: bytes, max_pages: int | None) -> list[DocumentPage]:
    import pypdfium2 as pdfium  # type: ignore[import-untyped]

    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise UnsupportedFormat("The PDF is encrypted") from exc
        raise CorruptImage(f"Unable to read the PDF: {exc}") from exc
    try:
        count = len(document)
        if count == 0:
            raise CorruptImage("The PDF has no pages")
        if max_pages is not None and count > max_pages:
            raise UnsupportedFormat(f"The document has {count} pages; this operation accepts {max_pages}")
        pages = []
        for index in range(count):
            page = document[index]
            width, height = page.get_size()
            scale = min(PDF_DPI / 72, MAX_RENDER_SIDE / max(width, height, 1))
            pixels = np.asarray(page.render(scale=scale).to_pil().convert("RGB"))
            pages.append(DocumentPage(pixels, _text_layer(page, width, height)))
        return pages
    finally:
        document.close()


def _text_layer(page: object, width: float, height: float) -> PageText | None:
    """The page's own text as lines and words (confidence 1: nothing was guessed), or None for a scan."""
    textpage = page.get_textpage()  # type: ignore[attr-defined]
    count = textpage.count_chars()
    text = textpage.get_text_range(0, count) if count else ""
    if not text.strip():
        return None
    lines: list[Line] = []
    word_chars: list[tuple[str, tuple[float, float, float, float]]] = []
    line_words: list[Word] = []

    def end_word() -> None:
        if word_chars:
            left = min(b[0] for _, b in word_chars)
            right = max(b[2] for _, b in word_chars)
            bottom = min(b[1] for _, b in word_chars)
            top = max(b[3] for _, b in word_chars)
            box = Box(left / width, 1 - top / height, (right - left) / width, (top - bottom) / height)
            line_words.append(Word("".join(c for c, _ in word_chars), box.corners(), 1.0))
            word_chars.clear()

    def end_line() -> None:
        end_word()
        lines.extend(_split_wide_gaps(line_words, width / height))
        line_words.clear()

    for index, char in enumerate(text[:count]):
        if char in "\r\n":
            end_line()
        elif char.isspace():
            end_word()
        else:
            word_chars.append((char, textpage.get_charbox(index, loose=True)))
    end_line()
    return PageText(lines, "pdf")


def _split_wide_gaps(words: list[Word], aspect: float) -> list[Line]:
    """A PDF row such as a table's header is one text run; split it where words stand far apart.

    `aspect` is the page's width over its height: gaps are fractions of the width, heights of the height.
    """
    if not words:
        return []
    groups: list[list[Word]] = [[words[0]]]
    for previous, word in itertools.pairwise(words):
        gap = (word.box.left - previous.box.right) * aspect
        if gap > 1.2 * max(previous.box.height, word.box.height):
            groups.append([])
        groups[-1].append(word)
    return [
        Line(" ".join(w.text for w in group), Box.union([w.box for w in group]).corners(), 1.0, group)
        for group in groups
    ]
