"""Datasets: the loader of the dataset layout (ours and 3DMEAD), samples, batches and splits.

Kept import-light: names are imported on first use, so ``import probtalk.data``
pulls in no torch. The corpus generator lives in :mod:`probtalk.corpus`, the
rule-based baseline in :mod:`probtalk.eval.rules`.
"""

from __future__ import annotations

from probtalk.lazy import lazy_exports

_EXPORTS = {
    "MotionDataset": "dataset",
    "Sample": "dataset",
    "Batch": "dataset",
    "collate": "dataset",
    "make_keyid": "dataset",
    "parse_keyid": "dataset",
    "read_manifest": "dataset",
    "write_sentence_range_splits": "dataset",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
