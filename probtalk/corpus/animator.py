"""The procedural animator: phone timings (+ emotion, style, loudness) -> FLAME motion.

It works in the rig's semantic (ARKit-named) weight space and maps to FLAME
parameters at the end through ``rig.semantic_expression`` / ``rig.semantic_jaw``:

* **Visemes** are targets over the semantic shapes (:mod:`probtalk.corpus.visemes`), blended
  Cohen-Massaro style: every phone pulls the face towards its target with a
  dominance that is flat over the phone's core and decays (Gaussian) outside
  it; the face at time t is the dominance-weighted mean of all targets.
  Bilabial closure is then enforced as a constraint (as in JALI): dominance
  alone undershoots short /p b m/, yet real lips do seal.
* **Jaw** opening comes from vowel openness, scaled by the speaker's jaw
  range and the per-frame loudness of the audio.
* **Emotion** is a facial-action-unit pattern (``EMOTION_PATTERNS``) scaled by
  intensity, with onset/offset dynamics; a dict of weights blends patterns.
* **Style, blinks, gestures, variation**: per-speaker habits
  (:class:`~probtalk.corpus.style_profiles.SpeakerStyle`, varied per take by
  ``perform_style``), Poisson blinks, upper-face gestures on stressed syllables
  (each take its own accents and gestures), smile episodes, a resting brow and
  cheek level, and small seeded jitter and low-frequency noise, so one sentence
  has many valid motions.
* **Head motion** (:meth:`ProceduralAnimator.head_motion`, :mod:`probtalk.corpus.head`):
  FLAME neck rotation from the same phones and loudness, a separate output.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from probtalk.corpus.style_profiles import DEFAULT_STYLE, SpeakerStyle
from probtalk.corpus.visemes import (
    BILABIAL_CLOSURE,
    CLOSURE_PAD_S,
    CLOSURE_POSE,
    CLOSURE_RAMP_S,
    DEFAULT_VISEME,
    EMOTION_ARTICULATION,
    EMOTION_PATTERNS,
    LIP_OPENERS,
    NOISE_CHANNELS,
    OPEN_VOWEL_GAP_M,
    OPENER_MIN_M,
    RELEASE_RAMP_S,
    SILENCE_LABELS,
    UNGATED_SIDES,
    VISEMES,
)
from probtalk.errors import RigError, StyleError
from probtalk.layout import AUDIO_SAMPLE_RATE, PARAM_DIM, PARAM_EXPRESSION, PARAM_JAW, PARAM_SHAPE
from probtalk.options import emotion_mix, intensity_value

if TYPE_CHECKING:
    from probtalk.flame.rig import Rig

log = logging.getLogger(__name__)


class PhoneLike(Protocol):
    """Anything with ``start``/``end`` seconds and an ARPAbet ``phone`` label (``probtalk.corpus.phones.Phone``)."""

    start: float
    end: float
    phone: str


def intensity_gain(intensity: float) -> float:
    """Emotion gain for an intensity in [0, 2]: 0.45 (low), 0.725 (medium), 1.0 (high)."""
    return 0.45 + 0.275 * float(intensity)


def normalize_phone(label: str) -> tuple[str, int | None]:
    """Return (ARPAbet base label, stress digit or None) for a phone label such as ``"AH1"``."""
    text = str(label).strip().upper()
    match = re.fullmatch(r"([A-Z]+)([0-2])?", text)
    if not match or text in SILENCE_LABELS:
        return "SIL", None
    base, stress = match.group(1), match.group(2)
    return base, (int(stress) if stress is not None else None)


def loudness_envelope(audio: np.ndarray, fps: float = 25.0, num_frames: int | None = None) -> np.ndarray:
    """Per-frame RMS of 16 kHz audio.

    Args:
        audio: float32 [N] at 16 kHz.
        fps: frame rate of the envelope.
        num_frames: T (default ``round(N / 16000 * fps)``).

    Returns:
        float32 [T] RMS in a 50 ms window centred on each frame time ``k / fps``.
    """
    audio = np.asarray(audio, dtype=np.float64).ravel()
    if num_frames is None:
        num_frames = int(round(audio.size / AUDIO_SAMPLE_RATE * fps))
    csum = np.concatenate([[0.0], np.cumsum(audio * audio)])
    centres = np.arange(num_frames) / fps * AUDIO_SAMPLE_RATE
    half = 0.025 * AUDIO_SAMPLE_RATE
    lo = np.clip(np.round(centres - half).astype(np.int64), 0, audio.size)
    hi = np.clip(np.round(centres + half).astype(np.int64), 0, audio.size)
    count = np.maximum(hi - lo, 1)
    return np.sqrt((csum[hi] - csum[lo]) / count).astype(np.float32)


class ProceduralAnimator:
    """Phones -> FLAME parameters on a rig that carries semantic (ARKit-named) shapes.

    Args:
        rig: a :class:`~probtalk.flame.rig.Rig` with ``semantic_names``,
            ``semantic_expression`` [K, 100] and ``semantic_jaw`` [K, 3].

    Raises:
        RigError: the rig has no semantic shapes.
    """

    def __init__(self, rig: Rig) -> None:
        if rig.semantic_expression is None or rig.semantic_jaw is None or not rig.semantic_names:
            raise RigError(
                f"rig {rig.name} has no semantic shapes (semantic_names/expression/jaw); "
                "use the bundled probtalk head or a rig built with flame_assets"
            )
        self.rig_id = rig.rig_id()
        self.names: tuple[str, ...] = tuple(rig.semantic_names)
        self.index = {n: i for i, n in enumerate(self.names)}
        self.semantic_expression = np.asarray(rig.semantic_expression, np.float32)  # [K, 100]
        self.semantic_jaw = np.asarray(rig.semantic_jaw, np.float32)  # [K, 3]
        self.num_shapes = len(self.names)
        self._viseme_vectors = {p: self._vector(t) for p, (t, _, _) in VISEMES.items()}
        self._default_vector = self._vector(DEFAULT_VISEME[0])
        self.jaw_scale = self._calibrate_jaw(rig)
        if "jawOpen" in self.index:
            for vec in (*self._viseme_vectors.values(), self._default_vector):
                vec[self.index["jawOpen"]] = min(vec[self.index["jawOpen"]] * self.jaw_scale, 1.0)
        self._emotion_vectors = {e: self._vector(p) for e, p in EMOTION_PATTERNS.items()}
        self._closure_vector = self._vector(CLOSURE_POSE)
        self._opener_mask = np.maximum(self._mask(LIP_OPENERS), self._rig_openers(rig))
        self._jaw_mask = self._mask(("jawOpen", "mouthLowerDown"))
        self._left = np.array([self.index[n] for n in self.names if n.endswith("Left")
                               and not n.startswith(UNGATED_SIDES)], np.int64)
        self._right = np.array([self.index[n] for n in self.names if n.endswith("Right")
                                and not n.startswith(UNGATED_SIDES)], np.int64)
        self._noise = [(self._mask((n,)), std) for n, std in NOISE_CHANNELS.items()]

    # ------------------------------------------------------------ helpers
    def _lip_offsets(self, rig: Rig) -> tuple[np.ndarray, np.ndarray] | None:
        """(rest upper-minus-lower lip vector [3], per-shape change of it [K, 3]), None when unknown."""
        if rig.semantic_offsets is None or not {"upper_lip", "lower_lip"} <= set(rig.keypoints):
            return None
        upper, lower = rig.keypoints["upper_lip"], rig.keypoints["lower_lip"]
        rest = rig.v_template[upper] - rig.v_template[lower]
        return rest, rig.semantic_offsets[:, upper] - rig.semantic_offsets[:, lower]

    def _calibrate_jaw(self, rig: Rig) -> float:
        """Scale of jawOpen that makes the AA viseme part the lips by OPEN_VOWEL_GAP_M (1 if unknown)."""
        lips = self._lip_offsets(rig)
        if lips is None:
            return 1.0
        rest, delta = lips
        # the offsets are linear in the weights (the jaw's rotation is close to linear at these angles)
        gap = float(np.linalg.norm(rest + self._viseme_vectors["AA"] @ delta) - np.linalg.norm(rest))
        if gap <= 1e-4:
            log.warning("rig %s: the AA viseme does not part the lips; jawOpen left unscaled", rig.name)
            return 1.0
        scale = float(np.clip(OPEN_VOWEL_GAP_M / gap, 0.5, 2.0))
        return 1.0 if abs(scale - 1.0) < 0.02 else scale  # within 2 %: leave the visemes as they are

    def _rig_openers(self, rig: Rig) -> np.ndarray:
        """1 for each semantic shape that moves the rig's lip keypoints apart (0 when unknown)."""
        mask = np.zeros(self.num_shapes, np.float32)
        lips = self._lip_offsets(rig)
        if lips is None:
            return mask
        rest, delta = lips
        moved = rest[None] + delta
        mask[np.linalg.norm(moved, axis=-1) - np.linalg.norm(rest) > OPENER_MIN_M] = 1.0
        return mask

    def _expand(self, name: str) -> list[int]:
        """Indices of a semantic name, or of its Left/Right pair when the bare name is not a shape."""
        if name in self.index:
            return [self.index[name]]
        return [self.index[n] for n in (name + "Left", name + "Right") if n in self.index]

    def _vector(self, targets: Mapping[str, float]) -> np.ndarray:
        vec = np.zeros(self.num_shapes, np.float32)
        for name, weight in targets.items():
            for i in self._expand(name):
                vec[i] = weight
        return vec

    def _mask(self, names: Sequence[str]) -> np.ndarray:
        mask = np.zeros(self.num_shapes, np.float32)
        for name in names:
            for i in self._expand(name):
                mask[i] = 1.0
        return mask

    # --------------------------------------------------------------- API
    def animate(
        self,
        phones: Sequence[PhoneLike],
        duration: float,
        *,
        fps: float = 25.0,
        emotion: str | Mapping[str, float] = "neutral",
        intensity: float = 1.0,
        style: SpeakerStyle | None = None,
        loudness: np.ndarray | None = None,
        rng: np.random.Generator | None = None,
        variation: float = 1.0,
        timing: dict[str, np.ndarray] | None = None,
    ) -> np.ndarray:
        """Animate a phone sequence.

        Args:
            phones: ARPAbet phones with start/end seconds (stress digits allowed; "SIL" for silence).
            duration: clip length in seconds; T = round(duration * fps).
            fps: output frame rate.
            emotion: an emotion name or a dict of weights over emotion names (a blend).
            intensity: emotion intensity in [0, 2] (0 low, 1 medium, 2 high).
            style: the speaker's habits (default: an average speaker with a zero identity).
            loudness: optional per-frame RMS envelope [T] of the speech (see :func:`loudness_envelope`).
            rng: random generator for the stochastic variation; ``None`` gives a deterministic
                animation with no variation and regularly spaced blinks.
            variation: scale of the stochastic variation (0 = none even with an ``rng``).
            timing: a dict that receives the take's timing tracks (:meth:`semantic_weights`).

        Returns:
            float32 [T, 403] FLAME parameters (shape 0-299 | expression 300-399 | jaw 400-402).
        """
        weights = self.semantic_weights(
            phones, duration, fps=fps, emotion=emotion, intensity=intensity, style=style,
            loudness=loudness, rng=rng, variation=variation, timing=timing,
        )
        return self.weights_to_params(weights, (style or DEFAULT_STYLE).shape())

    def head_motion(
        self,
        phones: Sequence[PhoneLike],
        duration: float,
        *,
        fps: float = 25.0,
        emotion: str | Mapping[str, float] = "neutral",
        intensity: float = 1.0,
        style: SpeakerStyle | None = None,
        loudness: np.ndarray | None = None,
        rng: np.random.Generator | None = None,
        variation: float = 1.0,
    ) -> np.ndarray:
        """Prosody-driven head motion (see :mod:`probtalk.corpus.head`).

        Nods on primary-stressed syllables (deeper when loud), tilts and turns at phrase ends
        and pauses, loudness-driven wobble and slow drift; more energy for angry, happy and
        surprised, less for sad; scaled by ``style.head_motion`` (0 = exactly still).

        Args:
            phones, duration, fps, emotion, intensity, style, loudness: as for :meth:`animate`.
            rng: random generator for the take's choices (which accents nod, tilt directions, drift);
                ``None`` gives the deterministic prosodic part only (every accent nods, alternating tilts).
            variation: scale of the stochastic part (0 = the deterministic part even with an ``rng``).

        Returns:
            float32 [T, 3] FLAME neck axis-angle in radians: x pitch (+ = chin down), y yaw, z roll.
        """
        from probtalk.corpus.head import head_motion

        if not np.isfinite(duration) or duration <= 0:
            raise StyleError(f"duration must be > 0 seconds, got {duration}")
        if not np.isfinite(fps) or fps <= 0:
            raise StyleError(f"fps must be > 0, got {fps}")
        num_frames = max(int(round(duration * fps)), 1)
        t = np.arange(num_frames, dtype=np.float64) / fps
        segs = self._segments(phones, duration, None, 0.0)
        loud = self._loudness_gain(loudness, num_frames)
        accents = [(s[0], s[1]) for s in self._accents(segs, t, loud)]
        return head_motion(
            [s[:4] for s in segs], accents, duration, fps=fps, emotion=emotion, intensity=intensity, style=style,
            loudness=loudness, rng=rng, variation=variation,
        )

    def weights_to_params(self, weights: np.ndarray, shape: np.ndarray | None = None) -> np.ndarray:
        """Map semantic weights [T, K] to FLAME parameters [T, 403] (shape [300] broadcast if given)."""
        # einsum in float64 rather than BLAS: the sum order (hence every bit of the result)
        # must not depend on the thread count, so corpus files are identical across workers.
        weights = np.asarray(weights, np.float64)
        params = np.zeros((weights.shape[0], PARAM_DIM), np.float32)
        params[:, PARAM_EXPRESSION] = np.einsum("tk,ke->te", weights, self.semantic_expression.astype(np.float64))
        params[:, PARAM_JAW] = np.einsum("tk,kj->tj", weights, self.semantic_jaw.astype(np.float64))
        if shape is not None:
            params[:, PARAM_SHAPE] = np.asarray(shape, np.float32)
        return params

    def semantic_weights(
        self,
        phones: Sequence[PhoneLike],
        duration: float,
        *,
        fps: float = 25.0,
        emotion: str | Mapping[str, float] = "neutral",
        intensity: float = 1.0,
        style: SpeakerStyle | None = None,
        loudness: np.ndarray | None = None,
        rng: np.random.Generator | None = None,
        variation: float = 1.0,
        timing: dict[str, np.ndarray] | None = None,
    ) -> np.ndarray:
        """Like :meth:`animate` but return the semantic weights, float32 [T, K] in [0, 1] (K = len(names)).

        ``timing``, a dict, receives the take's timing tracks (:data:`TIMING_TRACKS`, float32 [T] each):
        the curves the ``motion`` stream drew, which syllables are stressed and how much, which gesture
        rides on them, when smiles come and go, how the emotion shows over time. Filling it draws nothing
        more from ``rng``, so the weights are the same either way.
        """
        if not np.isfinite(duration) or duration <= 0:
            raise StyleError(f"duration must be > 0 seconds, got {duration}")
        if not np.isfinite(fps) or fps <= 0:
            raise StyleError(f"fps must be > 0, got {fps}")
        intensity = intensity_value(intensity)
        mix = emotion_mix(emotion)
        style = style or DEFAULT_STYLE
        var = float(variation) if rng is not None else 0.0
        num_frames = max(int(round(duration * fps)), 1)
        t = np.arange(num_frames, dtype=np.float64) / fps

        segs = self._segments(phones, duration, rng, var)
        loud = self._loudness_gain(loudness, num_frames)
        articulation = style.articulation * sum(w * EMOTION_ARTICULATION.get(e, 1.0) for e, w in mix.items())

        tracks = {} if timing is None else timing
        accents = self._emphases(segs, t, style, loud, rng, var)
        speech = self._coarticulate(segs, t, style)  # [T, K]
        tracks["energy"] = self._energy(accents, t, rng, var)
        speech *= articulation * tracks["energy"][:, None]
        speech *= 1.0 + self._jaw_mask * (style.jaw_range * loud[:, None] - 1.0)

        closure = self._closure(segs, t)  # [T]
        emo = self._emotion(mix, intensity, t, duration, rng, var, tracks) * style.expressiveness  # [T, K]
        emo += self._vector({"mouthSmile": style.smile_bias})[None, :]
        weights = speech + emo
        weights += self._tone(style, t.size, fps, rng, var)
        weights += self._brows(accents, t, style, rng, var, tracks)
        weights += self._smiles(t, duration, style, rng, var, tracks)
        weights += self._lowfreq_noise(num_frames, fps, rng, var)
        weights = self._apply_asymmetry(weights, style.asymmetry)
        # Seal the lips on bilabials: openers fade out, mouth shapes go to the closure pose.
        c = closure[:, None]
        weights = weights * (1.0 - c * self._opener_mask) + c * self._closure_vector
        weights += self._blinks(t, duration, style, rng)
        return np.clip(weights, 0.0, 1.0).astype(np.float32)

    def timing_tracks(self, phones: Sequence[PhoneLike], duration: float, **kwargs: Any) -> np.ndarray:
        """The take's timing tracks, float32 [T, len(TIMING_TRACKS)], for the same arguments as
        :meth:`semantic_weights` (the same ``rng`` state gives the same take's tracks)."""
        timing: dict[str, np.ndarray] = {}
        self.semantic_weights(phones, duration, timing=timing, **kwargs)
        return stack_tracks(timing)

    # ---------------------------------------------------------- internals
    def _segments(
        self, phones: Sequence[PhoneLike], duration: float, rng: np.random.Generator | None, var: float
    ) -> list[tuple[float, float, str, int | None, float]]:
        """(start, end, base phone, stress, amplitude gain) per phone, jittered when var > 0."""
        out = []
        for ph in phones:
            start, end = float(ph.start), float(ph.end)
            if end <= start or end <= 0 or start >= duration:
                continue
            base, stress = normalize_phone(ph.phone)
            gain = 1.0
            if var > 0 and rng is not None:
                shift = float(np.clip(rng.normal(0.0, 0.006 * var), -0.012, 0.012))
                start, end = start + shift, end + shift
                gain = float(np.clip(1.0 + rng.normal(0.0, 0.07 * var), 0.85, 1.15))
            out.append((start, end, base, stress, gain))
        return out

    def _coarticulate(
        self,
        segs: list[tuple[float, float, str, int | None, float]],
        t: np.ndarray,
        style: SpeakerStyle,
    ) -> np.ndarray:
        """Dominance-weighted blend of viseme targets, [T, K]."""
        num_frames = t.size
        if not segs:
            return np.zeros((num_frames, self.num_shapes), np.float32)
        dom = np.empty((len(segs), num_frames))
        targets = np.empty((len(segs), self.num_shapes))
        rest_pose = self._rest_vector(style)
        for i, (start, end, base, _stress, gain) in enumerate(segs):
            _, alpha, tau = VISEMES.get(base, DEFAULT_VISEME)
            vec = self._viseme_vectors.get(base, self._default_vector)
            # Dominance is flat over the middle half of the phone and decays outside it;
            # anticipatory coarticulation (before the phone) reaches further than carry-over.
            mid, half = 0.5 * (start + end), 0.25 * (end - start)
            before = np.clip(mid - half - t, 0.0, None)
            after = np.clip(t - mid - half, 0.0, None)
            tau_before = tau + style.anticipation_s
            dom[i] = alpha * np.exp(-((before / tau_before) ** 2) - (after / tau) ** 2)
            targets[i] = vec * gain if base != "SIL" else vec + rest_pose
        rest = 1e-3  # a faint pull to the rest pose far from any phone
        blended = np.einsum("pt,pk->tk", dom, targets) / (dom.sum(axis=0)[:, None] + rest)  # no BLAS: bit-stable
        return blended.astype(np.float32)

    def _rest_vector(self, style: SpeakerStyle) -> np.ndarray:
        """The pause pose of this performance: lips shut, or parted by ``style.rest_open`` of jaw opening."""
        out = np.zeros(self.num_shapes)
        if style.rest_open > 0 and "jawOpen" in self.index:
            out[self.index["jawOpen"]] = min(style.rest_open * self.jaw_scale, 1.0)
        return out

    def _closure(self, segs: list[tuple[float, float, str, int | None, float]], t: np.ndarray) -> np.ndarray:
        """Lip-seal amount in [0, 1] per frame: 1 through every /p b m/, raised-cosine ramps around it."""
        closure = np.zeros(t.size)
        for start, end, base, _stress, _gain in segs:
            if base not in BILABIAL_CLOSURE:
                continue
            lo = start - CLOSURE_PAD_S
            before = np.clip((lo - t) / CLOSURE_RAMP_S, 0.0, 1.0)
            after = np.clip((t - end) / RELEASE_RAMP_S, 0.0, 1.0)
            ramp = 0.5 + 0.5 * np.cos(np.pi * np.maximum(before, after))
            closure = np.maximum(closure, ramp)
        return closure.astype(np.float32)

    def _loudness_gain(self, loudness: np.ndarray | None, num_frames: int) -> np.ndarray:
        """Jaw gain per frame from the loudness envelope: 0.85 (quiet) .. 1.15 (loud); 1 without audio."""
        if loudness is None:
            return np.ones(num_frames, np.float32)
        loud = np.asarray(loudness, np.float64).ravel()
        if loud.size != num_frames:  # tolerate an off-by-a-few envelope
            loud = np.interp(np.linspace(0, 1, num_frames), np.linspace(0, 1, max(loud.size, 1)), loud)
        ref = np.percentile(loud, 95) if loud.size else 0.0
        if ref <= 0:
            return np.ones(num_frames, np.float32)
        return (0.85 + 0.3 * np.clip(loud / ref, 0.0, 1.0)).astype(np.float32)

    def _emotion(
        self,
        mix: Mapping[str, float],
        intensity: float,
        t: np.ndarray,
        duration: float,
        rng: np.random.Generator | None,
        var: float,
        tracks: dict[str, np.ndarray],
    ) -> np.ndarray:
        """Emotion pattern [T, K]: blended AU pattern x intensity gain x onset/hold/offset envelope.

        The envelope goes to ``tracks["emotion"]`` (zero for a neutral face, which draws nothing).
        """
        pattern = sum(w * self._emotion_vectors[e] for e, w in mix.items())
        if not np.any(pattern):
            tracks["emotion"] = np.zeros(t.size, np.float32)
            return np.zeros((t.size, self.num_shapes), np.float32)
        onset_at, rise = 0.0, 0.35
        if rng is not None and var > 0:  # each performance lets the emotion show at its own time
            onset_at, rise = float(rng.uniform(0.0, 0.8 * var)), float(rng.uniform(0.2, 0.9))
        # starts at 35 % (the face already shows the emotion), builds up, eases off at the end
        up = np.clip((t - onset_at) / rise, 0.0, 1.0)
        envelope = 0.35 + 0.65 * (3 * up**2 - 2 * up**3)
        down = np.clip((duration - t) / 0.4, 0.0, 1.0)
        envelope *= 0.75 + 0.25 * down
        if rng is not None and var > 0:
            fps = 1.0 / max(t[1] - t[0], 1e-6) if t.size > 1 else 25.0
            envelope *= 1.0 + 0.15 * var * _smooth_noise(rng, t.size, fps, cutoff_hz=0.3)
        tracks["emotion"] = envelope.astype(np.float32)
        return (envelope[:, None] * intensity_gain(intensity) * pattern[None, :]).astype(np.float32)

    def _emphases(
        self,
        segs: list[tuple[float, float, str, int | None, float]],
        t: np.ndarray,
        style: SpeakerStyle,
        loud: np.ndarray,
        rng: np.random.Generator | None,
        var: float,
    ) -> list[float]:
        """Centres (s) of the syllables this performance emphasises, at most one per 0.8 s.

        Without an rng every accent (ARPAbet stress 1, else the loudest long vowels) is
        emphasised. With one, each performance picks its own (``style.emphasis_rate`` of them),
        so takes of a line put their emphasis in different places: the brows gesture there
        (:meth:`_brows`) and the mouth articulates wider (:meth:`_energy`).
        """
        if t.size == 0:
            return []
        stochastic = rng is not None and var > 0
        chosen: list[float] = []
        last = -np.inf
        for start, end, *_ in self._accents(segs, t, loud):
            centre = 0.5 * (start + end)
            if centre - last < 0.8:
                continue
            if stochastic and rng.random() > style.emphasis_rate:
                continue
            last = centre
            chosen.append(centre)
        return chosen

    def _energy(self, accents: list[float], t: np.ndarray, rng: np.random.Generator | None, var: float) -> np.ndarray:
        """Articulation gain per frame [T]: 1 without an rng.

        With one, the performance's energy drifts slowly (+-16 % at variation 1) and each
        emphasised syllable is articulated 10-35 % wider over about half a second, so the
        mouth of one take works harder where another's is relaxed. Closures stay sealed
        (the seal is applied after) and the gain stays within 0.8-1.5.
        """
        gain = np.ones(t.size)
        if rng is None or var <= 0 or t.size == 0:
            return gain.astype(np.float32)
        fps = 1.0 / max(t[1] - t[0], 1e-6) if t.size > 1 else 25.0
        gain += EMPHASIS_DRIFT * var * _smooth_noise(rng, t.size, fps, cutoff_hz=0.25)
        for centre in accents:
            half = float(rng.uniform(0.2, 0.35))
            boost = float(rng.uniform(*EMPHASIS_BOOST)) * min(var, 1.5)
            bump = np.clip(1.0 - np.abs(t - centre) / half, 0.0, None)
            gain += boost * np.sin(0.5 * np.pi * bump) ** 2
        return np.clip(gain, 0.8, 1.5).astype(np.float32)

    def _brows(
        self,
        accents: list[float],
        t: np.ndarray,
        style: SpeakerStyle,
        rng: np.random.Generator | None,
        var: float,
        tracks: dict[str, np.ndarray],
    ) -> np.ndarray:
        """Upper-face gestures on the emphasised syllables (:meth:`_emphases`).

        Without an rng each gets a brow raise of ``style.brow_use``. With one, each gets its
        own gesture (raise, inner or outer raise, frown, widened eyes, squint), size, length
        and timing. Each gesture's curve adds to its kind's track (:data:`GESTURE_TRACKS`).
        """
        out = np.zeros((t.size, self.num_shapes), np.float32)
        for name in dict.fromkeys(GESTURE_TRACKS):
            tracks[name] = np.zeros(t.size, np.float32)
        if style.brow_use <= 0 or t.size == 0:
            return out
        stochastic = rng is not None and var > 0
        for centre in accents:
            if stochastic:
                which = int(rng.choice(len(GESTURES), p=GESTURE_ODDS))
                amp = style.brow_use * float(rng.uniform(0.8, 1.8)) * min(var, 1.5)
                half = float(rng.uniform(0.2, 0.5))
                centre += float(rng.uniform(-0.12, 0.06))
            else:
                which, amp, half = 0, style.brow_use, 0.22
            bump = np.clip(1.0 - np.abs(t - centre) / half, 0.0, None)
            curve = amp * np.sin(0.5 * np.pi * bump) ** 2
            out += curve[:, None] * self._vector(GESTURES[which])[None, :]
            tracks[GESTURE_TRACKS[which]] += curve.astype(np.float32)
        return out

    def _accents(
        self, segs: list[tuple[float, float, str, int | None, float]], t: np.ndarray, loud: np.ndarray
    ) -> list[tuple[float, float, str, int | None, float]]:
        """Stressed vowels: ARPAbet stress 1, or without stress marks the loudest long vowels."""
        fps = 1.0 / (t[1] - t[0]) if t.size > 1 else 25.0
        vowels = [s for s in segs if VISEMES.get(s[2], DEFAULT_VISEME)[1] >= 1.6 and s[2] not in ("W", "F", "V")
                  and s[2] not in BILABIAL_CLOSURE and s[2] != "R"]
        if not vowels:
            return []
        if any(s[3] is not None for s in vowels):
            return [s for s in vowels if s[3] == 1]
        score = []
        for start, end, *_ in vowels:
            k = min(max(int(round(0.5 * (start + end) * fps)), 0), t.size - 1)
            score.append(float(loud[k]) * (end - start))
        cut = np.quantile(score, 0.7)
        return [s for s, sc in zip(vowels, score, strict=True) if sc >= cut]

    def _tone(self, style: SpeakerStyle, num_frames: int, fps: float, rng: np.random.Generator | None,
              var: float) -> np.ndarray:
        """The performance's resting upper face: brow level (raised or knitted) and cheek raise, slowly breathing."""
        tone = {"browInnerUp": max(style.brow_tone, 0.0), "browOuterUp": 0.8 * max(style.brow_tone, 0.0),
                "browDown": max(-style.brow_tone, 0.0) * 1.5,
                "cheekSquint": style.squint_tone, "eyeSquint": 0.8 * style.squint_tone}
        vec = self._vector(tone)
        level = np.ones(num_frames)
        if rng is not None and var > 0:
            level = np.clip(1.0 + 0.3 * var * _smooth_noise(rng, num_frames, fps, cutoff_hz=0.2), 0.0, None)
        return (level[:, None] * vec[None, :]).astype(np.float32)

    def _smiles(self, t: np.ndarray, duration: float, style: SpeakerStyle, rng: np.random.Generator | None,
                var: float, tracks: dict[str, np.ndarray]) -> np.ndarray:
        """Smile episodes (Poisson, ``style.smile_rate`` per second), each with its own onset, hold and offset;
        their curve goes to ``tracks["smile"]``."""
        out = np.zeros((t.size, self.num_shapes), np.float32)
        tracks["smile"] = np.zeros(t.size, np.float32)
        if rng is None or var <= 0 or style.smile_rate <= 0:
            return out
        smile = self._vector({"mouthSmile": 1.0, "cheekSquint": 0.6, "eyeSquint": 0.15})
        at = float(rng.exponential(1.0 / style.smile_rate)) - 1.0  # an episode may already be under way
        curve = np.zeros(t.size)
        while at < duration:
            amp = float(rng.uniform(*SMILE_AMPLITUDE)) * min(var, 1.5)
            rise, hold, fall = float(rng.uniform(0.2, 0.6)), float(rng.uniform(0.4, 2.5)), float(rng.uniform(0.3, 0.8))
            up = np.clip((t - at) / rise, 0.0, 1.0)
            down = np.clip((t - at - rise - hold) / fall, 0.0, 1.0)
            env = (3 * up**2 - 2 * up**3) * (1.0 - (3 * down**2 - 2 * down**3))
            curve = np.maximum(curve, amp * env)
            at += rise + hold + fall + float(rng.exponential(1.0 / style.smile_rate))
        tracks["smile"] = curve.astype(np.float32)
        return (curve[:, None] * smile[None, :]).astype(np.float32)

    def _lowfreq_noise(self, num_frames: int, fps: float, rng: np.random.Generator | None, var: float) -> np.ndarray:
        out = np.zeros((num_frames, self.num_shapes), np.float32)
        if rng is None or var <= 0:
            return out
        for mask, std in self._noise:
            out += (std * var * _smooth_noise(rng, num_frames, fps))[:, None] * mask[None, :]
        return out

    def _apply_asymmetry(self, weights: np.ndarray, asymmetry: float) -> np.ndarray:
        if asymmetry == 0 or self._left.size == 0:
            return weights
        weights = weights.copy()
        weights[:, self._left] *= 1.0 + 0.25 * asymmetry
        weights[:, self._right] *= 1.0 - 0.25 * asymmetry
        return weights

    def _blinks(self, t: np.ndarray, duration: float, style: SpeakerStyle, rng: np.random.Generator | None) -> np.ndarray:
        """Both eyelids: Poisson blinks of 100-150 ms (fast close, slower open); regular without an rng."""
        out = np.zeros((t.size, self.num_shapes), np.float32)
        lids = self._vector({"eyeBlink": 1.0})
        if style.blink_rate <= 0 or not np.any(lids):
            return out
        times: list[tuple[float, float]] = []
        if rng is None:
            at = 1.0
            while at < duration - 0.1:
                times.append((at, 0.12))
                at += 1.0 / style.blink_rate
        else:
            at = float(rng.uniform(0.1, 1.5))
            while at < duration - 0.1:
                times.append((at, float(rng.uniform(0.10, 0.15))))
                at += 0.2 + float(rng.exponential(1.0 / style.blink_rate))
        curve = np.zeros(t.size)
        for start, length in times:
            close = 0.4 * length
            phase_in = np.clip((t - start) / close, 0.0, 1.0)
            phase_out = np.clip((t - start - close) / (length - close), 0.0, 1.0)
            shape = np.where(t < start + close, phase_in, 1.0 - phase_out)
            shape = np.where((t >= start) & (t <= start + length), np.sin(0.5 * np.pi * shape) ** 2, 0.0)
            curve = np.maximum(curve, shape)
        return (curve[:, None] * lids[None, :]).astype(np.float32)


# Upper-face gestures a performance may put on a stressed syllable, and how often each is chosen.
GESTURES: tuple[dict[str, float], ...] = (
    {"browInnerUp": 0.35, "browOuterUp": 0.3},  # both raised (the deterministic default)
    {"browInnerUp": 0.55},  # inner raise
    {"browOuterUp": 0.5},  # outer raise
    {"browDown": 0.5, "eyeSquint": 0.15},  # frown of concentration
    {"eyeWide": 0.5, "browOuterUp": 0.2, "browInnerUp": 0.15},  # widened eyes
    {"eyeSquint": 0.4, "cheekSquint": 0.35},  # squint / cheek raise
)
GESTURE_ODDS = np.array([0.35, 0.15, 0.12, 0.18, 0.1, 0.1])
# The timing track each gesture's curve adds to: the three raises are one.
GESTURE_TRACKS = ("brow_raise", "brow_raise", "brow_raise", "brow_frown", "eyes_wide", "squint")
# A take's timing tracks (:meth:`ProceduralAnimator.timing_tracks`): what its ``motion`` stream drew over time.
TIMING_TRACKS = ("energy", "brow_raise", "brow_frown", "eyes_wide", "squint", "smile", "emotion")
EMPHASIS_DRIFT = 0.16  # std of a performance's slow articulation drift at variation 1 (v4: 0.10)
EMPHASIS_BOOST = (0.10, 0.35)  # extra articulation on an emphasised syllable at variation 1
SMILE_AMPLITUDE = (0.15, 0.5)  # peak mouthSmile of a smile episode at variation 1 (v4: 0.12-0.35)


def stack_tracks(timing: Mapping[str, np.ndarray]) -> np.ndarray:
    """The tracks a ``timing`` dict received (:meth:`ProceduralAnimator.semantic_weights`) as float32
    [T, len(TIMING_TRACKS)], in :data:`TIMING_TRACKS` order."""
    return np.stack([timing[name] for name in TIMING_TRACKS], 1).astype(np.float32)


def _smooth_noise(rng: np.random.Generator, num_frames: int, fps: float, cutoff_hz: float = 0.6) -> np.ndarray:
    """Unit-std low-pass Gaussian noise [T] (Gaussian filter with a ``cutoff_hz`` corner)."""
    from scipy.ndimage import gaussian_filter1d

    sigma = max(fps / (2 * np.pi * cutoff_hz), 0.5)
    pad = int(3 * sigma)
    raw = rng.standard_normal(num_frames + 2 * pad)
    smooth = gaussian_filter1d(raw, sigma)[pad : pad + num_frames]
    std = float(smooth.std())
    return smooth / std if std > 1e-8 else smooth
