"""Seeded gaze: fixations with small saccades, gaze aversion in pauses, eyes that keep eye contact.

The gaze target (yaw, pitch in radians, in the head's frame before the
counter-rotation) follows a frame-by-frame process: every 0.5-2.5 s a
saccade moves it 0.5-3 degrees from the eye-contact point in a random
direction; in a pause (at least 0.2 s of quiet) a saccade becomes, with
probability 0.35, a gaze aversion 5-12 degrees sideways or down that returns
to eye contact after 0.5-1.5 s. A saccade takes one frame (two for moves over
4 degrees, eased), as fast as the frame rate allows. The eyes then rotate
against the head by :data:`COUNTER_ROTATION` of its yaw and pitch, so the
look stays on the listener while the head moves. Both eyes move together
(no vergence). Random numbers come from the counter-based rule of
:mod:`probtalk.runtime.sampling` at positions fixed by (frame, purpose).

FLAME eye joints: +x pitch looks down, +y yaw looks to the subject's left
(the bundled head's ``eyeLook*`` shapes agree).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from probtalk.life.prosody import PROSODY_NAMES
from probtalk.life.seeded import SeededProcess

GAZE_POSITION = 2**61 + 2**58  # counter positions of the gaze process
SACCADE_INTERVAL_SECONDS = (0.5, 2.5)
SACCADE_DEGREES = (0.5, 3.0)
AVERSION_DEGREES = (5.0, 12.0)
AVERSION_SECONDS = (0.5, 1.5)
AVERSION_PROBABILITY = 0.35
PAUSE_SECONDS = 0.2
COUNTER_ROTATION = 0.8  # share of the head's yaw/pitch the eyes undo
_PAUSE = PROSODY_NAMES.index("pause")
_DRAWS = 6  # uniforms per frame


@dataclass
class GazeState:
    """Where the gaze process stands after the frames committed so far."""

    target: tuple[float, float] = (0.0, 0.0)  # (pitch, yaw) radians
    current: tuple[float, float] = (0.0, 0.0)
    next_event: int = -1  # frame of the next saccade (-1: draw at the first frame)
    return_at: int = -1  # frame at which an aversion ends (-1: none)
    pause_run: int = 0
    path: list[tuple[float, float]] = field(default_factory=list)  # the rest of a two-frame saccade


class GazeProcess(SeededProcess):
    """Gaze (pitch, yaw) per frame (see the module docstring; args of :class:`SeededProcess`)."""

    def __init__(self, fps: float, seed: int, take: int) -> None:
        super().__init__(fps, seed, take)
        self.state = GazeState()

    def _interval(self, u: float) -> int:
        lo, hi = SACCADE_INTERVAL_SECONDS
        return max(1, int(round((lo + (hi - lo) * u) * self.fps)))

    def run(self, prosody: np.ndarray, first_frame: int) -> np.ndarray:
        """Gaze float32 [n, 2] (pitch, yaw; radians) for frames ``first_frame ...``; advances ``state``."""
        n = prosody.shape[0]
        u = self.frame_draws(GAZE_POSITION, first_frame, n, _DRAWS)
        out = np.zeros((n, 2), np.float32)
        s = self.state
        pauses, u = (prosody[:, _PAUSE] > 0.5).tolist(), u.tolist()
        for i in range(n):
            f = first_frame + i
            s.pause_run = s.pause_run + 1 if pauses[i] else 0
            if s.next_event < 0:
                s.next_event = f + self._interval(u[i][0])
            if s.return_at >= 0 and f >= s.return_at:  # an aversion ends: back to eye contact
                self._move(s, (0.0, 0.0))
                s.return_at = -1
                s.next_event = f + self._interval(u[i][0])
            elif f >= s.next_event and s.return_at < 0:
                if s.pause_run >= PAUSE_SECONDS * self.fps and u[i][1] < AVERSION_PROBABILITY:
                    deg = AVERSION_DEGREES[0] + (AVERSION_DEGREES[1] - AVERSION_DEGREES[0]) * u[i][2]
                    if u[i][3] < 0.35:  # down
                        target = (math.radians(deg) * 0.8, math.radians(2.0) * (2.0 * u[i][4] - 1.0))
                    else:  # sideways, a little down
                        side = 1.0 if u[i][4] < 0.5 else -1.0
                        target = (math.radians(1.5) * u[i][5], side * math.radians(deg))
                    lo, hi = AVERSION_SECONDS
                    s.return_at = f + max(1, int(round((lo + (hi - lo) * u[i][5]) * self.fps)))
                else:
                    deg = SACCADE_DEGREES[0] + (SACCADE_DEGREES[1] - SACCADE_DEGREES[0]) * u[i][2]
                    angle = 2.0 * math.pi * u[i][3]
                    # vertical fixational moves are smaller than horizontal ones
                    target = (0.6 * math.radians(deg) * math.sin(angle), math.radians(deg) * math.cos(angle))
                self._move(s, target)
                s.next_event = f + self._interval(u[i][0])
            if s.path:
                s.current = s.path.pop(0)
            out[i] = s.current
        return out

    @staticmethod
    def _move(s: GazeState, target: tuple[float, float]) -> None:
        """Plan the saccade to ``target``: one frame, or two (eased) for moves over 4 degrees."""
        p0, y0 = s.current
        dist = float(math.hypot(target[0] - p0, target[1] - y0))
        s.target = (float(target[0]), float(target[1]))
        if dist > math.radians(4.0):
            s.path = [(p0 + 0.7 * (target[0] - p0), y0 + 0.7 * (target[1] - y0)), s.target]
        else:
            s.path = [s.target]


def eye_pose(gaze: np.ndarray, neck: np.ndarray) -> np.ndarray:
    """Both eyes' axis-angle float32 [T, 6] (left, right) from gaze [T, 2] (pitch, yaw) and neck [T, 3].

    The eyes undo :data:`COUNTER_ROTATION` of the head's pitch (x) and yaw (y).
    """
    pitch = gaze[:, 0] - COUNTER_ROTATION * neck[:, 0]
    yaw = gaze[:, 1] - COUNTER_ROTATION * neck[:, 1]
    one = np.stack([pitch, yaw, np.zeros_like(pitch)], axis=1)
    return np.concatenate([one, one], axis=1).astype(np.float32)
