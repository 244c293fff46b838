"""Render backends behind one interface, chosen by name.

``moderngl`` rasterises with OpenGL through a headless EGL context (Mesa's
llvmpipe on CPU machines, the GPU driver elsewhere); ``pytorch3d`` rasterises
on a CUDA GPU (optional ``render-gpu`` extra). ``auto`` prefers pytorch3d when
it is installed and CUDA is available, else moderngl.
"""

from __future__ import annotations

import importlib.util
import logging

import numpy as np

from probtalk.errors import InputError
from probtalk.rendering.backends.base import Backend, RenderError

log = logging.getLogger(__name__)

BACKENDS = ("moderngl", "pytorch3d")
BACKEND_CHOICES = ("auto", *BACKENDS)

__all__ = ["BACKENDS", "BACKEND_CHOICES", "Backend", "RenderError", "available_backends", "create_backend"]


def _cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def available_backends() -> list[str]:
    """Names of the backends whose dependencies are importable here (cheap check, no context made)."""
    have = []
    if importlib.util.find_spec("moderngl") is not None:
        have.append("moderngl")
    if importlib.util.find_spec("pytorch3d") is not None and _cuda_available():
        have.append("pytorch3d")
    return have


def create_backend(
    name: str, faces: np.ndarray, colours: np.ndarray, width: int, height: int, samples: int = 4
) -> Backend:
    """Build a backend for one mesh topology.

    Args:
        name: "auto", "moderngl" or "pytorch3d".
        faces: int [F, 3] triangles.
        colours: float32 [V, 3] linear per-vertex albedo.
        width: tile width in pixels.
        height: tile height in pixels.
        samples: anti-aliasing samples per pixel (MSAA for GL, supersampling for pytorch3d);
            negative means "when cheap": on for GPUs, off for software GL (llvmpipe).

    Raises:
        InputError: unknown backend name.
        MissingExtraError: the backend's package is not installed.
        RenderError: the backend cannot run on this machine.
    """
    key = str(name).lower()
    if key not in BACKEND_CHOICES:
        raise InputError(f"unknown render backend {name!r}; choose one of: {', '.join(BACKEND_CHOICES)}")
    if key == "auto":
        errors = []
        order = ["pytorch3d", "moderngl"] if "pytorch3d" in available_backends() else ["moderngl"]
        for candidate in order:
            try:
                backend = create_backend(candidate, faces, colours, width, height, samples)
            except RenderError as exc:  # try the next one, report all if none works
                errors.append(str(exc))
                continue
            except ImportError as exc:
                errors.append(f"{candidate}: {exc}")
                continue
            log.info("render backend: %s", candidate)
            return backend
        raise RenderError("no render backend works here: " + "; ".join(errors))
    if key == "pytorch3d":
        from probtalk.rendering.backends.torch3d import Pytorch3DBackend

        return Pytorch3DBackend(faces, colours, width, height, samples)
    from probtalk.rendering.backends.gl import ModernGLBackend

    return ModernGLBackend(faces, colours, width, height, samples)
