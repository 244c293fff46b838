"""Rendering: MP4 previews with sound, stills and contact sheets, takes side by side; rig preview sheets.

One call renders everything; it is also ``probtalk.render`` (this package is
``probtalk.rendering``, so that the name ``probtalk.render`` is only ever the function)::

    probtalk.render(takes, audio="speech.wav", out="takes.mp4")
    probtalk.render(take, out="still.png", frame=40)
    probtalk.render(takes, out="sheet.png", sheet=True)
    probtalk.rendering.render_rig_sheet(None, "rig.png")

Backends (``moderngl`` headless GL on CPU, ``pytorch3d`` on CUDA) sit behind
:func:`probtalk.rendering.backends.create_backend`.
"""

from __future__ import annotations

from probtalk.rendering.api import render, render_rig_sheet
from probtalk.rendering.backends import BACKEND_CHOICES, RenderError, available_backends
from probtalk.rendering.camera import Camera, CameraSetup

__all__ = [
    "BACKEND_CHOICES",
    "Camera",
    "CameraSetup",
    "RenderError",
    "available_backends",
    "render",
    "render_rig_sheet",
]
