"""The one NextToken pager: pages, tokens, and the refusals of tokens it did not issue."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from outcrop.protocol.errors import ServiceError
from outcrop.services.paging import Pager


class BadToken(ServiceError):
    code, status, sender_fault = "BadToken", 400, True


PAGES = Pager(BadToken, "That token is not one of ours.", default=3, maximum=5)
ITEMS = list(range(10))


def every_page(pager: Pager, items: list[int], **params: Any) -> list[list[int]]:
    pages, token = [], None
    while True:
        page, token = pager.page(items, {**params, "NextToken": token})
        pages.append(page)
        if token is None:
            return pages


def test_offset_pages_walk_the_whole_list_in_order() -> None:
    assert every_page(PAGES, ITEMS) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert every_page(PAGES, ITEMS, MaxResults=4) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert every_page(PAGES, []) == [[]]


def test_sizes_null_zero_and_over_the_maximum() -> None:
    assert PAGES.limit({"MaxResults": None}) == 3
    assert PAGES.limit({"MaxResults": 0}) == 3
    assert PAGES.limit({}) == 3
    assert PAGES.limit({"MaxResults": 10**30}) == 5
    unbounded = Pager(BadToken, "bad", default=2)
    assert unbounded.limit({"MaxResults": 10**30}) == 10**30
    fixed = Pager(BadToken, "bad", default=2, size=None)
    assert fixed.limit({"MaxResults": 7}) == 2


def test_tokens_are_opaque_url_safe_text() -> None:
    _, token = PAGES.page(ITEMS, {})
    assert token is not None and token.isascii() and "=" not in token and not token.isdigit()
    _, key_token = PAGES.keyed(["a/b c", "d", "e", "f"], {}, str)
    assert key_token is not None and "/" not in key_token and " " not in key_token


def test_keyed_pages_resume_after_the_last_key() -> None:
    names = ["ant", "bee", "cat", "dog", "eel"]
    params: dict[str, Any] = {"NextToken": None}
    seen = []
    while True:
        after = PAGES.after(params) or ""
        found = [n for n in names if n > after][: PAGES.limit(params) + 1]
        page, token = PAGES.keyed(found, params, str)
        seen.append(page)
        if token is None:
            break
        params = {"NextToken": token}
    assert seen == [["ant", "bee", "cat"], ["dog", "eel"]]


@pytest.mark.parametrize(
    "token",
    [
        "garbage!",
        "zz",
        "9" * 5000,
        "x" * 5000,
        "5",
        "A",  # not whole base64
        base64.urlsafe_b64encode(b"o:-1").decode(),
        base64.urlsafe_b64encode(b"o:12abc").decode(),
        base64.urlsafe_b64encode(b"o:" + b"9" * 40).decode(),
        base64.urlsafe_b64encode(b"k:name").decode(),  # a key token where offsets are used
        base64.urlsafe_b64encode(b"offset").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        3,
        ["o:1"],
    ],
)
def test_tokens_it_did_not_issue_are_the_operations_error(token: Any) -> None:
    with pytest.raises(BadToken) as error:
        PAGES.page(ITEMS, {"NextToken": token})
    assert error.value.message == "That token is not one of ours."


def test_an_offset_token_is_no_key_token() -> None:
    with pytest.raises(BadToken):
        PAGES.after({"NextToken": PAGES.offset_token(3)})
    assert PAGES.after({"NextToken": PAGES.key_token("k:with:colons")}) == "k:with:colons"


def test_null_and_empty_tokens_start_at_the_beginning() -> None:
    assert PAGES.page(ITEMS, {"NextToken": None})[0] == [0, 1, 2]
    assert PAGES.page(ITEMS, {"NextToken": ""})[0] == [0, 1, 2]
    assert PAGES.after({"NextToken": None}) is None


def test_a_token_past_the_end_is_an_empty_last_page() -> None:
    """The list may have shrunk since the token was issued: the client gets the end, not an error."""
    assert PAGES.page(ITEMS[:2], {"NextToken": PAGES.offset_token(6)}) == ([], None)


def test_member_names_follow_the_operation() -> None:
    logs = Pager(BadToken, "bad", default=2, token="nextToken", size="limit")
    page, token = logs.page(ITEMS, {"limit": 4})
    assert page == [0, 1, 2, 3]
    assert logs.page(ITEMS, {"nextToken": token, "limit": 4})[0] == [4, 5, 6, 7]
    assert logs.page(ITEMS, {"NextToken": "ignored"})[0] == [0, 1]
