"""Page layout from pixels and read words: ruled tables (OpenCV morphology) and key/value pairs.

Ruled tables: long horizontal and vertical strokes are isolated with morphological opening; each connected
grid of them is a table, its rows and columns are where the strokes run, and a missing stroke between two
grid cells merges them (a span). Tables without rules: three or more consecutive rows that hold the same
number (two or more) of separate text lines, each lining up with the same column. Words go to the cell
holding their center.
Forms: a line "Key: value" splits at its first colon; a line ending in a colon takes the nearest line to
its right on the same row, or else the line just below it, as its value. Check boxes are small square
outlines; ink inside means selected, and the text just right of a box is its key.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from outcrop.backends.vision import Box, Line, Word, rows_of

MIN_TABLE_FRACTION = 0.04  # a table is at least this wide and tall, as a fraction of the page
MAX_KEY_WORDS = 6


@dataclass
class Selection:
    """A check box: `selected` when its inside holds ink; confidence grows with the distance from the cut."""

    box: Box
    selected: bool
    confidence: float


@dataclass
class Cell:
    row: int  # 1-based, as Textract counts
    column: int
    box: Box
    words: list[Word] = field(default_factory=list)
    selections: list[Selection] = field(default_factory=list)  # check boxes drawn in the cell


@dataclass
class MergedCell:
    row: int
    column: int
    row_span: int
    column_span: int
    box: Box
    cells: list[Cell]


@dataclass
class Table:
    box: Box
    rows: int
    columns: int
    cells: list[Cell]
    merged: list[MergedCell]
    confidence: float  # ruled: share of the grid's strokes found; aligned: how well the columns line up
    kind: str = "STRUCTURED_TABLE"  # SEMI_STRUCTURED_TABLE when found by alignment alone


@dataclass
class KeyValue:
    key: list[Word]
    value: list[Word]
    confidence: float
    selection: Selection | None = None  # the value is a check box rather than words


def find_selections(pixels: np.ndarray, lines: list[Line]) -> list[Selection]:
    """Square outlines 0.8-5% of the page's longer side, away from read words."""
    import cv2

    gray = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
    height, width = gray.shape
    _, binary = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    contours, _ = cv2.findContours(binary, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    side_min, side_max = 0.008 * max(width, height), 0.05 * max(width, height)
    words = [w.box for line in lines for w in line.words]
    found: list[tuple[int, int, int, int]] = []
    for contour in contours:
        x, y, w, h = cv2.boundingRect(contour)
        if not (side_min <= w <= side_max and 0.8 <= w / h <= 1.25):
            continue
        if len(cv2.approxPolyDP(contour, 0.08 * cv2.arcLength(contour, True), True)) != 4:
            continue
        if cv2.contourArea(contour) < 0.8 * w * h:
            continue
        if any(abs(x - fx) < w / 3 and abs(y - fy) < h / 3 for fx, fy, _, _ in found):
            continue  # the inner edge of an outline already taken
        center = ((x + w / 2) / width, (y + h / 2) / height)
        if any(
            b.left <= center[0] <= b.right and b.top <= center[1] <= b.bottom and b.width * width > 2 * w
            for b in words
        ):
            continue  # a letter inside a word, such as an O
        found.append((x, y, w, h))
    selections = []
    for x, y, w, h in found:
        inset_x, inset_y = max(2, w // 4), max(2, h // 4)
        inside = binary[y + inset_y : y + h - inset_y, x + inset_x : x + w - inset_x]
        ink = float((inside > 0).mean()) if inside.size else 0.0
        box = Box(x / width, y / height, w / width, h / height)
        selections.append(Selection(box, ink > 0.12, min(1.0, 0.6 + abs(ink - 0.12) * 2)))
    return selections


def find_tables(pixels: np.ndarray, lines: list[Line]) -> list[Table]:
    """Ruled tables of an RGB page, with the words of `lines` placed in their cells."""
    import cv2

    gray = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
    height, width = gray.shape
    binary = cv2.adaptiveThreshold(255 - gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, 15, -2)
    horizontal = cv2.morphologyEx(
        binary, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (max(width // 25, 10), 1))
    )
    vertical = cv2.morphologyEx(
        binary, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, max(height // 40, 10)))
    )
    # Close small breaks so a stroke drawn in pieces (or anti-aliased) still counts as one.
    horizontal = cv2.dilate(horizontal, np.ones((3, 3), np.uint8))
    vertical = cv2.dilate(vertical, np.ones((3, 3), np.uint8))
    grid = cv2.bitwise_or(horizontal, vertical)
    contours, _ = cv2.findContours(grid, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    words = [word for line in lines for word in line.words]
    tables = []
    for contour in contours:
        x, y, w, h = cv2.boundingRect(contour)
        if w < MIN_TABLE_FRACTION * width or h < MIN_TABLE_FRACTION * height:
            continue
        table = _grid_table(
            horizontal[y : y + h, x : x + w], vertical[y : y + h, x : x + w], x, y, width, height
        )
        if table is not None:
            _place_words(table, words)
            tables.append(table)
    tables += find_aligned_tables(lines, tables)
    tables.sort(key=lambda t: (t.box.top, t.box.left))
    return tables


MIN_ALIGNED_ROWS = 3


def find_aligned_tables(lines: list[Line], ruled: list[Table]) -> list[Table]:
    """Tables drawn without rules: runs of rows whose separate text lines stack into the same columns."""
    free = [line for line in lines if line.words and not any(inside_tables(w, ruled) for w in line.words)]
    tables: list[Table] = []
    run: list[list[Line]] = []
    for row in rows_of(free):
        candidate = len(row) >= 2 and not row[0].text.endswith(":")  # "Key:" + value is a form, not a table
        if candidate and run and _continues(run, row):
            run.append(row)
            continue
        if len(run) >= MIN_ALIGNED_ROWS:
            tables.append(_aligned_table(run))
        run = [row] if candidate else []
    if len(run) >= MIN_ALIGNED_ROWS:
        tables.append(_aligned_table(run))
    return tables


def _spans(run: list[list[Line]]) -> list[tuple[float, float]]:
    columns = range(len(run[0]))
    return [(min(row[j].box.left for row in run), max(row[j].box.right for row in run)) for j in columns]


def _continues(run: list[list[Line]], row: list[Line]) -> bool:
    """Same number of cells, close below the run, each cell overlapping its column and no other."""
    if len(row) != len(run[0]):
        return False
    previous = run[-1]
    height = max(line.box.height for line in previous)
    if row[0].box.top - max(line.box.bottom for line in previous) > 2.5 * height:
        return False
    spans = _spans(run)
    for j, line in enumerate(row):
        for k, (left, right) in enumerate(spans):
            overlaps = line.box.left < right and line.box.right > left
            if overlaps != (j == k):
                return False
    return True


def _aligned_table(run: list[list[Line]]) -> Table:
    spans = _spans(run)
    pad = 0.005
    xs = [spans[0][0] - pad]
    xs += [(spans[j][1] + spans[j + 1][0]) / 2 for j in range(len(spans) - 1)]
    xs.append(spans[-1][1] + pad)
    tops = [min(line.box.top for line in row) for row in run]
    bottoms = [max(line.box.bottom for line in row) for row in run]
    ys = [tops[0] - pad]
    ys += [(bottoms[i] + tops[i + 1]) / 2 for i in range(len(run) - 1)]
    ys.append(bottoms[-1] + pad)
    cells = [
        Cell(r + 1, c + 1, Box(xs[c], ys[r], xs[c + 1] - xs[c], ys[r + 1] - ys[r]))
        for r in range(len(run))
        for c in range(len(spans))
    ]
    # How well each column lines up: the spread of its cells' left edges against the column's width.
    scores = []
    for j, (left, right) in enumerate(spans):
        edges = [row[j].box.left for row in run]
        scores.append(1.0 - min(1.0, float(np.std(edges)) / max(right - left, 1e-6)))
    box = Box(xs[0], ys[0], xs[-1] - xs[0], ys[-1] - ys[0])
    table = Table(box, len(run), len(spans), cells, [], float(np.mean(scores)), "SEMI_STRUCTURED_TABLE")
    _place_words(table, [word for row in run for line in row for word in line.words])
    return table


def _stroke_positions(profile: np.ndarray, length: int) -> list[int]:
    """Centers of runs where a projection covers at least half of `length` (a stroke across the table)."""
    on = profile >= 0.5 * length
    positions, start = [], None
    for index, value in enumerate(on):
        if value and start is None:
            start = index
        elif not value and start is not None:
            positions.append((start + index - 1) // 2)
            start = None
    if start is not None:
        positions.append((start + len(on) - 1) // 2)
    return positions


def _grid_table(
    horizontal: np.ndarray, vertical: np.ndarray, x0: int, y0: int, width: int, height: int
) -> Table | None:
    h, w = horizontal.shape
    rows_at = _stroke_positions((horizontal > 0).sum(axis=1), w)
    cols_at = _stroke_positions((vertical > 0).sum(axis=0), h)
    if len(rows_at) < 2 or len(cols_at) < 2:
        return None
    n_rows, n_cols = len(rows_at) - 1, len(cols_at) - 1
    if n_rows * n_cols < 2:
        return None

    def has_vertical(x: int, top: int, bottom: int) -> float:
        band = vertical[top:bottom, max(x - 3, 0) : x + 4] > 0
        return float(band.any(axis=1).mean()) if bottom > top else 0.0

    def has_horizontal(y: int, left: int, right: int) -> float:
        band = horizontal[max(y - 3, 0) : y + 4, left:right] > 0
        return float(band.any(axis=0).mean()) if right > left else 0.0

    def norm_box(left: int, top: int, right: int, bottom: int) -> Box:
        return Box((x0 + left) / width, (y0 + top) / height, (right - left) / width, (bottom - top) / height)

    cells = {
        (r, c): Cell(r + 1, c + 1, norm_box(cols_at[c], rows_at[r], cols_at[c + 1], rows_at[r + 1]))
        for r in range(n_rows)
        for c in range(n_cols)
    }
    # Union-find over grid cells: neighbours with no stroke between them are one merged cell.
    parent = {key: key for key in cells}

    def root(key: tuple[int, int]) -> tuple[int, int]:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    coverage = []
    for r in range(n_rows):
        for c in range(n_cols):
            if c + 1 < n_cols:
                seen = has_vertical(cols_at[c + 1], rows_at[r] + 4, rows_at[r + 1] - 4)
                coverage.append(seen)
                if seen < 0.5:
                    parent[root((r, c + 1))] = root((r, c))
            if r + 1 < n_rows:
                seen = has_horizontal(rows_at[r + 1], cols_at[c] + 4, cols_at[c + 1] - 4)
                coverage.append(seen)
                if seen < 0.5:
                    parent[root((r + 1, c))] = root((r, c))
    groups: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for key in cells:
        groups.setdefault(root(key), []).append(key)
    merged = []
    for members in groups.values():
        if len(members) < 2:
            continue
        rows = [r for r, _ in members]
        cols = [c for _, c in members]
        top, left = min(rows), min(cols)
        merged.append(
            MergedCell(
                top + 1,
                left + 1,
                max(rows) - top + 1,
                max(cols) - left + 1,
                Box.union([cells[m].box for m in members]),
                [cells[m] for m in sorted(members)],
            )
        )
    box = norm_box(cols_at[0], rows_at[0], cols_at[-1], rows_at[-1])
    confidence = float(np.mean([c for c in coverage if c >= 0.5])) if any(c >= 0.5 for c in coverage) else 0.5
    ordered = [cells[key] for key in sorted(cells)]
    return Table(box, n_rows, n_cols, ordered, merged, confidence)


def _place_words(table: Table, words: list[Word]) -> None:
    for word in words:
        x, y = word.box.center
        for cell in table.cells:
            if cell.box.left <= x < cell.box.right and cell.box.top <= y < cell.box.bottom:
                cell.words.append(word)
                break


def inside_tables(word: Word, tables: list[Table]) -> bool:
    x, y = word.box.center
    return any(t.box.left <= x <= t.box.right and t.box.top <= y <= t.box.bottom for t in tables)


def place_selections(tables: list[Table], selections: list[Selection]) -> list[Selection]:
    """Put check boxes that sit in a table cell into that cell; the others are returned, for forms."""
    loose = []
    for selection in selections:
        x, y = selection.box.center
        cell = next(
            (
                c
                for t in tables
                for c in t.cells
                if c.box.left <= x < c.box.right and c.box.top <= y < c.box.bottom
            ),
            None,
        )
        if cell is None:
            loose.append(selection)
        else:
            cell.selections.append(selection)
    return loose


def without_marks(lines: list[Line], selections: list[Selection]) -> list[Line]:
    """The lines less the words that are check boxes misread as text (a ticked box read as "1" or "V")."""

    def is_mark(word: Word) -> bool:
        box = word.box
        for selection in selections:
            other = selection.box
            overlap_x = min(box.right, other.right) - max(box.left, other.left)
            overlap_y = min(box.bottom, other.bottom) - max(box.top, other.top)
            if overlap_x > 0 and overlap_y > 0 and overlap_x * overlap_y > 0.3 * box.width * box.height:
                return True
        return False

    kept = []
    for line in lines:
        words = [word for word in line.words if not is_mark(word)]
        if len(words) == len(line.words):
            kept.append(line)
        elif words:
            box = Box.union([w.box for w in words])
            kept.append(Line(" ".join(w.text for w in words), box.corners(), line.confidence, words))
    return kept


def find_key_values(
    lines: list[Line], tables: list[Table], selections: list[Selection] | None = None
) -> list[KeyValue]:
    """Key/value pairs of the page's lines outside tables, and of its check boxes with their labels."""
    free = [line for line in lines if line.words and not all(inside_tables(w, tables) for w in line.words)]
    used: set[int] = set()
    pairs: list[KeyValue] = []
    for selection in selections or []:
        label = _label_of(selection.box, free, used)
        if label is not None:
            used.add(label)
            words = free[label].words
            pairs.append(KeyValue(words, [], float(np.mean([w.confidence for w in words])), selection))
    for index, line in enumerate(free):
        if index in used:
            continue
        split = next((i for i, w in enumerate(line.words[:MAX_KEY_WORDS]) if w.text.endswith(":")), None)
        if split is None or len(line.words[split].text) < 2:
            continue
        key, value = line.words[: split + 1], line.words[split + 1 :]
        if not value:
            partner = _value_line(index, free, used)
            if partner is not None:
                used.add(partner)
                value = free[partner].words
        used.add(index)
        scores = [w.confidence for w in key + value]
        pairs.append(KeyValue(key, value, float(np.mean(scores))))
    pairs.sort(key=lambda pair: (pair.key[0].box.top, pair.key[0].box.left))
    return pairs


def _label_of(box: Box, lines: list[Line], used: set[int]) -> int | None:
    """The line just right of a check box on the same row (within four box widths).

    Measured from the line's words: the reader's line box can reach back over a tick drawn in the box."""
    best: tuple[float, int] | None = None
    for index, line in enumerate(lines):
        if index in used:
            continue
        other = Box.union([w.box for w in line.words]) if line.words else line.box
        overlap = min(box.bottom, other.bottom) - max(box.top, other.top)
        gap = other.left - box.right
        beside = overlap > 0.3 * min(box.height, other.height) and 0 <= gap < 4 * box.width
        if beside and (best is None or gap < best[0]):
            best = (gap, index)
    return None if best is None else best[1]


def _value_line(index: int, lines: list[Line], used: set[int]) -> int | None:
    """The line that holds the value of a key ending its line: to its right on the same row, else below."""
    key = lines[index].box
    best: tuple[float, int] | None = None
    for other, line in enumerate(lines):
        if other == index or other in used:
            continue
        box = line.box
        overlap = min(key.bottom, box.bottom) - max(key.top, box.top)
        if overlap > 0.5 * min(key.height, box.height) and box.left >= key.right:
            distance = box.left - key.right
            if best is None or distance < best[0]:
                best = (distance, other)
    if best is not None:
        return best[1]
    for other, line in enumerate(lines):
        if other == index or other in used:
            continue
        box = line.box
        below = box.top - key.bottom
        if 0 <= below < 1.5 * key.height and box.left < key.right and box.right > key.left:
            return other
    return None
