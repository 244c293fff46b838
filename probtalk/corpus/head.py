"""Prosody-driven head motion for the procedural animator (FLAME neck axis-angle).

The head of a speaker moves with the speech (Hadar et al. 1983; Munhall et al. 2004):

* **Nods** on primary-stressed syllables: a quick dip of the chin and back,
  larger when the syllable is loud.
* **Tilts and turns** at phrase ends and pauses: the head settles to a new
  roll/yaw, held into the pause.
* **Drift**: posture changes between, a leaky integral of noise whose
  strength follows the loudness envelope, so the head moves more while the
  voice is loud and settles in pauses.

Angles are in FLAME's head frame (x right, y up, z forward): x = pitch (a
positive angle tips the chin down, a nod), y = yaw (turn), z = roll (tilt).
Emotion scales the energy (angry, happy, surprised more; sad less); the
speaker's :attr:`~probtalk.corpus.style_profiles.SpeakerStyle.head_motion`
scales everything (0 gives an exactly still head).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy.ndimage import gaussian_filter1d

from probtalk.corpus.style_profiles import DEFAULT_STYLE, SpeakerStyle
from probtalk.errors import StyleError
from probtalk.options import emotion_mix, intensity_value

# Head energy per emotion at high intensity (1 = neutral); lower intensities are pulled towards 1.
HEAD_ENERGY = {"neutral": 1.0, "happy": 1.3, "sad": 0.6, "surprised": 1.35, "fear": 0.9, "disgusted": 1.05,
               "angry": 1.4, "contempt": 0.95}
NOD_DEG = 2.2  # nod depth on an average stressed syllable, degrees
PHRASE_DEG = (2.5, 2.0)  # roll / yaw settle at a phrase end, degrees
DRIFT_DEG = (1.4, 2.2, 1.2)  # pitch / yaw / roll std of the slow drift, degrees
DRIFT_TAU_S = 1.5  # time constant of the drift's leaky integral, seconds
DRIFT_GAIN = 4.0  # makes the drift's std about DRIFT_DEG during average speech
MIN_PAUSE_S = 0.15  # a silence at least this long ends a phrase


def head_motion(
    segs: Sequence[tuple[float, float, str, int | None]],
    accents: Sequence[tuple[float, float]],
    duration: float,
    *,
    fps: float,
    emotion: str | Mapping[str, float],
    intensity: float,
    style: SpeakerStyle | None,
    loudness: np.ndarray | None,
    rng: np.random.Generator | None,
    variation: float,
) -> np.ndarray:
    """Neck rotation per frame from phone segments and stressed vowels.

    Args:
        segs: (start, end, base phone, stress) per phone ("SIL" for silence).
        accents: (start, end) of the stressed vowels.
        duration: clip length in seconds; T = round(duration * fps).
        fps, emotion, intensity, style, loudness, rng, variation: see
            :meth:`probtalk.corpus.animator.ProceduralAnimator.head_motion`.

    Returns:
        float32 [T, 3] axis-angle in radians (pitch, yaw, roll).
    """
    if not np.isfinite(duration) or duration <= 0:
        raise StyleError(f"duration must be > 0 seconds, got {duration}")
    if not np.isfinite(fps) or fps <= 0:
        raise StyleError(f"fps must be > 0, got {fps}")
    style = style or DEFAULT_STYLE
    num_frames = max(int(round(duration * fps)), 1)
    out = np.zeros((num_frames, 3))
    if style.head_motion <= 0:
        return out.astype(np.float32)
    level = intensity_value(intensity) / 2.0  # 0 low .. 1 high
    energy = sum(w * (1.0 + (HEAD_ENERGY.get(e, 1.0) - 1.0) * (0.5 + 0.5 * level))
                 for e, w in emotion_mix(emotion).items())
    var = float(variation) if rng is not None else 0.0
    stochastic = var > 0
    t = np.arange(num_frames) / fps
    loud = _loudness01(loudness, segs, t)

    # nods on stressed syllables, deeper when loud
    last = -np.inf
    for start, end in accents:
        centre = 0.5 * (start + end)
        if centre - last < 0.4:
            continue
        if stochastic and rng.random() > 0.8:  # each take nods on its own choice of accents
            continue
        last = centre
        k = min(int(round(centre * fps)), num_frames - 1)
        depth = NOD_DEG * (0.5 + 0.9 * loud[k])
        half = 0.25
        if stochastic:
            depth *= float(rng.uniform(0.6, 1.4))
            half = float(rng.uniform(0.2, 0.35))
            centre += float(rng.uniform(-0.06, 0.04))
        out[:, 0] += depth * _bump(t, centre, half)
        out[:, 1] += (0.25 * depth * float(rng.choice((-1.0, 1.0))) if stochastic else 0.0) * _bump(t, centre, half)

    # tilt and turn: the head settles during the phrase's last syllable, holds through the pause
    # and comes back as the next phrase starts
    for n, (start, end) in enumerate(_phrase_ends(segs, duration)):
        signs = (float(rng.choice((-1.0, 1.0))), float(rng.choice((-1.0, 1.0)))) if stochastic else \
            ((-1.0) ** n, (-1.0) ** (n + 1))
        sizes = (float(rng.uniform(0.4, 1.3)), float(rng.uniform(0.4, 1.3))) if stochastic else (1.0, 1.0)
        shape = _plateau(t, start - 0.45, max(end - start, 0.0) + 0.05)
        for axis, deg, sign, size in ((2, PHRASE_DEG[0], signs[0], sizes[0]), (1, PHRASE_DEG[1], signs[1], sizes[1])):
            out[:, axis] += sign * size * deg * shape

    if stochastic:
        # posture drifts and wobbles: a leaky integral of noise whose strength follows the voice,
        # so the head moves most while the speech is loud and settles in pauses
        keep = np.exp(-1.0 / (DRIFT_TAU_S * fps))
        drive = 0.05 + loud
        for axis in range(3):
            velocity = _noise(rng, num_frames, fps, 1.5) * drive
            drift = np.empty(num_frames)
            acc = float(rng.normal(0.0, 0.5))  # the take's posture at the clip's start
            for k in range(num_frames):
                acc = keep * acc + velocity[k] / fps * DRIFT_GAIN
                drift[k] = acc
            out[:, axis] += DRIFT_DEG[axis] * var * drift
    out *= energy * style.head_motion
    out = gaussian_filter1d(out, 1.2, axis=0, mode="nearest")  # no frame-to-frame jitter
    return np.deg2rad(out).astype(np.float32)


def _loudness01(loudness: np.ndarray | None, segs: Sequence[tuple[float, float, str, int | None]],
                t: np.ndarray) -> np.ndarray:
    """Loudness per frame in [0, 1] (95th percentile = 1); a speech mask from the phones without audio."""
    if loudness is not None and np.size(loudness):
        loud = np.asarray(loudness, np.float64).ravel()
        if loud.size != t.size:
            loud = np.interp(np.linspace(0, 1, t.size), np.linspace(0, 1, loud.size), loud)
        ref = np.percentile(loud, 95)
        if ref > 0:
            return np.clip(loud / ref, 0.0, 1.0)
    mask = np.zeros(t.size)
    for start, end, base, _ in segs:
        if base != "SIL":
            mask[(t >= start) & (t < end)] = 0.7
    return gaussian_filter1d(mask, 1.5)


def _phrase_ends(segs: Sequence[tuple[float, float, str, int | None]], duration: float) -> list[tuple[float, float]]:
    """(speech end, pause end) for each pause of at least MIN_PAUSE_S and the end of speech."""
    speech = [(s, e) for s, e, base, _ in segs if base != "SIL"]
    out: list[tuple[float, float]] = []
    for (_, end), (start, _) in zip(speech, speech[1:], strict=False):
        if start - end >= MIN_PAUSE_S:
            out.append((end, start))
    if speech:
        out.append((speech[-1][1], duration))
    return out


def _bump(t: np.ndarray, centre: float, half: float) -> np.ndarray:
    """Raised-cosine bump of half-width ``half`` seconds, 1 at ``centre``."""
    x = np.clip(1.0 - np.abs(t - centre) / half, 0.0, None)
    return np.sin(0.5 * np.pi * x) ** 2


def _plateau(t: np.ndarray, start: float, hold: float, ramp: float = 0.4) -> np.ndarray:
    """Eases in over ``ramp`` s from ``start``, holds for ``hold`` s, eases out over 1.5 x ``ramp``."""
    up = np.clip((t - start) / ramp, 0.0, 1.0)
    down = np.clip((t - start - ramp - hold) / (1.5 * ramp), 0.0, 1.0)
    return (3 * up**2 - 2 * up**3) * (1.0 - (3 * down**2 - 2 * down**3))


def _noise(rng: np.random.Generator, num_frames: int, fps: float, cutoff_hz: float) -> np.ndarray:
    """Unit-std low-passed Gaussian noise [T] (padded so short clips keep their std)."""
    sigma = max(fps / (2 * np.pi * cutoff_hz), 0.5)
    pad = int(3 * sigma)
    smooth = gaussian_filter1d(rng.standard_normal(num_frames + 2 * pad), sigma)[pad : pad + num_frames]
    expected = np.sqrt(1.0 / (2.0 * np.sqrt(np.pi) * sigma))  # std of unit noise after the Gaussian filter
    return smooth / expected
