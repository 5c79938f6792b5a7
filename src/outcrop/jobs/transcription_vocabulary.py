"""Custom vocabularies for transcription: lists of words and names Whisper should expect.

They are applied as faster-whisper's `hotwords`, a prompt that biases decoding toward those spellings
(an unknown product name like "Outcrop" comes out right instead of "Alcrop"). Phrases are written as
Transcribe takes them: words of one phrase joined by hyphens ("Los-Angeles"); a vocabulary file is one
phrase per line, or Transcribe's table (Phrase, SoundsLike, IPA, DisplayAs), of which Phrase and
DisplayAs are used. A vocabulary lives in the account and region that made it; its name is unique there.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

from outcrop.jobs.partition import Where, rebuild
from outcrop.storage.sqlite import DEFAULT_ACCOUNT, DEFAULT_REGION, Database, Migration

MAX_PHRASE_CHARS = 256
MAX_VOCABULARY_CHARS = 50_000
_MIGRATIONS = [
    (
        "0001-vocabularies",
        """
        CREATE TABLE vocabularies (
            name TEXT PRIMARY KEY, language TEXT NOT NULL, phrases TEXT NOT NULL, modified REAL NOT NULL
        )
        """,
    )
]


_PARTITIONED = """
    CREATE TABLE vocabularies_new (
        name TEXT NOT NULL, language TEXT NOT NULL, phrases TEXT NOT NULL, modified REAL NOT NULL,
        account TEXT NOT NULL, region TEXT NOT NULL, PRIMARY KEY (account, region, name)
    )
"""


def migrations(account: str, region: str) -> list[Migration]:
    """The schema, with each vocabulary in an account and region (existing ones in the defaults)."""
    return [
        *_MIGRATIONS,
        ("0002-regions", lambda tx: rebuild(tx, "vocabularies", _PARTITIONED, (account, region))),
    ]


class VocabularyError(ValueError):
    """The phrases or the vocabulary file break Transcribe's rules."""


@dataclass(frozen=True)
class Vocabulary:
    name: str
    language: str
    phrases: list[str]
    modified: float

    @property
    def hotwords(self) -> str:
        """What Whisper is primed with: each phrase with its hyphens read as spaces."""
        return " ".join(p.replace("-", " ") for p in self.phrases)


def check_phrases(phrases: list[str]) -> list[str]:
    cleaned = [p.strip() for p in phrases if p.strip()]
    if not cleaned:
        raise VocabularyError("The vocabulary has no phrases")
    for phrase in cleaned:
        if re.search(r"\s", phrase):
            raise VocabularyError(
                f"The phrase {phrase!r} contains a space; join the words of a phrase with hyphens"
            )
        if len(phrase) > MAX_PHRASE_CHARS:
            raise VocabularyError(f"The phrase {phrase[:20]!r}… is over {MAX_PHRASE_CHARS} characters")
    if sum(len(p) for p in cleaned) > MAX_VOCABULARY_CHARS:
        raise VocabularyError(f"The vocabulary is over {MAX_VOCABULARY_CHARS} characters")
    return cleaned


def phrases_from_file(text: str) -> list[str]:
    """A plain list (one phrase per line) or Transcribe's tab-separated table with a header row."""
    lines = [line for line in text.splitlines() if line.strip()]
    if lines and "\t" in lines[0] and lines[0].split("\t")[0].strip().lower() == "phrase":
        header = [h.strip().lower() for h in lines[0].split("\t")]
        rows = [dict(zip(header, (c.strip() for c in line.split("\t")), strict=False)) for line in lines[1:]]
        # Phrase follows the no-space rule; DisplayAs is how the phrase is written out, spaces allowed
        # ("he-chortled" shown as "he chortled"), and is what the model is primed with.
        check_phrases([row.get("phrase", "") for row in rows])
        return [
            row.get("displayas") or row.get("phrase", "") for row in rows if row.get("phrase", "").strip()
        ]
    return check_phrases(lines)


class VocabularyStore:
    def __init__(self, path: Path, *, account: str = DEFAULT_ACCOUNT, region: str = DEFAULT_REGION) -> None:
        """`account` and `region` are the server's defaults, where vocabularies from before regions go."""
        self.db = Database(path, migrations(account, region))

    def put(
        self, name: str, language: str, phrases: list[str], *, create: bool, where: Where
    ) -> Vocabulary | None:
        """Create (None if the name is taken) or replace (None if it does not exist)."""
        now = time.time()
        with self.db.transaction() as tx:
            exists = (
                tx.execute(
                    "SELECT 1 FROM vocabularies WHERE account = ? AND region = ? AND name = ?", (*where, name)
                ).fetchone()
                is not None
            )
            if exists == create:
                return None
            tx.execute(
                "INSERT OR REPLACE INTO vocabularies (name, language, phrases, modified, account, region)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (name, language, json.dumps(phrases), now, *where),
            )
        return Vocabulary(name, language, phrases, now)

    def get(self, name: str, *, where: Where) -> Vocabulary | None:
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT * FROM vocabularies WHERE account = ? AND region = ? AND name = ?", (*where, name)
            ).fetchone()
        return (
            Vocabulary(row["name"], row["language"], json.loads(row["phrases"]), row["modified"])
            if row
            else None
        )

    def list(self, where: Where, name_contains: str | None = None) -> list[Vocabulary]:
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT * FROM vocabularies WHERE account = ? AND region = ? ORDER BY modified DESC", where
            ).fetchall()
        found = [Vocabulary(r["name"], r["language"], json.loads(r["phrases"]), r["modified"]) for r in rows]
        if name_contains:
            found = [v for v in found if name_contains.lower() in v.name.lower()]
        return found

    def delete(self, name: str, *, where: Where) -> bool:
        with self.db.transaction() as tx:
            return (
                tx.execute(
                    "DELETE FROM vocabularies WHERE account = ? AND region = ? AND name = ?", (*where, name)
                ).rowcount
                > 0
            )

    def close(self) -> None:
        self.db.close()
