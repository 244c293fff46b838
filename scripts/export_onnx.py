"""Regenerate the committed ONNX copy of the embedded default model from probtalk/assets/default_model.pt.

    .venv/bin/python scripts/export_onnx.py            # rewrites probtalk/assets/default_onnx/

Run it whenever default_model.pt changes: tests/test_onnx.py fails while the
committed graphs do not match the shipped checkpoint (its sha256 and its outputs).
"""

from __future__ import annotations

import logging

from probtalk.api import default_model_path
from probtalk.runtime.backend import DEFAULT_ONNX_DIR
from probtalk.runtime.export import export_onnx

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out = export_onnx(default_model_path(), DEFAULT_ONNX_DIR)
    for path in sorted(out.iterdir()):
        print(f"{path}  {path.stat().st_size / 1e6:.2f} MB")
