"""A face that lives: seeded blinks, gaze and head motion added to each take after the motion model.

Numpy only at inference, so the torch model, the onnxruntime path and streams
all run the same code (:class:`Life`):

* :mod:`~probtalk.life.prosody` - per-frame loudness, rise, voicing, pitch, pauses, speech rate (causal);
* :mod:`~probtalk.life.blinks` - a hazard process: 14-20 blinks a minute, fewer in fast speech, more at pauses;
* :mod:`~probtalk.life.gaze` - fixations, saccades, aversion in pauses, eyes counter-rotating the head;
* :mod:`~probtalk.life.head` - a small learned conv net (prosody + style -> neck) plus a seeded drift;
* :mod:`~probtalk.life.train` - trains the head net on a corpus's ``neck/`` files (torch).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from probtalk.animation import Animation
from probtalk.life.blinks import blink_expression
from probtalk.life.head import HeadNet
from probtalk.life.track import Life, LifeFrames, LifeSettings, apply_blink

__all__ = ["HeadNet", "Life", "LifeFrames", "LifeSettings", "add_life", "blink_vector", "life_takes", "live_animation"]


@functools.lru_cache(maxsize=1)
def blink_vector() -> np.ndarray:
    """The bundled head's eyelid-closing expression [100] (read once)."""
    return blink_expression()


def live_animation(motion: np.ndarray, frames: LifeFrames, fps: float, meta: dict[str, Any]) -> Animation:
    """An Animation from raw motion [T, 53] and its life: blinks added to the expression, neck and eyes set."""
    anim = Animation.from_motion(motion, fps=fps, meta=meta)
    if np.any(frames.blink):
        anim.expression = apply_blink(anim.expression, frames.blink, blink_vector())
    anim.neck_pose = frames.neck
    anim.eye_pose = frames.eyes
    anim.validate()
    return anim


def life_takes(seed: int | None, num_takes: int) -> tuple[int, list[int]]:
    """(seed, take indices) of the life stage: the takes' own, or seed 0 and take 0 for every
    deterministic take (``seed`` None)."""
    return (0, [0] * num_takes) if seed is None else (int(seed), list(range(num_takes)))


def add_life(
    motions: list[np.ndarray], wav: np.ndarray, *, fps: float, seed: int | None, settings: LifeSettings,
    emotion: dict[str, float], intensity: float, head: HeadNet | None, metas: list[dict[str, Any]],
) -> list[Animation]:
    """Offline: the takes' raw motion [T, 53] (one clip) -> Animations with blinks, gaze and head motion.

    Args:
        motions: raw motion per take, all of one length T.
        wav: the clip's 16 kHz speech [N].
        fps: motion frames per second.
        seed: the take sampler's seed; None for deterministic takes (all get the life of seed 0,
            take 0: deterministic takes are one take, whatever the seed).
        settings: the controls.
        emotion: emotion mix ``{name: weight}``.
        intensity: 0..2.
        head: the learned head net, or None (stochastic head only).
        metas: each take's meta.
    """
    total = motions[0].shape[0]
    life = Life(fps, *life_takes(seed, len(motions)), settings, emotion, intensity, head)
    frames = life.step(np.asarray(wav, np.float32), 0, total, total)
    return [live_animation(m, f, fps, meta) for m, f, meta in zip(motions, frames, metas, strict=True)]
