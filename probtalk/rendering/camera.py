"""A fixed camera that frames the face of any FLAME-format rig.

The camera is described by a few angles (:class:`Camera`); :meth:`Camera.setup`
turns it into view and projection matrices fitted to the rig's neutral
geometry (its ``face`` region when present, else the whole mesh), so no mesh
is hard-coded. FLAME's convention is y up and the face looking along +z.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from probtalk.errors import InputError
from probtalk.flame.rig import Rig

#: Regions tried, in order, to frame the shot; "head" means every vertex.
FRAMING_REGIONS = ("face", "head")


@dataclass(frozen=True)
class CameraSetup:
    """Matrices of one fitted view (column-vector convention, OpenGL clip space).

    Attributes:
        view: float32 [4, 4] world -> camera (camera looks along -z, x right, y up).
        proj: float32 [4, 4] camera -> clip.
        eye: float32 [3] camera position in world coordinates.
        fov: vertical field of view in degrees.
        near: near plane distance.
        far: far plane distance.
        aspect: width / height of the image.
    """

    view: np.ndarray
    proj: np.ndarray
    eye: np.ndarray
    fov: float
    near: float
    far: float
    aspect: float

    @property
    def rotation(self) -> np.ndarray:
        """float32 [3, 3] camera -> world rotation (columns: right, up, back)."""
        return self.view[:3, :3].T.copy()

    def project(self, points: np.ndarray, width: int, height: int) -> np.ndarray:
        """Pixel coordinates of world points.

        Args:
            points: [N, 3] world positions.
            width: image width in pixels.
            height: image height in pixels.

        Returns:
            float32 [N, 2] (column, row) with row 0 at the top of the image.
        """
        pts = np.concatenate([np.asarray(points, np.float64), np.ones((len(points), 1))], axis=1)
        clip = pts @ (self.proj.astype(np.float64) @ self.view.astype(np.float64)).T
        ndc = clip[:, :2] / clip[:, 3:4]
        col = (ndc[:, 0] * 0.5 + 0.5) * width
        row = (0.5 - ndc[:, 1] * 0.5) * height
        return np.stack([col, row], axis=1).astype(np.float32)


@dataclass(frozen=True)
class Camera:
    """Where the camera looks from, relative to the face.

    Attributes:
        yaw: degrees around the vertical axis; positive shows the head's left side.
        pitch: degrees above the face (positive looks down on it).
        fov: vertical field of view in degrees.
        margin: free space around the framed region (1.0 = tight).
        region: the rig region to frame (``face``; ``head`` frames every vertex).
    """

    yaw: float = 0.0
    pitch: float = 5.0
    fov: float = 20.0
    margin: float = 1.12
    region: str = "face"

    def __post_init__(self) -> None:
        for name, limit in (("yaw", 360.0), ("pitch", 90.0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
                raise InputError(f"camera {name} must be a number of degrees, got {type(value).__name__} {value!r}")
            if not math.isfinite(value):
                raise InputError(f"camera {name} {value} is not a finite number of degrees")
            if not -limit <= value <= limit:
                raise InputError(f"camera {name} {value:g} is out of range; give {-limit:g} to {limit:g} degrees")
        if not 1.0 <= self.fov <= 120.0:
            raise InputError(f"camera fov {self.fov} is out of range; give 1-120 degrees")
        if not 0.5 <= self.margin <= 10.0:
            raise InputError(f"camera margin {self.margin} is out of range; give 0.5-10")

    def setup(self, rig: Rig, width: int, height: int, vertices: np.ndarray | None = None) -> CameraSetup:
        """Fit the view to the rig.

        Args:
            rig: the head; its ``region`` (or every vertex) is framed.
            width: image width in pixels.
            height: image height in pixels.
            vertices: optional [V, 3] neutral vertices to frame (e.g. with an
                identity shape applied); defaults to ``rig.v_template``.

        Returns:
            The fitted :class:`CameraSetup`.
        """
        verts = np.asarray(rig.v_template if vertices is None else vertices, np.float64)
        idx = rig.regions.get(self.region) if self.region != "head" else None
        frame_pts = verts[idx] if idx is not None and len(idx) > 0 else verts
        aspect = width / height
        rot = _orbit_rotation(self.yaw, self.pitch)  # columns: right, up, back
        tan_y = math.tan(math.radians(self.fov) / 2.0)
        tan_x = tan_y * aspect

        target = 0.5 * (frame_pts.min(axis=0) + frame_pts.max(axis=0))
        # Re-centre the target on the framed points as seen from this direction.
        local = (frame_pts - target) @ rot
        target = target + rot[:, 0] * 0.5 * (local[:, 0].max() + local[:, 0].min())
        target = target + rot[:, 1] * 0.5 * (local[:, 1].max() + local[:, 1].min())
        local = (frame_pts - target) @ rot
        # A point (x, y, z) in camera axes fits when |x| <= (d - z) tan_x / margin (same for y).
        need_x = local[:, 2] + np.abs(local[:, 0]) * self.margin / tan_x
        need_y = local[:, 2] + np.abs(local[:, 1]) * self.margin / tan_y
        dist = float(max(need_x.max(), need_y.max(), 1e-3))
        eye = target + rot[:, 2] * dist

        all_local = (verts - eye) @ rot
        depth = -all_local[:, 2]
        radius = float(np.linalg.norm(verts - target, axis=1).max())
        near = max(float(depth.min()) * 0.5, dist * 0.02, 1e-4)
        far = float(depth.max()) + radius
        view = _look(rot, eye)
        proj = _perspective(self.fov, aspect, near, far)
        return CameraSetup(
            view=view.astype(np.float32), proj=proj.astype(np.float32), eye=eye.astype(np.float32),
            fov=self.fov, near=near, far=far, aspect=aspect,
        )


def _orbit_rotation(yaw: float, pitch: float) -> np.ndarray:
    """[3, 3] camera -> world rotation for a camera orbiting a +z-facing head."""
    y, p = math.radians(yaw), math.radians(pitch)
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rx = np.array([[1, 0, 0], [0, math.cos(p), math.sin(p)], [0, -math.sin(p), math.cos(p)]])
    return ry @ rx


def _look(rot: np.ndarray, eye: np.ndarray) -> np.ndarray:
    view = np.eye(4)
    view[:3, :3] = rot.T
    view[:3, 3] = -rot.T @ eye
    return view


def _perspective(fov: float, aspect: float, near: float, far: float) -> np.ndarray:
    f = 1.0 / math.tan(math.radians(fov) / 2.0)
    proj = np.zeros((4, 4))
    proj[0, 0] = f / aspect
    proj[1, 1] = f
    proj[2, 2] = (far + near) / (near - far)
    proj[2, 3] = 2.0 * far * near / (near - far)
    proj[3, 2] = -1.0
    return proj
