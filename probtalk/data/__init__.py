"""Datasets: the dataset layout loader, the synthetic corpus and the procedural animator.

Kept import-light: names are imported on first use, so ``import probtalk.data``
pulls in neither torch nor the speech stack.
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
    "ProceduralAnimator": "probtalk.data.animator",
    "loudness_envelope": "probtalk.data.animator",
    "SpeakerStyle": "probtalk.data.style_profiles",
    "make_style": "probtalk.data.style_profiles",
    "SynthConfig": "probtalk.data.synth",
    "synthesize_corpus": "probtalk.data.synth",
    "animate_rules": "probtalk.data.rules",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'probtalk.data' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
