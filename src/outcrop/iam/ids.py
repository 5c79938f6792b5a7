"""AWS-shaped identifiers and secrets."""

from __future__ import annotations

import secrets
import string

_UPPER = string.ascii_uppercase + string.digits


def new_id(prefix: str, length: int = 17) -> str:
    """Unique ids as AWS shapes them: AIDA (user), AGPA (group), AROA (role), ANPA (policy), AKIA/ASIA."""
    return prefix + "".join(secrets.choice(_UPPER) for _ in range(length))


def new_secret() -> str:
    return secrets.token_urlsafe(30)[:40]
