"""The synthetic corpus generator: text, voices, TTS, alignment, the procedural animator and ``synth``.

Kept import-light: names are imported on first use, so ``import probtalk.corpus``
pulls in neither torch nor the speech stack.
"""

from __future__ import annotations

from probtalk.lazy import lazy_exports

_EXPORTS = {
    "ProceduralAnimator": "animator",
    "loudness_envelope": "animator",
    "SpeakerStyle": "style_profiles",
    "make_style": "style_profiles",
    "SynthConfig": "synth",
    "synthesize_corpus": "synth",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
