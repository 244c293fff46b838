"""OpenGL backend: moderngl with a headless EGL context.

Runs without a display or GPU on Mesa's llvmpipe (Debian packages libegl1,
libegl-mesa0, libgl1-mesa-dri; see scripts/setup.sh) and on a GPU driver
where one exists. Per frame only the posed vertices and normals are uploaded;
faces and albedo stay on the GL side. Anti-aliasing is MSAA resolved into a
plain framebuffer before read-back.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from probtalk.errors import MissingExtraError
from probtalk.rendering.backends.base import RenderError
from probtalk.rendering.camera import CameraSetup
from probtalk.rendering.shading import BACKGROUND_SRGB, GLSL_SHADE, light_uniforms

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

_VERTEX = """
#version 330
uniform mat4 mvp;
in vec3 in_pos;
in vec3 in_nrm;
in vec3 in_col;
out vec3 v_pos;
out vec3 v_nrm;
out vec3 v_col;
void main() {
    v_pos = in_pos;
    v_nrm = in_nrm;
    v_col = in_col;
    gl_Position = mvp * vec4(in_pos, 1.0);
}
"""

_FRAGMENT = (
    """
#version 330
in vec3 v_pos;
in vec3 v_nrm;
in vec3 v_col;
out vec4 f_color;
"""
    + GLSL_SHADE
    + """
void main() {
    f_color = vec4(shade(v_pos, v_nrm, v_col, gl_FrontFacing), 1.0);
}
"""
)

SOFTWARE_RENDERERS = ("llvmpipe", "softpipe", "swrast", "software")
APT_HINT = "install libegl1 libegl-mesa0 libgl1-mesa-dri (bash scripts/setup.sh) or use backend='pytorch3d' on a GPU"


class ModernGLBackend:
    """Headless OpenGL rasteriser (see module doc). Implements :class:`Backend`."""

    name = "moderngl"
    device = "cpu"

    def __init__(self, faces: np.ndarray, colours: np.ndarray, width: int, height: int, samples: int = 4) -> None:
        try:
            import moderngl
        except ImportError:
            raise MissingExtraError("the moderngl render backend", "render") from None
        self.width, self.height = int(width), int(height)
        self._num_vertices = int(colours.shape[0])
        try:
            self.ctx = moderngl.create_context(standalone=True, backend="egl")
        except Exception as exc:  # moderngl raises plain Exception subclasses for driver failures
            raise RenderError(f"cannot create a headless OpenGL (EGL) context: {exc}; {APT_HINT}") from None
        try:
            self._build(moderngl, faces, colours, samples)
        except Exception:
            self.ctx.release()
            raise
        log.debug(
            "moderngl backend: %s, %dx%d, %d samples", self.ctx.info.get("GL_RENDERER"), width, height, self.samples
        )

    def _build(self, moderngl: object, faces: np.ndarray, colours: np.ndarray, samples: int) -> None:
        ctx = self.ctx
        if samples < 0:  # auto: MSAA is nearly free on a GPU but triples the cost on a software rasteriser
            renderer = str(ctx.info.get("GL_RENDERER", "")).lower()
            samples = 0 if any(s in renderer for s in SOFTWARE_RENDERERS) else 4
        samples = int(max(0, min(samples, ctx.max_samples)))
        if samples == 1:
            samples = 0
        self.samples = samples
        self.prog = ctx.program(vertex_shader=_VERTEX, fragment_shader=_FRAGMENT)
        self.vbo = ctx.buffer(reserve=self._num_vertices * 6 * 4, dynamic=True)
        self.cbo = ctx.buffer(np.ascontiguousarray(colours, np.float32).tobytes())
        self.ibo = ctx.buffer(np.ascontiguousarray(faces, np.int32).tobytes())
        self.vao = ctx.vertex_array(
            self.prog,
            [(self.vbo, "3f 3f", "in_pos", "in_nrm"), (self.cbo, "3f", "in_col")],
            index_buffer=self.ibo,
            index_element_size=4,
        )
        size = (self.width, self.height)
        self.fbo = ctx.framebuffer(
            color_attachments=[ctx.renderbuffer(size, samples=samples)],
            depth_attachment=ctx.depth_renderbuffer(size, samples=samples),
        )
        self.resolve = ctx.simple_framebuffer(size) if samples else None
        ctx.enable(moderngl.DEPTH_TEST)  # type: ignore[attr-defined]

    def draw(self, vertices: torch.Tensor, normals: torch.Tensor, cameras: Sequence[CameraSetup]) -> np.ndarray:
        """Render N tiles; see :meth:`probtalk.rendering.backends.base.Backend.draw` (uint8 [N, H, W, 3])."""
        verts = _as_numpy(vertices)
        nrms = _as_numpy(normals)
        if len(cameras) != verts.shape[0]:
            raise ValueError(f"got {verts.shape[0]} meshes but {len(cameras)} cameras")
        out = np.empty((verts.shape[0], self.height, self.width, 3), np.uint8)
        interleaved = np.empty((verts.shape[1], 6), np.float32)
        for i, cam in enumerate(cameras):
            interleaved[:, :3] = verts[i]
            interleaved[:, 3:] = nrms[i]
            self.vbo.write(interleaved.tobytes())
            self.prog["mvp"].write(np.ascontiguousarray((cam.proj @ cam.view).T, np.float32).tobytes())
            dirs, cols = light_uniforms(cam.rotation)
            self.prog["light_dir"].write(dirs.tobytes())
            self.prog["light_col"].write(cols.tobytes())
            self.prog["eye"].write(np.asarray(cam.eye, np.float32).tobytes())
            self.fbo.use()
            self.fbo.clear(*BACKGROUND_SRGB, 1.0)
            self.vao.render()
            src = self.fbo
            if self.resolve is not None:
                self.ctx.copy_framebuffer(self.resolve, self.fbo)
                src = self.resolve
            # RGBA read-back is several times faster than RGB on Mesa (no repacking in the driver).
            data = np.frombuffer(src.read(components=4, alignment=1), np.uint8)
            out[i] = data.reshape(self.height, self.width, 4)[::-1, :, :3]
        return out

    def close(self) -> None:
        """Release the GL context and everything made in it."""
        ctx = getattr(self, "ctx", None)
        if ctx is not None:
            ctx.release()
            self.ctx = None

    def __enter__(self) -> ModernGLBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _as_numpy(x: torch.Tensor | np.ndarray) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.ascontiguousarray(x, np.float32)
