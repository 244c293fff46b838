"""Named vertex regions, keypoints and landmark embeddings of the probtalk head."""

from __future__ import annotations

import numpy as np

from flame_assets.head_mesh import (
    EYE_CENTRE,
    MOUTH_HALF_WIDTH,
    MOUTH_Y,
    NUM_COLS,
    PART_BAG,
    PART_LEFT_EYE,
    PART_LOWER_TEETH,
    PART_RIGHT_EYE,
    PART_SKIN,
    PART_TONGUE,
    PART_UPPER_TEETH,
    HeadMesh,
    lid_profile,
)
from flame_assets.shapes import J_JAW, bump

NUM_STATIC_LANDMARKS = 51
NUM_CONTOUR = 17
NUM_YAW_BINS = 79  # FLAME's dynamic contour: one set per degree of yaw in [-39, 39]


def regions(mesh: HeadMesh, weights: np.ndarray) -> dict[str, np.ndarray]:
    """Named vertex index sets (int64, sorted)."""
    p = mesh.vertices
    x, y, z = p.T
    skin = mesh.part == PART_SKIN
    # the red of the lips: an ellipse around the slit, taller below (the lower lip is fuller)
    half_h = np.where(y > MOUTH_Y, 0.0095, 0.0112)
    lips = skin & ((x / (MOUTH_HALF_WIDTH + 0.0015)) ** 2 + ((y - MOUTH_Y) / half_h) ** 2 < 1.0) & (z > 0.07)
    left_eye = skin & (bump(p, tuple(EYE_CENTRE), (0.024, 0.017, 0.03)) > 0)
    right_eye = skin & (bump(p, tuple(EYE_CENTRE * np.array([-1.0, 1.0, 1.0])), (0.024, 0.017, 0.03)) > 0)
    nose = skin & (bump(p, (0.0, 0.0, 0.10), (0.024, 0.036, 0.04)) > 0) & (y > -0.030) & (y < 0.035)
    face = skin & (z > 0.012) & (y > -0.118) & (y < 0.085) & (np.abs(x) < 0.066)
    upper_face = face & (y > 0.010)
    forehead = face & (y > 0.052)
    inner = np.isin(mesh.part, (PART_BAG, PART_UPPER_TEETH, PART_LOWER_TEETH, PART_TONGUE))
    eyeballs = np.isin(mesh.part, (PART_LEFT_EYE, PART_RIGHT_EYE))
    sets = {
        "lips": lips,
        "upper_face": upper_face & ~eyeballs,
        "eyes": eyeballs,
        "left_eyeball": mesh.part == PART_LEFT_EYE,
        "right_eyeball": mesh.part == PART_RIGHT_EYE,
        "face": face,
        "irises": eyeballs & (_cornea_cos(mesh) > np.cos(np.deg2rad(34.0))),
        "forehead": forehead,
        "mouth_interior": inner,
        "mouth_bag": mesh.part == PART_BAG,
        "teeth": np.isin(mesh.part, (PART_UPPER_TEETH, PART_LOWER_TEETH)),
        "tongue": mesh.part == PART_TONGUE,
        "left_eye_region": left_eye,
        "right_eye_region": right_eye,
        "nose": nose,
        "jaw": skin & (weights[:, J_JAW] > 0.5),
        "neck": skin & (y < -0.105) & (z < 0.035),
        "scalp": skin & ~face & (y > 0.0) & (np.abs(x) < 0.07),
    }
    return {k: np.nonzero(m)[0].astype(np.int64) for k, m in sets.items()}


def _cornea_cos(mesh: HeadMesh) -> np.ndarray:
    """Cosine of each vertex's angle from its eyeball's gaze axis (+z at rest); 0 off the eyeballs."""
    out = np.zeros(mesh.vertices.shape[0])
    for pid, sign in ((PART_LEFT_EYE, 1.0), (PART_RIGHT_EYE, -1.0)):
        sel = mesh.part == pid
        d = mesh.vertices[sel] - EYE_CENTRE * np.array([sign, 1.0, 1.0])
        out[sel] = d[:, 2] / np.linalg.norm(d, axis=1)
    return out


def _eye_centre_col(mesh: HeadMesh, eye: str) -> int:
    cut = mesh.cuts[eye]
    cols = np.arange(cut.col0 + 1, cut.col1)
    return int(cols[np.argmax(lid_profile(mesh.phi[cols], eye))])


def keypoints(mesh: HeadMesh) -> dict[str, int]:
    """Named single vertices: lip centres, lid centres, mouth corners, nose tip, chin."""
    nc = NUM_COLS
    mid = nc // 2
    mouth = mesh.cuts["mouth"]
    out = {
        "upper_lip": mouth.row * nc + mid,
        "lower_lip": mouth.lower[mid],
        "mouth_corner_left": mouth.row * nc + mouth.col1,
        "mouth_corner_right": mouth.row * nc + mouth.col0,
    }
    for eye, prefix in (("left_eye", "left"), ("right_eye", "right")):
        col = _eye_centre_col(mesh, eye)
        cut = mesh.cuts[eye]
        out[f"{prefix}_upper_lid"] = cut.row * nc + col
        out[f"{prefix}_lower_lid"] = cut.lower[col]
    midline = np.nonzero((mesh.grid_rc[:, 1] == mid) & (mesh.part == PART_SKIN))[0]
    v = mesh.vertices
    out["nose_tip"] = int(midline[np.argmax(v[midline, 2])])
    front = midline[v[midline, 2] > 0.04]
    out["chin"] = int(front[np.argmin(v[front, 1])])
    return {k: int(i) for k, i in out.items()}


def _nearest_front(mesh: HeadMesh, x: float, y: float) -> int:
    """The front-facing skin grid vertex nearest to (x, y) in the image plane."""
    v = mesh.vertices
    cand = np.nonzero((mesh.part == PART_SKIN) & (mesh.grid_rc[:, 0] >= 0) & (v[:, 2] > 0.03))[0]
    d = (v[cand, 0] - x) ** 2 + (v[cand, 1] - y) ** 2 - 1e-3 * v[cand, 2]
    return int(cand[np.argmin(d)])


def _on_vertex(faces: np.ndarray, vid: int) -> tuple[int, np.ndarray]:
    fi = int(np.nonzero((faces == vid).any(axis=1))[0][0])
    return fi, (faces[fi] == vid).astype(np.float64)


def _lip_line(mesh: HeadMesh, frac: list[float], upper: bool, inner: bool) -> list[int]:
    """Vertices along a lip contour at fractions of the slit from the right corner (0) to the left (1)."""
    nc = NUM_COLS
    cut = mesh.cuts["mouth"]
    out = []
    for f in frac:
        col = int(round(cut.col0 + f * (cut.col1 - cut.col0)))
        if inner:
            out.append(cut.row * nc + col if upper or col in (cut.col0, cut.col1) else cut.lower[col])
        else:
            # the outer lip contour: the lip's vermilion border, 2-3 rows away from the slit
            rows = 2 if upper else 3
            out.append((cut.row - rows) * nc + col if upper else (cut.row + rows) * nc + col)
    return out


def _eye_line(mesh: HeadMesh, eye: str, order: list[tuple[float, str]]) -> list[int]:
    nc = NUM_COLS
    cut = mesh.cuts[eye]
    out = []
    for f, which in order:
        col = int(round(cut.col0 + f * (cut.col1 - cut.col0)))
        if which == "corner" or col in (cut.col0, cut.col1):
            out.append(cut.row * nc + col)
        else:
            out.append(cut.row * nc + col if which == "upper" else cut.lower[col])
    return out


def static_landmarks(mesh: HeadMesh) -> tuple[np.ndarray, np.ndarray]:
    """51 landmarks in the iBUG-68 order without the contour (FLAME's static embedding)."""
    ids: list[int] = []
    brow_y = 0.047
    for bx in (-0.052, -0.043, -0.033, -0.023, -0.013, 0.013, 0.023, 0.033, 0.043, 0.052):
        ids.append(_nearest_front(mesh, bx, brow_y + 0.002 * (1 - abs(abs(bx) - 0.033) / 0.02)))
    for ny in (0.030, 0.017, 0.004, -0.009):
        ids.append(_nearest_front(mesh, 0.0, ny))
    for nx in (-0.011, -0.0055, 0.0, 0.0055, 0.011):
        ids.append(_nearest_front(mesh, nx, -0.021 + 0.002 * (abs(nx) > 0.008)))
    # right eye (-x): outer corner, upper outer, upper inner, inner corner, lower inner, lower outer
    ids += _eye_line(mesh, "right_eye", [(0.0, "corner"), (0.3, "upper"), (0.65, "upper"), (1.0, "corner"), (0.65, "lower"), (0.3, "lower")])
    # left eye (+x): inner corner, upper inner, upper outer, outer corner, lower outer, lower inner
    ids += _eye_line(mesh, "left_eye", [(0.0, "corner"), (0.35, "upper"), (0.7, "upper"), (1.0, "corner"), (0.7, "lower"), (0.35, "lower")])
    cut = mesh.cuts["mouth"]
    nc = NUM_COLS
    ids.append(cut.row * nc + cut.col0)  # 48 right corner
    ids += _lip_line(mesh, [0.18, 0.36, 0.5, 0.64, 0.82], upper=True, inner=False)  # 49-53
    ids.append(cut.row * nc + cut.col1)  # 54 left corner
    ids += _lip_line(mesh, [0.82, 0.64, 0.5, 0.36, 0.18], upper=False, inner=False)  # 55-59
    ids += _lip_line(mesh, [0.06], upper=True, inner=True)  # 60
    ids += _lip_line(mesh, [0.3, 0.5, 0.7], upper=True, inner=True)  # 61-63
    ids += _lip_line(mesh, [0.94], upper=True, inner=True)  # 64
    ids += _lip_line(mesh, [0.7, 0.5, 0.3], upper=False, inner=True)  # 65-67
    if len(ids) != NUM_STATIC_LANDMARKS:
        raise RuntimeError(f"built {len(ids)} landmarks, expected {NUM_STATIC_LANDMARKS}")
    pairs = [_on_vertex(mesh.faces, i) for i in ids]
    return np.array([p[0] for p in pairs], np.int64), np.stack([p[1] for p in pairs])


def dynamic_landmarks(mesh: HeadMesh) -> tuple[np.ndarray, np.ndarray]:
    """FLAME's dynamic face contour: 17 jaw-line points for each of 79 yaw bins.

    The contour of this head is taken along the jaw line for every bin (a fixed
    contour), which keeps the file layout that ``smplx`` expects.
    """
    v = mesh.vertices
    cand = np.nonzero((mesh.part == PART_SKIN) & (mesh.grid_rc[:, 0] >= 0))[0]
    ang = np.arctan2(v[cand, 0], v[cand, 2])
    ids = []
    for k in range(NUM_CONTOUR):
        a = np.deg2rad(-80.0 + 160.0 * k / (NUM_CONTOUR - 1))
        target_y = -0.104 + 0.09 * (abs(a) / np.deg2rad(80.0)) ** 1.6
        score = np.abs(ang - a) * 0.05 + np.abs(v[cand, 1] - target_y)
        ids.append(int(cand[np.argmin(score)]))
    pairs = [_on_vertex(mesh.faces, i) for i in ids]
    faces = np.tile(np.array([p[0] for p in pairs], np.int64), (NUM_YAW_BINS, 1))
    bary = np.tile(np.stack([p[1] for p in pairs])[None], (NUM_YAW_BINS, 1, 1))
    return faces, bary
