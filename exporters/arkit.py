"""ARKit-52 curves solved from FLAME motion, retargeting, and their writers.

The FLAME motion of each frame is turned into vertex offsets from the neutral
head (:class:`probtalk.flame.FlameLayer`, neck excluded: head rotation is
exported separately), then explained by a blendshape set that shares the
mesh topology (by default the rig's own 52 semantic shapes) through bounded
least squares::

    min_W  sum_t ||B^T w_t - d_t||^2 + smoothing * sum_t ||w_t - w_{t-1}||^2,   0 <= W <= 1

Only vertices moved by some blendshape enter the solve (the others add a
constant), and the work happens on the K x K normal equations, so a 10 s
take solves in well under a second.

Writers: ``livelink`` (Unreal Live Link Face CSV, ``.csv``), ``arkit-json``
(``.json``) and ``curves-csv`` (frame, time, 52 named curves).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
from abc import abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from exporters.base import Writer, check_rig, register
from probtalk.animation import Animation
from probtalk.arkit import ARKIT_INDEX, ARKIT_NAMES, LIVE_LINK_FACE_NAMES, LIVE_LINK_FACE_ROTATIONS
from probtalk.errors import InputError, RigError
from probtalk.io import atomic_write_text

if TYPE_CHECKING:
    from probtalk.flame.rig import Rig

log = logging.getLogger(__name__)

NUM_ARKIT = len(ARKIT_NAMES)
LIVE_LINK_BLENDSHAPE_COUNT = NUM_ARKIT + len(LIVE_LINK_FACE_ROTATIONS)  # 61
NEUTRAL_STEMS = ("neutral", "base", "basis")
# Offsets below this (metres) count as "vertex not moved" when picking solve vertices.
ACTIVE_EPS = 1e-7


@dataclass
class ArkitCurves:
    """ARKit-52 curves of one take.

    Attributes:
        fps: frames per second.
        weights: float32 [T, 52] in [0, 1], columns in :data:`probtalk.arkit.ARKIT_NAMES` order.
        head: float32 [T, 3] head yaw, pitch, roll (radians) from the neck pose (zeros if none).
        left_eye: float32 [T, 3] left eye yaw, pitch, roll (radians).
        right_eye: float32 [T, 3] right eye yaw, pitch, roll (radians).
        residual: float32 [T] RMS vertex error of the fit per frame (metres, solve vertices only).
    """

    fps: float
    weights: np.ndarray
    head: np.ndarray
    left_eye: np.ndarray
    right_eye: np.ndarray
    residual: np.ndarray

    names = ARKIT_NAMES

    @property
    def num_frames(self) -> int:
        return int(self.weights.shape[0])


# ----------------------------------------------------------------- targets
def load_blendshape_targets(path: str | os.PathLike[str]) -> tuple[tuple[str, ...], np.ndarray]:
    """Read a user's blendshape set for retargeting.

    Args:
        path: a folder of OBJ files, one per shape named after its ARKit name
            (``jawOpen.obj`` or ``JawOpen.obj``) plus ``neutral.obj``, all with the
            same vertex order; or a ``.glb``/``.gltf`` whose first mesh has morph
            targets named in ``mesh.extras.targetNames``.

    Returns:
        names: the ARKit names found (canonical camelCase spelling), K of them.
        offsets: float32 [K, V, 3] vertex offsets of each shape from the neutral.

    Raises:
        InputError: missing path, no neutral, mismatched vertex counts, no ARKit names.
    """
    path = Path(path)
    if path.is_dir():
        names, offsets = _targets_from_obj_dir(path)
    elif path.is_file() and path.suffix.lower() in (".glb", ".gltf"):
        from exporters.gltf import read_morph_targets

        raw_names, raw = read_morph_targets(path)
        names, offsets = _keep_arkit(raw_names, list(raw), path)
    elif not path.exists():
        raise InputError(f"blendshape targets {path} not found; pass a folder of OBJ shapes or a .glb")
    else:
        raise InputError(f"blendshape targets {path} must be a folder of OBJ files or a .glb/.gltf file")
    return names, offsets


def _read_obj_vertices(path: Path) -> np.ndarray:
    """The ``v`` lines of an OBJ file as float64 [V, 3], in file order (no reordering or merging)."""
    rows = []
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("v "):
                    rows.append(line.split()[1:4])
        verts = np.asarray(rows, dtype=np.float64)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read OBJ {path} ({type(exc).__name__}); export it again as plain OBJ") from None
    if verts.ndim != 2 or verts.shape[0] == 0 or verts.shape[1] != 3:
        raise InputError(f"OBJ {path} holds no vertices; export it again as plain OBJ")
    return verts


def _targets_from_obj_dir(folder: Path) -> tuple[tuple[str, ...], np.ndarray]:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".obj")
    neutral = [p for p in files if p.stem.lower() in NEUTRAL_STEMS]
    if len(neutral) != 1:
        raise InputError(
            f"{folder} needs exactly one neutral OBJ named one of {', '.join(s + '.obj' for s in NEUTRAL_STEMS)}"
        )
    base = _read_obj_vertices(neutral[0])
    shapes = [p for p in files if p != neutral[0]]
    offsets = []
    for p in shapes:
        verts = _read_obj_vertices(p)
        if verts.shape != base.shape:
            raise InputError(
                f"{p.name} has {verts.shape[0]} vertices, {neutral[0].name} has {base.shape[0]}; "
                "every target must share the neutral's vertex order"
            )
        offsets.append(verts - base)
    return _keep_arkit([p.stem for p in shapes], offsets, folder)


def _keep_arkit(raw_names: list[str], offsets: list[np.ndarray], source: Path) -> tuple[tuple[str, ...], np.ndarray]:
    lookup = {n.lower(): n for n in ARKIT_NAMES}
    names: list[str] = []
    kept: list[np.ndarray] = []
    for raw, off in zip(raw_names, offsets, strict=True):
        canon = lookup.get(raw.strip().lower())
        if canon is None:
            log.warning("%s: %r is not an ARKit shape name; ignored", source, raw)
            continue
        if canon in names:
            raise InputError(f"{source} holds the ARKit shape {canon!r} twice; keep one")
        names.append(canon)
        kept.append(np.asarray(off, np.float32))
    if not names:
        raise InputError(f"{source} holds no shape named after an ARKit blendshape (e.g. jawOpen.obj)")
    return tuple(names), np.stack(kept).astype(np.float32)


# ------------------------------------------------------------------ solver
class ArkitSolver:
    """Bounded least-squares fit of ARKit weights to vertex offsets, factorised once per blendshape set.

    Args:
        names: the K shape names (ARKit names; a subset is fine, missing ones stay 0).
        offsets: float32 [K, V, 3] offsets of each shape at weight 1.
        smoothing: weight of the temporal term ``||w_t - w_{t-1}||^2`` relative to
            the data term (which is normalised per solve vertex coordinate).
    """

    def __init__(self, names: tuple[str, ...] | list[str], offsets: np.ndarray, smoothing: float = 0.0) -> None:
        offsets = np.asarray(offsets, np.float64)
        if offsets.ndim != 3 or offsets.shape[2] != 3 or offsets.shape[0] != len(names):
            raise RigError(f"blendshape offsets must be [K={len(names)}, V, 3], got {list(offsets.shape)}")
        if not math.isfinite(smoothing) or smoothing < 0:
            raise InputError(f"ARKit smoothing must be >= 0, got {smoothing}")
        self.names = tuple(names)
        self.columns = np.array([ARKIT_INDEX[n] for n in self.names], np.int64)
        self.num_vertices = offsets.shape[1]
        moved = np.abs(offsets).max(axis=(0, 2)) > ACTIVE_EPS
        if not moved.any():
            raise RigError("every blendshape offset is zero; the blendshape set cannot explain any motion")
        self.active = np.flatnonzero(moved)
        self.basis = offsets[:, self.active, :].reshape(len(self.names), -1)  # [K, 3Va]
        n = self.basis.shape[1]
        # Normalise the data term per coordinate so that `smoothing` means the same for any mesh size.
        self.scale = 1.0 / n
        gram = self.basis @ self.basis.T * self.scale
        ridge = 1e-9 * max(float(np.trace(gram)) / len(self.names), 1e-30)
        self.gram = gram + ridge * np.eye(len(self.names))
        # Smoothing is relative to the mean shape energy, so it means the same for any mesh scale.
        self.smoothing = float(smoothing) * float(np.trace(self.gram)) / len(self.names)
        self.eigval, self.eigvec = np.linalg.eigh(self.gram)
        self.chol = np.linalg.cholesky(self.gram).T  # upper R with R^T R = gram

    def solve(self, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fit weights to per-frame vertex offsets.

        Args:
            offsets: float [T, V, 3] vertex offsets from the neutral mesh.

        Returns:
            weights: float32 [T, 52] in [0, 1] (ARKIT_NAMES order; shapes the set lacks are 0);
            residual: float32 [T] RMS error per solve vertex coordinate (metres).
        """
        if offsets.ndim != 3 or offsets.shape[1:] != (self.num_vertices, 3):
            raise RigError(
                f"motion has {offsets.shape[1] if offsets.ndim == 3 else '?'} vertices, "
                f"the blendshape set {self.num_vertices}; use targets with the rig's topology"
            )
        return self.solve_active(offsets[:, self.active, :])

    def solve_active(self, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`solve` for offsets [T, Va, 3] of the solve vertices ``self.active`` only."""
        d = offsets.reshape(offsets.shape[0], -1).astype(np.float64)  # [T, 3Va]
        rhs = d @ self.basis.T * self.scale  # [T, K]
        w = self._unconstrained(rhs)
        if w.min() < 0.0 or w.max() > 1.0:
            w = self._bounded(rhs, w)
        w = np.clip(w, 0.0, 1.0)
        # mean squared residual = |d|^2 / n - 2 w.b + w^T G w  (G, b already divided by n)
        msr = np.einsum("tn,tn->t", d, d) * self.scale - 2.0 * np.einsum("tk,tk->t", w, rhs)
        msr += np.einsum("tk,kl,tl->t", w, self.gram, w)
        out = np.zeros((d.shape[0], NUM_ARKIT), np.float32)
        out[:, self.columns] = w
        return out, np.sqrt(np.maximum(msr, 0.0)).astype(np.float32)

    # The smoothed problem's Hessian is I (x) G + s * L (x) I with L the path Laplacian;
    # both factors diagonalise (G by eigh, L by the DCT-II basis), so it inverts exactly.
    def _unconstrained(self, rhs: np.ndarray) -> np.ndarray:
        if self.smoothing == 0.0 or rhs.shape[0] == 1:
            return np.linalg.solve(self.gram, rhs.T).T
        basis, mu = _dct_basis(rhs.shape[0])
        coef = basis.T @ rhs @ self.eigvec
        coef /= self.eigval[None, :] + self.smoothing * mu[:, None]
        return basis @ coef @ self.eigvec.T

    def _bounded(self, rhs: np.ndarray, w0: np.ndarray) -> np.ndarray:
        if self.smoothing == 0.0 or rhs.shape[0] == 1:
            w = w0.copy()
            bad = np.flatnonzero((w0 < 0.0).any(axis=1) | (w0 > 1.0).any(axis=1))
            if bad.size == 0:
                return w
            # Frames whose unconstrained optimum is feasible are already exact; the others are solved
            # together by projected Newton, then made exact on the active set it found (KKT checked).
            # A frame that fails the check goes to scipy's lsq_linear (BVLS).
            guess = self._projected_newton(rhs[bad], w0[bad].copy())
            for row, t in enumerate(bad):
                sol = self._polish(rhs[t], guess[row])
                w[t] = sol if sol is not None else self._bvls(rhs[t])
            return w
        return self._bounded_smooth(rhs, w0)

    def _bvls(self, rhs: np.ndarray) -> np.ndarray:
        """Exact bounded solve of one frame with scipy's BVLS on the K x K Cholesky system."""
        from scipy.optimize import lsq_linear

        # ||B^T w - d||^2 / n = ||R w - R^-T b||^2 + const, with R^T R = G.
        target = np.linalg.solve(self.chol.T, rhs)
        return lsq_linear(self.chol, target, bounds=(0.0, 1.0), method="bvls").x

    def _projected_newton(self, rhs: np.ndarray, x: np.ndarray, iters: int = 100) -> np.ndarray:
        """Batched projected Newton (Bertsekas 1982) on 0.5 w^T G w - b^T w over [0, 1]^K; rows [N, K] at once.

        Each step fixes the weights held at a bound by their gradient, takes the exact Newton step on the
        others (one batched K x K solve), and backtracks along the projection arc (Armijo). Unlike
        gradient methods it does not slow down on ill-conditioned (near-collinear) blendshape sets.
        """
        gram = self.gram
        k = gram.shape[0]
        diag = np.diag(gram)
        steps = 0.5 ** np.arange(30)
        tol = 1e-12 * max(float(np.abs(rhs).max()), 1e-30)

        x = np.clip(x, 0.0, 1.0)
        todo = np.arange(x.shape[0])
        for _ in range(iters):
            xs, bs = x[todo], rhs[todo]
            grad = xs @ gram - bs
            proj = xs - np.clip(xs - grad, 0.0, 1.0)
            live = np.abs(proj).max(axis=1) > tol
            if not live.any():
                break
            todo, xs, bs, grad, proj = todo[live], xs[live], bs[live], grad[live], proj[live]
            eps = np.minimum(1e-6, np.linalg.norm(proj, axis=1, keepdims=True))
            fixed = ((xs <= eps) & (grad > 0)) | ((xs >= 1.0 - eps) & (grad < 0))
            hess = np.where(fixed[:, :, None] | fixed[:, None, :], 0.0, gram[None])
            hess[:, np.arange(k), np.arange(k)] = np.where(fixed, 1.0, diag[None])
            step = np.linalg.solve(hess, np.where(fixed, 0.0, -grad)[..., None])[..., 0]
            step = np.where(fixed, -grad / diag[None], step)
            cand = np.clip(xs[None] + steps[:, None, None] * step[None], 0.0, 1.0)  # [A, N, K]
            f0 = 0.5 * np.einsum("nk,nk->n", xs @ gram, xs) - np.einsum("nk,nk->n", xs, bs)
            fc = 0.5 * np.einsum("ank,ank->an", cand @ gram, cand) - np.einsum("ank,nk->an", cand, bs)
            ok = f0[None] - fc >= 1e-4 * np.einsum("nk,ank->an", grad, xs[None] - cand)
            first = np.argmax(ok, axis=0)
            moved = ok.any(axis=0)
            x[todo[moved]] = cand[first[moved], np.flatnonzero(moved)]
            todo = todo[moved]
            if todo.size == 0:
                break
        return x

    def _polish(self, rhs: np.ndarray, guess: np.ndarray, tol: float = 1e-6) -> np.ndarray | None:
        """Exact solution for the active set implied by ``guess`` [K], or None when KKT fails."""
        lower, upper = guess <= tol, guess >= 1.0 - tol
        free = ~(lower | upper)
        w = np.where(upper, 1.0, 0.0)
        if free.any():
            g_ff = self.gram[np.ix_(free, free)]
            w[free] = np.linalg.solve(g_ff, rhs[free] - self.gram[np.ix_(free, upper)] @ w[upper])
            if w[free].min() < -1e-9 or w[free].max() > 1.0 + 1e-9:
                return None
        grad = self.gram @ w - rhs
        scale = max(float(np.abs(rhs).max()), 1e-30)
        if (grad[lower] < -1e-7 * scale).any() or (grad[upper] > 1e-7 * scale).any():
            return None
        return w

    def _bounded_smooth(self, rhs: np.ndarray, w0: np.ndarray, iters: int = 3000) -> np.ndarray:
        """FISTA on the smoothed problem over all frames at once (its Hessian couples neighbouring frames)."""
        lam = self.smoothing
        step = 1.0 / (float(self.eigval[-1]) + 4.0 * lam)
        x = np.clip(w0, 0.0, 1.0)
        y, t = x.copy(), 1.0
        for _ in range(iters):
            lap = np.zeros_like(y)
            lap[1:] += y[1:] - y[:-1]
            lap[:-1] += y[:-1] - y[1:]
            x_new = np.clip(y - (y @ self.gram - rhs + lam * lap) * step, 0.0, 1.0)
            t_new = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t * t))
            y = x_new + ((t - 1.0) / t_new) * (x_new - x)
            if np.abs(x_new - x).max() < 1e-7:
                return x_new
            x, t = x_new, t_new
        return x


def _dct_basis(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Orthonormal eigenvectors [n, n] and eigenvalues [n] of the path-graph Laplacian (DCT-II)."""
    j = np.arange(n)
    basis = np.cos(np.pi * (j[:, None] + 0.5) * j[None, :] / n)
    basis /= np.linalg.norm(basis, axis=0, keepdims=True)
    return basis, 2.0 - 2.0 * np.cos(np.pi * j / n)


def motion_offsets(animation: Animation, rig: Rig, vertices: np.ndarray | None = None, chunk: int = 256) -> np.ndarray:
    """FLAME vertex offsets float32 [T, N, 3] of each frame from the neutral head.

    Expression, jaw and eye poses are applied (smplx's LBS, pose correctives
    included); identity shape and neck are not (the blendshapes are measured
    on the neutral template, and head rotation is exported as separate curves).

    Args:
        animation: the take.
        rig: the FLAME head.
        vertices: int [N] vertex indices to return (all V if None). Only these
            and the joint regressor's support are posed, which is exact and fast.
    """
    import torch
    from smplx.lbs import lbs

    check_rig(animation, rig)
    want = np.arange(rig.num_vertices) if vertices is None else np.asarray(vertices, np.int64)
    support = np.union1d(want, np.flatnonzero(np.abs(rig.j_regressor).sum(axis=0) > 0))
    pick = np.searchsorted(support, want)
    width = animation.expression.shape[1]
    t = torch.from_numpy
    template = t(np.ascontiguousarray(rig.v_template[support]))
    dirs = t(np.ascontiguousarray(rig.exprdirs[support][:, :, :width]))
    posedirs = t(np.ascontiguousarray(rig.posedirs[support].reshape(len(support) * 3, -1).T))
    regressor = t(np.ascontiguousarray(rig.j_regressor[:, support]))
    weights = t(np.ascontiguousarray(rig.weights[support]))
    parents = t(rig.parents.copy())
    out = np.empty((animation.num_frames, len(want), 3), np.float32)
    with torch.no_grad():
        for a in range(0, animation.num_frames, chunk):
            b = min(a + chunk, animation.num_frames)
            pose = torch.zeros(b - a, 3 * len(rig.parents))
            pose[:, 6:9] = t(animation.jaw_pose[a:b])  # joints: global, neck, jaw, eyes
            if animation.eye_pose is not None:
                pose[:, 9:15] = t(animation.eye_pose[a:b])
            verts, _ = lbs(t(np.ascontiguousarray(animation.expression[a:b])), pose, template, dirs, posedirs,
                           regressor, parents, weights, pose2rot=True)
            out[a:b] = (verts - template)[:, pick].numpy()
    return out


def rig_targets(rig: Rig) -> tuple[tuple[str, ...], np.ndarray]:
    """The rig's own ARKit shapes (names, float32 [K, V, 3] offsets); RigError if it has none."""
    if not rig.has_semantic_shapes:
        raise RigError(f"rig {rig.name} has no semantic (ARKit) shapes; pass --targets with your blendshape set")
    lookup = {n.lower(): n for n in ARKIT_NAMES}
    keep = [i for i, n in enumerate(rig.semantic_names) if n.lower() in lookup]
    if not keep:
        raise RigError(f"rig {rig.name} has no shape named after an ARKit blendshape")
    names = tuple(lookup[rig.semantic_names[i].lower()] for i in keep)
    assert rig.semantic_offsets is not None
    return names, rig.semantic_offsets[keep]


def _euler(rotvec: np.ndarray | None, frames: int) -> np.ndarray:
    """Yaw (about +Y), pitch (about +X), roll (about +Z) radians [T, 3] from axis-angle [T, 3]."""
    if rotvec is None:
        return np.zeros((frames, 3), np.float32)
    from scipy.spatial.transform import Rotation

    return Rotation.from_rotvec(np.asarray(rotvec, np.float64)).as_euler("YXZ").astype(np.float32)


def solve_arkit(
    animation: Animation,
    rig: Rig | None = None,
    targets: str | os.PathLike[str] | tuple[tuple[str, ...], np.ndarray] | None = None,
    smoothing: float = 0.0,
) -> ArkitCurves:
    """Solve ARKit-52 curves for ``animation``.

    Args:
        animation: the FLAME take.
        rig: the FLAME head (bundled one if None).
        targets: a blendshape set sharing the rig's topology to retarget onto: a path
            (see :func:`load_blendshape_targets`) or ``(names, offsets [K, V, 3])``;
            ``None`` uses the rig's own semantic shapes.
        smoothing: temporal smoothing weight (0 = independent frames).

    Returns:
        The curves, weights in [0, 1].
    """
    if rig is None:
        from probtalk.flame import load_rig

        rig = load_rig()
    if targets is None:
        names, offsets = rig_targets(rig)
    elif isinstance(targets, tuple):
        names, offsets = targets
    else:
        names, offsets = load_blendshape_targets(targets)
    if np.asarray(offsets).shape[1] != rig.num_vertices:
        raise RigError(
            f"blendshape set has {np.asarray(offsets).shape[1]} vertices, rig {rig.name} has {rig.num_vertices}; "
            "targets must share the rig's vertex order"
        )
    solver = ArkitSolver(names, offsets, smoothing)
    weights, residual = solver.solve_active(motion_offsets(animation, rig, solver.active))
    eyes = animation.eye_pose
    t = animation.num_frames
    return ArkitCurves(
        fps=animation.fps,
        weights=weights,
        head=_euler(animation.neck_pose, t),
        left_eye=_euler(None if eyes is None else eyes[:, :3], t),
        right_eye=_euler(None if eyes is None else eyes[:, 3:], t),
        residual=residual,
    )


# ----------------------------------------------------------------- writers
def live_link_timecode(frame: int, fps: float) -> str:
    """Live Link Face timecode ``HH:MM:SS:FF.mmm`` of ``frame`` at ``fps`` (mmm = sub-frame, thousandths)."""
    nominal = round(fps)
    if abs(fps - nominal) < 1e-9 and nominal > 0:
        seconds, ff, sub = frame // nominal, frame % nominal, 0
    else:
        t = frame / fps
        seconds = int(math.floor(t + 1e-9))
        pos = (t - seconds) * fps
        ff = int(math.floor(pos + 1e-6))
        sub = min(int(round((pos - ff) * 1000)), 999)
    hh, rem = divmod(seconds, 3600)
    mm, ss = divmod(rem, 60)
    return f"{hh:02d}:{mm:02d}:{ss:02d}:{ff:02d}.{sub:03d}"


def live_link_header() -> list[str]:
    """The Live Link Face CSV header: Timecode, BlendShapeCount, 52 curves, 9 rotations."""
    return ["Timecode", "BlendShapeCount", *LIVE_LINK_FACE_NAMES, *LIVE_LINK_FACE_ROTATIONS]


def curves_to_live_link_csv(curves: ArkitCurves) -> str:
    """Live Link Face CSV text of ``curves`` (columns in the app's order, rotations in radians)."""
    order = [ARKIT_INDEX[n[0].lower() + n[1:]] for n in LIVE_LINK_FACE_NAMES]
    rot = np.concatenate([curves.head, curves.left_eye, curves.right_eye], axis=1)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(live_link_header())
    for i in range(curves.num_frames):
        row = [live_link_timecode(i, curves.fps), str(LIVE_LINK_BLENDSHAPE_COUNT)]
        row += [f"{v:.6f}" for v in curves.weights[i, order]]
        row += [f"{v:.6f}" for v in rot[i]]
        writer.writerow(row)
    return buf.getvalue()


class _CurvesWriter(Writer):
    """Shared options of the ARKit curve writers."""

    def __init__(
        self,
        rig: Rig | None = None,
        *,
        targets: str | os.PathLike[str] | None = None,
        arkit_smoothing: float = 0.0,
    ) -> None:
        super().__init__(rig)
        self.targets = targets
        self.smoothing = float(arkit_smoothing)
        if not math.isfinite(self.smoothing) or self.smoothing < 0:
            raise InputError(f"arkit_smoothing must be >= 0, got {arkit_smoothing}")

    def curves(self, animation: Animation) -> ArkitCurves:
        return solve_arkit(animation, self.rig, self.targets, self.smoothing)

    def _write(self, animation: Animation, path: Path) -> None:
        atomic_write_text(path, self.render(self.curves(animation)))

    @abstractmethod
    def render(self, curves: ArkitCurves) -> str:
        """The file's text for ``curves`` (each curve format defines its own)."""


@register
class LiveLinkWriter(_CurvesWriter):
    """Unreal Live Link Face CSV (importable by the LiveLinkFaceImporter plugin)."""

    name = "livelink"
    suffixes = (".csv",)
    description = "Unreal Live Link Face CSV of the ARKit-52 curves + head/eye rotations"

    def render(self, curves: ArkitCurves) -> str:
        return curves_to_live_link_csv(curves)


@register
class ArkitJsonWriter(_CurvesWriter):
    """``{"fps", "names", "frames": [[52 weights] per frame], "head", "left_eye", "right_eye"}``."""

    name = "arkit-json"
    suffixes = (".json",)
    description = "ARKit-52 curves as JSON (fps, names, frames)"

    def render(self, curves: ArkitCurves) -> str:
        doc: dict[str, Any] = {
            "fps": curves.fps,
            "names": list(ARKIT_NAMES),
            "frames": np.round(curves.weights.astype(np.float64), 6).tolist(),
            "rotation_names": ["yaw", "pitch", "roll"],
            "head": np.round(curves.head.astype(np.float64), 6).tolist(),
            "left_eye": np.round(curves.left_eye.astype(np.float64), 6).tolist(),
            "right_eye": np.round(curves.right_eye.astype(np.float64), 6).tolist(),
        }
        return json.dumps(doc, separators=(",", ":"))


@register
class CurvesCsvWriter(_CurvesWriter):
    """Plain CSV ``frame,time,<52 ARKit names>`` for Unity/Maya importers."""

    name = "curves-csv"
    suffixes = (".curves.csv",)
    description = "ARKit-52 curves as plain CSV (frame, time, 52 named columns)"

    def render(self, curves: ArkitCurves) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["frame", "time", *ARKIT_NAMES])
        for i in range(curves.num_frames):
            writer.writerow([i, f"{i / curves.fps:.6f}", *(f"{v:.6f}" for v in curves.weights[i])])
        return buf.getvalue()
