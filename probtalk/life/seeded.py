"""The shared base of the life stage's seeded processes (blinks, gaze): frame-addressable randomness."""

from __future__ import annotations

import numpy as np

from probtalk.runtime.sampling import uniforms


class SeededProcess:
    """A per-take process whose random draws depend only on (seed, take, frame), never on chunking.

    Args:
        fps: motion frames per second.
        seed: the take sampler's seed.
        take: take index.
    """

    def __init__(self, fps: float, seed: int, take: int) -> None:
        self.fps = float(fps)
        self.seed = int(seed)
        self.take = int(take)

    def frame_draws(self, base: int, first_frame: int, n: int, per_frame: int) -> np.ndarray:
        """Uniforms [n, per_frame] for frames ``first_frame ...``: counter positions ``base + per_frame * frame + j``."""
        frames = first_frame + np.arange(n, dtype=np.int64)
        pos = base + per_frame * np.repeat(frames, per_frame) + np.tile(np.arange(per_frame), n)
        return uniforms(self.seed, self.take, pos).reshape(n, per_frame)
