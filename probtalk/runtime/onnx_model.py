"""The embedded default model as ONNX graphs run by onnxruntime: ``animate`` and ``stream`` without torch.

``probtalk animate`` uses it for the embedded model, which makes a cold start
cheaper than importing torch. The graphs in ``probtalk/assets/default_onnx``
are generated from ``default_model.pt`` by ``scripts/export_onnx.py``; a test
fails when they no longer match it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from probtalk.bilabial import BilabialNet
from probtalk.errors import CheckpointError
from probtalk.life.head import HeadNet
from probtalk.runtime.backend import DEFAULT_ONNX_DIR, META_FILE, OnnxBackend
from probtalk.runtime.model import RuntimeModel
from probtalk.vocabulary import StyleNames
from probtalk.vowels import VowelNet

__all__ = ["DEFAULT_ONNX_DIR", "OnnxModel", "default_onnx_meta"]


class OnnxModel(RuntimeModel):
    """A talker exported with ``probtalk export-model --onnx``, run by onnxruntime.

    Args:
        folder: the export folder (``probtalk_onnx.json`` and the two graphs).
        name: the model name recorded in each take's meta.
        threads: onnxruntime intra-op threads (None: its default).
    """

    def __init__(self, folder: str | os.PathLike[str], name: str | None = None, threads: int | None = None) -> None:
        self.backend = OnnxBackend(folder, threads=threads)
        meta = self.backend.meta
        vocab = meta.get("vocabulary", {})
        self.names = StyleNames(tuple(vocab.get("speakers", ())), tuple(vocab.get("emotions", ())))
        self.name = name or Path(folder).name
        self.rig_id = meta.get("rig")
        self.folder = Path(folder)
        self.head_net = HeadNet.load(self.folder / meta["head"]) if meta.get("head") else None
        self.bilabial_net = BilabialNet.load(self.folder / meta["bilabial"]) if meta.get("bilabial") else None
        self.vowel_net = VowelNet.load(self.folder / meta["vowel"]) if meta.get("vowel") else None

    def info(self) -> dict[str, Any]:
        """Speakers, emotions, rig and where the graphs came from."""
        meta = self.backend.meta
        return {
            "name": self.name,
            "fps": self.fps,
            "speakers": list(self.speakers),
            "emotions": list(self.emotions),
            "rig": self.rig_id,
            "checkpoint_sha256": meta.get("checkpoint_sha256"),
            "provenance": meta.get("provenance", {}),
            "inputs": self.input_names(),
        }


def default_onnx_meta() -> dict[str, Any]:
    """The JSON description of the committed default ONNX export.

    Raises:
        CheckpointError: the export is missing (reinstall, or run scripts/export_onnx.py).
    """
    path = DEFAULT_ONNX_DIR / META_FILE
    if not path.is_file():
        raise CheckpointError(f"the embedded ONNX model {path} is missing; run scripts/export_onnx.py or reinstall probtalk")
    return json.loads(path.read_text())
