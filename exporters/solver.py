"""Bounded least-squares fit of ARKit weights to vertex offsets (the numerical core of the ARKit solve).

    min_W  sum_t ||B^T w_t - d_t||^2 + smoothing * sum_t ||w_t - w_{t-1}||^2,   0 <= W <= 1

Only vertices moved by some blendshape enter the solve (the others add a
constant), and the work happens on the K x K normal equations, so a 10 s
take solves in well under a second.
"""

from __future__ import annotations

import math

import numpy as np

from probtalk.arkit import ARKIT_INDEX, ARKIT_NAMES
from probtalk.errors import InputError, RigError

NUM_ARKIT = len(ARKIT_NAMES)
# Offsets below this (metres) count as "vertex not moved" when picking solve vertices.
ACTIVE_EPS = 1e-7


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


