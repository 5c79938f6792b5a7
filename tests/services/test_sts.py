from __future__ import annotations

from collections.abc import Callable
from typing import Any


def test_get_caller_identity_names_the_configured_account(client: Callable[..., Any]) -> None:
    identity = client("sts").get_caller_identity()
    assert identity["Account"] == "000000000000"
    assert identity["Arn"] == "arn:aws:iam::000000000000:root"
    assert identity["UserId"] == "AKIAOUTCROPTEST"
