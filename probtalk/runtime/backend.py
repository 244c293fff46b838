"""Inference backends: the two graph halves every runtime path needs, behind one small interface.

A backend turns one clip's speech into latents and code distances
(``encode``), and code indices into raw motion (``decode``). Windowing,
sampling and stitching live above it (:mod:`probtalk.runtime.engine`), so the
torch model, the ONNX graphs and the streaming path share them and give the
same takes for the same seed.

:class:`OnnxBackend` needs only numpy and onnxruntime (no torch): it is what
``probtalk animate`` runs for the embedded model. ``TorchBackend`` (in
:mod:`probtalk.runtime.torch_backend`) wraps a loaded :class:`~probtalk.models.talker.Talker`.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from probtalk.errors import CheckpointError

ENCODER_FILE = "encoder.onnx"
DECODER_FILE = "decoder.onnx"
HEAD_FILE = "head.npz"  # the life stage's head motion net (optional; numpy arrays, see probtalk.life.head)
BILABIAL_FILE = "bilabial.npz"  # the lip seal's p/b/m detector (optional; numpy arrays, see probtalk.bilabial)
VOWEL_FILE = "vowel.npz"  # the seal's open-vowel detector (optional; numpy arrays, see probtalk.vowels)
META_FILE = "probtalk_onnx.json"
ONNX_FORMAT = "probtalk-onnx"
ONNX_FORMAT_VERSION = 4  # 2: optional encoder inputs "phones" and "noise" (exports without them say 1);
# 3: per-take performance channels in the noise ("take" in its metadata; exports without them say 2);
# 4: knot memory and habit spread in the noise ("memory", "spread" in its metadata; exports without them say 3 or less)
ASSETS = Path(__file__).resolve().parents[1] / "assets"
DEFAULT_MODEL_FILE = ASSETS / "default_model.pt"  # the embedded model
DEFAULT_ONNX_DIR = ASSETS / "default_onnx"  # the same model as ONNX graphs (scripts/export_onnx.py)


def file_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 of a file's bytes (ties an ONNX export to the checkpoint it came from)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class StyleInputs:
    """One clip's conditioning as plain numbers (see :class:`probtalk.vocabulary.StyleNames`).

    Attributes:
        speaker: speaker index, -1 = the average speaker.
        emotion: emotion weights summing to 1, in the vocabulary's order.
        intensity: 0..2.
    """

    speaker: int
    emotion: tuple[float, ...]
    intensity: float

    def arrays(self) -> dict[str, np.ndarray]:
        """The graph inputs: speaker int64 [1], emotion float32 [1, E], intensity float32 [1]."""
        return {
            "speaker": np.array([self.speaker], dtype=np.int64),
            "emotion": np.array([self.emotion], dtype=np.float32),
            "intensity": np.array([self.intensity], dtype=np.float32),
        }


class Backend(Protocol):
    """What the windowing, sampling and streaming code needs from a model.

    Besides audio and style a model may take two optional inputs, passed to
    :meth:`encode` in ``extra`` by name (a backend whose model lacks one ignores it):

    * ``"phones"``: int64 [1, num_frames] per-frame transcript phone tokens
      (0 = unknown; see :mod:`probtalk.models.phone_tokens`), when ``phone_input``;
    * ``"noise"``: float32 [R, num_frames, noise_dim] per-frame noise, one row per
      take (see :func:`probtalk.runtime.sampling.take_noise`), when ``noise_dim > 0``; its first
      ``take_channels`` channels hold one value per take (the take's performance: the habits
      ``performance_habits`` names, in order, drawn ``habit_spread`` wide); the others are drawn with
      the knot memory ``noise_memory`` (0 = independent knots).
    """

    fps: float
    frames_per_code: int
    num_codes: int
    latent_dim: int
    phone_input: bool
    noise_dim: int
    noise_rate: float
    noise_memory: float
    take_channels: int
    performance_habits: tuple[str, ...]
    habit_spread: tuple[float, ...]

    def encode(
        self, audio: np.ndarray, num_frames: int, style: StyleInputs, extra: dict[str, np.ndarray] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """16 kHz float32 audio [N] -> latents [R, T', D] and squared code distances [R, T', K] for
        ``num_frames`` frames; R is the number of noise rows (1 without noise)."""
        ...

    def decode(self, codes: np.ndarray, num_frames: int) -> np.ndarray:
        """Code indices int64 [B, T'] -> raw (denormalised) motion float32 [B, num_frames, 53]."""
        ...


def latent_count(num_frames: int, frames_per_code: int) -> int:
    """Latents covering ``num_frames`` frames (a partial group gets one)."""
    return -(-int(num_frames) // int(frames_per_code))


class OnnxBackend:
    """The exported graphs run by onnxruntime (numpy in, numpy out; torch is never imported).

    Args:
        folder: a folder written by :func:`probtalk.runtime.export.export_onnx`.
        threads: intra-op threads for onnxruntime (None: its default).
    """

    def __init__(self, folder: str | os.PathLike[str], threads: int | None = None) -> None:
        folder = Path(folder)
        meta_path = folder / META_FILE
        if not meta_path.is_file():
            raise CheckpointError(f"{folder} holds no {META_FILE}; write it with 'probtalk export-model --onnx {folder}'")
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"{meta_path} is unreadable ({exc}); re-export the model") from None
        if meta.get("format") != ONNX_FORMAT or int(meta.get("version", 0)) > ONNX_FORMAT_VERSION:
            raise CheckpointError(f"{meta_path} is not a probtalk ONNX export this version reads; re-export the model")
        try:
            import onnxruntime as ort
        except ImportError:
            raise CheckpointError("running ONNX models needs onnxruntime: pip install onnxruntime") from None
        opts = ort.SessionOptions()
        if threads is not None:
            opts.intra_op_num_threads = int(threads)
            opts.inter_op_num_threads = 1
        # No busy-waiting between ops: on a shared or small machine spinning threads steal the cores
        # the other threads need (measured: 3x slower steps on a loaded 2-core machine).
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.log_severity_level = 3
        self.meta: dict[str, Any] = meta
        self.folder = folder
        self._encoder = ort.InferenceSession(str(folder / meta["encoder"]), opts, providers=["CPUExecutionProvider"])
        self._decoder = ort.InferenceSession(str(folder / meta["decoder"]), opts, providers=["CPUExecutionProvider"])
        self._encoder_inputs = {i.name for i in self._encoder.get_inputs()}
        self.fps = float(meta["fps"])
        self.frames_per_code = int(meta["frames_per_code"])
        self.num_codes = int(meta["num_codes"])
        self.latent_dim = int(meta["latent_dim"])
        self.phone_input = "phones" in self._encoder_inputs
        noise = meta.get("noise") or {}
        self.noise_dim = int(noise.get("dim", 0)) if "noise" in self._encoder_inputs else 0
        self.noise_rate = float(noise.get("rate", 2.0))
        self.noise_memory = float(noise.get("memory", 0.0))
        self.take_channels = int(noise.get("take", 0)) if self.noise_dim else 0
        self.performance_habits = tuple(str(h) for h in noise.get("performance") or ())[: self.take_channels]
        self.habit_spread = tuple(float(s) for s in noise.get("spread") or (1.0,) * self.take_channels)[: self.take_channels]
        if len(self.habit_spread) != self.take_channels or len(self.performance_habits) != self.take_channels:
            raise CheckpointError(f"{meta_path} names {len(self.performance_habits)} habits and {len(self.habit_spread)} "
                                  f"widths for {self.take_channels} performance channels; re-export the model")

    def encode(
        self, audio: np.ndarray, num_frames: int, style: StyleInputs, extra: dict[str, np.ndarray] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """See :meth:`Backend.encode`; ``extra`` holds optional graph inputs by name, fed only when the
        graph has an input of that name. A graph input left out is fed its neutral value (phones 0,
        zero noise), so callers need not know which inputs a graph has."""
        frames = int(num_frames)
        feeds: dict[str, np.ndarray] = {
            "audio": np.ascontiguousarray(audio, dtype=np.float32)[None],
            "num_frames": np.array(frames, dtype=np.int64),
            **style.arrays(),
        }
        if self.phone_input:
            feeds["phones"] = np.zeros((1, frames), dtype=np.int64)
        if self.noise_dim:
            feeds["noise"] = np.zeros((1, frames, self.noise_dim), dtype=np.float32)
        for name, value in (extra or {}).items():
            if name in self._encoder_inputs:
                dtype = np.int64 if name == "phones" else np.float32
                feeds[name] = np.ascontiguousarray(value, dtype=dtype)
        latents, distances = self._encoder.run(None, {k: v for k, v in feeds.items() if k in self._encoder_inputs})
        return latents, distances

    def decode(self, codes: np.ndarray, num_frames: int) -> np.ndarray:
        """See :meth:`Backend.decode`."""
        feeds = {"codes": np.ascontiguousarray(codes, dtype=np.int64), "num_frames": np.array(int(num_frames), dtype=np.int64)}
        (motion,) = self._decoder.run(None, feeds)
        return motion
