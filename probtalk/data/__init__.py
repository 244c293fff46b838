"""Datasets: the loader of the dataset layout (ours and 3DMEAD), samples, batches and splits.

Kept import-light: names are imported on first use, so ``import probtalk.data``
pulls in no torch. The corpus generator lives in :mod:`probtalk.corpus`, the
rule-based baseline in :mod:`probtalk.eval.rules`.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "MotionDataset": "probtalk.data.dataset",
    "Sample": "probtalk.data.dataset",
    "Batch": "probtalk.data.dataset",
    "collate": "probtalk.data.dataset",
    "make_keyid": "probtalk.data.dataset",
    "parse_keyid": "probtalk.data.dataset",
    "read_manifest": "probtalk.data.dataset",
    "write_sentence_range_splits": "probtalk.data.dataset",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'probtalk.data' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
