"""Seeded blinks that follow the speech: a frame-by-frame hazard process with a refractory period.

At each frame a blink starts with probability ``1 - exp(-rate / fps)``, where
``rate`` (blinks per second) is the take's base rate (14-20 a minute, drawn
per take) times a factor from the prosody: x0.5 in fast speech, x2 in a pause,
x4 in the first 0.5 s of a pause after at least 0.8 s of speech (a phrase
end); no blink within 1.2 s of the last one's start, and a blink is forced
after 7 s without one. A blink lasts 0.12-0.30 s: the lids close in 1-2
frames with an eased ramp, stay fully closed (weight exactly 1) for one frame
(two for long blinks, so a resampled curve still reaches 1), and open more
slowly. Every random number is the counter-based uniform of
:mod:`probtalk.runtime.sampling` at a position fixed by (frame, purpose), so a
blink depends on (seed, take, audio) only, never on how a stream was chunked.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from probtalk.life.prosody import PROSODY_NAMES
from probtalk.life.seeded import SeededProcess
from probtalk.runtime.sampling import uniforms

BLINK_POSITION = 2**61  # counter positions of the blink process (codes sit far below, noise at 2**62)
BASE_RATE_PER_MINUTE = (14.0, 20.0)
FAST_SPEECH_FACTOR = 0.5
PAUSE_FACTOR = 2.0
PHRASE_END_FACTOR = 4.0
PHRASE_END_SECONDS = 0.5
PHRASE_MIN_SPEECH_SECONDS = 0.8
FAST_RATE = 1.3  # the prosody "rate" feature above which speech counts as fast (about the fastest quarter)
REFRACTORY_SECONDS = 1.2
MAX_GAP_SECONDS = 7.0
DURATION_SECONDS = (0.12, 0.30)

_PAUSE = PROSODY_NAMES.index("pause")
_RATE = PROSODY_NAMES.index("rate")


def blink_shape(duration: float, fps: float) -> np.ndarray:
    """Lid closure per frame float64 [n] for one blink of ``duration`` seconds, from its first frame.

    Closing 1-2 frames (sin² ease), fully closed (exactly 1.0) for 1 frame (2 when the blink is
    longer than 0.2 s), opening over the rest (at least 2 frames).
    """
    frames = max(4, int(round(duration * fps)))
    close = 1 if frames <= 5 else 2
    hold = 2 if duration > 0.2 else 1
    open_ = max(2, frames - close - hold)
    rise = np.sin(0.5 * np.pi * np.arange(1, close + 1) / (close + 1)) ** 2
    fall = np.sin(0.5 * np.pi * (1.0 - np.arange(1, open_ + 1) / (open_ + 1))) ** 2
    return np.concatenate([rise, np.ones(hold), fall])


@dataclass
class BlinkState:
    """Where the blink process stands after the frames committed so far."""

    last_onset: float = -1e9  # frame of the last blink's start
    speech_run: int = 0  # speech frames before the current pause (or so far, while speaking)
    pause_run: int = 0  # frames of the current pause
    pending: list[float] = field(default_factory=list)  # closure of the frames after the last committed one


class BlinkProcess(SeededProcess):
    """Blink closure [T] in [0, 1] frame by frame (see the module docstring; args of :class:`SeededProcess`)."""

    def __init__(self, fps: float, seed: int, take: int) -> None:
        super().__init__(fps, seed, take)
        lo, hi = BASE_RATE_PER_MINUTE
        u = uniforms(seed, take, np.array([BLINK_POSITION - 1, BLINK_POSITION - 2]))
        self.base_rate = (lo + (hi - lo) * float(u[0])) / 60.0
        # as if the last blink had been 0-4 s before the clip, so the first one is not forced at once
        self.state = BlinkState(last_onset=-float(u[1]) * 4.0 * self.fps)

    def run(self, prosody: np.ndarray, first_frame: int) -> np.ndarray:
        """Closure float32 [n] for frames ``first_frame ...`` given their prosody [n, F]; advances ``state``."""
        n = prosody.shape[0]
        u = self.frame_draws(BLINK_POSITION, first_frame, n, 2)
        out = np.zeros(n, np.float32)
        s = self.state
        fps = self.fps
        pauses, fast, u = (prosody[:, _PAUSE] > 0.5).tolist(), (prosody[:, _RATE] > FAST_RATE).tolist(), u.tolist()
        for i in range(n):
            f = first_frame + i
            if pauses[i]:
                s.pause_run += 1
            else:
                if s.pause_run > 2:
                    s.speech_run = 0
                s.pause_run = 0
                s.speech_run += 1
            since = f - s.last_onset
            rate = self.base_rate
            if s.pause_run > 2:
                rate *= PAUSE_FACTOR
                if s.pause_run <= PHRASE_END_SECONDS * fps and s.speech_run >= PHRASE_MIN_SPEECH_SECONDS * fps:
                    rate *= PHRASE_END_FACTOR
            elif fast[i]:
                rate *= FAST_SPEECH_FACTOR
            start = since >= REFRACTORY_SECONDS * fps and (
                u[i][0] < 1.0 - math.exp(-rate / fps) or since >= MAX_GAP_SECONDS * fps
            )
            if start and not s.pending:
                lo, hi = DURATION_SECONDS
                s.pending = blink_shape(lo + (hi - lo) * u[i][1], fps).tolist()
                s.last_onset = f
            if s.pending:
                out[i] = s.pending.pop(0)
        return out


def blink_expression(rig_path: str | os.PathLike[str] | None = None) -> np.ndarray:
    """Expression coefficients float32 [100] that close both eyelids (eyeBlinkLeft + eyeBlinkRight).

    Read with numpy from a probtalk rig ``.npz`` (default: the bundled head), so the
    runtime needs no torch. A rig without semantic shapes gives zeros (no blinks).
    """
    if rig_path is None:
        import flame_assets

        rig_path = Path(flame_assets.__file__).parent / "probtalk_head.npz"
    with np.load(rig_path, allow_pickle=False) as data:
        if "semantic_names" not in data.files or "semantic_expression" not in data.files:
            return np.zeros(100, np.float32)
        names = [str(n) for n in data["semantic_names"]]
        expr = np.asarray(data["semantic_expression"], np.float32)
    rows = [names.index(n) for n in ("eyeBlinkLeft", "eyeBlinkRight") if n in names]
    return expr[rows].sum(axis=0) if rows else np.zeros(expr.shape[1], np.float32)
