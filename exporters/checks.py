"""Input checks every writer and the ARKit solve share (no exporter imports; both sides import this)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from probtalk.animation import Animation
from probtalk.errors import InputError, RigError
from probtalk.layout import NUM_EXPRESSION

if TYPE_CHECKING:
    from probtalk.flame.rig import Rig

# The longest animation any writer accepts: one hour at 240 fps guards against
# passing a wrong array (e.g. vertices) as an animation.
MAX_FRAMES = 240 * 3600


def check_animation(animation: Animation) -> None:
    """Raise InputError when ``animation`` cannot be exported (wrong type, no frames, bad fps)."""
    if not isinstance(animation, Animation):
        raise InputError(f"expected a probtalk.Animation, got {type(animation).__name__}; load it with Animation.load")
    if not np.isfinite(animation.fps) or animation.fps <= 0:
        raise InputError(f"animation fps must be a positive number, got {animation.fps}; set Animation.fps")
    if animation.num_frames < 1:
        raise InputError("animation has no frames; nothing to export")
    if animation.num_frames > MAX_FRAMES:
        raise InputError(f"animation has {animation.num_frames} frames (over {MAX_FRAMES}); is it really an animation?")
    animation.validate()


def check_rig(animation: Animation, rig: Rig) -> None:
    """Raise RigError when ``animation`` does not fit ``rig`` (expression or shape width)."""
    if animation.expression.shape[1] > NUM_EXPRESSION:
        raise RigError(
            f"animation has {animation.expression.shape[1]} expression components, rig {rig.name} has {NUM_EXPRESSION}"
        )
    if animation.shape is not None and animation.shape.shape[0] > rig.shapedirs.shape[2]:
        raise RigError(
            f"animation shape has {animation.shape.shape[0]} coefficients, rig {rig.name} has {rig.shapedirs.shape[2]}"
        )
