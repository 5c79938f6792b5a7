"""Vision for Textract and Rekognition: OCR, page layout (tables, forms), faces and moderation.

Nothing here knows about AWS. Geometry is normalized to the page or image (0..1, origin top left), as both
services report it; confidences are 0..1 and the services scale them. The model kinds (`ocr`, `faces`,
`image-moderation`) are Protocols in `protocols.py`, loaded once per server by the model registry.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Point = tuple[float, float]


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in normalized coordinates."""

    left: float
    top: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def bottom(self) -> float:
        return self.top + self.height

    @property
    def center(self) -> Point:
        return (self.left + self.width / 2, self.top + self.height / 2)

    @staticmethod
    def around(points: list[Point]) -> Box:
        xs = [min(max(x, 0.0), 1.0) for x, _ in points]
        ys = [min(max(y, 0.0), 1.0) for _, y in points]
        return Box(min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))

    @staticmethod
    def union(boxes: list[Box]) -> Box:
        left, top = min(b.left for b in boxes), min(b.top for b in boxes)
        right, bottom = max(b.right for b in boxes), max(b.bottom for b in boxes)
        return Box(left, top, right - left, bottom - top)

    def corners(self) -> list[Point]:
        return [
            (self.left, self.top),
            (self.right, self.top),
            (self.right, self.bottom),
            (self.left, self.bottom),
        ]


@dataclass
class Word:
    text: str
    polygon: list[Point]
    confidence: float

    @property
    def box(self) -> Box:
        return Box.around(self.polygon)


@dataclass
class Line:
    text: str
    polygon: list[Point]
    confidence: float
    words: list[Word] = field(default_factory=list)

    @property
    def box(self) -> Box:
        return Box.around(self.polygon)


def rows_of(lines: list[Line]) -> list[list[Line]]:
    """Lines grouped into rows (centers within half a line height), top to bottom, each left to right."""
    rows: list[list[Line]] = []
    for line in sorted(lines, key=lambda ln: ln.box.center[1]):
        if rows:
            anchor = rows[-1][0].box
            if abs(line.box.center[1] - anchor.center[1]) < 0.5 * min(anchor.height, line.box.height):
                rows[-1].append(line)
                continue
        rows.append([line])
    return [sorted(row, key=lambda ln: ln.box.left) for row in rows]


@dataclass
class PageText:
    """The text of one page or image, and where it came from: `ocr` or the PDF's own text layer (`pdf`)."""

    lines: list[Line]
    source: str


class VisionError(Exception):
    """Base of the errors a service maps to its own codes."""


class UnsupportedFormat(VisionError):
    pass


class CorruptImage(VisionError):
    pass


class ImageTooLarge(VisionError):
    pass
