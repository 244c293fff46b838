"""Long audio in overlapping windows, and seamless joins of the motion predicted for each.

Windows are planned in motion frames; each window's audio is the matching
slice of samples. Neighbouring windows overlap by ``overlap`` frames, and the
predictions are cross-faded over that overlap with a raised-cosine ramp so the
joined motion has no jump at a boundary.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Window:
    """One window: motion frames [start, stop) and audio samples [sample_start, sample_stop)."""

    start: int
    stop: int
    sample_start: int
    sample_stop: int

    @property
    def num_frames(self) -> int:
        return self.stop - self.start


def plan_windows(
    num_samples: int, num_frames: int, samples_per_frame: float, window: int, overlap: int
) -> list[Window]:
    """Split a clip into windows of at most ``window`` frames overlapping by ``overlap`` frames.

    Args:
        num_samples: audio length in samples.
        num_frames: motion length T in frames.
        samples_per_frame: audio samples per motion frame (16000 / fps).
        window: window length in frames (> overlap).
        overlap: overlap between neighbours in frames (>= 0).

    Returns:
        Windows covering [0, T) in order; a single window when T <= window.
    """
    if window <= overlap:
        raise ValueError(f"window ({window}) must be longer than overlap ({overlap})")
    starts = [0]
    hop = window - overlap
    while starts[-1] + window < num_frames:
        starts.append(starts[-1] + hop)
    out = []
    for start in starts:
        stop = min(start + window, num_frames)
        s0 = int(round(start * samples_per_frame))
        s1 = min(num_samples, int(round(stop * samples_per_frame)))
        out.append(Window(start, stop, s0, max(s1, s0 + 1)))
    return out


def stitch(windows: list[Window], motions: list[np.ndarray], num_frames: int) -> np.ndarray:
    """Join per-window motion [Tw, D] into one [T, D] track, cross-fading each overlap.

    The weight of the later window rises from 0 to 1 across the overlap with a
    raised-cosine ramp, so the result is continuous and its derivative has no
    step where a window ends.
    """
    if len(windows) != len(motions):
        raise ValueError("one motion per window is needed")
    dim = motions[0].shape[-1]
    out = np.zeros((num_frames, dim), dtype=np.float32)
    covered = 0  # frames [0, covered) already hold earlier windows
    for win, motion in zip(windows, motions, strict=True):
        motion = motion[: win.num_frames]
        overlap = max(0, covered - win.start)
        if overlap:
            ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(overlap) + 0.5) / overlap)
            ramp = ramp.astype(np.float32)[:, None]
            seg = slice(win.start, win.start + overlap)
            out[seg] = (1.0 - ramp) * out[seg] + ramp * motion[:overlap]
        out[win.start + overlap : win.stop] = motion[overlap:]
        covered = max(covered, win.stop)
    return out
