"""What a mesh format (glb, gltf, fbx) animates: morph targets with their weights, and joint rotations.

Both mesh writers ask :class:`MeshWriter` for a :class:`MorphSet`: either the
FLAME expression basis ("exp000", ...) driven by the take's coefficients with
jaw, neck and eyes as joints, or (``arkit=True``) the 52 ARKit shapes driven
by solved curves, with only the neck as a joint (jaw and eye motion is inside
the ARKit shapes).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from exporters.arkit import ArkitCache
from exporters.base import TARGETS_NEED_ARKIT, Writer, check_rig, component_name, used_components
from probtalk.animation import Animation
from probtalk.arkit import ARKIT_INDEX
from probtalk.errors import InputError
from probtalk.layout import JOINT_CHANNELS

if TYPE_CHECKING:
    from probtalk.flame.rig import Rig

#: Joints animated with the expression basis / with ARKit shapes.
BASIS_JOINTS = frozenset({"neck", "jaw", "left_eye", "right_eye"})
ARKIT_JOINTS = frozenset({"neck"})


@dataclass
class MorphSet:
    """Morph targets of a mesh export and the take's weights for them.

    Attributes:
        names: K target names (ARKit names or "exp000"-style component names).
        deltas: float32 [K, V, 3] vertex offsets of each target at weight 1.
        weights: float32 [T, K] per-frame weights.
        joints: joints whose rotation the file animates (see :data:`probtalk.layout.JOINT_CHANNELS`).
        arkit: whether these are ARKit shapes (weights in [0, 1]).
    """

    names: list[str]
    deltas: np.ndarray
    weights: np.ndarray
    joints: frozenset[str]
    arkit: bool


def joint_rotations(animation: Animation, joints: frozenset[str]) -> dict[str, np.ndarray]:
    """Axis-angle tracks float32 [T, 3] of the ``joints`` the animation drives, by joint name."""
    out = {}
    for name, (field, cols) in JOINT_CHANNELS.items():
        value = getattr(animation, field)
        if name in joints and value is not None:
            out[name] = np.asarray(value[:, cols], np.float32)
    return out


class MeshWriter(Writer):
    """Shared options of the mesh formats.

    Options:
        arkit: export the 52 ARKit shapes as morph targets driven by solved curves
            (engine-friendly names) instead of the FLAME expression basis.
        nonzero_only: export only the expression components that move in the take.
        targets: with ``arkit``, a user blendshape set (OBJ folder or GLB) to use instead of the rig's.
        arkit_smoothing: temporal smoothing of the ARKit solve.
    """

    def __init__(self, rig: Rig | None = None, *, arkit: bool = False, nonzero_only: bool = False,
                 targets: str | os.PathLike[str] | None = None, arkit_smoothing: float = 0.0) -> None:
        super().__init__(rig)
        if targets is not None and not arkit:
            raise InputError(TARGETS_NEED_ARKIT)
        self.arkit = bool(arkit)
        self.nonzero_only = bool(nonzero_only)
        self.targets = targets
        self.arkit_smoothing = float(arkit_smoothing)

    def morphs(self, animation: Animation) -> MorphSet:
        """The morph targets and weights this writer exports for ``animation``."""
        rig = self.rig
        check_rig(animation, rig)
        if self.arkit:
            cache = self.cache if self.cache is not None else ArkitCache()
            names, offsets = cache.targets(rig, self.targets)
            curves = cache.curves(animation, rig, self.targets, self.arkit_smoothing)
            weights = curves.weights[:, [ARKIT_INDEX[n] for n in names]]
            return MorphSet(list(names), np.asarray(offsets, np.float32), weights, ARKIT_JOINTS, True)
        comps = used_components(animation, self.nonzero_only)
        deltas = np.ascontiguousarray(rig.exprdirs[:, :, comps].transpose(2, 0, 1), dtype=np.float32)
        names = [component_name(int(k)) for k in comps]
        return MorphSet(names, deltas, np.asarray(animation.expression[:, comps], np.float32), BASIS_JOINTS, False)
