"""The TOTP codes virtual MFA devices show: RFC 6238's own test vector, and the windows Outcrop accepts."""

from __future__ import annotations

import base64

from outcrop.iam import mfa

RFC_SEED = base64.b32encode(b"12345678901234567890").decode()  # RFC 6238 appendix B, SHA-1


def test_rfc_6238_vectors_truncated_to_six_digits() -> None:
    # RFC 6238 lists 8-digit codes 94287082 (T=59 s) and 07081804 (T=1111111109 s); six digits keep the tail
    assert mfa.code(RFC_SEED, mfa.step_at(59)) == "287082"
    assert mfa.code(RFC_SEED, mfa.step_at(1111111109)) == "081804"


def test_a_code_is_found_within_one_step_only() -> None:
    seed = mfa.new_seed()
    assert len(seed) == 64
    now = 1_000_000
    assert mfa.find_step(seed, mfa.code(seed, now - 1), now) == now - 1
    assert mfa.find_step(seed, mfa.code(seed, now + 1), now) == now + 1
    far = mfa.code(seed, now + 5)
    if far not in {mfa.code(seed, s) for s in (now - 1, now, now + 1)}:  # a 1-in-10^6 collision aside
        assert mfa.find_step(seed, far, now) is None


def test_two_consecutive_codes_make_a_pair_in_order_only() -> None:
    seed = mfa.new_seed()
    now = 2_000_000
    first, second = mfa.code(seed, now), mfa.code(seed, now + 1)
    assert mfa.find_pair(seed, first, second, now) == now
    assert mfa.find_pair(seed, second, first, now) is None
    late = mfa.code(seed, now + 7), mfa.code(seed, now + 8)
    assert mfa.find_pair(seed, *late, now) is None
    assert mfa.find_pair(seed, *late, now, mfa.RESYNC_WINDOW) == now + 7
