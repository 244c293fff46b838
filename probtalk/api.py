"""The public API: ``load_model()`` then ``model.animate(audio)``.

Example:
    >>> import probtalk
    >>> model = probtalk.load_model()                      # the embedded default
    >>> takes = model.animate("speech.wav", emotion={"happy": 0.7, "surprised": 0.3},
    ...                       intensity=1.5, num_samples=3, seed=7)
    >>> takes[0].save("take0.npz")
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from probtalk.animation import Animation
from probtalk.audio import AudioSource, audio_sha256, load_audio
from probtalk.errors import CheckpointError, OptionTypeError
from probtalk.layout import AUDIO_SAMPLE_RATE, DATASET_FPS
from probtalk.options import AnimateOptions, EmotionSpec
from probtalk.windows import Window, plan_windows, stitch

logger = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "default"
__all__ = ["AnimateOptions", "EmotionSpec", "Model", "default_model_path", "load_model"]


def default_model_path() -> Path:
    """Path of the embedded default checkpoint inside the package."""
    return Path(__file__).parent / "assets" / "default_model.pt"


class Model:
    """A trained talker ready to animate speech. Build it with :func:`load_model`."""

    def __init__(self, talker: torch.nn.Module, info: Any, name: str, device: torch.device) -> None:
        self.talker = talker.eval().to(device)
        self.checkpoint = info
        self.name = name
        self.device = device

    # ------------------------------------------------------------ properties
    @property
    def fps(self) -> float:
        prov = self.checkpoint.provenance
        return float(prov.get("fps") or prov.get("config", {}).get("fps") or DATASET_FPS)

    @property
    def speakers(self) -> tuple[str, ...]:
        return tuple(self.checkpoint.vocabulary.speakers)

    @property
    def emotions(self) -> tuple[str, ...]:
        return tuple(self.checkpoint.vocabulary.emotions)

    def info(self) -> dict[str, Any]:
        """Speakers, emotions, rig and training provenance of the model."""
        return {
            "name": self.name,
            "fps": self.fps,
            "speakers": list(self.speakers),
            "emotions": list(self.emotions),
            "rig": self.checkpoint.rig_id,
            "provenance": self.checkpoint.provenance,
            "parameters": sum(p.numel() for p in self.talker.parameters()),
        }

    def info_lines(self) -> list[str]:
        """:meth:`info` as printable lines (used by ``probtalk info``)."""
        info = self.info()
        prov = info["provenance"] or {}
        return [
            f"model: {info['name']}  {info['parameters'] / 1e6:.2f}M parameters  {info['fps']:g} fps  rig {info['rig']}",
            f"  speakers ({len(info['speakers'])}): {', '.join(info['speakers'])}",
            f"  emotions: {', '.join(info['emotions'])}",
            f"  trained: {prov.get('steps', '?')} steps on {prov.get('data', '?')} ({prov.get('data_manifest_sha256', '?')[:12]})",
        ]

    # --------------------------------------------------------------- animate
    def animate(
        self,
        audio: AudioSource,
        sample_rate: float | None = None,
        options: AnimateOptions | None = None,
        **overrides: Any,
    ) -> list[Animation]:
        """Animate speech: one :class:`Animation` per take.

        Args:
            audio: a path to a speech file (wav/flac/ogg/mp3/...), or samples as a float array,
                torch tensor or list, [N] or [N, C].
            sample_rate: the samples' rate in Hz (arrays only).
            options: every animate option (:class:`~probtalk.options.AnimateOptions`); default options if None.
            **overrides: options to change, by name (``emotion=``, ``intensity=``, ``speaker=``,
                ``num_samples=``, ``temperature=``, ``top_k=``, ``seed=``, ``deterministic=``,
                ``window_seconds=``, ``overlap_seconds=``); see :class:`~probtalk.options.AnimateOptions`.

        Returns:
            ``num_samples`` Animations at the model's fps, as long as the audio.

        Raises:
            AudioError: unreadable or unusable audio (an ``AudioTypeError`` for a wrong type).
            OptionError: an unknown emotion or speaker, an out-of-range or non-finite option
                (an ``OptionTypeError`` for a wrong type or an unknown option name).
        """
        if isinstance(sample_rate, AnimateOptions) and options is None:  # animate(path, opts)
            sample_rate, options = None, sample_rate
        if options is not None and not isinstance(options, AnimateOptions):
            raise OptionTypeError(f"options must be an AnimateOptions, got {type(options).__name__}", option="options")
        opts = (options or AnimateOptions()).replace(**overrides)
        style = self.checkpoint.vocabulary.make(opts.emotion, opts.intensity, opts.speaker)
        wav = load_audio(audio, sample_rate)
        seed_used = opts.seed if opts.seed is not None else secrets.randbits(31)
        motions = self._sample(wav, style, opts, seed_used)
        meta = self._meta(audio, opts, style, seed_used)
        return [
            Animation.from_motion(m, fps=self.fps, meta={**meta, "take": k}) for k, m in enumerate(motions)
        ]

    @torch.inference_mode()
    def _sample(self, wav: np.ndarray, style: Any, opts: AnimateOptions, seed: int) -> list[np.ndarray]:
        fps = self.fps
        spf = AUDIO_SAMPLE_RATE / fps
        num_frames = max(1, int(round(wav.size / spf)))
        windows = plan_windows(
            wav.size, num_frames, spf, int(round(opts.window_seconds * fps)), int(round(opts.overlap_seconds * fps))
        )
        generator = torch.Generator(device="cpu").manual_seed(int(seed))
        per_window: list[list[np.ndarray]] = [[] for _ in range(opts.num_samples)]
        for chunk in _chunks(windows, 4):  # a few windows per batch keeps memory bounded
            batch_audio, lengths, frames = _batch_windows(wav, chunk)
            n = len(chunk)
            motion, _ = self.talker.sample(
                batch_audio.to(self.device),
                lengths.to(self.device),
                style.to(self.device),
                frames.to(self.device),
                num_samples=opts.num_samples,
                temperature=None if opts.deterministic else float(opts.temperature),
                top_k=opts.top_k,
                generator=generator,
                fps=fps,
            )
            motion = motion.float().cpu().numpy().reshape(n, opts.num_samples, motion.shape[1], motion.shape[2])
            for w in range(n):
                for s in range(opts.num_samples):
                    per_window[s].append(motion[w, s, : chunk[w].num_frames])
        return [stitch(windows, takes, num_frames) for takes in per_window]

    def _meta(self, audio: Any, opts: AnimateOptions, style: Any, seed: int) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "engine": "model",
            "model": self.name,
            "rig": self.checkpoint.rig_id,
            "emotion": {
                name: round(w, 4)
                for name, w in zip(self.emotions, self.checkpoint.vocabulary.emotion_weights(opts.emotion), strict=True)
                if w > 0
            },
            "intensity": self.checkpoint.vocabulary.intensity_value(opts.intensity),
            "speaker": opts.speaker,
            "seed": seed,
            "temperature": None if opts.deterministic else float(opts.temperature),
            "top_k": opts.top_k,
            "deterministic": opts.deterministic,
        }
        if isinstance(audio, str | os.PathLike):
            meta["audio"] = Path(audio).name
            meta["audio_sha256"] = audio_sha256(audio)
        return meta


def _chunks(items: list[Window], size: int) -> Iterator[list[Window]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _batch_windows(wav: np.ndarray, windows: list[Window]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pad the windows' audio into [B, Nmax] with lengths [B] and frame counts [B]."""
    lengths = [w.sample_stop - w.sample_start for w in windows]
    audio = torch.zeros(len(windows), max(lengths))
    for i, w in enumerate(windows):
        audio[i, : lengths[i]] = torch.from_numpy(wav[w.sample_start : w.sample_stop])
    frames = torch.tensor([w.num_frames for w in windows], dtype=torch.long)
    return audio, torch.tensor(lengths, dtype=torch.long), frames


def load_model(
    name_or_path: str | os.PathLike[str] | None = None,
    device: str | torch.device | None = None,
    *,
    hubert: str | os.PathLike[str] | None = None,
) -> Model:
    """Load a trained model.

    Args:
        name_or_path: None or "default" for the embedded default model, or a checkpoint path.
        device: "cpu", "cuda", ... (default: CUDA when available, else CPU).
        hubert: folder with pretrained HuBERT weights, for checkpoints trained on a
            pretrained encoder that do not embed its weights.

    Raises:
        CheckpointError: the checkpoint is missing, corrupt or of the wrong format.
    """
    from probtalk.models.checkpoint import load_checkpoint

    if name_or_path is None or str(name_or_path) == DEFAULT_MODEL_NAME:
        path, name = default_model_path(), DEFAULT_MODEL_NAME
        if not path.is_file():
            raise CheckpointError(f"the embedded default model {path} is missing; reinstall probtalk")
    else:
        path, name = Path(name_or_path), Path(name_or_path).name
        if not path.is_file():
            raise CheckpointError(f"model checkpoint {path} not found; give a .pt file from 'probtalk train'")
    dev = torch.device(device) if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    talker, info = load_checkpoint(path, map_location="cpu", hubert_path=hubert)
    if info.kind != "talker":
        raise CheckpointError(f"{path} is a stage-1 motion VQ checkpoint; give a predictor checkpoint (probtalk train predictor)")
    return Model(talker, info, name, dev)
