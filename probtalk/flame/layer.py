"""FlameLayer: FLAME parameters -> vertices, using smplx's LBS math.

Works for any leading batch/time dimensions; nothing is fixed at construction.
This is the one posing path: rendering (:mod:`probtalk.rendering.scene`), vertex
baking and the ARKit solve (:mod:`exporters.arkit`) all pose through
:meth:`FlameLayer.forward` or a :class:`FoldedFlame` made by :meth:`FlameLayer.fold`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from smplx.lbs import lbs
from torch import nn

from probtalk.flame.rig import Rig
from probtalk.layout import (
    NUM_EXPRESSION,
    NUM_SHAPE,
    POSE_DIM,
    POSE_EYES,
    POSE_GLOBAL,
    POSE_JAW,
    POSE_NECK,
    pose_vector,
)

if TYPE_CHECKING:
    from probtalk.animation import Animation


class FlameLayer(nn.Module):
    """Differentiable FLAME forward model built from a :class:`Rig`.

    Buffers hold the rig arrays; call :meth:`forward` with any subset of
    parameters (missing ones are zero).
    """

    def __init__(self, rig: Rig) -> None:
        super().__init__()
        self.rig_name = rig.name
        self.register_buffer("v_template", torch.from_numpy(rig.v_template.copy()))
        dirs = torch.cat([torch.from_numpy(rig.shapedirs.copy()), torch.from_numpy(rig.exprdirs.copy())], dim=2)
        self.register_buffer("shapedirs", dirs)  # [V, 3, 400]
        v = rig.num_vertices
        # smplx expects posedirs as [P, V*3].
        posedirs = torch.from_numpy(rig.posedirs.copy()).reshape(v * 3, -1).T.contiguous()
        self.register_buffer("posedirs", posedirs)
        self.register_buffer("j_regressor", torch.from_numpy(rig.j_regressor.copy()))
        self.register_buffer("lbs_weights", torch.from_numpy(rig.weights.copy()))
        self.register_buffer("parents", torch.from_numpy(rig.parents.copy()))
        self.register_buffer("faces", torch.from_numpy(rig.faces.astype("int64")))

    @property
    def num_vertices(self) -> int:
        return int(self.v_template.shape[0])

    def forward(
        self,
        shape: torch.Tensor | None = None,
        expression: torch.Tensor | None = None,
        jaw_pose: torch.Tensor | None = None,
        neck_pose: torch.Tensor | None = None,
        eye_pose: torch.Tensor | None = None,
        global_orient: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Pose the head.

        Args:
            shape: [..., S] identity coefficients, S <= 300.
            expression: [..., E] expression coefficients, E <= 100.
            jaw_pose: [..., 3] axis-angle (radians).
            neck_pose: [..., 3] axis-angle.
            eye_pose: [..., 6] left then right eye axis-angle.
            global_orient: [..., 3] axis-angle of the root.

        All given tensors must share the leading dimensions ``...`` (or
        broadcast to them, e.g. ``shape`` [S] for a whole sequence).

        Returns:
            vertices: [..., V, 3].
        """
        given = [t for t in (expression, jaw_pose, neck_pose, eye_pose, global_orient) if t is not None]
        lead: tuple[int, ...] = torch.broadcast_shapes(*(t.shape[:-1] for t in given)) if given else ()
        if shape is not None and not given:
            lead = tuple(shape.shape[:-1])
        dtype, device = self.v_template.dtype, self.v_template.device
        n = 1
        for d in lead:
            n *= int(d)

        def flat(t: torch.Tensor | None, width: int, full: int) -> torch.Tensor:
            out = torch.zeros(n, full, dtype=dtype, device=device)
            if t is not None:
                t = t.to(dtype=dtype, device=device)
                if t.shape[-1] > width:
                    raise ValueError(f"got {t.shape[-1]} coefficients, at most {width} allowed")
                out[:, : t.shape[-1]] = t.expand(*lead, t.shape[-1]).reshape(n, t.shape[-1])
            return out

        # Blend only the coefficients that were given: most calls pose expression
        # alone, and multiplying 300 zero shape coefficients dominated the cost.
        parts, dirs = [], []
        if shape is not None:
            parts.append(flat(shape, NUM_SHAPE, shape.shape[-1]))
            dirs.append(self.shapedirs[:, :, : shape.shape[-1]])
        if expression is not None:
            e = expression.shape[-1]
            parts.append(flat(expression, NUM_EXPRESSION, e))
            dirs.append(self.shapedirs[:, :, NUM_SHAPE : NUM_SHAPE + e])
        if not parts:
            parts.append(torch.zeros(n, 1, dtype=dtype, device=device))
            dirs.append(self.shapedirs[:, :, :1] * 0)
        betas = torch.cat(parts, dim=1)
        blend_dirs = dirs[0] if len(dirs) == 1 else torch.cat(dirs, dim=2)
        pose = torch.zeros(n, POSE_DIM, dtype=dtype, device=device)
        for value, cols in ((global_orient, POSE_GLOBAL), (neck_pose, POSE_NECK), (jaw_pose, POSE_JAW),
                            (eye_pose, POSE_EYES)):
            width = cols.stop - cols.start
            pose[:, cols] = flat(value, width, width)
        verts, _ = lbs(
            betas, pose, self.v_template, blend_dirs, self.posedirs,
            self.j_regressor, self.parents, self.lbs_weights, pose2rot=True,
        )
        return verts.reshape(*lead, self.num_vertices, 3)

    def from_animation(self, animation: Animation, with_shape: bool = False) -> torch.Tensor:
        """Vertices [T, V, 3] of an :class:`probtalk.Animation` (shape/neck/eyes included when present)."""

        def t(x: np.ndarray | None) -> torch.Tensor | None:
            return None if x is None else torch.from_numpy(x)

        return self.forward(
            shape=t(animation.shape) if with_shape else None,
            expression=t(animation.expression),
            jaw_pose=t(animation.jaw_pose),
            neck_pose=t(animation.neck_pose),
            eye_pose=t(animation.eye_pose),
        )

    def fold(
        self,
        shape: np.ndarray | torch.Tensor | None = None,
        num_expression: int = NUM_EXPRESSION,
        vertices: np.ndarray | None = None,
    ) -> FoldedFlame:
        """A posing function for one identity, specialised for speed (exact, same LBS).

        Args:
            shape: [S] identity coefficients folded into the template once (None: template as is).
            num_expression: how many expression components the poses will carry (E <= 100);
                only these enter the blend.
            vertices: int [N] vertex indices to return (all V if None). Only these and the
                joint regressor's support are posed.

        Returns:
            A :class:`FoldedFlame` mapping expression [T, E] and pose [T, 15] to vertices [T, N, 3].
        """
        if not 0 <= num_expression <= NUM_EXPRESSION:
            raise ValueError(f"num_expression must be in [0, {NUM_EXPRESSION}], got {num_expression}")
        with torch.no_grad():
            template = self.v_template
            if shape is not None:
                s = torch.as_tensor(np.asarray(shape, np.float32)).to(template.device)
                template = template + torch.einsum("vcs,s->vc", self.shapedirs[:, :, : s.shape[0]], s)
            exprdirs = self.shapedirs[:, :, NUM_SHAPE : NUM_SHAPE + num_expression]
            if vertices is None:
                return FoldedFlame(template, exprdirs.contiguous(), self.posedirs, self.j_regressor,
                                   self.lbs_weights, self.parents, None)
            want = np.asarray(vertices, np.int64)
            support = np.union1d(want, np.flatnonzero((self.j_regressor.abs().sum(dim=0) > 0).cpu().numpy()))
            pick = torch.from_numpy(np.searchsorted(support, want))
            idx = torch.from_numpy(support).to(template.device)
            posedirs = self.posedirs.reshape(self.posedirs.shape[0], -1, 3)[:, idx].reshape(self.posedirs.shape[0], -1)
            return FoldedFlame(template[idx].contiguous(), exprdirs[idx].contiguous(), posedirs.contiguous(),
                               self.j_regressor[:, idx].contiguous(), self.lbs_weights[idx].contiguous(),
                               self.parents, pick.to(template.device))


class FoldedFlame:
    """FLAME with one identity folded into its template, for a fixed number of expression components.

    Made by :meth:`FlameLayer.fold`. Two exact shortcuts over :meth:`FlameLayer.forward`:
    the constant identity is blended once, and only the expression components in use
    (and, optionally, a subset of vertices plus the joint regressor's support) enter LBS.
    """

    def __init__(self, template: torch.Tensor, exprdirs: torch.Tensor, posedirs: torch.Tensor,
                 j_regressor: torch.Tensor, lbs_weights: torch.Tensor, parents: torch.Tensor,
                 pick: torch.Tensor | None) -> None:
        self.template = template
        self.exprdirs = exprdirs
        self.posedirs = posedirs
        self.j_regressor = j_regressor
        self.lbs_weights = lbs_weights
        self.parents = parents
        self.pick = pick

    @property
    def num_expression(self) -> int:
        return int(self.exprdirs.shape[2])

    def neutral(self) -> torch.Tensor:
        """[N, 3] vertices of the folded identity at rest (the selected vertices)."""
        return self.template if self.pick is None else self.template[self.pick]

    @torch.no_grad()
    def __call__(self, expression: torch.Tensor, pose: torch.Tensor) -> torch.Tensor:
        """Pose frames.

        Args:
            expression: [T, E] expression coefficients, E = :attr:`num_expression`.
            pose: [T, 15] FLAME pose vectors (:data:`probtalk.layout.POSE_DIM` layout).

        Returns:
            [T, N, 3] vertices (N = V, or the selected vertices).
        """
        verts, _ = lbs(
            expression, pose, self.template, self.exprdirs, self.posedirs, self.j_regressor, self.parents,
            self.lbs_weights, pose2rot=True,
        )
        return verts if self.pick is None else verts[:, self.pick]

    def pose_animation(self, animation: Animation, start: int = 0, stop: int | None = None,
                       neck: bool = True) -> torch.Tensor:
        """[T', N, 3] vertices of frames ``start:stop`` of ``animation`` (neck rotation left out if not ``neck``)."""
        stop = animation.num_frames if stop is None else stop
        dev = self.template.device

        def part(x: np.ndarray | None) -> np.ndarray | None:
            return None if x is None else x[start:stop]

        pose = pose_vector(stop - start, neck=part(animation.neck_pose) if neck else None,
                           jaw=part(animation.jaw_pose), eyes=part(animation.eye_pose))
        expr = np.ascontiguousarray(animation.expression[start:stop], np.float32)
        return self(torch.from_numpy(expr).to(dev), torch.from_numpy(pose).to(dev))
