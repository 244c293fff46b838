"""probtalk: speech-driven 3D facial animation for FLAME rigs (after ProbTalk3D).

Two calls drive it::

    model = probtalk.load_model()
    takes = model.animate("speech.wav", emotion="happy", num_samples=3)

Heavy parts are imported on first use, so ``import probtalk`` stays fast.
"""

from __future__ import annotations

from probtalk.animation import Animation
from probtalk.errors import ProbtalkError
from probtalk.lazy import lazy_exports
from probtalk.options import AnimateOptions

__version__ = "0.1.0"

__all__ = ["AnimateOptions", "Animation", "ProbtalkError", "__version__", "load_model", "load_rig", "render"]


__getattr__ = lazy_exports(__name__, {"load_model": "api", "load_onnx_model": "runtime.loading", "load_rig": "flame", "render": "rendering"})
