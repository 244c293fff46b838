"""ARKit-52 curves solved from FLAME motion (and retargeting onto a user's blendshape set).

The FLAME motion of each frame is posed through :meth:`probtalk.flame.FlameLayer.fold`
(neck excluded: head rotation is exported separately) into vertex offsets from
the neutral head, then explained by a blendshape set that shares the mesh
topology (by default the rig's own 52 semantic shapes) with
:class:`exporters.solver.ArkitSolver`.

:class:`ArkitCache` solves each take once and shares the curves between every
writer that needs them (Live Link CSV, JSON, curves CSV, ARKit GLB/FBX).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from exporters.checks import check_rig
from exporters.readers import load_blendshape_targets
from exporters.solver import ArkitSolver
from probtalk.animation import Animation
from probtalk.arkit import ARKIT_NAMES
from probtalk.errors import InputError, RigError

if TYPE_CHECKING:
    from probtalk.flame.rig import Rig

log = logging.getLogger(__name__)

#: A blendshape set: its ARKit names and float32 [K, V, 3] offsets at weight 1.
Targets = tuple[tuple[str, ...], np.ndarray]


@dataclass
class ArkitCurves:
    """ARKit-52 curves of one take.

    Attributes:
        fps: frames per second.
        weights: float32 [T, 52] in [0, 1], columns in :data:`probtalk.arkit.ARKIT_NAMES` order.
        head: float32 [T, 3] head yaw, pitch, roll (radians, :func:`live_link_angles`) from the
            neck pose (zeros if none).
        left_eye: float32 [T, 3] yaw, pitch, roll of the subject's left eye (FLAME ``eye_pose[:, :3]``).
        right_eye: float32 [T, 3] yaw, pitch, roll of the subject's right eye (``eye_pose[:, 3:]``).
        residual: float32 [T] RMS vertex error of the fit per frame (metres, solve vertices only).
    """

    fps: float
    weights: np.ndarray
    head: np.ndarray
    left_eye: np.ndarray
    right_eye: np.ndarray
    residual: np.ndarray

    names = ARKIT_NAMES

    @property
    def num_frames(self) -> int:
        return int(self.weights.shape[0])


def motion_offsets(animation: Animation, rig: Rig, vertices: np.ndarray | None = None, chunk: int = 256) -> np.ndarray:
    """FLAME vertex offsets float32 [T, N, 3] of each frame from the neutral head.

    Expression, jaw and eye poses are applied (FLAME's LBS, pose correctives
    included); identity shape and neck are not (the blendshapes are measured
    on the neutral template, and head rotation is exported as separate curves).

    Args:
        animation: the take.
        rig: the FLAME head.
        vertices: int [N] vertex indices to return (all V if None). Only these
            and the joint regressor's support are posed, which is exact and fast.
        chunk: frames posed at once.
    """
    import torch

    from probtalk.flame.layer import FlameLayer

    check_rig(animation, rig)
    folded = FlameLayer(rig).fold(num_expression=animation.expression.shape[1], vertices=vertices)
    neutral = folded.neutral()
    out = np.empty((animation.num_frames, neutral.shape[0], 3), np.float32)
    with torch.no_grad():
        for a in range(0, animation.num_frames, chunk):
            b = min(a + chunk, animation.num_frames)
            out[a:b] = (folded.pose_animation(animation, a, b, neck=False) - neutral).numpy()
    return out


def rig_targets(rig: Rig) -> Targets:
    """The rig's own ARKit shapes (names, float32 [K, V, 3] offsets); RigError if it has none."""
    if not rig.has_semantic_shapes:
        raise RigError(f"rig {rig.name} has no semantic (ARKit) shapes; pass --targets with your blendshape set")
    lookup = {n.lower(): n for n in ARKIT_NAMES}
    keep = [i for i, n in enumerate(rig.semantic_names) if n.lower() in lookup]
    if not keep:
        raise RigError(f"rig {rig.name} has no shape named after an ARKit blendshape")
    names = tuple(lookup[rig.semantic_names[i].lower()] for i in keep)
    assert rig.semantic_offsets is not None
    return names, rig.semantic_offsets[keep]


def live_link_angles(rotvec: np.ndarray | None, frames: int) -> np.ndarray:
    """Live Link Face yaw, pitch, roll (radians) float32 [T, 3] of axis-angle rotations [T, 3] (zeros if None).

    The angles decompose the rotation, in the head frame (FLAME's and ARKit's face
    frame: +x the subject's left, +y up, +z out of the face), as
    ``R = Rx(pitch) @ Ry(-yaw) @ Rz(roll)``: pitch > 0 looks (nods) down, yaw > 0
    turns toward the subject's right, roll > 0 tilts the top toward the subject's
    right. This reproduces recorded Live Link Face files exactly (see
    ``docs/guides/unreal.md``, "Head and eye rotations").
    """
    if rotvec is None:
        return np.zeros((frames, 3), np.float32)
    from scipy.spatial.transform import Rotation

    x, y, z = Rotation.from_rotvec(np.asarray(rotvec, np.float64)).as_euler("XYZ").T
    return (np.stack([-y, x, z], axis=1) + 0.0).astype(np.float32)  # + 0.0: no "-0.000000" in files


def resolve_targets(rig: Rig, targets: str | os.PathLike[str] | Targets | None) -> Targets:
    """The blendshape set to solve for: the rig's own (None), a loaded ``(names, offsets)``, or a path."""
    if targets is None:
        return rig_targets(rig)
    if isinstance(targets, tuple):
        return targets
    return load_blendshape_targets(targets)


def solve_arkit(
    animation: Animation,
    rig: Rig | None = None,
    targets: str | os.PathLike[str] | Targets | None = None,
    smoothing: float = 0.0,
) -> ArkitCurves:
    """Solve ARKit-52 curves for ``animation``.

    Args:
        animation: the FLAME take.
        rig: the FLAME head (bundled one if None).
        targets: a blendshape set sharing the rig's topology to retarget onto: a path
            (see :func:`exporters.readers.load_blendshape_targets`) or ``(names, offsets [K, V, 3])``;
            ``None`` uses the rig's own semantic shapes.
        smoothing: temporal smoothing weight (0 = independent frames).

    Returns:
        The curves, weights in [0, 1].
    """
    from exporters.checks import check_animation

    check_animation(animation)
    if isinstance(smoothing, bool) or not isinstance(smoothing, int | float | np.integer | np.floating):
        raise InputError(f"ARKit smoothing must be a number, got {type(smoothing).__name__} {smoothing!r}")
    if rig is None or isinstance(rig, str | os.PathLike):
        from probtalk.flame import load_rig

        rig = load_rig(rig)
    elif not hasattr(rig, "semantic_names"):
        raise InputError(f"rig must be a probtalk Rig, a rig file path or None, got {type(rig).__name__}")
    names, offsets = resolve_targets(rig, targets)
    if np.asarray(offsets).shape[1] != rig.num_vertices:
        raise RigError(
            f"blendshape set has {np.asarray(offsets).shape[1]} vertices, rig {rig.name} has {rig.num_vertices}; "
            "targets must share the rig's vertex order"
        )
    solver = ArkitSolver(names, offsets, smoothing)
    weights, residual = solver.solve_active(motion_offsets(animation, rig, solver.active))
    eyes = animation.eye_pose
    t = animation.num_frames
    return ArkitCurves(
        fps=animation.fps,
        weights=weights,
        head=live_link_angles(animation.neck_pose, t),
        left_eye=live_link_angles(None if eyes is None else eyes[:, :3], t),
        right_eye=live_link_angles(None if eyes is None else eyes[:, 3:], t),
        residual=residual,
    )


class ArkitCache:
    """Solves each (take, rig, blendshape set, smoothing) once and hands the curves to every writer that asks.

    :func:`exporters.write_all` shares one cache between the writers of a take, so
    CSV, JSON and curves CSV (and ARKit GLB/FBX) cost one solve together. The
    cache holds a reference to each animation it has seen, so ids stay unique.
    """

    def __init__(self) -> None:
        self._curves: dict[tuple[int, int, str, float], tuple[Animation, object, ArkitCurves]] = {}
        self._targets: dict[tuple[int, str], Targets] = {}

    def targets(self, rig: Rig, targets: str | os.PathLike[str] | Targets | None) -> Targets:
        """:func:`resolve_targets`, read once per path."""
        if isinstance(targets, tuple):
            return targets
        key = (id(rig), "" if targets is None else str(Path(targets).resolve()))
        if key not in self._targets:
            self._targets[key] = resolve_targets(rig, targets)
        return self._targets[key]

    def curves(self, animation: Animation, rig: Rig, targets: str | os.PathLike[str] | Targets | None,
               smoothing: float) -> ArkitCurves:
        """:func:`solve_arkit` of ``animation``, solved on the first call only."""
        label = "" if targets is None else f"{id(targets)}" if isinstance(targets, tuple) else str(Path(targets).resolve())
        key = (id(animation), id(rig), label, float(smoothing))
        if key not in self._curves:
            solved = solve_arkit(animation, rig, self.targets(rig, targets), smoothing)
            self._curves[key] = (animation, targets, solved)  # keep what the ids refer to alive
        return self._curves[key][2]
