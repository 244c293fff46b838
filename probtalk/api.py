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
from pathlib import Path
from typing import Any

import torch

from probtalk.errors import CheckpointError, OptionError
from probtalk.layout import DATASET_FPS
from probtalk.options import AnimateOptions, EmotionSpec
from probtalk.runtime.backend import DEFAULT_MODEL_FILE
from probtalk.runtime.model import RuntimeModel
from probtalk.runtime.torch_backend import TorchBackend

logger = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "default"
__all__ = ["AnimateOptions", "EmotionSpec", "Model", "default_model_path", "load_model"]


def default_model_path() -> Path:
    """Path of the embedded default checkpoint inside the package."""
    return DEFAULT_MODEL_FILE


class Model(RuntimeModel):
    """A trained talker ready to animate speech. Build it with :func:`load_model`.

    ``animate()`` and ``stream()`` (from :class:`~probtalk.runtime.model.RuntimeModel`) run the
    talker through :class:`~probtalk.runtime.torch_backend.TorchBackend`; the embedded model's
    ONNX copy (:func:`probtalk.load_onnx_model`) gives the same takes for the same seed.
    """

    def __init__(self, talker: torch.nn.Module, info: Any, name: str, device: torch.device) -> None:
        self.talker = talker.eval().to(device)
        self.checkpoint = info
        self.name = name
        self.device = device
        self.names = info.vocabulary
        self.rig_id = info.rig_id
        self.head_net = info.head
        self.bilabial_net = info.bilabial
        self.vowel_net = info.vowel
        prov = info.provenance
        fps = float(prov.get("fps") or prov.get("config", {}).get("fps") or DATASET_FPS)
        self.backend = TorchBackend(self.talker, fps, device)

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
            "inputs": self.input_names(),
        }

    def info_lines(self) -> list[str]:
        """:meth:`info` as printable lines (used by ``probtalk info``)."""
        info = self.info()
        prov = info["provenance"] or {}
        return [
            f"model: {info['name']}  {info['parameters'] / 1e6:.2f}M parameters  {info['fps']:g} fps  rig {info['rig']}",
            f"  speakers ({len(info['speakers'])}): {', '.join(info['speakers'])}",
            f"  emotions: {', '.join(info['emotions'])}",
            f"  inputs: {', '.join(info['inputs'])}",
            "  head motion: " + ("learned head net + seeded drift" if self.head_net is not None
                                 else "seeded drift only (the checkpoint has no head net)"),
            "  lip seal without a transcript: " + (
                f"bilabial detector (threshold {self.bilabial_net.threshold:g})" if self.bilabial_net is not None
                else "none (the checkpoint has no bilabial detector)"),
            "  open vowels without a transcript: those of the words heard" + (
                f" and the open-vowel detector's (threshold {self.vowel_net.threshold:g})" if self.vowel_net is not None
                else " (the checkpoint has no open-vowel detector)"),
            f"  trained: {prov.get('steps', '?')} steps on {prov.get('data', '?')} ({prov.get('data_manifest_sha256', '?')[:12]})",
        ]


def _device(device: str | torch.device | None) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise OptionError(f"unknown device {device!r}; use 'cpu', 'cuda' or 'cuda:N'", option="device") from None


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
        if not isinstance(name_or_path, str | os.PathLike) or isinstance(name_or_path, bytes):
            raise CheckpointError(f"a model is a checkpoint path or 'default', got {type(name_or_path).__name__}")
        path, name = Path(name_or_path), Path(name_or_path).name
        if not str(name_or_path).strip() or not path.is_file():
            what = "is a folder" if path.is_dir() and str(name_or_path).strip() else "not found"
            raise CheckpointError(f"model checkpoint {str(name_or_path)!r} {what}; give a .pt file from 'probtalk train'")
    if hubert is not None and not Path(hubert).is_dir():
        raise CheckpointError(f"HuBERT folder {hubert} not found; pass the folder holding the pretrained weights")
    dev = _device(device)
    talker, info = load_checkpoint(path, map_location="cpu", hubert_path=hubert)
    if info.kind != "talker":
        raise CheckpointError(f"{path} is a stage-1 motion VQ checkpoint; give a predictor checkpoint (probtalk train predictor)")
    return Model(talker, info, name, dev)
