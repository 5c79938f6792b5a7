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
from urllib.parse import quote

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


def qr_png(device: str, account: str, seed: str) -> bytes | None:
    """The QR code AWS shows for a new virtual device: a PNG of
    `otpauth://totp/<device>@<account>?secret=<seed>`, drawn by OpenCV's QR encoder where OpenCV is
    installed (`pip install opencv-python-headless`, the vision extra); None where it is not."""
    try:
        import cv2
    except ImportError:
        return None
    text = f"otpauth://totp/{quote(device)}@{quote(account)}?secret={seed}"
    modules = cv2.QRCodeEncoder.create().encode(text)
    quiet = cv2.copyMakeBorder(modules, 4, 4, 4, 4, cv2.BORDER_CONSTANT, value=255)  # the 4-module margin
    scaled = cv2.resize(quiet, None, fx=8, fy=8, interpolation=cv2.INTER_NEAREST)
    ok, png = cv2.imencode(".png", scaled)
    return bytes(png.tobytes()) if ok else None
