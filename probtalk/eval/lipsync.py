"""Lip-sync scores against phone timings.

The synthetic corpus stores phone segments ``[start_s, end_s, phone]`` in
``align/<keyid>.json``. At the midpoint of every bilabial phone (p, b, m) the
lips should be closed; at the midpoint of every open vowel they should be
open. The lip gap is the distance between the rig keypoints ``upper_lip`` and
``lower_lip``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from probtalk.eval.metrics import ArrayLike, as_numpy
from probtalk.flame.rig import Rig

CLOSED_GAP_M = 0.002  # lips count as closed below 2 mm
OPEN_GAP_M = 0.006  # and as open above 6 mm

PhoneSegment = Sequence[Any]  # (start_s, end_s, phone)


@dataclass
class LipSyncCounts:
    """Counts behind the lip-sync rates; add them up across sequences with ``+``."""

    closed_hits: int = 0
    closed_total: int = 0
    open_hits: int = 0
    open_total: int = 0

    def __add__(self, other: LipSyncCounts) -> LipSyncCounts:
        return LipSyncCounts(
            self.closed_hits + other.closed_hits,
            self.closed_total + other.closed_total,
            self.open_hits + other.open_hits,
            self.open_total + other.open_total,
        )

    @property
    def closure_rate(self) -> float:
        """Fraction of bilabial midpoints with the lips closed (NaN when there are none)."""
        return self.closed_hits / self.closed_total if self.closed_total else float("nan")

    @property
    def opening_rate(self) -> float:
        """Fraction of open-vowel midpoints with the lips open (NaN when there are none)."""
        return self.open_hits / self.open_total if self.open_total else float("nan")

    @property
    def score(self) -> float:
        """Mean of the closure and opening rates (whichever exist)."""
        rates = [r for r in (self.closure_rate, self.opening_rate) if not np.isnan(r)]
        return float(np.mean(rates)) if rates else float("nan")

    def to_dict(self) -> dict[str, float]:
        """Counts and rates as a flat dict."""
        return {**asdict(self), "closure_rate": self.closure_rate, "opening_rate": self.opening_rate, "score": self.score}


def _normalise(phone: str) -> str:
    """Lower-case and drop ARPAbet stress digits: ``AA1`` -> ``aa``."""
    return re.sub(r"\d+$", "", str(phone).strip()).lower()


def default_phone_classes() -> tuple[frozenset[str], frozenset[str]]:
    """The (bilabial, open-vowel) phone sets of :mod:`probtalk.corpus.phones`, normalised."""
    from probtalk.corpus import phones

    return (
        frozenset(_normalise(p) for p in phones.BILABIAL),
        frozenset(_normalise(p) for p in phones.OPEN_VOWELS),
    )


def lip_gap(vertices: ArrayLike, rig: Rig) -> np.ndarray:
    """Distance between the ``upper_lip`` and ``lower_lip`` keypoints.

    Args:
        vertices: [T, V, 3] vertices of the rig (metres).
        rig: the rig the vertices belong to (supplies the keypoint indices).

    Returns:
        float64 [T] lip gap in metres.
    """
    from probtalk.errors import RigError

    missing = [k for k in ("upper_lip", "lower_lip") if k not in rig.keypoints]
    if missing:
        raise RigError(f"rig {rig.name} lacks keypoints {missing}; lip-sync needs upper_lip and lower_lip")
    v = as_numpy(vertices)
    if v.ndim != 3 or v.shape[-1] != 3:
        raise ValueError(f"vertices must be [T, V, 3], got {list(v.shape)}")
    return np.linalg.norm(v[:, rig.keypoints["upper_lip"]] - v[:, rig.keypoints["lower_lip"]], axis=-1)


def phone_midpoints(
    phones: Iterable[PhoneSegment], fps: float, frames: int, *,
    bilabial: Iterable[str] | None = None, open_vowels: Iterable[str] | None = None,
) -> tuple[list[int], list[int]]:
    """The frames at the midpoints of the bilabials and of the open vowels (those before ``frames``).

    Args:
        phones: ``(start_s, end_s, phone)`` segments.
        fps: frame rate.
        frames: frames in the clip; midpoints past the last are skipped.
        bilabial: phones where the lips must close (default: probtalk.corpus.phones.BILABIAL).
        open_vowels: phones where the lips must open (default: probtalk.corpus.phones.OPEN_VOWELS).
    """
    if bilabial is None or open_vowels is None:
        default_b, default_o = default_phone_classes()
        bilabial = default_b if bilabial is None else bilabial
        open_vowels = default_o if open_vowels is None else open_vowels
    closed_set = {_normalise(p) for p in bilabial}
    open_set = {_normalise(p) for p in open_vowels}
    closed: list[int] = []
    opened: list[int] = []
    for seg in phones:
        start, end, phone = float(seg[0]), float(seg[1]), _normalise(seg[2])
        frame = int(round(0.5 * (start + end) * fps))
        if 0 <= frame < frames:
            if phone in closed_set:
                closed.append(frame)
            elif phone in open_set:
                opened.append(frame)
    return closed, opened


def lipsync_counts(
    gap: ArrayLike,
    fps: float,
    phones: Iterable[PhoneSegment],
    *,
    bilabial: Iterable[str] | None = None,
    open_vowels: Iterable[str] | None = None,
    closed_gap: float = CLOSED_GAP_M,
    open_gap: float = OPEN_GAP_M,
) -> LipSyncCounts:
    """Score the lip gap at phone midpoints.

    Args:
        gap: [T] lip gap in metres (see :func:`lip_gap`).
        fps: frame rate of ``gap``.
        phones: ``(start_s, end_s, phone)`` segments.
        bilabial: phones where the lips must close (default: probtalk.corpus.phones.BILABIAL).
        open_vowels: phones where the lips must open (default: probtalk.corpus.phones.OPEN_VOWELS).
        closed_gap: closed means ``gap < closed_gap`` (metres).
        open_gap: open means ``gap > open_gap`` (metres).

    Returns:
        The hit and total counts; midpoints past the last frame are skipped.
    """
    g = as_numpy(gap).ravel()
    closed, opened = phone_midpoints(phones, fps, g.size, bilabial=bilabial, open_vowels=open_vowels)
    return LipSyncCounts(
        closed_hits=sum(int(g[k] < closed_gap) for k in closed), closed_total=len(closed),
        open_hits=sum(int(g[k] > open_gap) for k in opened), open_total=len(opened),
    )
