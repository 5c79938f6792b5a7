"""Light Markdown stripping: keep every word, drop the markup, so headings and lists read as plain text.

A full Markdown renderer would be a dependency for little gain: embedding models read plain text, and the
citation a user sees should look like the document, not like HTML. Trafilatura's HTML output goes through here
too, so both formats share one notion of paragraphs, headings and list items.
"""

from __future__ import annotations

import re

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_ATX = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
_SETEXT = re.compile(r"^\s{0,3}(=+|-+)\s*$")
_RULE = re.compile(r"^\s{0,3}([-*_])(?:\s*\1){2,}\s*$")
_QUOTE = re.compile(r"^\s{0,3}(?:>\s?)+")
_BULLET = re.compile(r"^(\s*)[-*+]\s+(?:\[[ xX]\]\s+)?(.*)$")
_ORDERED = re.compile(r"^(\s*)(\d{1,9})[.)]\s+(.*)$")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{1,}:?\s*(?:\|\s*:?-{1,}:?\s*)+\|?\s*$")
_REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s+\S+")
_INLINE = [
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # images keep their alt text
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # links keep their text
    (re.compile(r"\[([^\]]+)\]\[[^\]]*\]"), r"\1"),  # reference links
    (re.compile(r"<((?:https?|mailto):[^>\s]+)>"), r"\1"),  # autolinks
    (re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>"), ""),  # inline HTML tags
    (re.compile(r"(`+)(.+?)\1"), r"\2"),  # code spans
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),  # strong
    (re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])"), r"\1"),  # emphasis
    (re.compile(r"(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])"), r"\1"),
    (re.compile(r"~~(?=\S)(.+?)(?<=\S)~~"), r"\1"),  # strikethrough
    (re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~])"), r"\1"),  # backslash escapes
]


def markdown_to_text(markdown: str) -> tuple[str, str | None]:
    """Plain text and the title (front matter `title:`, else the first heading)."""
    markdown = markdown.replace("\r\n", "\n").replace("\r", "\n")
    title: str | None = None
    front = _FRONT_MATTER.match(markdown)
    if front:
        title = _front_matter_title(front.group(1))
        markdown = markdown[front.end() :]
    lines = _COMMENT.sub("", markdown).split("\n")
    table_rows = _table_rows(lines)
    out: list[str] = []
    fence: str | None = None
    for n, line in enumerate(lines):
        if fence is not None:
            if line.strip().startswith(fence):
                fence = None
                out.append("")
            else:
                out.append(line)
            continue
        opening = _FENCE.match(line)
        if opening:
            fence = opening.group(1)
            out.append("")
            continue
        if n in table_rows:
            if not _TABLE_RULE.match(line):
                cells = [_inline(cell.strip()) for cell in line.strip().strip("|").split("|")]
                out.append(" | ".join(cells))
            continue
        nxt = lines[n + 1] if n + 1 < len(lines) else ""
        if line.strip() and _SETEXT.match(nxt) and not _BULLET.match(line) and not _RULE.match(line):
            heading = _inline(line.strip())
            title = title or heading
            out.extend(["", heading, ""])
            lines[n + 1] = ""  # the underline is consumed
            continue
        atx = _ATX.match(line)
        if atx:
            heading = _inline(atx.group(2))
            title = title or heading
            out.extend(["", heading, ""])
            continue
        if _RULE.match(line) or _REFERENCE.match(line):
            out.append("")
            continue
        line = _QUOTE.sub("", line)
        bullet = _BULLET.match(line)
        ordered = _ORDERED.match(line)
        if bullet:
            line = f"{bullet.group(1)}- {bullet.group(2)}"
        elif ordered:
            line = f"{ordered.group(1)}{ordered.group(2)}. {ordered.group(3)}"
        out.append(_inline(line.rstrip()))
    return "\n".join(out), title or None


def _inline(text: str) -> str:
    for pattern, replacement in _INLINE:
        text = pattern.sub(replacement, text)
    return text


def _front_matter_title(block: str) -> str | None:
    for line in block.split("\n"):
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() == "title":
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            return value or None
    return None


def _table_rows(lines: list[str]) -> set[int]:
    """Indexes of pipe-table lines: the header above a |---| rule, the rule, and the rows below it."""
    rows: set[int] = set()
    for n, line in enumerate(lines):
        if n == 0 or not _TABLE_RULE.match(line) or "|" not in lines[n - 1]:
            continue
        rows.update((n - 1, n))
        below = n + 1
        while below < len(lines) and "|" in lines[below] and lines[below].strip():
            rows.add(below)
            below += 1
    return rows
