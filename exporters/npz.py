"""``npz``: the Animation file itself, optionally with baked vertices."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from exporters.base import Writer, register
from exporters.checks import check_rig
from probtalk.animation import Animation
from probtalk.io import atomic_path

if TYPE_CHECKING:
    from probtalk.flame.rig import Rig


@register
class NpzWriter(Writer):
    """The :class:`probtalk.Animation` ``.npz`` (``Animation.load`` reads it back).

    With ``bake_vertices=True`` the file also holds ``vertices`` float32
    [T, V, 3] (the posed FLAME mesh of every frame, shape applied) and
    ``faces`` int32 [F, 3], for tools that want plain vertex caches.
    """

    name = "npz"
    suffixes = (".npz",)
    description = "probtalk Animation file (optionally with baked [T, V, 3] vertices)"

    def __init__(self, rig: Rig | None = None, *, bake_vertices: bool = False) -> None:
        super().__init__(rig)
        self.bake_vertices = bool(bake_vertices)

    @classmethod
    def needs_rig(cls, options: dict[str, Any]) -> bool:
        return bool(options.get("bake_vertices", False))

    def _write(self, animation: Animation, path: Path) -> None:
        if not self.bake_vertices:
            # Animation.save writes atomically itself; keep the user's exact file name.
            if path.suffix != ".npz":
                with atomic_path(path) as tmp:
                    animation.save(tmp.with_suffix(".npz")).replace(tmp)
                return
            animation.save(path)
            return
        verts = bake_vertices(animation, self.rig)
        arrays: dict[str, Any] = {"fps": np.float64(animation.fps)}
        for key in ("expression", "jaw_pose", "neck_pose", "eye_pose", "shape"):
            value = getattr(animation, key)
            if value is not None:
                arrays[key] = value
        arrays["meta_json"] = np.array(json.dumps(animation.meta, sort_keys=True, default=str))
        arrays["vertices"] = verts
        arrays["faces"] = self.rig.faces
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)


def bake_vertices(animation: Animation, rig: Rig, chunk: int = 256) -> np.ndarray:
    """Posed vertices float32 [T, V, 3] of every frame (identity shape, neck and eyes included).

    Frames are evaluated ``chunk`` at a time to bound memory.
    """
    import torch

    from probtalk.flame import FlameLayer

    check_rig(animation, rig)
    layer = FlameLayer(rig)
    out = np.empty((animation.num_frames, rig.num_vertices, 3), np.float32)

    def part(x: np.ndarray | None, a: int, b: int) -> torch.Tensor | None:
        return None if x is None else torch.from_numpy(np.ascontiguousarray(x[a:b]))

    shape = None if animation.shape is None else torch.from_numpy(animation.shape)
    with torch.no_grad():
        for a in range(0, animation.num_frames, chunk):
            b = min(a + chunk, animation.num_frames)
            out[a:b] = layer(
                shape=shape,
                expression=part(animation.expression, a, b),
                jaw_pose=part(animation.jaw_pose, a, b),
                neck_pose=part(animation.neck_pose, a, b),
                eye_pose=part(animation.eye_pose, a, b),
            ).numpy()
    return out
