"""pytorch3d backend: rasterisation on a CUDA GPU, shading in torch (optional ``render-gpu`` extra).

pytorch3d rasterises (one fragment per pixel, supersampled for anti-aliasing);
the fragment colour comes from :func:`probtalk.rendering.shading.shade_torch`,
the same model as the GL backend's shader, so both backends look alike.
Vertices stay on the GPU from the FLAME layer to the rasteriser.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch

from probtalk.errors import MissingExtraError
from probtalk.rendering.backends.base import RenderError
from probtalk.rendering.camera import CameraSetup
from probtalk.rendering.shading import BACKGROUND_SRGB, light_uniforms, shade_torch

log = logging.getLogger(__name__)

#: OpenGL camera axes (x right, y up, looking down -z) -> pytorch3d's (x left, y up, looking down +z).
_GL_TO_P3D = np.diag([-1.0, 1.0, -1.0])


class Pytorch3DBackend:
    """CUDA rasteriser built on pytorch3d. Implements :class:`~probtalk.rendering.backends.base.Backend`."""

    name = "pytorch3d"

    def __init__(self, faces: np.ndarray, colours: np.ndarray, width: int, height: int, samples: int = 4) -> None:
        try:
            from pytorch3d.renderer import RasterizationSettings  # noqa: F401
        except ImportError:
            raise MissingExtraError(
                "the pytorch3d render backend", "render-gpu",
                "pytorch3d has CUDA builds only; on a CPU machine use backend='moderngl'",
            ) from None
        if not torch.cuda.is_available():
            raise RenderError("the pytorch3d render backend needs a CUDA GPU; use backend='moderngl' on this machine")
        self.device = "cuda"
        self.width, self.height = int(width), int(height)
        self.ss = 2 if samples > 1 else 1  # supersampling factor per axis
        self.faces = torch.as_tensor(np.asarray(faces, np.int64), device=self.device)
        self.colours = torch.as_tensor(np.asarray(colours, np.float32), device=self.device)
        self.background = torch.tensor(BACKGROUND_SRGB, dtype=torch.float32, device=self.device)

    @torch.no_grad()
    def draw(self, vertices: torch.Tensor, normals: torch.Tensor, cameras: Sequence[CameraSetup]) -> np.ndarray:
        """Render N tiles; see :meth:`probtalk.rendering.backends.base.Backend.draw` (uint8 [N, H, W, 3])."""
        from pytorch3d.ops import interpolate_face_attributes
        from pytorch3d.renderer import FoVPerspectiveCameras, MeshRasterizer, RasterizationSettings
        from pytorch3d.structures import Meshes

        dev = self.device
        verts = torch.as_tensor(vertices, dtype=torch.float32, device=dev)
        nrms = torch.as_tensor(normals, dtype=torch.float32, device=dev)
        n, v = verts.shape[:2]
        if len(cameras) != n:
            raise ValueError(f"got {n} meshes but {len(cameras)} cameras")
        mats = [_p3d_extrinsics(c) for c in cameras]
        cams = FoVPerspectiveCameras(
            znear=torch.tensor([c.near for c in cameras], device=dev),
            zfar=torch.tensor([c.far for c in cameras], device=dev),
            fov=torch.tensor([c.fov for c in cameras], device=dev),
            aspect_ratio=torch.tensor([c.aspect for c in cameras], device=dev),
            R=torch.tensor(np.stack([m[0] for m in mats]), dtype=torch.float32, device=dev),
            T=torch.tensor(np.stack([m[1] for m in mats]), dtype=torch.float32, device=dev),
            device=dev,
        )
        meshes = Meshes(verts=list(verts), faces=[self.faces] * n)
        settings = RasterizationSettings(
            image_size=(self.height * self.ss, self.width * self.ss), blur_radius=0.0, faces_per_pixel=1,
            cull_backfaces=False,
        )
        frags = MeshRasterizer(cameras=cams, raster_settings=settings)(meshes)
        faces_packed = meshes.faces_packed()  # [N*F, 3]
        vp = meshes.verts_packed()
        attrs = torch.cat([vp, nrms.reshape(n * v, 3), self.colours.repeat(n, 1)], dim=1)[faces_packed]
        pix = interpolate_face_attributes(frags.pix_to_face, frags.bary_coords, attrs)[..., 0, :]  # [N, H, W, 9]
        p2f = frags.pix_to_face[..., 0]  # [N, H, W], -1 where empty

        eyes = torch.tensor(np.stack([c.eye for c in cameras]), dtype=torch.float32, device=dev)  # [N, 3]
        tri = vp[faces_packed]
        face_n = torch.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0], dim=-1)
        mesh_of_face = torch.arange(n, device=dev).repeat_interleave(self.faces.shape[0])
        front_face = ((eyes[mesh_of_face] - tri.mean(dim=1)) * face_n).sum(-1) > 0
        front = front_face[p2f.clamp_min(0)]

        lights = [light_uniforms(c.rotation) for c in cameras]
        light_dir = torch.tensor(np.stack([d for d, _ in lights]), dtype=torch.float32, device=dev)  # [N, L, 3]
        light_col = torch.tensor(lights[0][1], dtype=torch.float32, device=dev)
        rgb = shade_torch(
            pix[..., 0:3], pix[..., 3:6], pix[..., 6:9], front,
            eyes[:, None, None, :], light_dir[:, None, None, :, :], light_col,
        )
        rgb = torch.where((p2f >= 0)[..., None], rgb, self.background)
        if self.ss > 1:
            rgb = torch.nn.functional.avg_pool2d(rgb.permute(0, 3, 1, 2), self.ss).permute(0, 2, 3, 1)
        return (rgb * 255.0 + 0.5).clamp(0, 255).to(torch.uint8).cpu().numpy()

    def close(self) -> None:
        """Free cached GPU memory."""
        torch.cuda.empty_cache()

    def __enter__(self) -> Pytorch3DBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _p3d_extrinsics(cam: CameraSetup) -> tuple[np.ndarray, np.ndarray]:
    """pytorch3d (R [3, 3], T [3]) for ``X_view = X_world @ R + T`` from an OpenGL view matrix."""
    rot = _GL_TO_P3D @ cam.view[:3, :3].astype(np.float64)
    return rot.T.astype(np.float32), (_GL_TO_P3D @ cam.view[:3, 3].astype(np.float64)).astype(np.float32)
