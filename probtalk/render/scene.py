"""Posed geometry for rendering: animations resampled to the video rate, vertices and normals in batches."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch

from probtalk.animation import Animation
from probtalk.flame.layer import FlameLayer

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
    v0 = vertices[:, faces[:, 0]]
    v1 = vertices[:, faces[:, 1]]
    v2 = vertices[:, faces[:, 2]]
    fn = torch.cross(v1 - v0, v2 - v0, dim=-1)  # length = 2 * area
    out = torch.zeros_like(vertices)
    for k in range(3):
        out.index_add_(1, faces[:, k], fn)
    return torch.nn.functional.normalize(out, dim=-1, eps=1e-12)


def resample(values: np.ndarray, src_fps: float, dst_fps: float, num_frames: int) -> np.ndarray:
    """Linearly resample per-frame values to another rate, holding the last frame past the end.

    Args:
        values: [T, D] values at ``src_fps``.
        src_fps: their frame rate.
        dst_fps: the wanted rate.
        num_frames: number of output frames.

    Returns:
        float32 [num_frames, D].
    """
    values = np.asarray(values, np.float32)
    t = values.shape[0]
    pos = np.clip(np.arange(num_frames, dtype=np.float64) * (src_fps / dst_fps), 0.0, t - 1)
    i0 = np.floor(pos).astype(np.int64)
    i1 = np.minimum(i0 + 1, t - 1)
    w = (pos - i0).astype(np.float32)[:, None]
    return values[i0] * (1.0 - w) + values[i1] * w


def output_frames(animations: Sequence[Animation], fps: float) -> int:
    """Number of video frames that cover the longest animation at ``fps``."""
    return max(1, max(int(round(a.duration * fps)) for a in animations))


class PosedTake:
    """One animation, resampled to the video rate, posed in batches of frames."""

    def __init__(self, layer: FlameLayer, animation: Animation, fps: float, num_frames: int) -> None:
        self.layer = layer
        self.num_frames = num_frames
        same = abs(animation.fps - fps) < 1e-6 and animation.num_frames == num_frames

        def track(x: np.ndarray | None) -> np.ndarray | None:
            if x is None:
                return None
            return np.asarray(x, np.float32) if same else resample(x, animation.fps, fps, num_frames)

        self.expression = track(animation.expression)
        self.jaw_pose = track(animation.jaw_pose)
        self.neck_pose = track(animation.neck_pose)
        self.eye_pose = track(animation.eye_pose)
        self.shape = None if animation.shape is None else np.asarray(animation.shape, np.float32)

    @torch.no_grad()
    def pose(self, start: int, stop: int) -> torch.Tensor:
        """Vertices [stop - start, V, 3] of frames ``start:stop`` (on the layer's device)."""
        dev = self.layer.v_template.device

        def sl(x: np.ndarray | None) -> torch.Tensor | None:
            return None if x is None else torch.from_numpy(np.ascontiguousarray(x[start:stop])).to(dev)

        shape = None if self.shape is None else torch.from_numpy(self.shape).to(dev).expand(stop - start, -1)
        return self.layer(
            shape=shape, expression=sl(self.expression), jaw_pose=sl(self.jaw_pose),
            neck_pose=sl(self.neck_pose), eye_pose=sl(self.eye_pose),
        )

    def neutral(self) -> np.ndarray:
        """float32 [V, 3] neutral vertices of this take's identity (used for camera framing)."""
        with torch.no_grad():
            shape = None if self.shape is None else torch.from_numpy(self.shape)[None].to(self.layer.v_template.device)
            if shape is None:
                return self.layer.v_template.detach().cpu().numpy()
            return self.layer(shape=shape)[0].detach().cpu().numpy()


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
