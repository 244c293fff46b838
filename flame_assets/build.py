"""Build the bundled probtalk head rig: ``python -m flame_assets.build [out_dir]``.

Writes, into ``flame_assets/`` (or ``out_dir``):

- ``probtalk_head.npz`` — the rig in probtalk's format (:meth:`probtalk.flame.Rig.save`);
- ``flame/FLAME_NEUTRAL.pkl``, ``flame/flame_static_embedding.pkl``,
  ``flame/flame_dynamic_embedding.npy`` — the same head in FLAME's own file
  layout, loadable by ``smplx.create(<out_dir>, model_type="flame")``;
- ``FLAME_masks.pkl`` — the named vertex regions, as FLAME ships its masks.

The build is deterministic (numpy only, fixed constants, no randomness).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from flame_assets import annotate
from flame_assets.flame_files import write_flame_files
from flame_assets.head_mesh import (
    EYE_CENTRE,
    JAW_HINGE,
    PART_LEFT_EYE,
    PART_RIGHT_EYE,
    PART_SKIN,
    HeadMesh,
    build_head_mesh,
)
from flame_assets.shapes import (
    EYE_LOOK_H,
    EYE_LOOK_V,
    J_JAW,
    J_LEYE,
    J_REYE,
    JAW_OPEN_ANGLE,
    JAW_SIDE_ANGLE,
    ShapeContext,
    bump,
    identity_fields,
    semantic_fields,
    skinning_weights,
)
from probtalk.arkit import ARKIT_NAMES
from probtalk.flame.rig import Rig
from probtalk.layout import KINTREE_TABLE, NUM_EXPRESSION, NUM_JOINTS, NUM_SHAPE

log = logging.getLogger(__name__)

RIG_NAME = "probtalk-head-v1"
ASSETS_DIR = Path(__file__).resolve().parent
RIG_FILE = "probtalk_head.npz"
FLAME_DIR = "flame"
MASKS_FILE = "FLAME_masks.pkl"
EXPRESSION_COEF_NORM = 3.0  # each semantic shape's expression coefficients have this L2 norm (before the jaw)
NUM_EXTRA_SCALE = 0.0006  # metres: peak size of the filler expression components

# How each ARKit shape is realised by joints: name -> (joint, axis-angle).
JOINT_SHAPES: dict[str, tuple[int, tuple[float, float, float]]] = {
    "jawOpen": (J_JAW, (JAW_OPEN_ANGLE, 0.0, 0.0)),
    "jawLeft": (J_JAW, (0.0, JAW_SIDE_ANGLE, 0.0)),
    "jawRight": (J_JAW, (0.0, -JAW_SIDE_ANGLE, 0.0)),
    "eyeLookUpLeft": (J_LEYE, (-EYE_LOOK_V, 0.0, 0.0)),
    "eyeLookDownLeft": (J_LEYE, (EYE_LOOK_V, 0.0, 0.0)),
    "eyeLookInLeft": (J_LEYE, (0.0, -EYE_LOOK_H, 0.0)),
    "eyeLookOutLeft": (J_LEYE, (0.0, EYE_LOOK_H, 0.0)),
    "eyeLookUpRight": (J_REYE, (-EYE_LOOK_V, 0.0, 0.0)),
    "eyeLookDownRight": (J_REYE, (EYE_LOOK_V, 0.0, 0.0)),
    "eyeLookInRight": (J_REYE, (0.0, EYE_LOOK_H, 0.0)),
    "eyeLookOutRight": (J_REYE, (0.0, -EYE_LOOK_H, 0.0)),
}


@dataclass
class BuildResult:
    """Everything the builder makes: the rig plus the FLAME-layout extras."""

    rig: Rig
    joints: np.ndarray  # float64 [5, 3] rest joint locations
    dynamic_faces: np.ndarray  # int64 [79, 17]
    dynamic_bary: np.ndarray  # float64 [79, 17, 3]


# ------------------------------------------------------------------------- helpers
def rodrigues(aa: np.ndarray) -> np.ndarray:
    """Rotation matrix [3, 3] of an axis-angle [3]."""
    aa = np.asarray(aa, float)
    angle = np.linalg.norm(aa)
    if angle < 1e-12:
        return np.eye(3)
    k = aa / angle
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(angle) * kx + (1 - np.cos(angle)) * kx @ kx


def pose_one_joint(v: np.ndarray, weights: np.ndarray, joints: np.ndarray, joint: int, aa: np.ndarray) -> np.ndarray:
    """LBS of v [V, 3] with only ``joint`` rotated (its ancestors at rest), as smplx computes it."""
    r = rodrigues(aa)
    moved = (v - joints[joint]) @ r.T + joints[joint]
    return v + weights[:, joint, None] * (moved - v)


def regress_point(v: np.ndarray, candidates: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Weights over ``candidates`` (sum 1, all > 0) whose weighted mean is ``target``. Returns [V].

    The minimum-norm solution of the four linear constraints: unique (no solver tie-breaking,
    so every CPU, BLAS and thread count picks the same vertices), mirror-symmetric when the
    candidates and target are, and spread over all candidates. Raises if it would need a
    negative weight (then the candidate set does not surround the target).
    """
    d = v[candidates] - target
    a = np.vstack([(d / np.abs(d).max()).T, np.ones(len(candidates))])  # [4, n]: offsets, then the sum
    rhs = np.array([0.0, 0.0, 0.0, 1.0])
    w = a.T @ np.linalg.solve(a @ a.T, rhs)
    if w.min() <= 1e-6 / len(candidates):
        raise RuntimeError(f"joint target {target} is not well inside its candidate vertices")
    out = np.zeros(v.shape[0])
    out[candidates] = w / w.sum()
    return out


def _sign_convention(u: np.ndarray) -> np.ndarray:
    """Signs [k] that make each column's dot product with a fixed dense reference vector positive."""
    ref = np.sin(1.7 * np.arange(u.shape[0]) + 0.3)
    return np.where(ref @ u >= 0, 1.0, -1.0)


def mirror_operator(mesh: HeadMesh) -> Callable[[np.ndarray], np.ndarray]:
    """The x -> -x mirror acting on stacked vertex fields [3V, K] (the mesh is built symmetric).

    Coincident vertices (the two lips of the closed mouth slit) are told apart by their slit side.
    """
    v = mesh.vertices
    part = np.where(mesh.part == PART_RIGHT_EYE, PART_LEFT_EYE, mesh.part)  # the eyeballs swap
    key = np.column_stack([v, 0.01 * mesh.side, 0.01 * part])
    mirrored = key * np.array([-1.0, 1, 1, 1, 1])
    dist, idx = cKDTree(key).query(mirrored)
    if dist.max() > 1e-9 or not np.array_equal(idx[idx], np.arange(len(idx))):
        raise RuntimeError("the head mesh is not mirror-symmetric")
    flip = np.array([-1.0, 1.0, 1.0])

    def apply(a: np.ndarray) -> np.ndarray:
        f = a.reshape(v.shape[0], 3, -1)
        return (f[idx] * flip[None, :, None]).reshape(a.shape)

    return apply


# ------------------------------------------------------------------------- the build
def _joints_and_regressor(mesh: HeadMesh) -> tuple[np.ndarray, np.ndarray]:
    v = mesh.vertices
    skin = np.nonzero(mesh.part == PART_SKIN)[0]
    x, y, z = v[skin].T
    targets = {
        0: np.array([0.0, -0.128, -0.016]),
        1: np.array([0.0, -0.062, -0.020]),
        2: JAW_HINGE,
        3: EYE_CENTRE,
        4: EYE_CENTRE * np.array([-1.0, 1.0, 1.0]),
    }
    cand = {
        0: skin[(y < -0.115) & (y > -0.142)],
        1: skin[(y < -0.05) & (y > -0.075) & (z < 0.02)],
        # the jaw hinge sits between the two ear fronts; the skin there never moves with expressions
        2: skin[(np.abs(y - JAW_HINGE[1]) < 0.02) & (np.abs(x) > 0.06) & (np.abs(z - JAW_HINGE[2]) < 0.03)],
        3: np.nonzero(mesh.part == PART_LEFT_EYE)[0],
        4: np.nonzero(mesh.part == PART_RIGHT_EYE)[0],
    }
    reg = np.stack([regress_point(v, cand[j], targets[j]) for j in range(NUM_JOINTS)])
    return reg, reg @ v


def _expression_basis(fields: dict[str, np.ndarray], mesh: HeadMesh) -> tuple[np.ndarray, int]:
    """FLAME-style expression basis [V, 3, 100] spanning ``fields``; returns it and the spanning rank."""
    v = mesh.vertices.shape[0]
    names = sorted(fields)
    a = np.stack([fields[n].reshape(-1) for n in names], axis=1)  # [3V, K]
    # The shape set is mirror-symmetric, and left/right shapes with disjoint support give exactly
    # repeated singular values, whose singular vectors LAPACK may rotate arbitrarily. Splitting into
    # mirror-symmetric and -antisymmetric parts first makes every component well defined.
    mirror = mirror_operator(mesh)
    comps, sing, kind = [], [], []
    for parity in (1.0, -1.0):
        part = 0.5 * (a + parity * mirror(a))
        u, s, _ = np.linalg.svd(part, full_matrices=False)
        keep = s > 1e-9 * np.linalg.norm(a, 2)
        comps.append(u[:, keep])
        sing.append(s[keep])
        kind += [parity] * int(keep.sum())
    u, s = np.concatenate(comps, axis=1), np.concatenate(sing)
    # order by importance; ties (to 1e-9) keep symmetric before antisymmetric
    order = sorted(range(len(s)), key=lambda i: (-round(float(s[i] / s.max()), 9), -kind[i]))
    u, s = u[:, order], s[order]
    rank = len(s)
    u = u * _sign_convention(u)
    # exact zeros where no shape acts (LAPACK leaves ~1e-20 noise there, which compresses badly)
    u[~np.any(a != 0, axis=1)] = 0.0
    basis = [u * (s / EXPRESSION_COEF_NORM)]
    # filler components: small smooth bumps on the scalp and neck, where no semantic shape acts
    n_extra = NUM_EXPRESSION - rank
    golden = np.pi * (3.0 - np.sqrt(5.0))
    skin = (mesh.part == PART_SKIN).astype(float)
    centre = np.array([0.0, 0.0, -0.02])
    extras = []
    k = 0
    while len(extras) < n_extra:
        t = (k + 0.5) / (n_extra * 2)
        k += 1
        yy = 1 - 2 * t
        r = np.sqrt(1 - yy * yy)
        d = np.array([r * np.sin(golden * k), yy, r * np.cos(golden * k)])
        if d[2] > 0.05 and d[1] > -0.6:
            continue  # keep off the face
        c = centre + d * 0.1
        w = bump(mesh.vertices, tuple(c), (0.035, 0.035, 0.035)) * skin * (mesh.vertices[:, 2] < 0.02)
        if w.max() < 0.1:
            continue
        normal = mesh.vertices - centre
        normal /= np.linalg.norm(normal, axis=1, keepdims=True)
        extras.append((w[:, None] * normal).reshape(-1))
    ex = np.stack(extras, axis=1)
    ex -= u @ (u.T @ ex)
    q, _ = np.linalg.qr(ex)
    q = q * _sign_convention(q)
    scale = NUM_EXTRA_SCALE * np.linspace(1.0, 0.3, n_extra) / np.abs(q).max(axis=0)
    basis.append(q * scale)
    dirs = np.concatenate(basis, axis=1).reshape(v, 3, NUM_EXPRESSION)
    return dirs, rank


def build_rig() -> BuildResult:
    """Build the probtalk head rig in memory (deterministic)."""
    mesh = build_head_mesh()
    v = mesh.vertices
    nv = v.shape[0]
    weights = skinning_weights(mesh)
    regressor, joints = _joints_and_regressor(mesh)

    shapedirs = np.zeros((nv, 3, NUM_SHAPE))
    for k, fld in enumerate(identity_fields(mesh)):
        shapedirs[:, :, k] = fld

    ctx = ShapeContext(mesh, weights[:, J_JAW])
    fields = semantic_fields(ctx)
    exprdirs, rank = _expression_basis(fields, mesh)
    log.info("expression basis: %d semantic components + %d filler", rank, NUM_EXPRESSION - rank)
    flat = exprdirs.reshape(-1, NUM_EXPRESSION)
    names = sorted(fields)
    # the fields lie in the span of the first `rank` components; the filler ones get exactly zero
    sem = flat[:, :rank]
    coefs = np.zeros((NUM_EXPRESSION, len(names)))
    coefs[:rank] = np.linalg.solve(sem.T @ sem, sem.T @ np.stack([fields[n].reshape(-1) for n in names], axis=1))
    coef_of = {n: coefs[:, i] for i, n in enumerate(names)}

    k = len(ARKIT_NAMES)
    offsets = np.zeros((k, nv, 3))
    sem_expr = np.zeros((k, NUM_EXPRESSION))
    sem_jaw = np.zeros((k, 3))
    sem_eye = np.zeros((k, 6))
    for i, name in enumerate(ARKIT_NAMES):
        if name in JOINT_SHAPES:
            joint, aa = JOINT_SHAPES[name]
            base = v.copy()
            if name == "jawOpen":
                sem_expr[i] = coef_of["jawOpenCorrective"]
                base = v + (sem @ sem_expr[i, :rank]).reshape(nv, 3)
            if joint == J_JAW:
                sem_jaw[i] = aa
            else:
                sem_eye[i, 3 * (joint - J_LEYE) : 3 * (joint - J_LEYE) + 3] = aa
            offsets[i] = pose_one_joint(base, weights, joints, joint, np.asarray(aa)) - v
        else:
            sem_expr[i] = coef_of[name]
            offsets[i] = (sem @ sem_expr[i, :rank]).reshape(nv, 3)

    lmk_faces, lmk_bary = annotate.static_landmarks(mesh)
    dyn_faces, dyn_bary = annotate.dynamic_landmarks(mesh)
    rig = Rig(
        name=RIG_NAME,
        v_template=v,
        faces=mesh.faces,
        shapedirs=shapedirs,
        exprdirs=exprdirs,
        posedirs=np.zeros((nv, 3, (NUM_JOINTS - 1) * 9)),
        j_regressor=regressor,
        weights=weights,
        kintree_table=np.array(KINTREE_TABLE),
        lmk_faces_idx=lmk_faces,
        lmk_bary_coords=lmk_bary,
        regions=annotate.regions(mesh, weights),
        keypoints=annotate.keypoints(mesh),
        semantic_names=ARKIT_NAMES,
        semantic_offsets=offsets,
        semantic_expression=sem_expr,
        semantic_jaw=sem_jaw,
        semantic_eye=sem_eye,
    )
    return BuildResult(rig=rig, joints=joints, dynamic_faces=dyn_faces, dynamic_bary=dyn_bary)


def write_all(result: BuildResult, out_dir: str | Path = ASSETS_DIR) -> list[Path]:
    """Write the rig .npz, the FLAME-layout folder and the masks pickle into ``out_dir``."""
    out = Path(out_dir)
    (out / FLAME_DIR).mkdir(parents=True, exist_ok=True)
    paths = [result.rig.save(out / RIG_FILE)]
    paths += write_flame_files(result.rig, result.joints, result.dynamic_faces, result.dynamic_bary, out / FLAME_DIR, out / MASKS_FILE)
    return paths


def main(argv: list[str] | None = None) -> int:
    """Build and write the bundled rig (``python -m flame_assets.build [out_dir]``)."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = sys.argv[1:] if argv is None else argv
    out_dir = Path(args[0]) if args else ASSETS_DIR
    result = build_rig()
    for path in write_all(result, out_dir):
        log.info("wrote %s (%.1f MB)", path, path.stat().st_size / 1e6)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
