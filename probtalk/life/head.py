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

import json
import os
from dataclasses import dataclass, field

import numpy as np

from probtalk.emotions import EMOTIONS
from probtalk.errors import CheckpointError
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
class HeadNetConfig:
    """Shape of the head net.

    Attributes:
        inputs: channels per frame (prosody + 8 emotion weights + intensity).
        hidden: channels of the hidden layers.
        layers: (kernel, dilation, lookahead) of each hidden conv; a 1x1 conv to 3 channels follows.
    """

    inputs: int = NUM_PROSODY + NUM_STYLE
    hidden: int = 32
    layers: tuple[tuple[int, int, int], ...] = ((3, 1, 1), (3, 2, 2), (3, 4, 3))

    @property
    def lookahead(self) -> int:
        """Frames after a frame that its output depends on."""
        return sum(la for _, _, la in self.layers)

    @property
    def context(self) -> int:
        """Frames before a frame that its output depends on."""
        return sum((k - 1) * d - la for k, d, la in self.layers)

    def to_json(self) -> str:
        return json.dumps({"inputs": self.inputs, "hidden": self.hidden, "layers": [list(x) for x in self.layers]})

    @classmethod
    def from_json(cls, text: str) -> HeadNetConfig:
        data = json.loads(text)
        return cls(int(data["inputs"]), int(data["hidden"]), tuple(tuple(int(v) for v in x) for x in data["layers"]))


def style_channels(emotion: dict[str, float], intensity: float) -> np.ndarray:
    """float32 [9]: weights over the 8 standard emotions (names the net does not know count as neutral), intensity."""
    out = np.zeros(NUM_STYLE, np.float32)
    for name, w in emotion.items():
        out[EMOTIONS.index(name) if name in EMOTIONS else 0] += float(w)
    out[-1] = float(intensity)
    return out


@dataclass
class HeadNet:
    """The learned head net in numpy: ``weights`` holds ``w{i}`` [out, in, k] and ``b{i}`` [out] per conv."""

    config: HeadNetConfig
    weights: dict[str, np.ndarray]
    provenance: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.config.layers) + 1
        shapes = {}
        cin = self.config.inputs
        for i, (k, _, _) in enumerate(self.config.layers):
            shapes[f"w{i}"], shapes[f"b{i}"] = (self.config.hidden, cin, k), (self.config.hidden,)
            cin = self.config.hidden
        shapes[f"w{n - 1}"], shapes[f"b{n - 1}"] = (3, cin, 1), (3,)
        for key, shape in shapes.items():
            value = self.weights.get(key)
            if value is None or tuple(value.shape) != shape:
                got = None if value is None else list(value.shape)
                raise CheckpointError(f"head net weight {key} is {got}, expected {list(shape)}; re-train or re-ship the head")
        self.weights = {k: np.asarray(self.weights[k], np.float32) for k in shapes}

    def forward(self, x: np.ndarray, first: int, total: int | None) -> np.ndarray:
        """Neck axis-angle float32 [n, 3] (radians) for frames [first + context, first + len(x) - lookahead).

        Args:
            x: inputs [len, C] of absolute frames ``first ...`` (zeros outside the clip).
            first: absolute frame of ``x[0]`` (may be negative).
            total: frames in the clip, or None while unknown (no frame of ``x`` is past the end then).
        """
        h = np.asarray(x, np.float32)
        pos = first + np.arange(h.shape[0])
        for i, (k, d, la) in enumerate(self.config.layers):
            left = (k - 1) * d - la
            n = h.shape[0] - (k - 1) * d
            w, b = self.weights[f"w{i}"], self.weights[f"b{i}"]
            y = np.broadcast_to(b, (n, b.size)).copy()
            for j in range(k):
                y += h[j * d : j * d + n] @ w[:, :, j].T
            pos = pos[left : left + n]
            h = np.tanh(y)
            inside = (pos >= 0) & (pos < (total if total is not None else np.iinfo(np.int64).max))
            h[~inside] = 0.0
        last = len(self.config.layers)
        out = h @ self.weights[f"w{last}"][:, :, 0].T + self.weights[f"b{last}"]
        return (out * OUTPUT_SCALE).astype(np.float32)

    def run(self, x: np.ndarray) -> np.ndarray:
        """The whole clip: inputs [T, C] -> neck [T, 3] (zero padding at both ends)."""
        c, la = self.config.context, self.config.lookahead
        padded = np.concatenate([np.zeros((c, x.shape[1]), np.float32), x, np.zeros((la, x.shape[1]), np.float32)])
        return self.forward(padded, -c, x.shape[0])

    # ----------------------------------------------------------- files
    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays (no objects): the format tag, the config and provenance as JSON text, the weights."""
        return {
            "format": np.array(HEAD_FORMAT), "version": np.array(HEAD_VERSION),
            "config_json": np.array(self.config.to_json()), "provenance_json": np.array(json.dumps(self.provenance)),
            **{k: v.astype(np.float32) for k, v in self.weights.items()},
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], where: str = "head net") -> HeadNet:
        """Rebuild from :meth:`to_arrays` output (numpy arrays or tensors converted by the caller).

        Raises:
            CheckpointError: not a head net, a newer version, or weights that do not fit.
        """
        try:
            if str(np.asarray(arrays["format"])) != HEAD_FORMAT:
                raise KeyError("format")
            version = int(np.asarray(arrays["version"]))
            config = HeadNetConfig.from_json(str(np.asarray(arrays["config_json"])))
            provenance = json.loads(str(np.asarray(arrays.get("provenance_json", "{}"))))
        except (KeyError, ValueError, TypeError, json.JSONDecodeError):
            raise CheckpointError(f"{where} is not a probtalk head net; train one with 'probtalk train head'") from None
        if version > HEAD_VERSION:
            raise CheckpointError(f"{where} has head format version {version}; this probtalk reads <= {HEAD_VERSION}, upgrade")
        weights = {k: np.asarray(v, np.float32) for k, v in arrays.items() if k[0] in "wb" and k[1:].isdigit()}
        return cls(config, weights, provenance)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write an ``.npz`` (atomic)."""
        from probtalk.io import atomic_path

        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **self.to_arrays())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> HeadNet:
        """Read an ``.npz`` written by :meth:`save` (no pickles).

        Raises:
            CheckpointError: missing, unreadable or not a head net.
        """
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except (OSError, ValueError, EOFError) as exc:
            raise CheckpointError(f"head net {path} is unreadable ({type(exc).__name__}); re-train it") from None
        return cls.from_arrays(arrays, str(path))


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
