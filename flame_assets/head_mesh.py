"""Geometry of the probtalk head: an implicit sculpt, meshed by casting rays.

The head surface is the outermost zero crossing of a smooth implicit function
(a smooth union of ellipsoids, capsules and spheres: skull, face, jaw, chin,
cheeks, brow ridge, nose, lips, neck, ears, eyelid shells) along rays from a
point behind the face. The rays form a latitude/longitude grid whose rows and
columns are denser over the face; the mouth and both eyes are *cut* along one
grid row each (the vertices on the cut get a second copy for the lower edge),
so lips and eyelids can part. A closed mouth bag hangs behind the lips, teeth
rows sit inside it, and each eye gets a separate closed eyeball.

Everything is deterministic numpy; all lengths in metres, y up, face along +z,
the character's left along +x.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# ----------------------------------------------------------------- landmarks of the sculpt
RAY_ORIGIN = np.array([0.0, -0.005, -0.045])
EYE_CENTRE = np.array([0.0315, 0.030, 0.058])  # left eye (+x); the right one is mirrored
EYEBALL_RADIUS = 0.0120
LID_RADIUS = 0.0142  # eyelid shell around the eyeball
EYE_HALF_ANGLE = np.deg2rad(52.0)  # canthi, measured around the eye's vertical axis
MOUTH_Y = -0.0505  # the line where the lips meet
MOUTH_HALF_WIDTH = 0.0235
JAW_HINGE = np.array([0.0, -0.014, 0.004])
NECK_BOTTOM_Y = -0.165

# Grid resolution.
NUM_ROWS = 66
NUM_COLS = 108


# ------------------------------------------------------------------------ implicit sculpt
def _ellipsoid(p: np.ndarray, c: tuple[float, float, float], r: tuple[float, float, float]) -> np.ndarray:
    """Approximate signed distance to an ellipsoid. p: [N, 3] -> [N]."""
    q = (p - np.asarray(c)) / np.asarray(r)
    k = np.linalg.norm(q, axis=-1)
    return (k - 1.0) * min(r)


def _sphere(p: np.ndarray, c: tuple[float, float, float] | np.ndarray, r: float) -> np.ndarray:
    return np.linalg.norm(p - np.asarray(c), axis=-1) - r


def _capsule(p: np.ndarray, a: tuple[float, ...], b: tuple[float, ...], ra: float, rb: float) -> np.ndarray:
    """Round cone from a (radius ra) to b (radius rb), approximate. p: [N, 3] -> [N]."""
    a_, b_ = np.asarray(a, float), np.asarray(b, float)
    ab = b_ - a_
    t = np.clip(((p - a_) @ ab) / (ab @ ab), 0.0, 1.0)
    closest = a_ + t[:, None] * ab
    return np.linalg.norm(p - closest, axis=-1) - (ra + (rb - ra) * t)


def _smin(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Polynomial smooth minimum (smooth union) with blend radius k."""
    h = np.clip(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
    return b * (1 - h) + a * h - k * h * (1 - h)


def _smax(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Smooth maximum (smooth subtraction/intersection) with blend radius k."""
    return -_smin(-a, -b, k)


def _mirror_x(p: np.ndarray) -> np.ndarray:
    """Fold space about x = 0 so one primitive makes a symmetric pair."""
    q = p.copy()
    q[:, 0] = np.abs(q[:, 0])
    return q


def head_sdf(p: np.ndarray) -> np.ndarray:
    """Implicit head: negative inside. p: [N, 3] metres -> [N]."""
    m = _mirror_x(p)
    skull = _ellipsoid(p, (0.0, 0.028, -0.018), (0.077, 0.088, 0.097))
    face = _ellipsoid(p, (0.0, -0.018, 0.012), (0.064, 0.072, 0.072))
    d = _smin(skull, face, 0.02)
    jaw = _ellipsoid(p, (0.0, -0.056, 0.014), (0.058, 0.042, 0.066))
    d = _smin(d, jaw, 0.02)
    chin = _ellipsoid(p, (0.0, -0.085, 0.069), (0.019, 0.016, 0.014))
    d = _smin(d, chin, 0.016)
    cheek = _ellipsoid(m, (0.039, -0.016, 0.052), (0.028, 0.028, 0.027))
    d = _smin(d, cheek, 0.02)
    zygoma = _ellipsoid(m, (0.052, 0.012, 0.040), (0.020, 0.012, 0.022))
    d = _smin(d, zygoma, 0.012)
    buccal = _ellipsoid(m, (0.045, -0.030, 0.022), (0.020, 0.034, 0.036))
    d = _smin(d, buccal, 0.02)
    brow = _capsule(m, (0.006, 0.047, 0.081), (0.050, 0.049, 0.058), 0.0085, 0.007)
    d = _smin(d, brow, 0.018)
    # eye sockets: carve, then add the eyelid shells
    socket = _ellipsoid(m, (EYE_CENTRE[0], EYE_CENTRE[1] - 0.001, EYE_CENTRE[2] + 0.012), (0.020, 0.015, 0.016))
    d = _smax(d, -socket, 0.008)
    lid = _sphere(m, EYE_CENTRE, LID_RADIUS)
    d = _smin(d, lid, 0.004)
    # nose: bridge, tip, alae, columella
    bridge = _capsule(p, (0.0, 0.034, 0.080), (0.0, -0.005, 0.1015), 0.0064, 0.0088)
    d = _smin(d, bridge, 0.008)
    tip = _sphere(p, (0.0, -0.0095, 0.0995), 0.0102)
    d = _smin(d, tip, 0.004)
    ala = _ellipsoid(m, (0.0125, -0.0160, 0.0890), (0.0090, 0.0072, 0.0082))
    d = _smin(d, ala, 0.008)
    # lips: upper and lower cushions meeting at MOUTH_Y, philtrum between nose and lip
    upper = _ellipsoid(p, (0.0, MOUTH_Y + 0.0052, 0.0915), (MOUTH_HALF_WIDTH - 0.001, 0.0057, 0.0078))
    lower = _ellipsoid(p, (0.0, MOUTH_Y - 0.0062, 0.0900), (MOUTH_HALF_WIDTH - 0.003, 0.0065, 0.0080))
    d = _smin(d, _smin(upper, lower, 0.0012), 0.007)
    # ears: flattened discs on the sides
    ear = _ellipsoid(m, (0.077, 0.012, -0.012), (0.0145, 0.031, 0.019))
    concha = _ellipsoid(m, (0.0945, 0.006, -0.008), (0.0105, 0.020, 0.0125))
    ear = _smax(ear, -concha, 0.003)
    d = _smin(d, ear, 0.006)
    # neck: vertical round cylinder with a flat cut at the bottom
    axis = p[:, [0, 2]] - np.array([0.0, -0.018])
    neck = np.linalg.norm(axis / np.array([1.0, 0.92]), axis=-1) - 0.054
    neck = np.maximum(neck, np.maximum(NECK_BOTTOM_Y - p[:, 1], p[:, 1] - 0.0))
    d = _smin(d, neck, 0.025)
    return np.maximum(d, NECK_BOTTOM_Y - p[:, 1])


def _direction(theta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Unit ray directions; theta from +y, phi from +z towards +x. Returns [..., 3]."""
    theta, phi = np.broadcast_arrays(theta, phi)
    st = np.sin(theta)
    return np.stack([st * np.sin(phi), np.cos(theta), st * np.cos(phi)], axis=-1)


def _angles(point: np.ndarray) -> tuple[float, float]:
    """(theta, phi) of the ray from RAY_ORIGIN through a point."""
    v = np.asarray(point, float) - RAY_ORIGIN
    v = v / np.linalg.norm(v)
    return float(np.arccos(v[1])), float(np.arctan2(v[0], v[2]))


def cast_rays(dirs: np.ndarray, far: float = 0.32, step: float = 0.0015, iters: int = 30) -> np.ndarray:
    """Outermost surface point along each ray from RAY_ORIGIN. dirs: [N, 3] -> [N, 3]."""
    n = dirs.shape[0]
    t_out = np.full(n, far)
    t_in = np.full(n, np.nan)
    t = far
    active = np.ones(n, bool)
    while t > 0 and active.any():
        idx = np.nonzero(active)[0]
        inside = head_sdf(RAY_ORIGIN + dirs[idx] * t) < 0
        hit = idx[inside]
        t_in[hit] = t
        t_out[hit] = t + step
        active[hit] = False
        t -= step
    lo, hi = t_in, t_out  # lo inside, hi outside
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        inside = head_sdf(RAY_ORIGIN + dirs * mid[:, None]) < 0
        lo = np.where(inside, mid, lo)
        hi = np.where(inside, hi, mid)
    return RAY_ORIGIN + dirs * (0.5 * (lo + hi))[:, None]


def _taubin(grid: np.ndarray, iters: int = 12, lam: float = 0.5, mu: float = -0.53) -> np.ndarray:
    """Taubin smoothing of a [rows, cols, 3] grid (columns wrap; first/last rows fixed): removes ray-casting steps."""
    g = grid.copy()
    for k in range(2 * iters):
        nb = 0.25 * (g[:-2] + g[2:] + np.roll(g, 1, axis=1)[1:-1] + np.roll(g, -1, axis=1)[1:-1])
        g[1:-1] += (lam if k % 2 == 0 else mu) * (nb - g[1:-1])
    return g


def _warped_samples(n: int, lo: float, hi: float, bumps: list[tuple[float, float, float]]) -> np.ndarray:
    """n samples in [lo, hi] spaced by the inverse of a density 1 + sum of Gaussian bumps (centre, width, gain)."""
    x = np.linspace(lo, hi, 4001)
    dens = np.ones_like(x)
    for c, w, g in bumps:
        dens += g * np.exp(-0.5 * ((x - c) / w) ** 2)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(x))])
    return np.interp(np.linspace(0.0, cdf[-1], n), cdf, x)


# ----------------------------------------------------------------------------- the mesh
@dataclass
class Cut:
    """A slit along grid row ``row`` between columns ``col0`` and ``col1`` (corners shared)."""

    name: str
    row: int
    col0: int
    col1: int
    lower: dict[int, int] = field(default_factory=dict)  # column -> vertex id of the lower-edge copy

    def upper_ids(self, num_cols: int) -> np.ndarray:
        """Vertex ids of the upper edge, corner to corner (inclusive)."""
        return np.array([self.row * num_cols + j for j in range(self.col0, self.col1 + 1)])

    def lower_ids(self, num_cols: int) -> np.ndarray:
        """Vertex ids of the lower edge, corner to corner (corners are the upper-edge vertices)."""
        ids = [self.row * num_cols + self.col0] + [self.lower[j] for j in range(self.col0 + 1, self.col1)]
        return np.array(ids + [self.row * num_cols + self.col1])


@dataclass
class HeadMesh:
    """The raw head geometry and per-vertex annotations used by the builder.

    Attributes:
        vertices: float64 [V, 3].
        faces: int64 [F, 3], outward facing.
        part: int [V] 0 skin, 1 mouth bag, 2 upper teeth, 3 lower teeth, 4 left eyeball, 5 right eyeball, 6 tongue.
        side: int [V] +1 above the mouth slit, -1 below, 0 elsewhere/corners (skin and bag).
        grid_rc: int [V, 2] (row, column) of skin vertices; -1 for other parts and the poles.
        theta, phi: float [NUM_ROWS], [NUM_COLS] angles of the grid.
        cuts: the mouth and eye slits.
    """

    vertices: np.ndarray
    faces: np.ndarray
    part: np.ndarray
    side: np.ndarray
    grid_rc: np.ndarray
    theta: np.ndarray
    phi: np.ndarray
    cuts: dict[str, Cut]
    eye_lids: dict[str, np.ndarray]  # eye name -> int [V] lid row (+1 upper edge, +2 above, ...; -1 lower edge, ...)
    bag_src: np.ndarray  # int [V] the lip-edge vertex each mouth-bag vertex hangs from (-1 elsewhere)
    bag_ring: np.ndarray  # int [V] ring number of mouth-bag vertices (1 = next to the lips; 0 elsewhere)


PART_SKIN, PART_BAG, PART_UPPER_TEETH, PART_LOWER_TEETH, PART_LEFT_EYE, PART_RIGHT_EYE, PART_TONGUE = range(7)


def _grid_angles() -> tuple[np.ndarray, np.ndarray, int, int, dict[str, tuple[int, int]]]:
    """Row thetas, column phis, the mouth and eye slit rows, and slit column ranges."""
    mouth_front = np.array([0.0, MOUTH_Y, 0.095])
    th_m, _ = _angles(mouth_front)
    eye_front = EYE_CENTRE + np.array([0.0, 0.0, LID_RADIUS])
    th_e, _ = _angles(eye_front)
    theta = _warped_samples(
        NUM_ROWS + 2, 0.0, np.pi,
        [(th_e, 0.10, 3.5), (th_m, 0.08, 4.0), (0.5 * (th_e + th_m), 0.25, 1.5), (th_m + 0.3, 0.15, 1.2)],
    )[1:-1]
    row_m = int(np.argmin(np.abs(theta - th_m)))
    row_e = int(np.argmin(np.abs(theta - th_e)))
    theta[row_m], theta[row_e] = th_m, th_e
    half = NUM_COLS // 2
    pos = _warped_samples(half + 1, 0.0, np.pi, [(0.0, 0.75, 3.0), (0.45, 0.12, 1.0), (1.62, 0.16, 1.6)])
    phi = np.concatenate([-pos[:0:-1], pos[:-1]])  # -pi .. (pi-); phi = 0 (front) at column `half`
    # slit column ranges
    _, ph_corner = _angles(np.array([MOUTH_HALF_WIDTH, MOUTH_Y, 0.085]))
    jm = int(np.argmin(np.abs(pos - ph_corner)))
    ranges = {"mouth": (half - jm, half + jm)}
    c, s = np.cos(EYE_HALF_ANGLE), np.sin(EYE_HALF_ANGLE)
    _, ph_lat = _angles(EYE_CENTRE + LID_RADIUS * np.array([s, 0.0, c]))
    _, ph_med = _angles(EYE_CENTRE + LID_RADIUS * np.array([-s, 0.0, c]))
    j0, j1 = int(np.argmin(np.abs(pos - ph_med))), int(np.argmin(np.abs(pos - ph_lat)))
    ranges["left_eye"] = (half + j0, half + j1)
    ranges["right_eye"] = (half - j1, half - j0)
    return theta, phi, row_m, row_e, ranges


# --------------------------------------------------------------------------- eyelids
EYE_OPEN_UP = 0.30  # radians the upper lid edge is rotated up from the slit, at the lid's middle
EYE_OPEN_DOWN = 0.27  # radians the lower lid edge is rotated down
LID_FALLOFF_UP = (1.0, 0.62, 0.30, 0.10)  # opening rotation of the slit row and the rows above it
LID_FALLOFF_DOWN = (1.0, 0.50, 0.18)


def lid_profile(phi: np.ndarray, eye: str) -> np.ndarray:
    """How open each column's lid is (0 at the canthi, 1 in the middle of the eye). phi: [N] -> [N]."""
    c, s = np.cos(EYE_HALF_ANGLE), np.sin(EYE_HALF_ANGLE)
    centre = EYE_CENTRE * np.array([1.0 if eye == "left_eye" else -1.0, 1.0, 1.0])
    _, a = _angles(centre + LID_RADIUS * np.array([-s, 0.0, c]))
    _, b = _angles(centre + LID_RADIUS * np.array([s, 0.0, c]))
    mid, half = 0.5 * (a + b), 0.5 * abs(b - a)
    u = (phi - mid) / (half * 1.04)
    return np.clip(1.0 - u**2, 0.0, 1.0) ** 0.75


def rotate_about_x(points: np.ndarray, centre: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotate points about the x axis through ``centre`` by per-point angles. points: [N, 3], angle: [N]."""
    q = points - centre
    c, s = np.cos(angle), np.sin(angle)
    out = q.copy()
    out[:, 1] = q[:, 1] * c - q[:, 2] * s
    out[:, 2] = q[:, 1] * s + q[:, 2] * c
    return out + centre


# --------------------------------------------------------------------- closed parts
def _tube(path: np.ndarray, section: np.ndarray, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A closed tube along ``path`` [P, 3] with a polygon ``section`` [S, 2] in local (normal, up) ``frames`` [P, 2, 3].

    Returns vertices [P*S + 2, 3] and triangles; the ends are capped by fans.
    """
    p, s = path.shape[0], section.shape[0]
    verts = path[:, None, :] + section[None, :, 0, None] * frames[:, None, 0] + section[None, :, 1, None] * frames[:, None, 1]
    verts = verts.reshape(-1, 3)
    faces = []
    for i in range(p - 1):
        for k in range(s):
            a, b = i * s + k, i * s + (k + 1) % s
            faces += [[a, b, b + s], [a, b + s, a + s]]
    start, end = p * s, p * s + 1
    for k in range(s):
        faces += [[start, (k + 1) % s, k], [end, (p - 1) * s + k, (p - 1) * s + (k + 1) % s]]
    verts = np.concatenate([verts, path[:1], path[-1:]])
    return verts, np.array(faces)


def _uv_sphere(centre: np.ndarray, radii: np.ndarray, n_lat: int, n_lon: int, bulge: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Closed UV sphere (poles along +-z, i.e. the pupil at +z). Optional cornea bulge at +z."""
    lat = np.linspace(0.0, np.pi, n_lat + 2)[1:-1]
    lon = np.linspace(0.0, 2 * np.pi, n_lon, endpoint=False)
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    d = np.stack([np.sin(la) * np.cos(lo), np.sin(la) * np.sin(lo), np.cos(la)], axis=-1).reshape(-1, 3)
    d = np.concatenate([d, [[0.0, 0.0, 1.0], [0.0, 0.0, -1.0]]])
    cone = np.clip((d[:, 2] - np.cos(np.deg2rad(42))) / (1 - np.cos(np.deg2rad(42))), 0.0, 1.0)
    verts = centre + d * radii * (1.0 + bulge * np.sin(0.5 * np.pi * cone) ** 1.5)[:, None]
    faces = []
    for i in range(n_lat - 1):
        for j in range(n_lon):
            a, b = i * n_lon + j, i * n_lon + (j + 1) % n_lon
            faces += [[a, b, b + n_lon], [a, b + n_lon, a + n_lon]]
    top, bottom = n_lat * n_lon, n_lat * n_lon + 1
    for j in range(n_lon):
        faces += [[top, (j + 1) % n_lon, j], [bottom, (n_lat - 1) * n_lon + j, (n_lat - 1) * n_lon + (j + 1) % n_lon]]
    return verts, np.array(faces)


def _teeth_row(upper: bool) -> tuple[np.ndarray, np.ndarray]:
    """A horseshoe band of teeth behind the lips (closed tube)."""
    rho = 0.0215 if upper else 0.0195
    zc = 0.0630 if upper else 0.0625
    psi = np.linspace(-np.deg2rad(68), np.deg2rad(68), 25)
    path = np.stack([rho * np.sin(psi), np.full_like(psi, MOUTH_Y), zc + rho * np.cos(psi)], axis=-1)
    normal = np.stack([np.sin(psi), np.zeros_like(psi), np.cos(psi)], axis=-1)
    up = np.tile([0.0, 1.0, 0.0], (psi.size, 1))
    frames = np.stack([normal, up], axis=1)
    # rectangle section (outward, up) with rounded biting edge
    if upper:
        sec = np.array([[0.0, 0.0095], [0.0, -0.0002], [-0.0015, -0.0014], [-0.0045, -0.0006], [-0.005, 0.0095]])
    else:
        sec = np.array([[-0.005, -0.0090], [-0.0045, -0.0030], [-0.0015, -0.0022], [0.0, -0.0032], [0.0, -0.0090]])
    sec = sec[::-1] if upper else sec
    return _tube(path, sec, frames)


def _tongue() -> tuple[np.ndarray, np.ndarray]:
    centre = np.array([0.0, MOUTH_Y - 0.0075, 0.060])
    return _uv_sphere(centre, np.array([0.0145, 0.0042, 0.0175]), 8, 14)


def _signed_volume(v: np.ndarray, f: np.ndarray) -> float:
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


def _outward(v: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Flip a closed part's triangles if they face inwards."""
    return f[:, ::-1].copy() if _signed_volume(v, f) < 0 else f


# ---------------------------------------------------------------------------- assembly
BAG_RINGS = (  # depth behind the lip edge, vertical half-opening, lateral scale
    (0.0020, 0.0012, 0.99),
    (0.0045, 0.0028, 0.98),
    (0.0090, 0.0120, 1.03),
    (0.0190, 0.0160, 1.10),
    (0.0300, 0.0140, 1.05),
    (0.0400, 0.0090, 0.72),
)


def build_head_mesh() -> HeadMesh:
    """Sculpt, cast and stitch the whole head. Deterministic."""
    theta, phi, row_m, row_e, ranges = _grid_angles()
    nr, nc = NUM_ROWS, NUM_COLS
    dirs = _direction(theta[:, None], phi[None, :]).reshape(-1, 3)
    poles = np.array([[0.0, 1.0, 0.0], [0.0, -1.0, 0.0]])
    skin = cast_rays(np.concatenate([dirs, poles]))
    grid = _taubin(skin[: nr * nc].reshape(nr, nc, 3)).reshape(-1, 3)
    top, bottom = skin[nr * nc], skin[nr * nc + 1]

    # Cuts: the lower edge of each slit gets its own copy of the interior vertices.
    cuts = {
        "mouth": Cut("mouth", row_m, *ranges["mouth"]),
        "left_eye": Cut("left_eye", row_e, *ranges["left_eye"]),
        "right_eye": Cut("right_eye", row_e, *ranges["right_eye"]),
    }
    verts = [grid, top[None], bottom[None]]
    nxt = nr * nc + 2
    for cut in cuts.values():
        for j in range(cut.col0 + 1, cut.col1):
            cut.lower[j] = nxt
            verts.append(grid[cut.row * nc + j][None])
            nxt += 1
    v = np.concatenate(verts)
    n_skin = v.shape[0]
    side = np.zeros(n_skin, np.int64)
    grid_rc = -np.ones((n_skin, 2), np.int64)
    rr, cc = np.meshgrid(np.arange(nr), np.arange(nc), indexing="ij")
    grid_rc[: nr * nc] = np.stack([rr.ravel(), cc.ravel()], axis=-1)
    for cut in cuts.values():
        for j, vid in cut.lower.items():
            grid_rc[vid] = (cut.row, j)

    # Keep the lid skin at least LID_RADIUS from each eye centre (smoothing pulls it inwards), so an
    # eyeball rotating under it never pokes through.
    for sign in (1.0, -1.0):
        centre = EYE_CENTRE * np.array([sign, 1.0, 1.0])
        rel = v[: nr * nc] - centre
        dist = np.linalg.norm(rel, axis=1)
        push = (dist < LID_RADIUS) & (rel[:, 2] > 0)
        v[: nr * nc][push] = centre + rel[push] * (LID_RADIUS / dist[push])[:, None]
    for cut in cuts.values():
        for j, vid_ in cut.lower.items():
            v[vid_] = v[cut.row * nc + j]

    # Open the eyes: rotate the lid rows about each eye centre.
    eye_rows: dict[str, np.ndarray] = {}
    for name, cut in cuts.items():
        if name == "mouth":
            continue
        centre = EYE_CENTRE * np.array([1.0 if name == "left_eye" else -1.0, 1.0, 1.0])
        prof = lid_profile(phi, name)
        rows = np.zeros(n_skin, np.int64)
        for k, fall in enumerate(LID_FALLOFF_UP):
            ids = (row_e - k) * nc + np.arange(nc)
            ang = -EYE_OPEN_UP * fall * prof
            sel = prof > 0
            v[ids[sel]] = rotate_about_x(v[ids[sel]], centre, ang[sel])
            rows[ids[sel]] = k + 1
        for k, fall in enumerate(LID_FALLOFF_DOWN):
            if k == 0:
                ids = np.array([cut.lower[j] for j in range(cut.col0 + 1, cut.col1)])
                cols = np.arange(cut.col0 + 1, cut.col1)
            else:
                cols = np.arange(nc)
                ids = (row_e + k) * nc + cols
            ang = EYE_OPEN_DOWN * fall * prof[cols]
            sel = prof[cols] > 0
            v[ids[sel]] = rotate_about_x(v[ids[sel]], centre, ang[sel])
            rows[ids[sel]] = -(k + 1)
        eye_rows[name] = rows

    # Skin triangles (quads split along a fixed diagonal), honouring the cuts.
    def vid(i: int, j: int, below_of: int) -> int:
        """Vertex at (i, j); the lower copy if (i, j) is inside a cut and the quad lies below it."""
        j %= nc
        if i == below_of:
            for cut in cuts.values():
                if cut.row == i and j in cut.lower:
                    return cut.lower[j]
        return i * nc + j

    faces = []
    for i in range(nr - 1):
        for j in range(nc):
            a, b = vid(i, j, i), vid(i, j + 1, i)
            c, d = vid(i + 1, j + 1, i), vid(i + 1, j, i)
            faces += [[a, d, c], [a, c, b]]
    t, btm = nr * nc, nr * nc + 1
    for j in range(nc):
        faces.append([t, j, (j + 1) % nc])
        faces.append([btm, (nr - 1) * nc + (j + 1) % nc, (nr - 1) * nc + j])
    f_skin = np.array(faces)

    # side of the mouth slit: +1 upper lip side, -1 lower lip side
    mouth = cuts["mouth"]
    in_cols = (grid_rc[:, 1] > mouth.col0) & (grid_rc[:, 1] < mouth.col1)
    side[(grid_rc[:, 0] >= 0) & (grid_rc[:, 0] < row_m)] = 1
    side[(grid_rc[:, 0] > row_m)] = -1
    side[mouth.upper_ids(nc)[1:-1]] = 1
    side[[mouth.lower[j] for j in range(mouth.col0 + 1, mouth.col1)]] = -1
    side[~in_cols & (grid_rc[:, 0] == row_m)] = 0

    # Mouth bag: rings behind the slit loop, closed by a fan.
    up_ids, lo_ids = mouth.upper_ids(nc), mouth.lower_ids(nc)
    loop = np.concatenate([up_ids, lo_ids[1:-1][::-1]])
    loop_side = np.concatenate([np.ones(len(up_ids)), -np.ones(len(lo_ids) - 2)])
    loop_side[0] = loop_side[len(up_ids) - 1] = 0
    edge = v[loop]
    u = np.clip(edge[:, 0] / np.abs(edge[:, 0]).max(), -1.0, 1.0)
    rings = []
    for depth, half_open, lat in BAG_RINGS:
        ring = edge.copy()
        ring[:, 0] *= lat
        ring[:, 1] = edge[:, 1] + loop_side * half_open * np.sqrt(np.clip(1 - u**2, 0.0, 1.0)) ** 0.8
        ring[:, 2] = edge[:, 2] - depth - 0.004 * u**2 * (depth > 0.01)
        rings.append(ring)
    bag_centre = np.array([0.0, MOUTH_Y, float(edge[:, 2].max() - BAG_RINGS[-1][0] - 0.006)])
    bag_v = np.concatenate(rings + [bag_centre[None]])
    n_loop = len(loop)
    base = v.shape[0]
    ring_ids = [loop] + [base + k * n_loop + np.arange(n_loop) for k in range(len(rings))]
    bag_f = []
    for r0, r1 in zip(ring_ids[:-1], ring_ids[1:], strict=True):
        for k in range(n_loop):
            a, b, c, d = r0[k], r0[(k + 1) % n_loop], r1[(k + 1) % n_loop], r1[k]
            bag_f += [[a, c, b], [a, d, c]]
    centre_id = base + len(rings) * n_loop
    for k in range(n_loop):
        bag_f.append([ring_ids[-1][k], centre_id, ring_ids[-1][(k + 1) % n_loop]])
    bag_src = np.concatenate([-np.ones(n_skin, np.int64), np.tile(loop, len(rings)), [-1]])
    bag_ring = np.concatenate([np.zeros(n_skin, np.int64), np.repeat(np.arange(1, len(rings) + 1), n_loop), [len(rings) + 1]])
    v = np.concatenate([v, bag_v])
    part = np.concatenate([np.zeros(n_skin, np.int64), np.full(len(bag_v), PART_BAG)])
    side = np.concatenate([side, np.tile(loop_side, len(rings)), [0]]).astype(np.int64)
    all_faces = [f_skin, np.array(bag_f)]
    # Check the skin + bag orientation (it is open at the eyes, so test with the skin's volume).
    if _signed_volume(v, np.concatenate(all_faces)) < 0:
        all_faces = [f[:, ::-1].copy() for f in all_faces]

    # Closed parts: teeth, tongue, eyeballs.
    extras = [
        (PART_UPPER_TEETH, *_teeth_row(True), 1),
        (PART_LOWER_TEETH, *_teeth_row(False), -1),
        (PART_TONGUE, *_tongue(), -1),
    ]
    for name, pid in (("left_eye", PART_LEFT_EYE), ("right_eye", PART_RIGHT_EYE)):
        centre = EYE_CENTRE * np.array([1.0 if name == "left_eye" else -1.0, 1.0, 1.0])
        ev, ef = _uv_sphere(centre, np.full(3, EYEBALL_RADIUS), 12, 20, bulge=0.07)
        extras.append((pid, ev, ef, 0))
    for pid, pv, pf, s in extras:
        all_faces.append(_outward(pv, pf) + v.shape[0])
        v = np.concatenate([v, pv])
        part = np.concatenate([part, np.full(len(pv), pid)])
        side = np.concatenate([side, np.full(len(pv), s)])
        bag_src = np.concatenate([bag_src, -np.ones(len(pv), np.int64)])
        bag_ring = np.concatenate([bag_ring, np.zeros(len(pv), np.int64)])
    grid_rc = np.concatenate([grid_rc, -np.ones((v.shape[0] - n_skin, 2), np.int64)])
    for name in eye_rows:
        eye_rows[name] = np.concatenate([eye_rows[name], np.zeros(v.shape[0] - n_skin, np.int64)])
    return HeadMesh(
        vertices=v, faces=np.concatenate(all_faces), part=part, side=side, grid_rc=grid_rc,
        theta=theta, phi=phi, cuts=cuts, eye_lids=eye_rows, bag_src=bag_src, bag_ring=bag_ring,
    )
