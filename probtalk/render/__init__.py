"""Rendering: MP4 previews with sound, stills and contact sheets, takes side by side; rig preview sheets.

One call renders everything::

    probtalk.render(takes, audio="speech.wav", out="takes.mp4")
    probtalk.render(take, out="still.png", frame=40)
    probtalk.render(takes, out="sheet.png", sheet=True)

Backends (``moderngl`` headless GL on CPU, ``pytorch3d`` on CUDA) sit behind
:func:`probtalk.render.backends.create_backend`.
"""

from probtalk.render.api import render, render_rig_sheet
from probtalk.render.backends import BACKEND_CHOICES, RenderError, available_backends
from probtalk.render.camera import Camera, CameraSetup

__all__ = [
    "BACKEND_CHOICES",
    "Camera",
    "CameraSetup",
    "RenderError",
    "available_backends",
    "render",
    "render_rig_sheet",
]
