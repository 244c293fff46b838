"""Rendering: MP4 previews with sound, stills and contact sheets, takes side by side; rig preview sheets.

One call renders everything::

    probtalk.render(takes, audio="speech.wav", out="takes.mp4")
    probtalk.render(take, out="still.png", frame=40)
    probtalk.render(takes, out="sheet.png", sheet=True)
    probtalk.render.render_rig_sheet(None, "rig.png")

Backends (``moderngl`` headless GL on CPU, ``pytorch3d`` on CUDA) sit behind
:func:`probtalk.render.backends.create_backend`.
"""

from __future__ import annotations

import sys
import types
from typing import Any

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


class _CallableModule(types.ModuleType):
    """Makes ``probtalk.render(...)`` call :func:`render` even after this package is imported.

    ``probtalk.render`` is both the public function (DESIGN.md) and this
    package; importing a submodule rebinds the package attribute to the
    module, so the module itself must be callable.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return render(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
