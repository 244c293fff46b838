"""Pick the fastest way to run a model: onnxruntime for the embedded model and ONNX exports, torch otherwise."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from probtalk.errors import CheckpointError
from probtalk.runtime.backend import DEFAULT_MODEL_FILE, DEFAULT_ONNX_DIR, META_FILE, file_sha256

logger = logging.getLogger(__name__)


def load_onnx_model(folder: str | os.PathLike[str] | None = None, threads: int | None = None) -> Any:
    """An :class:`~probtalk.runtime.onnx_model.OnnxModel` (``animate``, ``stream``) run by onnxruntime, without torch.

    Args:
        folder: a folder written by ``probtalk export-model --onnx``; None for the embedded model.
        threads: onnxruntime threads (None: its default).

    Raises:
        CheckpointError: no export in the folder.
        CheckpointError: onnxruntime is not installed.
    """
    from probtalk.runtime.onnx_model import OnnxModel

    if folder is None:
        return OnnxModel(DEFAULT_ONNX_DIR, name="default", threads=threads)
    return OnnxModel(folder, threads=threads)


def load_fast_model(
    name_or_path: str | os.PathLike[str] | None = None, *, threads: int | None = None, hubert: str | None = None
) -> Any:
    """The embedded model or an ONNX export through onnxruntime; a ``.pt`` checkpoint through torch.

    The committed ONNX copy of the embedded model is used only while it matches
    ``default_model.pt`` (its recorded sha256); otherwise, or without
    onnxruntime, the torch model is loaded, with a warning.

    Raises:
        CheckpointError: a missing or unreadable model.
    """
    if name_or_path is not None and str(name_or_path) != "default":
        path = Path(name_or_path)
        if path.is_dir() and (path / META_FILE).is_file():
            return load_onnx_model(path, threads)
        if path.is_dir():
            raise CheckpointError(f"{path} is a folder without {META_FILE}; give a .pt checkpoint or an ONNX export folder")
        return _torch_model(name_or_path, threads, hubert)
    reason = _default_onnx_problem()
    if reason is None:
        return load_onnx_model(None, threads)
    logger.warning("running the embedded model with torch: %s", reason)
    return _torch_model(None, threads, hubert)


def _default_onnx_problem() -> str | None:
    import importlib.util
    import json

    if importlib.util.find_spec("onnxruntime") is None:
        return "onnxruntime is not installed"
    meta_path = DEFAULT_ONNX_DIR / META_FILE
    if not meta_path.is_file():
        return f"{meta_path} is missing"
    recorded = json.loads(meta_path.read_text()).get("checkpoint_sha256")
    if recorded != file_sha256(DEFAULT_MODEL_FILE):
        return "the committed ONNX export is stale (run scripts/export_onnx.py)"
    return None


def _torch_model(path: Any, threads: int | None, hubert: str | None) -> Any:
    import torch

    from probtalk.api import load_model

    if threads is not None:
        torch.set_num_threads(int(threads))
    return load_model(path, hubert=hubert)
