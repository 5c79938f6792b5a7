"""Keyword terms of sealed chunks: keyed HMACs of their words, so the full-text index finds them without
holding a word of them in the clear.

A sealed chunk's indexed text is its sealed blob (one token too long for any index to keep) followed by one
term per word: `t` + the first 80 bits of HMAC-SHA256(word) in hex, under a term key derived (HKDF) from the
data source's data key. The words are normalised as LanceDB's English full-text index normalises plain
text (alphanumeric runs, lower case, ASCII folding, at most 40 bytes, its stop words dropped, Snowball
English stems), so a query finds a sealed chunk by the same words, stems and BM25 statistics (within its
data source's vocabulary) as a plain one. A query is searched as itself plus its terms under each keyed data
source's term key; the terms are made in memory per search and never stored.

What the index still shows: which sealed chunks share a word, and how often (as any deterministic
searchable encryption does); not the word.
"""

from __future__ import annotations

import hmac
import re
import unicodedata
from collections.abc import Callable
from functools import cache, lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

TERM_INFO = b"outcrop knowledge-base keyword terms v1"
TERM_BYTES = 10  # 80 bits: a collision between two words of one data source is negligible
STEM_CACHE = 65536  # distinct words whose stems are kept
MAX_TOKEN_BYTES = 40  # LanceDB's default max_token_length: longer tokens are not indexed
_TOKEN = re.compile(r"[^\W_]+")
# The words LanceDB 0.40's English full-text index drops (measured: each was indexed alone and not found).
_STOP_TEXT = """
    a about after again against all am an and are as at be been being below between both but by can did do
    doing don down each few for from further had has have having he her here hers herself him himself his how
    i if in into is it its itself just me more most my myself no nor not now of off on or other our ours out
    over own s same she should so some such t than that the their theirs them then there these they this
    those through to too under until up was we were what when where which while who whom will with you your
    yours yourself
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())


@cache
def _stemmer() -> Callable[[str], str]:
    """Snowball English (Porter2, as LanceDB's index stems), cached per word: words repeat (Zipf), and the
    pure-Python stemmer is ~80 us a word, 10 s for Cranfield's 1,400 abstracts uncached."""
    try:
        import snowballstemmer  # type: ignore[import-untyped]
    except ImportError as exc:  # pragma: no cover - the vectors extra installs it
        raise RuntimeError(
            "Keyword search over sealed chunks needs snowballstemmer: pip install 'outcrop[vectors]'"
        ) from exc
    stemmer = snowballstemmer.stemmer("english")

    @lru_cache(maxsize=STEM_CACHE)
    def stem(token: str) -> str:
        folded = "".join(c for c in unicodedata.normalize("NFKD", token) if not unicodedata.combining(c))
        return str(stemmer.stemWord(folded))

    return stem


def words(text: str) -> list[str]:
    """The index's words of `text`, normalised as LanceDB's English full-text index does."""
    stem = _stemmer()
    out = []
    for token in _TOKEN.findall(text.lower()):
        if len(token.encode()) > MAX_TOKEN_BYTES or token in STOP_WORDS:
            continue
        out.append(stem(token))
    return out


def term_key(data_key: bytes) -> bytes:
    """The key a data source's terms are made with: never the data key itself."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=TERM_INFO).derive(data_key)


def terms(key: bytes, text: str) -> list[str]:
    """One term per word of `text`, in order (so term frequencies and lengths are the text's)."""
    return ["t" + hmac.digest(key, word.encode(), "sha256")[:TERM_BYTES].hex() for word in words(text)]
