"""Largest |torch - onnxruntime| difference of whole takes, for the shipped model and tiny models with and without
the transcript-phone and noise inputs (with and without phone tokens fed, deterministic and sampled takes).

    .venv/bin/python benchmarks/onnx_parity.py

The tests assert 1e-4 (tests/test_onnx.py, tests/test_lipsync_runtime.py); this prints the figures.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

from probtalk.api import default_model_path
from probtalk.audio import load_audio
from probtalk.models.checkpoint import load_checkpoint, save_checkpoint
from probtalk.runtime.backend import DEFAULT_ONNX_DIR, OnnxBackend, StyleInputs
from probtalk.runtime.engine import sample_takes
from probtalk.runtime.export import export_onnx
from probtalk.runtime.torch_backend import TorchBackend

STYLE = StyleInputs(1, (0.0, 0.7, 0.0, 0.3, 0.0, 0.0, 0.0, 0.0), 1.5)


def compare(label: str, checkpoint: Path, folder: Path, wav: np.ndarray) -> None:
    talker, _ = load_checkpoint(checkpoint)
    torch_be, onnx_be = TorchBackend(talker), OnnxBackend(folder)
    phones = np.random.default_rng(2).integers(1, 40, wav.size // 640 + 1)
    for temperature in (None, 0.2):
        for text in (False, True):
            runs = [sample_takes(be, wav, STYLE, num_samples=3, temperature=temperature, top_k=None, seed=5,
                                 window_seconds=3.0, overlap_seconds=0.5, phones=phones if text else None)
                    for be in (torch_be, onnx_be)]
            diff = max(float(np.abs(a - b).max()) for a, b in zip(*runs, strict=True))
            print(f"{label:32s} phones={'yes' if torch_be.phone_input else 'no ':3s} noise={torch_be.noise_dim:2d} "
                  f"{'deterministic' if temperature is None else 'T=0.2        '} phones fed={'yes' if text else 'no '} "
                  f"max|torch-onnx| {diff:.2e}")


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from test_lipsync import tiny_talker

    wav = load_audio(DEFAULT_ONNX_DIR.parent / "hello.wav")
    compare("shipped default (committed ONNX)", default_model_path(), DEFAULT_ONNX_DIR, wav)
    with tempfile.TemporaryDirectory() as tmp:
        for phone_input, noise_dim in ((True, 4), (False, 4), (True, 0), (False, 0)):
            folder = Path(tmp) / f"tiny_{phone_input}_{noise_dim}"
            folder.mkdir()
            save_checkpoint(folder / "tiny.pt", tiny_talker(phone_input=phone_input, noise_dim=noise_dim),
                            provenance={"fps": 25.0})
            compare("tiny", folder / "tiny.pt", export_onnx(folder / "tiny.pt", folder / "onnx"), wav)


if __name__ == "__main__":
    main()
