"""Posed geometry for rendering: animations resampled to the video rate, vertices and normals in batches."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch

from probtalk.animation import Animation, resample_motion
from probtalk.flame.layer import FlameLayer
from probtalk.geometry import vertex_normals
from probtalk.layout import pose_vector

#: Frames posed at once; large enough for torch to batch, small enough to stream.
POSE_BATCH = 32


def output_frames(animations: Sequence[Animation], fps: float) -> int:
    """Number of video frames that cover the longest animation at ``fps``."""
    return max(1, max(int(round(a.duration * fps)) for a in animations))


class PosedTake:
    """One animation, resampled to the video rate, posed in batches of frames.

    Posing is :meth:`FlameLayer.fold`: the take's constant identity is folded
    into the template once, and only the expression components the take uses
    enter the blend.
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
        self.pose_params = pose_vector(num_frames, neck=track(animation.neck_pose), jaw=track(animation.jaw_pose),
                                       eyes=track(animation.eye_pose))
        self.folded = layer.fold(shape=animation.shape, num_expression=self.expression.shape[1])

    @torch.no_grad()
    def pose(self, start: int, stop: int) -> torch.Tensor:
        """Vertices [stop - start, V, 3] of frames ``start:stop`` (on the layer's device)."""
        dev = self.layer.v_template.device
        expr = torch.from_numpy(np.ascontiguousarray(self.expression[start:stop])).to(dev)
        pose = torch.from_numpy(np.ascontiguousarray(self.pose_params[start:stop])).to(dev)
        return self.folded(expr, pose)

    def neutral(self) -> np.ndarray:
        """float32 [V, 3] neutral vertices of this take's identity (used for camera framing)."""
        return self.folded.neutral().detach().cpu().numpy()


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
