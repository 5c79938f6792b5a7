# ruff: noqa: RUF001  (IPA letters look like Latin ones on purpose)
"""Visemes from the phonemes espeak-ng gives (piper's voices speak espeak-ng's phonemes too).

Each IPA phoneme maps to one of Polly's viseme classes (Polly's phoneme/viseme table for en-US; other
languages' phonemes go to the class of the nearest mouth shape). A word's visemes share the word's time
span evenly, so viseme times are exactly as good as the word times they come from.
"""

from __future__ import annotations

import subprocess
import unicodedata
from collections.abc import Sequence

from outcrop.backends.speech.engines import SynthesisFailed

VISEMES = frozenset(["p", "t", "S", "T", "f", "k", "i", "r", "s", "u", "@", "a", "e", "E", "o", "O", "sil"])
SILENCE = "sil"
_PHONEMES: dict[str, str] = {
    # consonants (en-US as Polly lists them; l shares t's tongue-up shape, Polly's set has no l class)
    **dict.fromkeys(["b", "p", "m", "ɸ", "β", "ɱ"], "p"),
    **dict.fromkeys(["d", "t", "n", "l", "ɾ", "ɫ", "ɗ", "ʔ", "ɬ", "ʎ", "ɲ", "c", "ɟ", "ts", "dz"], "t"),
    **dict.fromkeys(["dʒ", "tʃ", "ʃ", "ʒ", "ç", "ʝ", "ɕ", "ʑ", "ʂ", "ʐ"], "S"),
    **dict.fromkeys(["ð", "θ"], "T"),
    **dict.fromkeys(["f", "v", "ʋ"], "f"),
    **dict.fromkeys(["g", "ɡ", "k", "h", "ŋ", "x", "ɣ", "χ", "ħ", "ɦ", "q", "ɢ"], "k"),
    **dict.fromkeys(["j", "i", "ɪ", "ɨ", "ᵻ", "y", "ʏ"], "i"),
    **dict.fromkeys(["ɹ", "r", "ʁ", "ʀ", "ɻ", "ɽ"], "r"),
    **dict.fromkeys(["s", "z"], "s"),
    **dict.fromkeys(["w", "u", "ʊ", "ɥ", "ʉ", "ɯ"], "u"),
    # vowels
    **dict.fromkeys(["ə", "ɚ", "ɐ", "ɘ", "əl", "ɵ"], "@"),
    **dict.fromkeys(["æ", "aɪ", "aʊ", "ɑ", "a", "ɑ̃", "ɶ"], "a"),
    **dict.fromkeys(["eɪ", "e", "ø"], "e"),
    **dict.fromkeys(["ɝ", "ɜ", "ɛ", "ʌ", "ɛ̃", "œ", "œ̃"], "E"),
    **dict.fromkeys(["oʊ", "o", "əʊ"], "o"),
    **dict.fromkeys(["ɔ", "ɔɪ", "ɒ", "ɔ̃"], "O"),
}
_MARKS = "ˈˌː-ˑ‿"  # stress, length and linking marks: no mouth shape of their own


def viseme_of(phoneme: str) -> list[str]:
    """The visemes of one espeak-ng phoneme ("oʊ" is one, "ɪɹ" is two: i then r); [] for none."""
    bare = unicodedata.normalize("NFC", "".join(c for c in phoneme if c not in _MARKS))
    if not bare:
        return []
    if bare in _PHONEMES:
        return [_PHONEMES[bare]]
    found: list[str] = []
    for char in bare:  # a compound espeak writes as one phoneme: each part's shape, repeats merged
        viseme = _PHONEMES.get(char)
        if viseme is not None and (not found or found[-1] != viseme):
            found.append(viseme)
    return found


def word_visemes(phonemes: str) -> list[str]:
    """The visemes of one word's phonemes as espeak-ng writes them with `--sep=_`."""
    return [v for part in phonemes.replace(" ", "_").split("_") for v in viseme_of(part)]


def phonemize(program: str, words: Sequence[str], voice: str) -> list[str]:
    """Each word's phonemes (espeak-ng IPA, phonemes joined by "_"), one espeak-ng run for them all.

    Words go in one per paragraph so each comes back on its own line; when the counts disagree (a word
    espeak-ng splits into clauses), each word is asked for alone."""
    if not words:
        return []
    lines = _run(program, "\n\n".join(words), voice).splitlines()
    lines = [line.strip() for line in lines if line.strip()]
    if len(lines) == len(words):
        return lines
    return [" ".join(_run(program, word, voice).split()) for word in words]


def _run(program: str, text: str, voice: str) -> str:
    result = subprocess.run(
        [program, "-q", "--ipa", "--sep=_", "-v", voice, "--stdin"],
        input=text.encode(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise SynthesisFailed(f"espeak-ng failed: {result.stderr.decode(errors='replace')[-300:]}")
    return result.stdout.decode(errors="replace")
