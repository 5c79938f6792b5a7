"""Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP), as virtual MFA devices compute them.

AWS's virtual MFA devices are TOTP with HMAC-SHA1, six digits and 30-second steps; an authenticator app
given the device's Base32 seed shows the codes this module checks. Written on the standard library's
`hmac`, which is the whole of the algorithm: a truncated HMAC of the step counter.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
import time

STEP_S = 30
DIGITS = 6
SEED_BYTES = 40  # AWS's Base32StringSeed is 64 Base32 characters: 40 bytes
WINDOW = 1  # steps either side of now that a code may come from (clocks drift, people type slowly)
RESYNC_WINDOW = 10  # steps either side that ResyncMFADevice searches for the device's drift


def new_seed() -> str:
    """A fresh secret, Base32-encoded as authenticator apps take it."""
    return base64.b32encode(secrets.token_bytes(SEED_BYTES)).decode()


def step_at(epoch: float) -> int:
    return int(epoch // STEP_S)


def code(seed: str, step: int) -> str:
    """The six-digit code of one time step (RFC 4226 dynamic truncation)."""
    digest = hmac.new(base64.b32decode(seed), struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**DIGITS).zfill(DIGITS)


def find_step(seed: str, given: str, around: int, window: int = WINDOW) -> int | None:
    """The step within `window` of `around` whose code is `given`, compared in constant time."""
    found = None
    for step in range(around - window, around + window + 1):
        if hmac.compare_digest(code(seed, step), given):
            found = step if found is None else found
    return found


def find_pair(seed: str, first: str, second: str, around: int, window: int = WINDOW) -> int | None:
    """The step of `first` where `second` is the very next step's code (EnableMFADevice and
    ResyncMFADevice take two consecutive codes), within `window` steps of `around`; None if none."""
    for step in range(around - window, around + window):
        if hmac.compare_digest(code(seed, step), first) and hmac.compare_digest(code(seed, step + 1), second):
            return step
    return None


def now_step() -> int:
    return step_at(time.time())
