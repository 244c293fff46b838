"""The interface every render backend implements, and the render error type."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

from probtalk.errors import ProbtalkError
from probtalk.rendering.camera import CameraSetup

if TYPE_CHECKING:
    import torch


class RenderError(ProbtalkError):
    """A render backend cannot run here (no GPU, no EGL/OpenGL driver, ...)."""


class Backend(Protocol):
    """Rasterises one mesh topology, posed per view, into square-or-not RGB tiles.

    A backend is built for one topology (faces, per-vertex albedo) and one tile
    size, then :meth:`draw` is called once per output frame. Use it as a
    context manager (or call :meth:`close`) to free its GL context / GPU memory.

    Attributes:
        name: registry name ("moderngl", "pytorch3d").
        device: torch device the vertex tensors should live on ("cpu", "cuda").
        width: tile width in pixels.
        height: tile height in pixels.
    """

    name: str
    device: str
    width: int
    height: int

    def draw(self, vertices: torch.Tensor, normals: torch.Tensor, cameras: Sequence[CameraSetup]) -> np.ndarray:
        """Render N posed copies of the mesh, each from its own camera.

        Args:
            vertices: float32 [N, V, 3] world positions.
            normals: float32 [N, V, 3] per-vertex unit normals.
            cameras: N fitted cameras (one per tile).

        Returns:
            uint8 [N, H, W, 3] images, row 0 at the top.
        """
        ...

    def close(self) -> None:
        """Release the backend's resources."""
        ...

    def __enter__(self) -> Backend: ...

    def __exit__(self, *exc: object) -> None: ...
