"""RapidOCR's half-seen spaces: a blank frame between two letters whose space probability is the runner-up
becomes a space, never inside a number, never a second space (no model needed: a stand-in CTC decoder)."""

from __future__ import annotations

from typing import Any

import numpy as np

from outcrop.backends.vision.ocr import SPACE_FLOOR, _SpaceRecovery

CLASSES = ["blank", "a", "b", "1", "2", "-", " "]


class _Decoder:
    """Greedy CTC decoding, as RapidOCR's: argmax per frame, repeats and blanks dropped."""

    character = CLASSES

    def __call__(self, preds: np.ndarray, *args: Any, **kwargs: Any) -> list[str]:
        texts = []
        for frames in preds:
            best, previous, text = frames.argmax(axis=1), -1, ""
            for k in best:
                if k != previous and k != 0:
                    text += CLASSES[k]
                previous = k
            texts.append(text)
        return texts


def _frames(spec: str, space: float) -> np.ndarray:
    """One frame per character of `spec`: a letter, "_" blank, "~" blank with `space` for the space class."""
    frames = np.zeros((len(spec), len(CLASSES)), dtype=np.float32)
    for t, char in enumerate(spec):
        if char in "_~":
            frames[t, 0] = 1.0 - (space if char == "~" else 0.0)
            frames[t, -1] = space if char == "~" else 0.0
        else:
            frames[t, CLASSES.index(char)] = 1.0
    return frames[None]


class _Engine:
    class text_rec:  # RapidOCR's attribute names
        postprocess_op: Any = _Decoder()


def test_a_half_seen_space_splits_words_only_where_the_recognizer_saw_one() -> None:
    recovery = _SpaceRecovery.around(_Engine)
    assert _SpaceRecovery.around(_Engine) is recovery  # wrapped once
    recovery.active = True
    assert recovery(_frames("a_b~_a", 0.3)) == ["ab a"]
    assert recovery(_frames("a_b~_a", SPACE_FLOOR / 2)) == ["aba"]  # too faint: no space
    assert recovery(_frames("1~2~-~1", 0.4)) == ["12-1"]  # inside a number: kept together
    assert recovery(_frames("a~ ~b", 0.4)) == ["a b"]  # a space already read: not doubled
    recovery.active = False
    assert recovery(_frames("a_b~_a", 0.3)) == ["aba"]  # the engine called directly reads as it always did
