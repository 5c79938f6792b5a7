"""The one NextToken pager: every List operation pages through it, with one token format.

A token is opaque to clients: url-safe base64 (unpadded) of `o:<offset>` for a list paged by position, or
of `k:<key>` for a key-ordered source paged after the last key it gave. A token the server did not issue
(garbage, the other kind, too long) answers the error the operation's model gives for it, never a 500.
A `null` or absent size is the operation's default; a size over the operation's maximum is cut to it.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from outcrop.protocol.errors import ServiceError

T = TypeVar("T")

_MAX_TOKEN = 4096  # characters: a key token for a 1024-byte S3 key is about 1,400
_ALPHABET = re.compile(r"[A-Za-z0-9_-]+")
_MAX_OFFSET_DIGITS = 18


@dataclass(frozen=True)
class Pager:
    """One operation's paging: the error and message for a bad token, its page sizes, its member names."""

    error: type[ServiceError]
    message: str
    default: int
    maximum: int | None = None
    token: str = "NextToken"
    size: str | None = "MaxResults"  # None: the operation always answers `default` items a page

    def limit(self, params: Mapping[str, Any]) -> int:
        """The page size asked for: the default when absent, null or not positive; at most the maximum."""
        asked = params.get(self.size) if self.size else None
        size = asked if isinstance(asked, int) and asked > 0 else self.default
        return min(size, self.maximum) if self.maximum else size

    def page(self, items: Sequence[T], params: Mapping[str, Any]) -> tuple[list[T], str | None]:
        """The page of a whole ordered list that the request asks for, and the token of the next one."""
        start = self.offset(params)
        end = start + self.limit(params)
        return list(items[start:end]), self.offset_token(end) if end < len(items) else None

    def keyed(
        self, found: Sequence[T], params: Mapping[str, Any], key: Callable[[T], str]
    ) -> tuple[list[T], str | None]:
        """A page of a key-ordered source: `found` holds up to `limit + 1` items after `after(params)`."""
        size = self.limit(params)
        page = list(found[:size])
        return page, self.key_token(key(page[-1])) if len(found) > size else None

    def offset(self, params: Mapping[str, Any]) -> int:
        """Where the requested page starts in a list paged by position (0 without a token)."""
        text = self._read(params, "o")
        if text is None:
            return 0
        if not (text.isascii() and text.isdigit()) or len(text) > _MAX_OFFSET_DIGITS:
            raise self.error(self.message)
        return int(text)

    def after(self, params: Mapping[str, Any]) -> str | None:
        """The key the requested page of a key-ordered source starts after (None without a token)."""
        return self._read(params, "k")

    @staticmethod
    def offset_token(offset: int) -> str:
        return _encode(f"o:{offset}")

    @staticmethod
    def key_token(key: str) -> str:
        return _encode(f"k:{key}")

    def _read(self, params: Mapping[str, Any], kind: str) -> str | None:
        token = params.get(self.token)
        if not token:
            return None
        if not isinstance(token, str) or len(token) > _MAX_TOKEN or not _ALPHABET.fullmatch(token):
            raise self.error(self.message)
        try:
            text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise self.error(self.message) from None
        head, colon, value = text.partition(":")
        if head != kind or not colon:
            raise self.error(self.message)
        return value


def _encode(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")
