"""The rule-based baseline: recognised phones + loudness -> the procedural animator.

It is the corpus generator run backwards on real speech: pocketsphinx
recognises (or, given the text, force-aligns) the phones, the audio gives the
loudness envelope, and :class:`~probtalk.corpus.animator.ProceduralAnimator`
turns them into FLAME motion with no stochastic variation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from probtalk.animation import Animation
from probtalk.layout import AUDIO_SAMPLE_RATE, NUM_EXPRESSION, PARAM_EXPRESSION, PARAM_JAW

if TYPE_CHECKING:
    from probtalk.corpus.animator import ProceduralAnimator
    from probtalk.flame.rig import Rig

ENGINE = "rules"
_ANIMATORS: dict[int, tuple[Rig | None, ProceduralAnimator]] = {}  # the last few rigs' animators


def _animator_for(rig: Rig | None) -> ProceduralAnimator:
    """The animator of ``rig`` (None: the bundled head), built once per rig object."""
    from probtalk.corpus.animator import ProceduralAnimator
    from probtalk.flame import load_rig

    hit = _ANIMATORS.get(id(rig))
    if hit is not None and hit[0] is rig:
        return hit[1]
    animator = ProceduralAnimator(rig if rig is not None else load_rig())
    if len(_ANIMATORS) >= 4:
        _ANIMATORS.clear()
    _ANIMATORS[id(rig)] = (rig, animator)
    return animator


def animate_rules(
    audio: np.ndarray,
    *,
    text: str | None = None,
    emotion: str | Mapping[str, float] = "neutral",
    intensity: float = 1.0,
    rig: Rig | None = None,
    fps: float = 25.0,
    seed: int = 0,
) -> Animation:
    """Animate speech with the rule-based baseline.

    Args:
        audio: float32 [N] speech at 16 kHz (see :func:`probtalk.audio.load_audio`).
        text: the transcript, if known: phones are force-aligned to it instead of recognised.
        emotion: emotion name or dict of weights (a blend).
        intensity: emotion intensity in [0, 2].
        rig: the rig whose semantic shapes realise the visemes (default: the bundled head);
            its animator is built once and reused, so do not modify a rig after passing it.
        fps: output frame rate.
        seed: places the blinks; the motion itself has no stochastic variation.

    Returns:
        An :class:`~probtalk.Animation` with ``expression [T, 100]``, ``jaw_pose [T, 3]`` and
        meta ``engine="rules"``, emotion, intensity, seed and the recognised phones.

    Raises:
        AudioError: the audio is empty, silent or too short.
        StyleError: unknown emotion or intensity out of range.
    """
    from probtalk.audio import validate_audio
    from probtalk.corpus.align import align_phones
    from probtalk.corpus.animator import emotion_mix, loudness_envelope

    audio = np.asarray(audio, np.float32).ravel()
    validate_audio(audio, "speech")
    mix = emotion_mix(emotion)  # validate before the (slower) recogniser
    animator = _animator_for(rig)
    phones = align_phones(audio, text)
    duration = audio.size / AUDIO_SAMPLE_RATE
    frames = max(int(round(duration * fps)), 1)
    params = animator.animate(
        phones, duration, fps=fps, emotion=mix, intensity=intensity,
        loudness=loudness_envelope(audio, fps, frames), rng=np.random.default_rng(seed), variation=0.0,
    )
    meta = {
        "engine": ENGINE,
        "emotion": mix,
        "intensity": float(intensity),
        "seed": int(seed),
        "rig": animator.rig_id,
        "phones": [[float(p.start), float(p.end), str(p.phone)] for p in phones],
        "aligned_to_text": text is not None,
    }
    return Animation(
        fps=fps,
        expression=params[:, PARAM_EXPRESSION][:, :NUM_EXPRESSION],
        jaw_pose=params[:, PARAM_JAW],
        meta=meta,
    )
