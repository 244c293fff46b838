"""The synthetic corpus generator: text, voices, TTS, alignment, the procedural animator and ``synth``.

Kept import-light: names are imported on first use, so ``import probtalk.corpus``
pulls in neither torch nor the speech stack.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ProceduralAnimator": "probtalk.corpus.animator",
    "loudness_envelope": "probtalk.corpus.animator",
    "SpeakerStyle": "probtalk.corpus.style_profiles",
    "make_style": "probtalk.corpus.style_profiles",
    "SynthConfig": "probtalk.corpus.synth",
    "synthesize_corpus": "probtalk.corpus.synth",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'probtalk.corpus' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
