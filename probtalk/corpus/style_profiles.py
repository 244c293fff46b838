"""Per-speaker animation style for the procedural animator.

Each synthetic speaker gets habits of their own (how wide they articulate,
which side of the mouth leads, how much they use their brows, a resting
smile, how often they blink) and an identity shape. ``make_style`` derives
them deterministically from the speaker id and a corpus seed, so the same
speaker always moves the same way.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from probtalk.layout import NUM_SHAPE

NUM_IDENTITY = 16  # identity coefficients a style sets; the rest of the 300 stay zero
IDENTITY_STD = 0.6  # std of those coefficients (FLAME's basis is scaled to unit variance)


@dataclass(frozen=True)
class SpeakerStyle:
    """A speaker's facial habits.

    Attributes:
        speaker_id: the speaker this style belongs to ("M001").
        articulation: gain on viseme amplitudes (1 = average speaker).
        asymmetry: left/right bias of unilateral shapes in [-1, 1]; > 0 the left side leads.
        brow_use: gain of brow raises on stressed syllables (0 = none, 1 = average).
        jaw_range: gain on jaw opening.
        smile_bias: resting smile weight added to the whole clip.
        blink_rate: mean blinks per second.
        anticipation_s: how early (s) the mouth moves towards each phone.
        identity: the first ``NUM_IDENTITY`` FLAME shape coefficients.
    """

    speaker_id: str = "default"
    articulation: float = 1.0
    asymmetry: float = 0.0
    brow_use: float = 1.0
    jaw_range: float = 1.0
    smile_bias: float = 0.0
    blink_rate: float = 0.3
    anticipation_s: float = 0.02
    identity: tuple[float, ...] = field(default_factory=lambda: (0.0,) * NUM_IDENTITY)

    def shape(self) -> np.ndarray:
        """The identity as float32 [300] FLAME shape coefficients."""
        out = np.zeros(NUM_SHAPE, dtype=np.float32)
        out[: len(self.identity)] = self.identity
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (for manifests)."""
        d = asdict(self)
        d["identity"] = [float(x) for x in self.identity]
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SpeakerStyle:
        """Inverse of :meth:`to_dict`."""
        data = dict(data)
        if "identity" in data:
            data["identity"] = tuple(float(x) for x in data["identity"])
        return cls(**data)


DEFAULT_STYLE = SpeakerStyle()


def style_rng(speaker_id: str, seed: int) -> np.random.Generator:
    """A generator that depends only on (speaker_id, seed)."""
    digest = hashlib.sha256(f"style:{seed}:{speaker_id}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def make_style(speaker_id: str, seed: int = 0) -> SpeakerStyle:
    """Draw a speaker's style, deterministic per (speaker_id, seed).

    Ranges are chosen so every style still meets the lip-sync criteria
    (lips shut on p/b/m, open on open vowels).
    """
    rng = style_rng(speaker_id, seed)
    return SpeakerStyle(
        speaker_id=speaker_id,
        articulation=float(rng.uniform(0.85, 1.2)),
        asymmetry=float(rng.uniform(-0.3, 0.3)),
        brow_use=float(rng.uniform(0.3, 1.5)),
        jaw_range=float(rng.uniform(0.88, 1.15)),
        smile_bias=float(rng.uniform(0.0, 0.15)),
        blink_rate=float(rng.uniform(0.2, 0.5)),
        anticipation_s=float(rng.uniform(0.0, 0.04)),
        identity=tuple(float(x) for x in rng.normal(0.0, IDENTITY_STD, NUM_IDENTITY)),
    )


def perform_style(style: SpeakerStyle, rng: np.random.Generator) -> SpeakerStyle:
    """Another performance by the same speaker: habits varied the way retakes vary.

    Articulation strength, jaw range, brow use, resting smile and anticipation move
    around the speaker's own values, staying inside :func:`make_style`'s ranges so
    every performance still meets the lip-sync criteria. Identity, asymmetry and
    blink rate stay the speaker's.
    """
    return SpeakerStyle(
        speaker_id=style.speaker_id,
        articulation=float(np.clip(style.articulation * rng.uniform(0.9, 1.12), 0.85, 1.2)),
        asymmetry=style.asymmetry,
        brow_use=float(np.clip(style.brow_use * rng.uniform(0.4, 1.7), 0.1, 1.8)),
        jaw_range=float(np.clip(style.jaw_range * rng.uniform(0.94, 1.06), 0.88, 1.15)),
        smile_bias=float(np.clip(style.smile_bias + rng.uniform(-0.06, 0.08), 0.0, 0.2)),
        blink_rate=style.blink_rate,
        anticipation_s=float(np.clip(style.anticipation_s + rng.uniform(-0.015, 0.015), 0.0, 0.04)),
        identity=style.identity,
    )
