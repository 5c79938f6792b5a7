"""Rule-based translation with Debian's apertium pairs, run as a subprocess (apertium is GPL software).

Installed pairs are found from the mode files apertium itself lists; the service decides which to offer.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Literal

from outcrop.backends.base import BackendError, BackendUnavailable

MODES_DIR = Path("/usr/share/apertium/modes")
# Plain pair modes only ("eng-spa", "es-pt"): variants ("spa-eng_US") and tool modes are left out.
_PAIR_MODE = re.compile(r"^([a-z]{2,3})-([a-z]{2,3})$")
Format = Literal["txt", "html"]


def installed_modes(modes_dir: Path = MODES_DIR) -> list[tuple[str, str, str]]:
    """(mode, source code, target code) of every installed plain pair mode; codes as apertium names them."""
    if shutil.which("apertium") is None or not modes_dir.is_dir():
        return []
    found = []
    for path in sorted(modes_dir.glob("*.mode")):
        match = _PAIR_MODE.match(path.stem)
        if match:
            found.append((path.stem, match.group(1), match.group(2)))
    return found


def apertium_translate(text: str, mode: str, *, fmt: Format = "txt", timeout_s: float = 120.0) -> str:
    """`text` through `apertium -u -f FMT MODE` (-u: unknown words pass through without a `*` mark)."""
    if shutil.which("apertium") is None:
        raise BackendUnavailable("apertium is not installed: apt-get install apertium apertium-eng-spa")
    try:
        completed = subprocess.run(
            ["apertium", "-u", "-f", fmt, mode],
            input=text.encode("utf-8"),
            capture_output=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise BackendError(f"apertium {mode} took longer than {timeout_s:.0f} s") from error
    if completed.returncode != 0:
        message = completed.stderr.decode(errors="replace")[:500]
        raise BackendError(f"apertium {mode} failed ({completed.returncode}): {message}")
    return completed.stdout.decode("utf-8", errors="replace")
