"""What a mesh format (glb, gltf, fbx) animates: morph targets with their weights, and joint rotations.

Both mesh writers ask :class:`MeshWriter` for a :class:`MorphSet`: either the
FLAME expression basis driven by the take's coefficients with jaw, neck and
eyes as joints, or (``arkit=True``) the 52 ARKit shapes driven by solved
curves, with only the neck as a joint (jaw and eye motion is inside the ARKit
shapes).

Every weight lies in [0, 1], the range DCC tools and engines assume (Blender's
glTF importer, for one, clamps shape keys to the range of their first key).
Expression coefficients are signed and reach ~2.5, so each component k becomes
two targets, ``exp000_pos`` = a+ d_k and ``exp000_neg`` = -a- d_k, where a+ / a-
are the take's largest positive / negative coefficient; their weights
max(w, 0) / a+ and max(-w, 0) / a- reproduce w d_k exactly.

Targets are pruned with a guaranteed error bound (:func:`prune`): per vertex,
the smallest contributions are dropped while their sum over every target,
at the take's largest weights, stays within ``tolerance`` metres. Components
that never move drop out entirely, and the GLB stores the rest as sparse
accessors.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from exporters.arkit import ArkitCache
from exporters.base import TARGETS_NEED_ARKIT, Writer, component_name
from exporters.checks import check_rig
from exporters.readers import Character, load_character
from probtalk.animation import Animation
from probtalk.arkit import ARKIT_INDEX
from probtalk.errors import InputError
from probtalk.layout import JOINT_CHANNELS

if TYPE_CHECKING:
    from probtalk.flame.rig import Rig

#: Default error bound of target pruning, metres (0.05 mm, a tenth of what the eye of a close-up notices).
DEFAULT_TOLERANCE = 5e-5
#: ``nonzero_only``: a component moves when its peak displacement exceeds this fraction of the take's largest.
MOVING_FRACTION = 1e-3

#: Joints animated with the expression basis / with ARKit shapes.
BASIS_JOINTS = frozenset({"neck", "jaw", "left_eye", "right_eye"})
ARKIT_JOINTS = frozenset({"neck"})


@dataclass
class MorphSet:
    """Morph targets of a mesh export and the take's weights for them.

    Attributes:
        names: K target names (ARKit names or "exp000_pos"-style component names).
        deltas: float32 [K, V, 3] vertex offsets of each target at weight 1 (pruned entries are exactly 0).
        weights: float32 [T, K] per-frame weights in [0, 1].
        joints: joints whose rotation the file animates (see :data:`probtalk.layout.JOINT_CHANNELS`).
        arkit: whether these are ARKit shapes (weights in [0, 1]).
        character: the user's mesh these targets belong to (None: the FLAME head).
    """

    names: list[str]
    deltas: np.ndarray
    weights: np.ndarray
    joints: frozenset[str]
    arkit: bool
    character: Character | None = None

    def nonzero(self) -> list[np.ndarray]:
        """Per target, the int64 indices of the vertices it moves (ascending)."""
        return [np.flatnonzero(np.any(d != 0, axis=1)) for d in self.deltas]


def split_signed(names: list[str], deltas: np.ndarray, weights: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Signed targets -> pairs of targets with weights in [0, 1] (see the module docstring).

    Args:
        names: K names.
        deltas: [K, V, 3] offsets at weight 1.
        weights: [T, K] signed weights.

    Returns:
        (names, deltas [K', V, 3], weights [T, K']) with only the sides that occur (K' <= 2K).
    """
    out_names, out_deltas, out_weights = [], [], []
    for k, name in enumerate(names):
        for side, sign in (("pos", 1.0), ("neg", -1.0)):
            part = np.maximum(sign * weights[:, k].astype(np.float64), 0.0)
            peak = float(part.max(initial=0.0))
            if peak <= 0.0:
                continue
            out_names.append(f"{name}_{side}")
            out_deltas.append((sign * peak) * deltas[k].astype(np.float64))
            out_weights.append(part / peak)
    v = deltas.shape[1]
    return (
        out_names,
        np.asarray(out_deltas, np.float32).reshape(len(out_names), v, 3),
        np.asarray(out_weights, np.float32).reshape(len(out_names), weights.shape[0]).T.copy(),
    )


def prune(deltas: np.ndarray, weights: np.ndarray, tolerance: float) -> np.ndarray:
    """Zero the target entries whose combined effect on a vertex stays within ``tolerance``.

    Per vertex, contributions ``|delta_k(v)| * max_t w_k(t)`` are dropped smallest
    first while their sum stays <= ``tolerance``, so no frame's vertex moves by
    more than ``tolerance`` (triangle inequality).

    Args:
        deltas: float32 [K, V, 3] offsets (modified copy returned).
        weights: [T, K] weights in [0, 1].
        tolerance: metres; 0 keeps every nonzero entry.

    Returns:
        float32 [K, V, 3] pruned offsets.
    """
    out = np.array(deltas, np.float32, copy=True)
    if tolerance <= 0 or out.shape[0] == 0:
        return out
    reach = np.linalg.norm(out.astype(np.float64), axis=2) * np.abs(weights).max(axis=0, initial=0.0)[:, None]
    order = np.argsort(reach, axis=0, kind="stable")
    dropped_sorted = np.cumsum(np.take_along_axis(reach, order, axis=0), axis=0) <= tolerance
    dropped = np.zeros_like(dropped_sorted)
    np.put_along_axis(dropped, order, dropped_sorted, axis=0)
    out[dropped] = 0.0
    return out


def moving_components(animation: Animation, exprdirs: np.ndarray, fraction: float = MOVING_FRACTION) -> np.ndarray:
    """int64 indices of the expression components whose peak displacement is over ``fraction`` of the largest.

    The peak displacement of component k is ``max_t |w_k(t)| * max_v |d_k(v)|``; a
    relative threshold ignores the ~1e-5 noise a model leaves on unused components.
    """
    width = animation.expression.shape[1]
    reach = np.abs(animation.expression).max(axis=0) * np.linalg.norm(exprdirs[:, :, :width], axis=1).max(axis=0)
    top = float(reach.max(initial=0.0))
    return np.flatnonzero(reach > fraction * top) if top > 0 else np.zeros(0, np.int64)


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
        nonzero_only: export only the expression components that move in the take (peak displacement
            over 1/1000 of the largest component's).
        targets: with ``arkit``, a user blendshape set (OBJ folder or GLB) to use instead of the rig's.
        arkit_smoothing: temporal smoothing of the ARKit solve.
        tolerance: error bound of target pruning in metres (default 5e-5); 0 keeps every nonzero entry.
        character: your own mesh with ARKit-named blendshapes (a .glb or a folder of OBJs, any topology,
            see :func:`exporters.readers.load_character`): the ARKit curves solved on the FLAME head
            drive *its* blendshapes, and the file holds your mesh instead of the head.
    """

    def __init__(self, rig: Rig | None = None, *, arkit: bool = False, nonzero_only: bool = False,
                 targets: str | os.PathLike[str] | None = None, arkit_smoothing: float = 0.0,
                 tolerance: float = DEFAULT_TOLERANCE, character: str | os.PathLike[str] | None = None) -> None:
        super().__init__(rig)
        if targets is not None and not arkit:
            raise InputError(TARGETS_NEED_ARKIT)
        if character is not None and targets is not None:
            raise InputError("character= brings its own blendshapes; drop targets= (--targets)")
        if not np.isfinite(tolerance) or not 0 <= tolerance <= 1e-3:
            raise InputError(f"tolerance must be between 0 and 0.001 metres, got {tolerance}")
        self.arkit = bool(arkit)
        self.nonzero_only = bool(nonzero_only)
        self.targets = targets
        self.arkit_smoothing = float(arkit_smoothing)
        self.tolerance = float(tolerance)
        self.character = character

    def morphs(self, animation: Animation) -> MorphSet:
        """The morph targets and weights this writer exports for ``animation``."""
        rig = self.rig
        check_rig(animation, rig)
        if self.character is not None:
            return self._character_morphs(animation, rig)
        if self.arkit:
            cache = self.cache if self.cache is not None else ArkitCache()
            names, offsets = cache.targets(rig, self.targets)
            curves = cache.curves(animation, rig, self.targets, self.arkit_smoothing)
            weights = curves.weights[:, [ARKIT_INDEX[n] for n in names]]
            # Pruned for any weights in [0, 1], not just this take's: the 52 shapes stay a reusable rig.
            deltas = prune(np.asarray(offsets, np.float32), np.ones((1, len(names))), self.tolerance)
            return MorphSet(list(names), deltas, weights, ARKIT_JOINTS, True)
        if self.nonzero_only:
            comps = moving_components(animation, rig.exprdirs)
        else:
            comps = np.arange(animation.expression.shape[1])
        names, deltas, weights = split_signed(
            [component_name(int(k)) for k in comps],
            rig.exprdirs[:, :, comps].transpose(2, 0, 1),
            animation.expression[:, comps],
        )
        deltas = prune(deltas, weights, self.tolerance)
        keep = [k for k, d in enumerate(deltas) if np.any(d != 0)]  # targets pruned away entirely
        return MorphSet([names[k] for k in keep], deltas[keep], weights[:, keep], BASIS_JOINTS, False)

    def _character_morphs(self, animation: Animation, rig: Rig) -> MorphSet:
        """The user's blendshapes driven by the ARKit curves solved on the FLAME head (no joints)."""
        character = load_character(self.character)
        cache = self.cache if self.cache is not None else ArkitCache()
        curves = cache.curves(animation, rig, None, self.arkit_smoothing)
        weights = curves.weights[:, [ARKIT_INDEX[n] for n in character.names]]
        deltas = prune(character.offsets, np.ones((1, len(character.names))), self.tolerance)
        return MorphSet(list(character.names), deltas, weights, frozenset(), True, character)
