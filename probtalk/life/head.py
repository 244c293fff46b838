"""Head motion: a small learned conv net from prosody and style to neck rotation, plus a seeded stochastic part.

:class:`HeadNet` is the exact numpy forward of the torch module that
:mod:`probtalk.life.train` trains (a parity test holds them together). Its
input per frame is the prosody (:mod:`probtalk.life.prosody`), the emotion
weights over the 8 standard emotions and the intensity; its output is the
FLAME neck axis-angle (x pitch/nod, y yaw/turn, z roll/tilt) in units of
:data:`OUTPUT_SCALE` radians. Each layer is a dilated 1-D conv with a fixed
look-ahead (``(kernel, dilation, lookahead)``); the whole net sees 8 frames
back and 6 ahead (0.6 s at 25 fps; the 6 frames are the stream's default
look-ahead of 0.24 s), so a stream can run it with a bounded look-ahead. Activations outside the clip are zeros at every layer (the
training module pads each layer with zeros), so a window of a stream and the
whole clip give the same values.

:class:`HeadMotion` adds what the audio cannot predict, from the counter-based
rule of :mod:`probtalk.runtime.sampling`: per-take gains per axis (0.7-1.3),
a slow drift (knots every 1.2 s, smoothly interpolated; a standard deviation
of 1.5 / 2.0 / 1.2 degrees for pitch / yaw / roll) and a faster wobble (knots
every 0.4 s; 1.8 / 2.1 / 1.4 degrees) whose strength follows the voice (a
running envelope of the loudness, zero in pauses), both scaled by the
emotion's energy; then it smooths the sum with a critically damped low-pass
(2.5 Hz) and scales it by the ``head_motion`` control. Without a learned net
(checkpoints from before it existed) the head moves by the stochastic part only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from probtalk.emotions import EMOTIONS
from probtalk.framenet import FrameNet, FrameNetConfig
from probtalk.life.prosody import NUM_PROSODY, PROSODY_NAMES
from probtalk.runtime.sampling import uniforms

HEAD_FORMAT = "probtalk-head"
HEAD_VERSION = 1
OUTPUT_SCALE = 0.1  # radians per unit of net output
HEAD_POSITION = 2**61 + 2**59  # counter positions of the stochastic head part
DRIFT_KNOT_SECONDS = 1.2
DRIFT_DEGREES = (1.5, 2.0, 1.2)  # pitch, yaw, roll standard deviation of the drift
WOBBLE_KNOT_SECONDS = 0.4
WOBBLE_DEGREES = (1.8, 2.1, 1.4)  # pitch, yaw, roll standard deviation of the voice-driven wobble
ENVELOPE_SECONDS = 0.3  # time constant of the voice envelope that drives the wobble
GAIN_RANGE = (0.7, 1.3)
SMOOTH_HZ = 2.5
# Head energy per emotion (the corpus animator's head motion follows the same ordering:
# more for angry, happy and surprised, less for sad).
EMOTION_ENERGY = {"neutral": 1.0, "happy": 1.2, "sad": 0.7, "surprised": 1.3, "fear": 1.1,
                  "disgusted": 1.0, "angry": 1.3, "contempt": 0.9}
NUM_STYLE = len(EMOTIONS) + 1  # emotion weights + intensity
_LOUDNESS = PROSODY_NAMES.index("loudness")
_PAUSE = PROSODY_NAMES.index("pause")


@dataclass(frozen=True)
class HeadNetConfig(FrameNetConfig):
    """Shape of the head net (a :class:`FrameNetConfig` with its defaults).

    Attributes:
        inputs: channels per frame (prosody + 8 emotion weights + intensity).
        hidden: channels of the hidden layers.
        layers: (kernel, dilation, lookahead) of each hidden conv; a 1x1 conv to 3 channels follows.
        outputs: neck axis-angle channels.
    """

    inputs: int = NUM_PROSODY + NUM_STYLE
    hidden: int = 32
    layers: tuple[tuple[int, int, int], ...] = ((3, 1, 1), (3, 2, 2), (3, 4, 3))
    outputs: int = 3


def style_channels(emotion: dict[str, float], intensity: float) -> np.ndarray:
    """float32 [9]: weights over the 8 standard emotions (names the net does not know count as neutral), intensity."""
    out = np.zeros(NUM_STYLE, np.float32)
    for name, w in emotion.items():
        out[EMOTIONS.index(name) if name in EMOTIONS else 0] += float(w)
    out[-1] = float(intensity)
    return out


class HeadNet(FrameNet):
    """The learned head net in numpy (a :class:`~probtalk.framenet.FrameNet` whose outputs are radians / 10)."""

    FORMAT = HEAD_FORMAT
    VERSION = HEAD_VERSION
    WHAT = "head net"
    REMEDY = "train one with 'probtalk train head'"
    OUTPUTS = 3

    def forward(self, x: np.ndarray, first: int, total: int | None) -> np.ndarray:
        """Neck axis-angle float32 [n, 3] (radians) for frames [first + context, first + len(x) - lookahead).

        Args:
            x: inputs [len, C] of absolute frames ``first ...`` (zeros outside the clip).
            first: absolute frame of ``x[0]`` (may be negative).
            total: frames in the clip, or None while unknown (no frame of ``x`` is past the end then).
        """
        return (self.raw(x, first, total) * OUTPUT_SCALE).astype(np.float32)


def _normals(seed: int, take: int, positions: np.ndarray) -> np.ndarray:
    """Standard normals float64 from pairs of counter-based uniforms (Box-Muller)."""
    p = HEAD_POSITION + 2 * np.asarray(positions, np.int64)
    u1, u2 = uniforms(seed, take, p), uniforms(seed, take, p + 1)
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)


class HeadMotion:
    """One take's neck rotation frame by frame: learned part x gains + drift, smoothed, x ``scale``.

    Args:
        fps: motion frames per second.
        seed: the take sampler's seed.
        take: take index.
        scale: the ``head_motion`` control (0 gives exact zeros).
        energy: the emotion's head energy (see :data:`EMOTION_ENERGY`).
    """

    def __init__(self, fps: float, seed: int, take: int, scale: float, energy: float) -> None:
        self.fps = float(fps)
        self.seed, self.take = int(seed), int(take)
        self.scale = float(scale)
        lo, hi = GAIN_RANGE
        self.gains = lo + (hi - lo) * uniforms(seed, take, HEAD_POSITION - 1 - np.arange(3))
        self.drift_std = np.radians(DRIFT_DEGREES) * float(energy)
        self.wobble_std = np.radians(WOBBLE_DEGREES) * float(energy)
        self._a = float(np.exp(-2.0 * np.pi * SMOOTH_HZ / self.fps))
        self._e = float(np.exp(-1.0 / (ENVELOPE_SECONDS * self.fps)))
        self._env = 0.0
        self._y1 = np.zeros(3)
        self._y2 = np.zeros(3)

    def _knotted(self, first: int, n: int, seconds: float, offset: int) -> np.ndarray:
        """Unit-std smooth noise float64 [n, 3] of absolute frames ``first ...`` (knots every ``seconds``)."""
        x = (first + np.arange(n)) / (seconds * self.fps)
        j = np.floor(x).astype(np.int64)
        w = 0.5 - 0.5 * np.cos(np.pi * (x - j))  # smooth between knots
        knots = np.arange(j.min(), j.max() + 2) if n else np.zeros(0, np.int64)
        pos = offset + (knots[:, None] * 3 + np.arange(3)[None, :]).ravel()
        values = _normals(self.seed, self.take, pos).reshape(-1, 3)
        lo, hi = values[j - knots[0]], values[j - knots[0] + 1]
        return (1.0 - w)[:, None] * lo + w[:, None] * hi

    def drift(self, first: int, n: int) -> np.ndarray:
        """The slow drift float64 [n, 3] (radians) of absolute frames ``first ...`` (a function of the frame only)."""
        return self._knotted(first, n, DRIFT_KNOT_SECONDS, 0) * self.drift_std[None, :]

    def run(self, learned: np.ndarray | None, prosody: np.ndarray, first: int) -> np.ndarray:
        """Neck float32 [n, 3] for frames ``first ...`` from the learned part [n, 3] (None: none) and the
        prosody [n, F]; advances the voice envelope and the filter."""
        n = prosody.shape[0]
        if self.scale == 0.0:
            return np.zeros((n, 3), np.float32)
        wobble = self._knotted(first, n, WOBBLE_KNOT_SECONDS, 2**40) * self.wobble_std[None, :]
        raw = self.drift(first, n)
        if learned is not None:
            raw = raw + np.asarray(learned, np.float64) * self.gains[None, :]
        voice = np.clip((prosody[:, _LOUDNESS] + 1.5) / 1.5, 0.0, 1.3) * (prosody[:, _PAUSE] < 0.5)
        out = np.zeros((n, 3))
        a, e = self._a, self._e
        if first == 0 and n:  # the head starts in its first pose, not swinging in from zero
            self._y1 = self._y2 = raw[0].copy()
        for i in range(n):  # the voice envelope, then two one-pole stages: a critically damped low-pass
            self._env = e * self._env + (1.0 - e) * voice[i]
            self._y1 = a * self._y1 + (1.0 - a) * (raw[i] + self._env * wobble[i])
            self._y2 = a * self._y2 + (1.0 - a) * self._y1
            out[i] = self._y2
        return (out * self.scale).astype(np.float32)


def emotion_energy(emotion: dict[str, float], intensity: float) -> float:
    """Head energy of an emotion mix: the weighted :data:`EMOTION_ENERGY`, pulled away from 1 by intensity."""
    base = sum(w * EMOTION_ENERGY.get(name, 1.0) for name, w in emotion.items()) / max(sum(emotion.values()), 1e-9)
    return float(1.0 + (base - 1.0) * (0.5 + 0.5 * float(intensity)))
