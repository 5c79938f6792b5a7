"""Custom terminologies for translation: parsing CSV/TSV/TMX glossaries, storing them, applying them.

A glossary is a table whose columns are languages; each row names one term in several languages. It is
applied around any engine: for apertium, source terms found in the text are swapped for placeholder words
it passes through untouched (unknown words), which then become the glossary's target terms; a chat model
is given the matching terms as a glossary in its prompt. Either way, only terms found in the output
are reported as applied.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
import threading
import xml.etree.ElementTree as ElementTree
from dataclasses import asdict, dataclass, field
from pathlib import Path

from outcrop.storage.sqlite import DEFAULT_ACCOUNT, DEFAULT_REGION

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_LANGUAGE_CODE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,4})?$")
MAX_TERM_BYTES = 200  # Translate's limit on a term's source or target text
MAX_TARGET_LANGUAGES = 10  # Translate's limit on a terminology's target languages
PLACEHOLDER_PREFIX = "Zqx"


class GlossaryError(ValueError):
    """The uploaded file is not a glossary this module can read; the message says why."""


@dataclass
class Glossary:
    """Rows of equivalent terms keyed by language code; `languages[0]` is the source when one-way."""

    languages: list[str]
    rows: list[dict[str, str]]
    skipped: int = 0


@dataclass
class StoredTerminology:
    name: str
    description: str
    format: str
    directionality: str
    created_at: float
    updated_at: float
    size_bytes: int
    glossary: Glossary = field(default_factory=lambda: Glossary([], []))
    download_token: str = ""  # the secret in the download link GetTerminology hands out

    @property
    def source_language(self) -> str:
        return self.glossary.languages[0]

    @property
    def target_languages(self) -> list[str]:
        return self.glossary.languages[1:]


def _check_languages(languages: list[str]) -> None:
    """Translate's rules on a glossary's languages: codes such as `en` or `fr-CA`, at most ten targets."""
    for code in languages:
        if not _LANGUAGE_CODE.match(code):
            raise GlossaryError(f"{code[:20]!r} is not a language code (such as en, es or fr-CA)")
    if len(languages) - 1 > MAX_TARGET_LANGUAGES:
        raise GlossaryError(f"a terminology has at most {MAX_TARGET_LANGUAGES} target languages")


def _check_terms(terms: dict[str, str]) -> None:
    for term in terms.values():
        if len(term.encode("utf-8")) > MAX_TERM_BYTES:
            raise GlossaryError(f"the term {term[:20]!r}... is over {MAX_TERM_BYTES} bytes")


def _rows_from_table(records: list[list[str]]) -> Glossary:
    if not records:
        raise GlossaryError("the file is empty")
    header = [cell.strip() for cell in records[0]]
    if len(header) < 2 or any(not cell for cell in header):
        raise GlossaryError("the first row must name two or more languages, e.g. en,es,fr")
    if len(set(header)) != len(header):
        raise GlossaryError("a language appears twice in the header row")
    _check_languages(header)
    rows: list[dict[str, str]] = []
    skipped = 0
    for record in records[1:]:
        if not any(cell.strip() for cell in record):
            continue
        terms = {lang: cell.strip() for lang, cell in zip(header, record, strict=False) if cell.strip()}
        if header[0] not in terms or len(terms) < 2 or len(record) > len(header):
            skipped += 1
            continue
        _check_terms(terms)
        rows.append(terms)
    return Glossary(header, rows, skipped)


def parse_glossary(data: bytes, fmt: str) -> Glossary:
    """A CSV, TSV or TMX file as a Glossary (UTF-8, with or without a byte-order mark)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise GlossaryError(f"the file is not UTF-8: {error}") from None
    if fmt in ("CSV", "TSV"):
        delimiter = "," if fmt == "CSV" else "\t"
        try:
            records = list(csv.reader(io.StringIO(text), delimiter=delimiter))
        except csv.Error as error:  # a field over the csv module's limit, a stray quote...
            raise GlossaryError(f"the file is not well-formed {fmt}: {error}") from None
        return _rows_from_table(records)
    if fmt == "TMX":
        return _parse_tmx(text)
    raise GlossaryError(f"unknown glossary format {fmt!r}")


def _parse_tmx(text: str) -> Glossary:
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as error:
        raise GlossaryError(f"the TMX file is not well-formed XML: {error}") from None
    header = root.find("header")
    source = header.get("srclang") if header is not None else None
    languages: list[str] = [source] if source and source != "*all*" else []
    rows: list[dict[str, str]] = []
    skipped = 0
    for unit in root.iter("tu"):
        terms: dict[str, str] = {}
        for variant in unit.findall("tuv"):
            lang = variant.get(XML_LANG) or variant.get("lang")
            segment = variant.find("seg")
            term = "".join(segment.itertext()).strip() if segment is not None else ""
            if lang and term:
                terms[lang] = term
                if lang not in languages:
                    languages.append(lang)
        if len(terms) < 2 or (languages and languages[0] not in terms):
            skipped += 1
            continue
        _check_terms(terms)
        rows.append(terms)
    if len(languages) < 2:
        raise GlossaryError("the TMX file holds no translation unit with two languages")
    _check_languages(languages)
    return Glossary(languages, rows, skipped)


def render_glossary(glossary: Glossary, fmt: str) -> bytes:
    """The glossary written back in `fmt` (what a client downloads)."""
    if fmt in ("CSV", "TSV"):
        out = io.StringIO()
        writer = csv.writer(out, delimiter="," if fmt == "CSV" else "\t", lineterminator="\n")
        writer.writerow(glossary.languages)
        for row in glossary.rows:
            writer.writerow([row.get(lang, "") for lang in glossary.languages])
        return out.getvalue().encode("utf-8")
    root = ElementTree.Element("tmx", version="1.4")
    header = {
        "srclang": glossary.languages[0],
        "datatype": "plaintext",
        "segtype": "phrase",
        "adminlang": "en",
        "creationtool": "outcrop",
        "creationtoolversion": "1",
        "o-tmf": "outcrop",
    }
    ElementTree.SubElement(root, "header", header)
    body = ElementTree.SubElement(root, "body")
    for row in glossary.rows:
        unit = ElementTree.SubElement(body, "tu")
        for lang, term in row.items():
            variant = ElementTree.SubElement(unit, "tuv", {XML_LANG: lang})
            ElementTree.SubElement(variant, "seg").text = term
    return bytes(ElementTree.tostring(root, encoding="utf-8", xml_declaration=True))


def matching_terms(glossary: Glossary, text: str, source: str, target: str) -> list[tuple[str, str]]:
    """(source term, target term) pairs of the glossary that occur in `text` as whole words."""
    found = []
    for row in glossary.rows:
        if source in row and target in row and _term_pattern(row[source]).search(text):
            found.append((row[source], row[target]))
    return found


def _term_pattern(term: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)" + re.escape(term) + r"(?!\w)")


def terms_present(text: str, targets: list[str]) -> set[str]:
    """The target terms that occur in `text` (case aside): what a substitution really delivered."""
    folded = text.casefold()
    return {target for target in targets if target.casefold() in folded}


def protect_terms(text: str, terms: list[tuple[str, str]]) -> tuple[str, dict[str, str]]:
    """Replace each source term with a placeholder word; returns the text and placeholder -> target."""
    replacements: dict[str, str] = {}
    # Longest first, so that "credit card" wins over "card".
    for number, (source, target) in enumerate(sorted(terms, key=lambda t: -len(t[0]))):
        placeholder = f"{PLACEHOLDER_PREFIX}{_letters(number)}"
        text, count = _term_pattern(source).subn(placeholder, text)
        if count:
            replacements[placeholder] = target
    return text, replacements


def restore_terms(text: str, replacements: dict[str, str]) -> tuple[str, set[str]]:
    """Placeholders back to target terms; also the target terms that came back (an engine may drop one)."""
    came_back: set[str] = set()
    for placeholder, target in replacements.items():
        # Whole placeholder only: Zqxb must not match inside Zqxba.
        pattern = re.compile(r"(?<![^\W\d_])" + re.escape(placeholder) + r"(?![^\W\d_])", re.IGNORECASE)
        text, count = pattern.subn(target.replace("\\", "\\\\"), text)
        if count:
            came_back.add(target)
    return text, came_back


def _letters(number: int) -> str:
    """0 -> 'a', 25 -> 'z', 26 -> 'ba': placeholders of letters only, which no engine reads as a number."""
    digits = "abcdefghijklmnopqrstuvwxyz"
    out = digits[number % 26]
    while number >= 26:
        number //= 26
        out = digits[number % 26] + out
    return out


class TerminologyStore:
    """Terminologies as one JSON file each under `root/<account>/<region>/`, written atomically (temp file,
    then rename): a terminology lives in the account and region that imported it, where its name is unique.
    Files from before regions (directly under `root`) move into the default account and region at start."""

    def __init__(self, root: Path, *, account: str = DEFAULT_ACCOUNT, region: str = DEFAULT_REGION) -> None:
        self.root = root
        self.default = (account, region)
        self._lock = threading.Lock()
        for old in root.glob("*.json"):
            home = self._folder(self.default)
            home.mkdir(parents=True, exist_ok=True)
            os.replace(old, home / old.name)

    def _folder(self, where: tuple[str, str]) -> Path:
        account, region = where
        if not (_SAFE_NAME.match(account) and _SAFE_NAME.match(region)):
            raise KeyError(where)
        return self.root / account / region

    def _path(self, name: str, where: tuple[str, str] | None) -> Path:
        if not _SAFE_NAME.match(name):
            raise KeyError(name)
        return self._folder(where or self.default) / f"{name}.json"

    def put(self, terminology: StoredTerminology, *, where: tuple[str, str] | None = None) -> None:
        data = json.dumps(asdict(terminology), ensure_ascii=False).encode("utf-8")
        path = self._path(terminology.name, where)
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            handle, temp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, path)

    def get(self, name: str, *, where: tuple[str, str] | None = None) -> StoredTerminology | None:
        try:
            raw = json.loads(self._path(name, where).read_text("utf-8"))
        except (KeyError, FileNotFoundError):
            return None
        raw["glossary"] = Glossary(**raw["glossary"])
        return StoredTerminology(**raw)

    def delete(self, name: str, *, where: tuple[str, str] | None = None) -> bool:
        with self._lock:
            try:
                self._path(name, where).unlink()
            except (KeyError, FileNotFoundError):
                return False
        return True

    def names(self, *, where: tuple[str, str] | None = None) -> list[str]:
        try:
            folder = self._folder(where or self.default)
        except KeyError:
            return []
        return sorted(path.stem for path in folder.glob("*.json"))
