"""Skinning weights, the identity basis and the 52 ARKit-named shapes of the probtalk head.

Every deformation is a smooth analytic displacement field with compact support
(so it is exactly zero away from its region), evaluated on the template
vertices. Lengths in metres; the character's left is +x.
"""

from __future__ import annotations

import numpy as np

from flame_assets.head_mesh import (
    EYE_CENTRE,
    EYE_OPEN_DOWN,
    EYE_OPEN_UP,
    JAW_HINGE,
    MOUTH_HALF_WIDTH,
    MOUTH_Y,
    PART_BAG,
    PART_LEFT_EYE,
    PART_LOWER_TEETH,
    PART_RIGHT_EYE,
    PART_SKIN,
    PART_TONGUE,
    PART_UPPER_TEETH,
    HeadMesh,
    lid_profile,
    rotate_about_x,
)

# Joint order as FLAME: global, neck, jaw, left eye, right eye.
J_GLOBAL, J_NECK, J_JAW, J_LEYE, J_REYE = range(5)
JAW_OPEN_ANGLE = 0.35  # radians of jaw rotation for jawOpen = 1
JAW_SIDE_ANGLE = 0.10  # radians about y for jawLeft / jawRight = 1
EYE_LOOK_H = 0.38  # radians, eyeLookIn/Out
EYE_LOOK_V = 0.26  # radians, eyeLookUp/Down
BAG_DECAY = (1.0, 0.85, 0.55, 0.25, 0.08, 0.0, 0.0, 0.0)  # how much of a lip edge's motion each bag ring follows
BLINK_FALLOFF = (1.0, 0.80, 0.47, 0.16)  # blink rotation of the upper lid edge and the rows above it


def smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    """Hermite step from 0 (x <= e0) to 1 (x >= e1); e0 > e1 gives a falling step."""
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def bump(p: np.ndarray, centre: tuple[float, float, float], radii: tuple[float, float, float]) -> np.ndarray:
    """Compactly supported smooth bump (1 - r^2)^2 over an ellipsoid. p: [V, 3] -> [V]."""
    q = (p - np.asarray(centre)) / np.asarray(radii)
    r2 = np.einsum("ij,ij->i", q, q)
    return np.clip(1.0 - r2, 0.0, None) ** 2


class ShapeContext:
    """The template with the per-vertex annotations the shape fields need."""

    def __init__(self, mesh: HeadMesh, jaw_weight: np.ndarray) -> None:
        self.mesh = mesh
        self.p = mesh.vertices
        self.x, self.y, self.z = mesh.vertices.T
        self.skin = (mesh.part == PART_SKIN).astype(float)
        self.upper = ((mesh.side == 1) & (mesh.part == PART_SKIN)).astype(float)
        self.lower = ((mesh.side == -1) & (mesh.part == PART_SKIN)).astype(float)
        self.jaw_weight = jaw_weight
        # lips: vertices of the lip cushions on each side of the slit
        lip_u = bump(self.p, (0.0, MOUTH_Y + 0.002, 0.09), (MOUTH_HALF_WIDTH + 0.006, 0.0125, 0.04))
        lip_l = bump(self.p, (0.0, MOUTH_Y - 0.002, 0.09), (MOUTH_HALF_WIDTH + 0.004, 0.0145, 0.04))
        self.lip_upper = lip_u * self.upper
        self.lip_lower = lip_l * self.lower
        self.mouth = bump(self.p, (0.0, MOUTH_Y, 0.085), (0.042, 0.032, 0.06)) * self.skin

    def corner(self, sign: float, radius: float = 0.022) -> np.ndarray:
        """Bump around the mouth corner on side ``sign`` (+1 = left)."""
        return bump(self.p, (sign * MOUTH_HALF_WIDTH, MOUTH_Y, 0.08), (radius, radius * 0.9, 0.05)) * self.skin

    def half(self, sign: float) -> np.ndarray:
        """Smooth weight of the mouth half on side ``sign``."""
        return smoothstep(-0.012, 0.010, sign * self.x)

    def field(self, weight: np.ndarray, vec: tuple[float, float, float]) -> np.ndarray:
        """A displacement field [V, 3]: the vector ``vec`` (metres) scaled by a weight [V]."""
        return weight[:, None] * np.asarray(vec)[None, :]

    def with_bag(self, d: np.ndarray) -> np.ndarray:
        """Make the mouth bag follow its lip edge, fading with depth."""
        m = self.mesh
        bag = np.nonzero(m.part == PART_BAG)[0]
        src = m.bag_src[bag]
        decay = np.asarray(BAG_DECAY)[np.minimum(m.bag_ring[bag], len(BAG_DECAY) - 1)]
        d = d.copy()
        ok = src >= 0
        d[bag[ok]] = d[src[ok]] * decay[ok, None]
        d[bag[~ok]] = 0.0
        return d


# ------------------------------------------------------------------------ skinning
def skinning_weights(mesh: HeadMesh) -> np.ndarray:
    """Smooth LBS weights [V, 5]: neck base -> global, head -> neck, lower face -> jaw, eyeballs -> eyes."""
    p = mesh.vertices
    x, y, z = p.T
    v = p.shape[0]
    w = np.zeros((v, 5))
    # jaw: below the line from the hinge through the mouth slit (side view), fading towards the neck and ears
    hinge = JAW_HINGE
    d = np.array([0.0, MOUTH_Y - hinge[1], 0.095 - hinge[2]])
    d /= np.linalg.norm(d)
    below = d[1] * (z - hinge[2]) - d[2] * (y - hinge[1])  # > 0 below the line
    width = 0.003 + 0.014 * smoothstep(MOUTH_HALF_WIDTH - 0.004, MOUTH_HALF_WIDTH + 0.03, np.abs(x))
    jaw = smoothstep(-0.5, 1.0, below / width)
    jaw *= smoothstep(0.012, 0.05, z - 0.55 * np.abs(x)) * smoothstep(-0.135, -0.105, y)
    # across the lips the slit decides: lower lip follows the jaw, upper lip the head, corners half
    # the lower lip follows the jaw most at its centre, less towards the corners (a rounded opening)
    lip = bump(p, (0.0, MOUTH_Y, 0.09), (MOUTH_HALF_WIDTH + 0.014, 0.013, 0.05))
    u = np.clip(np.abs(x) / MOUTH_HALF_WIDTH, 0.0, 1.0)
    side_val = 0.5 - 0.5 * mesh.side * np.sqrt(1.0 - u**2) ** 0.35
    skin = mesh.part == PART_SKIN
    # the upper lip never follows the jaw line's soft edge
    jaw = jaw * np.where(mesh.side == 1, smoothstep(MOUTH_HALF_WIDTH - 0.004, MOUTH_HALF_WIDTH + 0.012, np.abs(x)), 1.0)
    jaw = np.where(skin, lip * side_val + (1 - lip) * jaw, jaw)
    bag = np.nonzero(mesh.part == PART_BAG)[0]
    plain = np.where(mesh.side[bag] == -1, 1.0, np.where(mesh.side[bag] == 1, 0.0, 0.5))
    src = mesh.bag_src[bag]
    inherit = np.where(src >= 0, jaw[np.maximum(src, 0)], plain)
    t = np.clip((mesh.bag_ring[bag] - 1) / 3.0, 0.0, 1.0)
    jaw[bag] = (1 - t) * inherit + t * plain
    jaw[mesh.part == PART_UPPER_TEETH] = 0.0
    jaw[(mesh.part == PART_LOWER_TEETH) | (mesh.part == PART_TONGUE)] = 1.0
    glob = smoothstep(-0.118, -0.150, y) * (1 - jaw)
    w[:, J_JAW] = jaw
    w[:, J_GLOBAL] = glob
    w[:, J_NECK] = 1.0 - jaw - glob
    for pid, j in ((PART_LEFT_EYE, J_LEYE), (PART_RIGHT_EYE, J_REYE)):
        sel = mesh.part == pid
        w[sel] = 0.0
        w[sel, j] = 1.0
    return w


# ----------------------------------------------------------------------- identity
def identity_fields(mesh: HeadMesh) -> list[np.ndarray]:
    """Ten smooth head-shape variations [V, 3] (about one standard deviation each)."""
    p = mesh.vertices.copy()
    # eyeballs move rigidly with their socket: evaluate every field at the eye centre
    for pid, sign in ((PART_LEFT_EYE, 1.0), (PART_RIGHT_EYE, -1.0)):
        p[mesh.part == pid] = EYE_CENTRE * np.array([sign, 1.0, 1.0])
    x, y, z = p.T
    zero = np.zeros_like(x)
    front = smoothstep(0.0, 0.05, z)
    lower_face = smoothstep(0.0, -0.06, y) * front
    nose_base = np.array([0.0, -0.02, 0.085])
    nose = bump(p, (0.0, 0.0, 0.10), (0.022, 0.04, 0.035))
    cheeks = bump(p, (0.045, -0.02, 0.05), (0.03, 0.03, 0.04)) + bump(p, (-0.045, -0.02, 0.05), (0.03, 0.03, 0.04))
    outward = np.stack([np.sign(x) * 0.7, zero, np.full_like(x, 0.7)], axis=-1)
    brow = bump(p, (0.0, 0.047, 0.08), (0.06, 0.016, 0.04))
    chin = bump(p, (0.0, -0.088, 0.075), (0.03, 0.03, 0.05))
    lips = bump(p, (0.0, MOUTH_Y, 0.09), (0.03, 0.016, 0.04))
    eyes = bump(np.abs(p), tuple(EYE_CENTRE), (0.028, 0.026, 0.05))
    fields = [
        np.stack([0.05 * x, zero, zero], axis=-1),  # head width
        np.stack([zero, zero, 0.045 * np.minimum(z, 0.0)], axis=-1),  # head length (back of the skull)
        np.stack([zero, 0.06 * np.minimum(y, 0.0) * front, zero], axis=-1),  # face height
        0.14 * (p - nose_base) * nose[:, None],  # nose size
        np.stack([0.06 * x * lower_face, zero, zero], axis=-1),  # jaw width
        0.003 * outward * cheeks[:, None],  # cheek fullness
        np.stack([zero, 0.0008 * brow, 0.0025 * brow], axis=-1),  # brow ridge
        np.stack([zero, -0.0015 * chin, 0.0035 * chin], axis=-1),  # chin
        np.stack([zero, 0.06 * (y - MOUTH_Y) * lips, 0.002 * lips], axis=-1),  # lip fullness
        np.stack([0.0018 * np.sign(x) * eyes, zero, zero], axis=-1),  # eye spacing
    ]
    return fields


# ------------------------------------------------------------------- semantic shapes
def _lid_rotation(ctx: ShapeContext, eye: str, angles_up: dict[int, float]) -> np.ndarray:
    """Offsets from rotating lid rows about the eye centre. angles_up: lid row -> angle (radians, + = down)."""
    m = ctx.mesh
    sign = 1.0 if eye == "left_eye" else -1.0
    centre = EYE_CENTRE * np.array([sign, 1.0, 1.0])
    rows = m.eye_lids[eye]
    d = np.zeros_like(ctx.p)
    cols = m.grid_rc[:, 1]
    prof = np.where(cols >= 0, lid_profile(m.phi[np.maximum(cols, 0)], eye), 0.0)
    for row, ang in angles_up.items():
        sel = np.nonzero(rows == row)[0]
        if sel.size:
            d[sel] = rotate_about_x(ctx.p[sel], centre, ang * prof[sel]) - ctx.p[sel]
    return d


def _eye_shapes(ctx: ShapeContext, eye: str) -> dict[str, np.ndarray]:
    sign = 1.0 if eye == "left_eye" else -1.0
    suffix = "Left" if sign > 0 else "Right"
    closing = EYE_OPEN_UP + EYE_OPEN_DOWN
    blink = _lid_rotation(ctx, eye, {k + 1: closing * f for k, f in enumerate(BLINK_FALLOFF)})
    squint = _lid_rotation(ctx, eye, {1: 0.10, 2: 0.06, -1: -0.14, -2: -0.07, -3: -0.025})
    cheek_up = bump(ctx.p, (sign * 0.038, -0.004, 0.065), (0.024, 0.018, 0.05)) * ctx.skin
    squint += ctx.field(cheek_up, (0.0, 0.0018, 0.0005))
    wide = _lid_rotation(ctx, eye, {1: -0.20, 2: -0.13, 3: -0.06, -1: 0.06, -2: 0.03})
    return {f"eyeBlink{suffix}": blink, f"eyeSquint{suffix}": squint, f"eyeWide{suffix}": wide}


def semantic_fields(ctx: ShapeContext) -> dict[str, np.ndarray]:
    """Displacement fields [V, 3] of every ARKit shape that is not a pure joint rotation.

    ``jawOpenCorrective`` is what jawOpen adds on top of the jaw rotation.
    """
    c = ctx
    out: dict[str, np.ndarray] = {}
    for sign, sfx in ((1.0, "Left"), (-1.0, "Right")):
        out.update(_eye_shapes(c, "left_eye" if sign > 0 else "right_eye"))
        corner = c.corner(sign)
        cheek = bump(c.p, (sign * 0.038, -0.022, 0.06), (0.026, 0.026, 0.05)) * c.skin
        out[f"mouthSmile{sfx}"] = c.field(corner, (sign * 0.0045, 0.0055, -0.0025)) + c.field(cheek, (sign * 0.001, 0.0022, 0.0012))
        out[f"mouthFrown{sfx}"] = c.field(corner, (sign * 0.0008, -0.0050, -0.0008))
        out[f"mouthStretch{sfx}"] = c.field(corner, (sign * 0.0055, -0.0018, -0.0022))
        out[f"mouthDimple{sfx}"] = c.field(c.corner(sign, 0.016), (sign * 0.0018, 0.0006, -0.0032))
        half = c.half(sign)
        out[f"mouthPress{sfx}"] = (
            c.field(c.lip_upper * half, (0.0, -0.0010, -0.0014))
            + c.field(c.lip_lower * half, (0.0, 0.0015, -0.0016))
            + c.field(corner, (sign * 0.0015, 0.0, 0.0))
        )
        out[f"mouthLowerDown{sfx}"] = c.field(c.lip_lower * half, (0.0, -0.0048, 0.0010))
        out[f"mouthUpperUp{sfx}"] = c.field(c.lip_upper * half, (0.0, 0.0048, 0.0010))
        brow = bump(c.p, (sign * 0.028, 0.051, 0.075), (0.030, 0.016, 0.05)) * c.skin
        out[f"browDown{sfx}"] = c.field(brow, (-sign * 0.0018, -0.0055, 0.0012))
        outer = bump(c.p, (sign * 0.046, 0.050, 0.060), (0.026, 0.022, 0.05)) * c.skin
        out[f"browOuterUp{sfx}"] = c.field(outer, (0.0, 0.0065, 0.0))
        cheek_sq = bump(c.p, (sign * 0.040, 0.002, 0.066), (0.026, 0.020, 0.05)) * c.skin
        out[f"cheekSquint{sfx}"] = c.field(cheek_sq, (0.0, 0.0030, 0.0010))
        sneer = bump(c.p, (sign * 0.014, -0.010, 0.092), (0.016, 0.022, 0.04)) * c.skin
        out[f"noseSneer{sfx}"] = c.field(sneer, (sign * 0.0005, 0.0032, -0.0004))
        out[f"mouth{sfx}"] = c.field(c.mouth, (sign * 0.0060, 0.0, -0.0008))

    lips = c.lip_upper + c.lip_lower
    xs = np.stack([c.x, np.zeros_like(c.x), np.zeros_like(c.x)], axis=-1)
    out["mouthPucker"] = c.field(c.mouth, (0.0, 0.0, 0.0080)) - 0.40 * xs * c.mouth[:, None]
    edge = np.sqrt(np.clip(1 - (c.x / MOUTH_HALF_WIDTH) ** 2, 0.0, 1.0))
    out["mouthFunnel"] = (
        c.field(c.mouth, (0.0, 0.0, 0.0050))
        - 0.22 * xs * c.mouth[:, None]
        + c.field(c.lip_upper * edge, (0.0, 0.0030, 0.0))
        + c.field(c.lip_lower * edge, (0.0, -0.0032, 0.0))
    )
    out["mouthClose"] = c.field(c.lip_lower * edge, (0.0, 0.0170, 0.0060)) + c.field(c.lip_upper * edge, (0.0, -0.0020, 0.0))
    out["mouthRollLower"] = c.field(c.lip_lower, (0.0, 0.0015, -0.0042))
    out["mouthRollUpper"] = c.field(c.lip_upper, (0.0, -0.0015, -0.0042))
    chin = bump(c.p, (0.0, -0.082, 0.085), (0.028, 0.026, 0.05)) * c.skin
    out["mouthShrugLower"] = c.field(c.lip_lower, (0.0, 0.0030, 0.0018)) + c.field(chin, (0.0, 0.0018, 0.0012))
    out["mouthShrugUpper"] = c.field(c.lip_upper, (0.0, 0.0030, 0.0010))
    inner = bump(c.p, (0.0, 0.050, 0.08), (0.030, 0.026, 0.05)) * c.skin
    out["browInnerUp"] = c.field(inner, (0.0, 0.0065, 0.0006))
    puff = bump(c.p, (0.040, -0.040, 0.055), (0.026, 0.026, 0.05)) + bump(c.p, (-0.040, -0.040, 0.055), (0.026, 0.026, 0.05))
    puff = puff * c.skin * (1 - 0.8 * (lips > 0.3))
    out["cheekPuff"] = np.stack([np.sign(c.x) * 0.0065, np.zeros_like(c.x), np.full_like(c.x, 0.0045)], axis=-1) * puff[:, None]
    out["jawForward"] = c.field(c.jaw_weight * (c.mesh.part != PART_UPPER_TEETH), (0.0, 0.0, 0.0045))
    tongue = (c.mesh.part == PART_TONGUE).astype(float)
    tip = smoothstep(0.045, 0.075, c.z) * tongue
    out["tongueOut"] = c.field(tongue, (0.0, -0.001, 0.010)) + c.field(tip, (0.0, -0.001, 0.012)) + c.field(
        c.lip_lower, (0.0, -0.0015, 0.0012)
    )
    corners = c.corner(1.0) + c.corner(-1.0)
    out["jawOpenCorrective"] = -0.06 * xs * corners[:, None] + c.field(c.lip_lower, (0.0, 0.0, 0.0015))
    # the mouth bag follows the lips (tongue/teeth/jaw shapes are already complete)
    for key in out:
        if key not in ("tongueOut", "jawForward"):
            out[key] = c.with_bag(out[key])
    return out
