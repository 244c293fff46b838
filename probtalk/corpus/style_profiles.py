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
        head_motion: gain on prosody-driven head motion (0 = a still head, 1 = average).
        expressiveness: gain on the emotion pattern (1 = average).
        emphasis_rate: share of stressed syllables that get an upper-face gesture (brow raise, frown, wide eyes).
        smile_rate: smile episodes per second of speech, on top of the emotion's own smile.
        brow_tone: resting brow level: > 0 raised, < 0 knitted (weight of browInnerUp/browOuterUp or browDown).
        squint_tone: resting cheek raise / lid tightening (weight of cheekSquint and eyeSquint).
        rest_open: how far the lips stay parted in pauses (jawOpen weight of the rest pose; 0 = shut).
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
    head_motion: float = 1.0
    expressiveness: float = 1.0
    emphasis_rate: float = 0.5
    smile_rate: float = 0.05
    brow_tone: float = 0.0
    squint_tone: float = 0.0
    rest_open: float = 0.0

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
        **_habits(style_rng(speaker_id, seed + 7_919)),  # a separate stream: v2's draws above stay as they were
    )


def _habits(rng: np.random.Generator) -> dict[str, float]:
    """The speaker's upper-face and head habits (corpus v3)."""
    return {
        "head_motion": float(rng.uniform(0.6, 1.4)),
        "expressiveness": float(rng.uniform(0.8, 1.2)),
        "emphasis_rate": float(rng.uniform(0.3, 0.7)),
        "smile_rate": float(rng.uniform(0.02, 0.12)),
        "brow_tone": float(rng.uniform(-0.1, 0.15)),
        "squint_tone": float(rng.uniform(0.0, 0.1)),
        "rest_open": float(rng.uniform(0.0, 0.06)),  # corpus v5 (drawn last: the draws above are unchanged)
    }


# The habits a performance (a retake) varies, in the order :func:`perform_style` draws them, each
# with the range of its draw. A take's draws, as standard-normal scores, are what a model with
# performance channels is conditioned on (``performance/<keyid>.json`` of a corpus).
PERFORMANCE_DRAWS: tuple[tuple[str, float, float], ...] = (
    ("articulation", 0.8, 1.3),  # gain on the speaker's
    ("brow_use", 0.2, 2.8),  # gain
    ("jaw_range", 0.8, 1.3),  # gain
    ("smile_bias", -0.1, 0.2),  # offset
    ("anticipation_s", -0.015, 0.015),  # offset
    ("head_motion", 0.7, 1.4),  # gain
    ("expressiveness", 0.5, 1.6),  # gain
    ("emphasis_rate", -0.4, 0.4),  # offset
    ("smile_rate", 0.0, 3.5),  # gain
    ("brow_tone", -0.5, 0.6),  # offset
    ("squint_tone", -0.05, 0.35),  # offset
    ("rest_open", -0.08, 0.12),  # offset
)
PERFORMANCE_HABITS = tuple(name for name, _, _ in PERFORMANCE_DRAWS)
SCORE_LIMIT = 4.0  # standard-normal scores are clipped to +-4


def draw_performance(rng: np.random.Generator) -> dict[str, float]:
    """One performance's uniform draws in [0, 1), by habit (see :data:`PERFORMANCE_DRAWS`)."""
    return {name: float(rng.random()) for name in PERFORMANCE_HABITS}


def performance_scores(draws: dict[str, float]) -> dict[str, float]:
    """Standard-normal scores of a performance's draws: the inverse normal CDF of each uniform.

    0 is the median performance (the speaker's own habit for a gain drawn around 1); a model
    conditioned on the scores is sampled with standard-normal values.
    """
    from statistics import NormalDist

    unit = NormalDist()
    eps = unit.cdf(-SCORE_LIMIT)
    return {name: float(unit.inv_cdf(min(max(u, eps), 1.0 - eps))) for name, u in draws.items()}


def perform_style(
    style: SpeakerStyle, rng: np.random.Generator | None, draws: dict[str, float] | None = None
) -> SpeakerStyle:
    """One performance by the speaker: habits varied the way an actor's retakes vary.

    How much the brows work and where they rest, smile episodes, cheek raise, how
    strongly the emotion shows, head motion (corpus v6 widened these: brow use x0.2-2.8,
    was x0.3-2.0; emotion strength x0.5-1.6, was x0.65-1.35; see :data:`PERFORMANCE_DRAWS`);
    how wide the take articulates and opens the jaw (x0.8-1.3 each since corpus v5; v4
    drew x0.85-1.25 and x0.85-1.2) and whether the lips rest shut or parted in pauses.
    Every range keeps the lips on the phones (sealed on p/b/m, open on open vowels). Identity, asymmetry and blink rate stay
    the speaker's. Every performance of a clip (the first included) is
    drawn with this, so the speaker's own style is the centre of their takes.

    ``draws`` (from :func:`draw_performance`, e.g. a corpus's ``performance/<keyid>.json``)
    replaces the draws from ``rng`` (which may then be None); drawing them from the same
    generator gives the same performance, value for value.
    """
    if draws is None and rng is None:
        raise ValueError("perform_style needs a generator or the performance's draws")
    u = draw_performance(rng) if draws is None else draws
    d = {name: lo + (hi - lo) * u[name] for name, lo, hi in PERFORMANCE_DRAWS}
    return SpeakerStyle(
        speaker_id=style.speaker_id,
        articulation=float(np.clip(style.articulation * d["articulation"], 0.75, 1.4)),
        asymmetry=style.asymmetry,
        brow_use=float(np.clip(style.brow_use * d["brow_use"], 0.1, 3.0)),
        jaw_range=float(np.clip(style.jaw_range * d["jaw_range"], 0.75, 1.4)),
        smile_bias=float(np.clip(style.smile_bias + d["smile_bias"], 0.0, 0.35)),
        blink_rate=style.blink_rate,
        anticipation_s=float(np.clip(style.anticipation_s + d["anticipation_s"], 0.0, 0.04)),
        identity=style.identity,
        head_motion=float(np.clip(style.head_motion * d["head_motion"], 0.3, 2.0)),
        expressiveness=float(np.clip(style.expressiveness * d["expressiveness"], 0.4, 1.9)),
        emphasis_rate=float(np.clip(style.emphasis_rate + d["emphasis_rate"], 0.05, 1.0)),
        smile_rate=float(np.clip(style.smile_rate * d["smile_rate"], 0.0, 0.45)),
        brow_tone=float(np.clip(style.brow_tone + d["brow_tone"], -0.6, 0.75)),
        squint_tone=float(np.clip(style.squint_tone + d["squint_tone"], 0.0, 0.45)),
        rest_open=float(np.clip(style.rest_open + d["rest_open"], 0.0, 0.14)),
    )
