"""The life stage of every take: prosody -> blinks, gaze and head motion, offline or step by step.

:class:`Life` runs after the motion model. It keeps one prosody tracker for
the clip and one blink, gaze and head process per take, and produces frames
in order: ``step(...)`` returns the life of frames ``[done, stop)``. An
offline call makes one step over the whole clip; a stream makes one per
chunk. Every process is causal except the head net, which looks
:attr:`Life.lookahead` frames ahead, and every random number is addressed by
(seed, take, frame), so the frames are the same however the audio was cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from probtalk.life.blinks import BlinkProcess
from probtalk.life.gaze import GazeProcess, eye_pose
from probtalk.life.head import HeadMotion, HeadNet, emotion_energy, style_channels
from probtalk.life.prosody import NUM_PROSODY, ProsodyTracker


@dataclass(frozen=True)
class LifeSettings:
    """The three controls (see :class:`probtalk.AnimateOptions`).

    Attributes:
        head_motion: scale of head motion, 0..2 (0: the neck stays exactly still).
        blinks: add blinks to the expression.
        gaze: move the eyes (saccades, aversion, counter-rotation); False leaves them still.
    """

    head_motion: float = 1.0
    blinks: bool = True
    gaze: bool = True


@dataclass
class LifeFrames:
    """One take's life for some frames.

    Attributes:
        blink: lid closure float32 [n] in [0, 1] (zeros when blinks are off).
        neck: neck axis-angle float32 [n, 3].
        eyes: eye axis-angles float32 [n, 6] (left, right).
    """

    blink: np.ndarray
    neck: np.ndarray
    eyes: np.ndarray


class Life:
    """Blinks, gaze and head motion for ``num_takes`` takes of one clip.

    Args:
        fps: motion frames per second.
        seed: the take sampler's seed.
        takes: the takes' stream indices in the counter-based rule (usually 0..n-1; deterministic
            takes all use 0, so they are one take).
        settings: the controls.
        emotion: the emotion mix ``{name: weight}`` (weights summing to 1).
        intensity: 0..2.
        head: the learned head net, or None for the stochastic head only.
    """

    def __init__(
        self, fps: float, seed: int, takes: Sequence[int], settings: LifeSettings,
        emotion: dict[str, float], intensity: float, head: HeadNet | None,
    ) -> None:
        self.fps = float(fps)
        self.settings = settings
        self.head = head if settings.head_motion > 0 else None
        self.prosody = ProsodyTracker(fps)
        self._style = style_channels(emotion, intensity)
        energy = emotion_energy(emotion, intensity)
        self.blinks = [BlinkProcess(fps, seed, k) for k in takes]
        self.gazes = [GazeProcess(fps, seed, k) for k in takes]
        self.heads = [HeadMotion(fps, seed, k, settings.head_motion, energy) for k in takes]
        self._features = np.zeros((0, NUM_PROSODY), np.float32)  # frames [_feat_start, _feat_start + len)
        self._feat_start = 0
        self.done = 0

    @property
    def lookahead(self) -> int:
        """Frames of audio needed after a frame's end before its life is known."""
        return self.head.config.lookahead if self.head is not None else 0

    @property
    def context(self) -> int:
        """Frames of prosody kept before the next frame (the head net's left reach)."""
        return self.head.config.context if self.head is not None else 0

    def _extend(self, audio: np.ndarray, audio_start: int, upto: int) -> None:
        have = self._feat_start + self._features.shape[0]
        if upto > have:
            new = self.prosody.features(audio, audio_start, have, upto - have)
            self._features = np.concatenate([self._features, new])

    def step(self, audio: np.ndarray, audio_start: int, stop: int, total: int | None) -> list[LifeFrames]:
        """Life of frames [done, stop) per take.

        Args:
            audio: the samples held, ``audio[0]`` at absolute sample ``audio_start``; they must
                reach the end of frame ``stop + lookahead`` (or the end of the clip).
            audio_start: absolute index of ``audio[0]``; it must not pass the window start of
                frame ``done - context`` (samples before it read as silence otherwise).
            stop: the first frame not wanted yet.
            total: frames in the clip once the audio has ended, else None.
        """
        first, n = self.done, stop - self.done
        reach = stop + self.lookahead if total is None else total
        self._extend(audio, audio_start, min(reach, total) if total is not None else reach)
        feats = self._features[first - self._feat_start : stop - self._feat_start]
        learned = None
        if self.head is not None:
            c, la = self.head.config.context, self.head.config.lookahead
            x = np.zeros((n + c + la, NUM_PROSODY + self._style.size), np.float32)
            lo, hi = max(first - c, self._feat_start), min(stop + la, self._feat_start + self._features.shape[0])
            x[lo - (first - c) : hi - (first - c), :NUM_PROSODY] = self._features[lo - self._feat_start : hi - self._feat_start]
            x[lo - (first - c) : hi - (first - c), NUM_PROSODY:] = self._style
            learned = self.head.forward(x, first - c, total)
        out = []
        for blink, gaze, head in zip(self.blinks, self.gazes, self.heads, strict=True):
            closure = blink.run(feats, first) if self.settings.blinks else np.zeros(n, np.float32)
            neck = head.run(learned, feats, first)
            look = gaze.run(feats, first)
            eyes = eye_pose(look, neck) if self.settings.gaze else np.zeros((n, 6), np.float32)
            out.append(LifeFrames(closure, neck, eyes))
        self.done = stop
        keep = max(0, stop - self.context) - self._feat_start
        if keep > 0:
            self._features = self._features[keep:]
            self._feat_start += keep
        return out


def apply_blink(expression: np.ndarray, closure: np.ndarray, blink_vector: np.ndarray) -> np.ndarray:
    """Expression [T, E'] with ``closure[t] * blink_vector`` added (E' grows to reach every nonzero coefficient)."""
    used = np.flatnonzero(np.abs(blink_vector) > 0)
    width = max(expression.shape[1], int(used[-1]) + 1 if used.size else 0)
    out = np.zeros((expression.shape[0], width), np.float32)
    out[:, : expression.shape[1]] = expression
    out += closure[:, None].astype(np.float32) * blink_vector[None, :width].astype(np.float32)
    return out
