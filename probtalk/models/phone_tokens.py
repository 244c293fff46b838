"""Per-frame phone tokens: the transcript input of the style predictor.

Token 0 means "no phone known" (no transcript, or the frame lies outside the
aligned speech); token ``1 + i`` is ARPAbet phone ``PHONES[i]`` (``SIL`` included).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from probtalk.corpus.phones import PHONE_INDEX, PHONES, Phone, phones_to_frames

NO_PHONE = 0
NUM_PHONE_TOKENS = len(PHONES) + 1


def phone_tokens(phones: Sequence[Any], fps: float, num_frames: int) -> np.ndarray:
    """Phone segments ``(start_s, end_s, phone)`` (or :class:`Phone`) -> int64 tokens [num_frames].

    Each frame takes the phone at its centre time; unknown symbols and frames
    past the last segment get :data:`NO_PHONE`.
    """
    segs = [p if isinstance(p, Phone) else Phone(float(p[0]), float(p[1]), str(p[2]).upper().rstrip("012"))
            for p in phones]
    labels = phones_to_frames(segs, fps, num_frames) if segs else []
    end = segs[-1].end if segs else 0.0
    out = np.zeros(num_frames, np.int64)
    for i, label in enumerate(labels):
        if (i + 0.5) / fps < end and label in PHONE_INDEX:
            out[i] = 1 + PHONE_INDEX[label]
    return out
