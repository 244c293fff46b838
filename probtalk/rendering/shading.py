"""Materials, lights and the shading model shared by every render backend.

One model, written twice: as GLSL for the OpenGL backend and as torch for
the pytorch3d backend, both from the constants below, so the backends give
the same look. Lights are fixed relative to the camera (a key light from the
upper left, a weaker fill from the right, a rim light from behind), plus a
sky/ground ambient term and a soft specular highlight from the key light; back faces (the inner
side of the lips and the mouth cavity seen through the open mouth) are shaded
as a dark mouth interior, so an open mouth reads clearly even on rigs
without teeth or a mouth bag.
"""

from __future__ import annotations

from string import Template
from typing import TYPE_CHECKING

import numpy as np

from probtalk.flame.rig import Rig

if TYPE_CHECKING:
    import torch

#: sRGB colours (0-1).
BACKGROUND_SRGB = (0.18, 0.19, 0.21)
SKIN_SRGB = (0.86, 0.68, 0.58)
LIPS_SRGB = (0.72, 0.38, 0.38)
TEETH_SRGB = (0.93, 0.91, 0.84)
MOUTH_INTERIOR_SRGB = (0.32, 0.09, 0.09)
TONGUE_SRGB = (0.62, 0.27, 0.27)
BROWS_SRGB = (0.36, 0.25, 0.19)
SCLERA_SRGB = (0.93, 0.92, 0.90)
IRIS_SRGB = (0.30, 0.21, 0.13)
PUPIL_SRGB = (0.03, 0.03, 0.03)

#: Materials painted from named regions, in this order (later ones win where regions overlap);
#: every listed region name the rig has is used (rigs name their regions differently).
MATERIAL_REGIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("mouth_interior", ("mouth_interior", "mouth_bag", "mouth_cavity")),
    ("tongue", ("tongue",)),
    ("teeth", ("teeth", "upper_teeth", "lower_teeth")),
    ("lips", ("lips",)),
    ("brows", ("brows", "eyebrows", "left_brow", "right_brow")),
)
MATERIAL_COLOURS = {
    "mouth_interior": MOUTH_INTERIOR_SRGB,
    "tongue": TONGUE_SRGB,
    "teeth": TEETH_SRGB,
    "lips": LIPS_SRGB,
    "brows": BROWS_SRGB,
}
EYEBALL_REGIONS = (("left_eyeball",), ("right_eyeball",), ("eyeballs",))
#: Angular radii (radians) of iris and pupil on an eyeball, around its forward (+z) axis.
IRIS_ANGLE = 0.42
PUPIL_ANGLE = 0.17

#: Lights as (direction towards the light in camera axes, linear RGB intensity).
LIGHTS: tuple[tuple[tuple[float, float, float], tuple[float, float, float]], ...] = (
    ((-0.55, 0.55, 0.65), (0.95, 0.92, 0.88)),  # key: upper left, front
    ((0.70, 0.05, 0.55), (0.28, 0.30, 0.34)),  # fill: right
    ((0.10, 0.60, -0.80), (0.35, 0.35, 0.38)),  # rim: behind, above
)
AMBIENT_SKY = (0.20, 0.21, 0.24)
AMBIENT_GROUND = (0.08, 0.07, 0.07)
SPECULAR = 0.12
SHININESS = 24.0
RIM_STRENGTH = 0.10
BACKFACE_SHADE = 0.55  # back faces get this fraction of the mouth-interior colour's lit value


def srgb_to_linear(c: np.ndarray | tuple[float, ...]) -> np.ndarray:
    """Convert sRGB values in [0, 1] to linear light (float32, same shape)."""
    c = np.asarray(c, np.float32)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4).astype(np.float32)


def background_uint8() -> np.ndarray:
    """The background colour as uint8 [3] (what the encoder and tests see)."""
    return np.round(np.asarray(BACKGROUND_SRGB) * 255).astype(np.uint8)


def vertex_colours(rig: Rig) -> np.ndarray:
    """Linear albedo of every vertex from the rig's named regions.

    Skin everywhere; mouth interior, tongue, teeth, lips and brows where the
    rig names such regions (see ``MATERIAL_REGIONS``); eyeballs get sclera, iris and pupil by the angle of each
    vertex from the eyeball's forward axis (so the iris turns with eye pose).

    Returns:
        float32 [V, 3] linear RGB.
    """
    cols = np.tile(np.asarray(SKIN_SRGB, np.float32), (rig.num_vertices, 1))
    for material, names in MATERIAL_REGIONS:
        for name in names:
            idx = rig.regions.get(name)
            if idx is not None and len(idx) > 0:
                cols[idx] = MATERIAL_COLOURS[material]
    for names in EYEBALL_REGIONS:
        for name in names:
            idx = rig.regions.get(name)
            if idx is not None and len(idx) > 0:
                cols[idx] = _eyeball_colours(rig.v_template[idx])
    return srgb_to_linear(cols)


def _eyeball_colours(points: np.ndarray) -> np.ndarray:
    """sRGB [N, 3] for the vertices of one eyeball (sphere facing +z)."""
    centre = 0.5 * (points.min(axis=0) + points.max(axis=0))
    d = points - centre
    d /= np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-9)
    angle = np.arccos(np.clip(d[:, 2], -1.0, 1.0))
    cols = np.tile(np.asarray(SCLERA_SRGB, np.float32), (len(points), 1))
    cols[angle < IRIS_ANGLE] = IRIS_SRGB
    cols[angle < PUPIL_ANGLE] = PUPIL_SRGB
    return cols


def light_uniforms(rotation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World-space light directions and colours for a camera.

    Args:
        rotation: [3, 3] camera -> world rotation.

    Returns:
        (directions float32 [L, 3] unit vectors towards the lights, colours float32 [L, 3]).
    """
    dirs = np.asarray([d for d, _ in LIGHTS], np.float64)
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    world = dirs @ np.asarray(rotation, np.float64).T
    return world.astype(np.float32), np.asarray([c for _, c in LIGHTS], np.float32)


GLSL_SHADE = Template("""
uniform vec3 light_dir[${n}];
uniform vec3 light_col[${n}];
uniform vec3 eye;
const vec3 AMBIENT_SKY = vec3${sky};
const vec3 AMBIENT_GROUND = vec3${ground};
const vec3 INTERIOR = vec3${interior};
vec3 shade(vec3 pos, vec3 nrm, vec3 albedo, bool front) {
    vec3 n = normalize(nrm);
    if (!front) { n = -n; albedo = INTERIOR * ${backface}; }
    vec3 v = normalize(eye - pos);
    vec3 c = albedo * mix(AMBIENT_GROUND, AMBIENT_SKY, 0.5 + 0.5 * n.y);
    for (int i = 0; i < ${n}; ++i) {
        c += light_col[i] * albedo * max(dot(n, light_dir[i]), 0.0);
    }
    // Specular from the key light only: the others' highlights are too faint to see, and pow is costly on CPUs.
    float ndl = dot(n, light_dir[0]);
    vec3 h = normalize(light_dir[0] + v);
    c += (front && ndl > 0.0) ? light_col[0] * (${spec} * pow(max(dot(n, h), 0.0), ${shininess})) : vec3(0.0);
    float r = 1.0 - max(dot(n, v), 0.0);
    float rim = r * r * r * ${rim};
    c += front ? vec3(rim) : vec3(0.0);
    // Linear -> sRGB by a three-square-root fit (within 1/255 above linear 0.005): pow() per channel was
    // the costliest op of this shader on llvmpipe (about a third of the frame).
    vec3 s1 = sqrt(clamp(c, 0.0, 1.0));
    vec3 s2 = sqrt(s1);
    return 0.585122381 * s1 + 0.783140355 * s2 - 0.368262736 * sqrt(s2);
}
""").substitute(
    n=len(LIGHTS),
    sky=str(AMBIENT_SKY),
    ground=str(AMBIENT_GROUND),
    interior=str(tuple(float(x) for x in srgb_to_linear(MOUTH_INTERIOR_SRGB))),
    backface=BACKFACE_SHADE,
    spec=SPECULAR,
    shininess=SHININESS,
    rim=RIM_STRENGTH,
)


def shade_torch(
    pos: torch.Tensor,
    nrm: torch.Tensor,
    albedo: torch.Tensor,
    front: torch.Tensor,
    eye: torch.Tensor,
    light_dir: torch.Tensor,
    light_col: torch.Tensor,
) -> torch.Tensor:
    """The GLSL ``shade`` function in torch (for the pytorch3d backend).

    Args:
        pos: [..., 3] world positions of the fragments.
        nrm: [..., 3] interpolated vertex normals.
        albedo: [..., 3] linear albedo.
        front: [...] bool, True where the fragment's triangle faces the camera.
        eye: [..., 3] or [3] camera position.
        light_dir: [L, 3] or [..., L, 3] unit directions towards the lights.
        light_col: [L, 3] light colours.

    Returns:
        [..., 3] display (sRGB) colours in [0, 1].
    """
    import torch

    f = front.unsqueeze(-1).to(pos.dtype)
    n = torch.nn.functional.normalize(nrm, dim=-1, eps=1e-12)
    n = n * (2.0 * f - 1.0)
    interior = torch.as_tensor(srgb_to_linear(MOUTH_INTERIOR_SRGB) * BACKFACE_SHADE, dtype=pos.dtype, device=pos.device)
    albedo = albedo * f + interior * (1.0 - f)
    v = torch.nn.functional.normalize(eye - pos, dim=-1, eps=1e-12)
    sky = torch.as_tensor(AMBIENT_SKY, dtype=pos.dtype, device=pos.device)
    ground = torch.as_tensor(AMBIENT_GROUND, dtype=pos.dtype, device=pos.device)
    t = 0.5 + 0.5 * n[..., 1:2]
    c = albedo * (ground + (sky - ground) * t)
    for i in range(light_col.shape[0]):
        c = c + light_col[i] * albedo * (n * light_dir[..., i, :]).sum(-1, keepdim=True).clamp_min(0.0)
    key = light_dir[..., 0, :]
    h = torch.nn.functional.normalize(key + v, dim=-1, eps=1e-12)
    lit = ((n * key).sum(-1, keepdim=True) > 0).to(pos.dtype)
    c = c + light_col[0] * SPECULAR * f * lit * (n * h).sum(-1, keepdim=True).clamp_min(0.0) ** SHININESS
    rim = (1.0 - (n * v).sum(-1, keepdim=True).clamp_min(0.0)) ** 3 * RIM_STRENGTH
    c = c + rim * f
    s1 = c.clamp(0.0, 1.0).sqrt()
    s2 = s1.sqrt()
    return (0.585122381 * s1 + 0.783140355 * s2 - 0.368262736 * s2.sqrt()).clamp(0.0, 1.0)
