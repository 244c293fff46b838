"""Posed geometry for rendering: animations resampled to the video rate, vertices and normals in batches."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from smplx.lbs import lbs

from probtalk.animation import Animation, resample_motion
from probtalk.flame.layer import FlameLayer
from probtalk.layout import NUM_JOINTS, NUM_SHAPE

#: Pose vector layout of FLAME's joints (global, neck, jaw, left eye, right eye), 3 axis-angle values each.
NUM_POSE = NUM_JOINTS * 3
POSE_NECK = slice(3, 6)
POSE_JAW = slice(6, 9)
POSE_EYES = slice(9, 15)
#: Frames posed at once; large enough for torch to batch, small enough to stream.
POSE_BATCH = 32


def vertex_normals(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Smooth per-vertex normals, area-weighted from the faces around each vertex.

    Args:
        vertices: [B, V, 3] positions.
        faces: int64 [F, 3] triangles (counter-clockwise seen from outside).

    Returns:
        [B, V, 3] unit normals (zero for vertices that no face uses).
    """
    return NormalSolver(faces, vertices.shape[1])(vertices)


class NormalSolver:
    """Per-vertex normals for one topology: face normals summed onto vertices by a sparse matrix product.

    The [V, F] incidence matrix is built once, so each batch costs one gather,
    one cross product and one sparse product (several times faster than
    scatter-adds). CPU tensors go through scipy (fastest here), others through
    torch.sparse on their device.
    """

    def __init__(self, faces: torch.Tensor, num_vertices: int) -> None:
        self.faces = faces.long()
        self.num_vertices = num_vertices
        f = self.faces.shape[0]
        rows = self.faces.T.reshape(-1)
        cols = torch.arange(f, device=faces.device).repeat(3)
        if self.faces.device.type == "cpu":
            import scipy.sparse

            self._faces_np = self.faces.numpy()
            self._incidence_np = scipy.sparse.csr_matrix(
                (np.ones(3 * f, np.float32), (rows.numpy(), cols.numpy())), shape=(num_vertices, f)
            )
        else:
            self._incidence = torch.sparse_coo_tensor(
                torch.stack([rows, cols]), torch.ones(3 * f, device=faces.device), (num_vertices, f),
                check_invariants=True,
            ).coalesce()

    def __call__(self, vertices: torch.Tensor) -> torch.Tensor:
        """Normals [B, V, 3] of vertices [B, V, 3] (same device and dtype)."""
        b, v = vertices.shape[:2]
        if vertices.device.type == "cpu" and hasattr(self, "_incidence_np"):
            tri = vertices.detach().numpy()[:, self._faces_np]  # [B, F, 3, 3]
            fn = np.cross(tri[:, :, 1] - tri[:, :, 0], tri[:, :, 2] - tri[:, :, 0])  # length = 2 * area
            f = fn.shape[1]
            summed = self._incidence_np @ fn.transpose(1, 0, 2).reshape(f, b * 3)
            out = summed.reshape(v, b, 3).transpose(1, 0, 2)
            out = out / np.maximum(np.linalg.norm(out, axis=-1, keepdims=True), 1e-12)
            return torch.from_numpy(out.astype(np.float32, copy=False)).to(vertices.dtype)
        else:
            tri = vertices[:, self.faces]
            fn = torch.cross(tri[:, :, 1] - tri[:, :, 0], tri[:, :, 2] - tri[:, :, 0], dim=-1)
            f = fn.shape[1]
            summed = torch.sparse.mm(self._incidence, fn.permute(1, 0, 2).reshape(f, b * 3))
            out = summed.reshape(v, b, 3).permute(1, 0, 2)
        return torch.nn.functional.normalize(out.to(vertices.dtype), dim=-1, eps=1e-12)


def output_frames(animations: Sequence[Animation], fps: float) -> int:
    """Number of video frames that cover the longest animation at ``fps``."""
    return max(1, max(int(round(a.duration * fps)) for a in animations))


class PosedTake:
    """One animation, resampled to the video rate, posed in batches of frames.

    Posing is :class:`FlameLayer`'s LBS with two exact shortcuts for speed:
    the take's constant identity is folded into the template once, and only
    the expression components the take uses enter the blend (FLAME layers
    multiply all 400 every frame).
    """

    def __init__(self, layer: FlameLayer, animation: Animation, fps: float, num_frames: int) -> None:
        self.layer = layer
        self.num_frames = num_frames
        same = abs(animation.fps - fps) < 1e-6 and animation.num_frames == num_frames

        def track(x: np.ndarray | None) -> np.ndarray | None:
            if x is None:
                return None
            return np.asarray(x, np.float32) if same else resample_motion(x, animation.fps, fps, num_frames)

        self.expression = track(animation.expression)
        self.pose_params = np.zeros((num_frames, NUM_POSE), np.float32)  # global | neck | jaw | eyes
        for value, cols in (
            (animation.neck_pose, POSE_NECK), (animation.jaw_pose, POSE_JAW), (animation.eye_pose, POSE_EYES)
        ):
            if value is not None:
                self.pose_params[:, cols] = track(value)
        with torch.no_grad():
            template = layer.v_template
            if animation.shape is not None:
                shape = torch.from_numpy(np.asarray(animation.shape, np.float32)).to(template.device)
                template = template + torch.einsum("vcs,s->vc", layer.shapedirs[:, :, : shape.shape[0]], shape)
            self.template = template
            used = self.expression.shape[1]
            self.exprdirs = layer.shapedirs[:, :, NUM_SHAPE : NUM_SHAPE + used].contiguous()

    @torch.no_grad()
    def pose(self, start: int, stop: int) -> torch.Tensor:
        """Vertices [stop - start, V, 3] of frames ``start:stop`` (on the layer's device)."""
        layer = self.layer
        dev = layer.v_template.device
        expr = torch.from_numpy(np.ascontiguousarray(self.expression[start:stop])).to(dev)
        pose = torch.from_numpy(np.ascontiguousarray(self.pose_params[start:stop])).to(dev)
        verts, _ = lbs(
            expr, pose, self.template, self.exprdirs, layer.posedirs, layer.j_regressor, layer.parents,
            layer.lbs_weights, pose2rot=True,
        )
        return verts

    def neutral(self) -> np.ndarray:
        """float32 [V, 3] neutral vertices of this take's identity (used for camera framing)."""
        return self.template.detach().cpu().numpy()


def posed_batches(
    takes: Sequence[PosedTake], faces: torch.Tensor, frames: Sequence[int] | None = None, batch: int = POSE_BATCH
) -> Iterator[tuple[list[int], torch.Tensor, torch.Tensor]]:
    """Stream vertices and normals of all takes, ``batch`` frames at a time.

    Args:
        takes: posed takes sharing one topology and frame count.
        faces: int64 [F, 3] triangles on the layer's device.
        frames: frame indices to pose (default: every frame, in order).
        batch: frames per batch.

    Yields:
        (frame indices [B], vertices [B, N, V, 3], normals [B, N, V, 3]) with N = len(takes).
    """
    if frames is None:
        frames = range(takes[0].num_frames)
    frames = list(frames)
    for i in range(0, len(frames), batch):
        idx = frames[i : i + batch]
        contiguous = idx == list(range(idx[0], idx[-1] + 1))
        per_take = []
        for take in takes:
            if contiguous:
                per_take.append(take.pose(idx[0], idx[-1] + 1))
            else:
                per_take.append(torch.cat([take.pose(j, j + 1) for j in idx]))
        verts = torch.stack(per_take, dim=1)  # [B, N, V, 3]
        b, n = verts.shape[:2]
        nrms = vertex_normals(verts.reshape(b * n, *verts.shape[2:]), faces).reshape(verts.shape)
        yield idx, verts, nrms
