"""probtalk: speech-driven 3D facial animation for FLAME rigs (after ProbTalk3D).

Two calls drive it::

    model = probtalk.load_model()
    takes = model.animate("speech.wav", emotion="happy", num_samples=3)

Heavy parts are imported on first use, so ``import probtalk`` stays fast.
"""

from __future__ import annotations

from typing import Any

from probtalk.animation import Animation
from probtalk.errors import ProbtalkError

__version__ = "0.1.0"

__all__ = ["Animation", "ProbtalkError", "__version__", "load_model", "load_rig", "render"]


def __getattr__(name: str) -> Any:
    if name == "load_model":
        from probtalk.api import load_model

        return load_model
    if name == "load_rig":
        from probtalk.flame import load_rig

        return load_rig
    if name == "render":
        from probtalk.rendering import render

        return render
    raise AttributeError(f"module 'probtalk' has no attribute {name!r}")
