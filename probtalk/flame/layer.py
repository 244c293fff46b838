"""FlameLayer: FLAME parameters -> vertices, using smplx's LBS math.

Works for any leading batch/time dimensions; nothing is fixed at construction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from smplx.lbs import lbs
from torch import nn

from probtalk.flame.rig import Rig
from probtalk.layout import NUM_EXPRESSION, NUM_SHAPE

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
        pose = torch.cat(
            [flat(global_orient, 3, 3), flat(neck_pose, 3, 3), flat(jaw_pose, 3, 3), flat(eye_pose, 6, 6)], dim=1
        )
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
