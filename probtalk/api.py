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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from probtalk.animation import Animation
from probtalk.audio import audio_sha256, load_audio
from probtalk.errors import CheckpointError, InputError
from probtalk.layout import AUDIO_SAMPLE_RATE, DATASET_FPS
from probtalk.windows import Window, plan_windows, stitch

logger = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "default"
EmotionSpec = str | dict[str, float]


def default_model_path() -> Path:
    """Path of the embedded default checkpoint inside the package."""
    return Path(__file__).parent / "assets" / "default_model.pt"


@dataclass(frozen=True)
class AnimateOptions:
    """Options of :meth:`Model.animate` (validated on construction).

    Attributes:
        emotion: an emotion name or a blend {name: weight}.
        intensity: 0..2 (float) or "low" | "medium" | "high".
        speaker: a training speaker id, or None for the average speaker.
        num_samples: number of takes (>= 1), sampled in one batch.
        temperature: code-sampling temperature (> 0); ignored when deterministic.
        top_k: sample only among the k nearest codes (None: all).
        seed: seed of the take sampler; None draws one (recorded in meta).
        deterministic: argmax codes (the same take every time).
        window_seconds: longest stretch of audio encoded at once.
        overlap_seconds: overlap between windows, cross-faded.
        text: transcript of the speech: force-aligned phones become an extra model input
            (models trained with ``phone_input``); one that does not fit the audio is ignored
            with a warning. None: audio only.
    """

    emotion: EmotionSpec = "neutral"
    intensity: float | str = 1.0
    speaker: str | None = None
    num_samples: int = 1
    temperature: float = 0.2
    top_k: int | None = None
    seed: int | None = None
    deterministic: bool = False
    window_seconds: float = 20.0
    overlap_seconds: float = 1.0
    text: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.num_samples, int) or self.num_samples < 1:
            raise InputError(f"num_samples must be a whole number >= 1, got {self.num_samples!r}")
        if self.num_samples > 64:
            raise InputError(f"num_samples={self.num_samples} is too many; ask for at most 64 takes per call")
        if not self.deterministic and not (isinstance(self.temperature, int | float) and self.temperature > 0):
            raise InputError(f"temperature must be > 0, got {self.temperature!r}; use deterministic=True for argmax")
        if self.top_k is not None and self.top_k < 1:
            raise InputError(f"top_k must be >= 1, got {self.top_k}")
        if not self.window_seconds > 2 * self.overlap_seconds >= 0:
            raise InputError("window_seconds must exceed twice overlap_seconds")


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
        audio: str | os.PathLike[str] | np.ndarray,
        sample_rate: int | None = None,
        *,
        emotion: EmotionSpec = "neutral",
        intensity: float | str = 1.0,
        speaker: str | None = None,
        num_samples: int = 1,
        temperature: float = 0.2,
        top_k: int | None = None,
        seed: int | None = None,
        deterministic: bool = False,
        window_seconds: float = 20.0,
        overlap_seconds: float = 1.0,
        text: str | None = None,
    ) -> list[Animation]:
        """Animate speech: one :class:`Animation` per take.

        Args:
            audio: a path to a speech file (wav/flac/ogg/mp3/...) or a float array [N] / [N, C].
            sample_rate: the array's sample rate (arrays only).
            emotion, intensity, speaker, num_samples, temperature, top_k, seed,
            deterministic, window_seconds, overlap_seconds, text: see :class:`AnimateOptions`.

        Returns:
            ``num_samples`` Animations at the model's fps, as long as the audio.

        Raises:
            ProbtalkError: unreadable or unusable audio, unknown emotion/speaker,
                out-of-range intensity or temperature.
        """
        opts = AnimateOptions(
            emotion=emotion, intensity=intensity, speaker=speaker, num_samples=num_samples,
            temperature=temperature, top_k=top_k, seed=seed, deterministic=deterministic,
            window_seconds=window_seconds, overlap_seconds=overlap_seconds, text=text,
        )
        style = self.checkpoint.vocabulary.make(opts.emotion, opts.intensity, opts.speaker)
        wav = load_audio(audio, sample_rate)
        seed_used = opts.seed if opts.seed is not None else secrets.randbits(31)
        phones, text_meta = self._transcript(wav, opts.text)
        motions = self._sample(wav, style, opts, seed_used, phones)
        meta = {**self._meta(audio, opts, style, seed_used), **text_meta}
        return [
            Animation.from_motion(m, fps=self.fps, meta={**meta, "take": k}) for k, m in enumerate(motions)
        ]

    def _transcript(self, wav: np.ndarray, text: str | None) -> tuple[torch.Tensor | None, dict[str, Any]]:
        """Phone tokens [T] for the model from a transcript (None: audio only) and what the meta records."""
        if text is None:
            return None, {"text_used": False}
        if not self.talker.uses_phones:
            logger.warning("model %s takes no transcript; animating from the audio alone", self.name)
            return None, {"text_used": False, "text_ignored": "the model takes no transcript"}
        from probtalk.models.phone_tokens import phone_tokens
        from probtalk.transcript import align_transcript

        fit = align_transcript(wav, text)
        if not fit.used:
            logger.warning("transcript ignored: %s; animating from the audio alone", fit.reason)
            return None, {"text_used": False, "text_ignored": fit.reason}
        frames = max(1, int(round(wav.size / (AUDIO_SAMPLE_RATE / self.fps))))
        tokens = torch.from_numpy(phone_tokens(fit.phones or [], self.fps, frames))
        return tokens, {"text_used": True, "text_agreement": round(fit.agreement, 3)}

    @torch.inference_mode()
    def _sample(self, wav: np.ndarray, style: Any, opts: AnimateOptions, seed: int,
                phones: torch.Tensor | None = None) -> list[np.ndarray]:
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
                phones=None if phones is None else _batch_phones(phones, chunk).to(self.device),
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
        if not isinstance(audio, np.ndarray):
            meta["audio"] = Path(audio).name
            meta["audio_sha256"] = audio_sha256(audio)
        return meta


def _chunks(items: list[Window], size: int) -> Iterator[list[Window]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _batch_phones(phones: torch.Tensor, windows: list[Window]) -> torch.Tensor:
    """Per-frame phone tokens [T] cut into the windows' frames, padded with 0 (unknown): [B, Fmax]."""
    out = torch.zeros(len(windows), max(w.num_frames for w in windows), dtype=torch.long)
    for i, w in enumerate(windows):
        out[i, : w.num_frames] = phones[w.start : w.stop]
    return out


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
