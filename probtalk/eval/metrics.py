"""The paper's vertex metrics (ProbTalk3D, after FaceFormer and CodeTalker).

Every function is pure: it takes numpy arrays or torch tensors of vertices
(metres) computed by :class:`probtalk.flame.FlameLayer` with identity shape,
neck, eye and global pose zeroed (only expression and jaw move), and returns
plain floats. Computation is done in float64 numpy.

Shapes: ``T`` frames, ``V`` vertices, ``N`` takes (samples) of one sequence.
Lip and upper-face vertex sets come from ``rig.region("lips")`` and
``rig.region("upper_face")``.

Definitions (as in the paper's ``evaluation.py``):

* MVE: mean over frames and vertices of ``||pred - gt||``.
* LVE: per frame, max over lip vertices of ``||pred - gt||^2``; mean over frames.
* MEE: LVE of the mean of the N takes.
* CE: LVE of the closest take (the one with the smallest LVE).
* FDD: per upper-face vertex, std over time of the displacement from the
  template (squared norm, as the paper's code); mean over vertices of
  ``std_gt - std_pred`` (signed) and of ``|std_gt - std_pred|`` (absolute).
* Diversity: split the takes into two halves, pair them, average over pairs
  of the mean (over frames and vertices) L2 distance between paired takes.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

ArrayLike = Any  # numpy array or torch tensor


def as_numpy(x: ArrayLike) -> np.ndarray:
    """Return ``x`` (numpy array, torch tensor or nested list) as a float64 numpy array."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def _check_vertices(name: str, x: np.ndarray) -> None:
    if x.ndim != 3 or x.shape[-1] != 3:
        raise ValueError(f"{name} must be vertices [T, V, 3], got {list(x.shape)}")


def _check_pair(pred: np.ndarray, gt: np.ndarray) -> None:
    _check_vertices("pred", pred)
    _check_vertices("gt", gt)
    if pred.shape != gt.shape:
        raise ValueError(f"pred {list(pred.shape)} and gt {list(gt.shape)} differ; trim both to the same length")


def _stack_takes(takes: ArrayLike) -> np.ndarray:
    if isinstance(takes, (list, tuple)):
        arr = np.stack([as_numpy(t) for t in takes])
    else:
        arr = as_numpy(takes)
    if arr.ndim != 4 or arr.shape[-1] != 3 or arr.shape[0] < 1:
        raise ValueError(f"takes must be [N, T, V, 3] with N >= 1, got {list(arr.shape)}")
    return arr


def mve(pred: ArrayLike, gt: ArrayLike) -> float:
    """Mean vertex error.

    Args:
        pred: [T, V, 3] predicted vertices.
        gt: [T, V, 3] ground-truth vertices.

    Returns:
        Mean over frames and vertices of the L2 distance (metres).
    """
    p, g = as_numpy(pred), as_numpy(gt)
    _check_pair(p, g)
    return float(np.linalg.norm(p - g, axis=-1).mean())


def lve_per_frame(pred: ArrayLike, gt: ArrayLike, lip_idx: ArrayLike) -> np.ndarray:
    """Per-frame lip error: max over lip vertices of the squared L2 distance.

    Args:
        pred: [T, V, 3] predicted vertices.
        gt: [T, V, 3] ground-truth vertices.
        lip_idx: [L] lip vertex indices.

    Returns:
        float64 [T] (square metres).
    """
    p, g = as_numpy(pred), as_numpy(gt)
    _check_pair(p, g)
    idx = np.asarray(lip_idx, dtype=np.int64).ravel()
    if idx.size == 0:
        raise ValueError("lip_idx is empty; the rig needs a non-empty 'lips' region")
    sq = np.sum(np.square(p[:, idx] - g[:, idx]), axis=-1)  # [T, L]
    return sq.max(axis=1)


def lve(pred: ArrayLike, gt: ArrayLike, lip_idx: ArrayLike) -> float:
    """Lip vertex error: :func:`lve_per_frame` averaged over frames (square metres)."""
    return float(lve_per_frame(pred, gt, lip_idx).mean())


def mee_per_frame(takes: ArrayLike, gt: ArrayLike, lip_idx: ArrayLike) -> np.ndarray:
    """Per-frame LVE of the mean of the takes.

    Args:
        takes: [N, T, V, 3] (or a list of N [T, V, 3]) predicted takes.
        gt: [T, V, 3] ground-truth vertices.
        lip_idx: [L] lip vertex indices.

    Returns:
        float64 [T].
    """
    return lve_per_frame(_stack_takes(takes).mean(axis=0), gt, lip_idx)


def mee(takes: ArrayLike, gt: ArrayLike, lip_idx: ArrayLike) -> float:
    """Mean estimate error: LVE of the mean of N takes (square metres)."""
    return float(mee_per_frame(takes, gt, lip_idx).mean())


def ce_per_frame(takes: ArrayLike, gt: ArrayLike, lip_idx: ArrayLike) -> np.ndarray:
    """Per-frame LVE of the closest take (the take whose LVE is smallest).

    Args:
        takes: [N, T, V, 3] (or a list of N [T, V, 3]) predicted takes.
        gt: [T, V, 3] ground-truth vertices.
        lip_idx: [L] lip vertex indices.

    Returns:
        float64 [T].
    """
    arr = _stack_takes(takes)
    per_take = [lve_per_frame(take, gt, lip_idx) for take in arr]
    best = int(np.argmin([f.sum() for f in per_take]))
    return per_take[best]


def ce(takes: ArrayLike, gt: ArrayLike, lip_idx: ArrayLike) -> float:
    """Closest error: LVE of the take closest to the ground truth (square metres)."""
    return float(ce_per_frame(takes, gt, lip_idx).mean())


def upper_face_dynamics(vertices: ArrayLike, template: ArrayLike, upper_idx: ArrayLike) -> np.ndarray:
    """Per upper-face vertex, std over time of the squared displacement from the template.

    Args:
        vertices: [T, V, 3] vertices.
        template: [V, 3] neutral vertices (the rig template, zero shape).
        upper_idx: [U] upper-face vertex indices.

    Returns:
        float64 [U] (square metres).
    """
    v = as_numpy(vertices)
    _check_vertices("vertices", v)
    tmpl = as_numpy(template)
    if tmpl.shape != v.shape[1:]:
        raise ValueError(f"template must be [V, 3] = {list(v.shape[1:])}, got {list(tmpl.shape)}")
    idx = np.asarray(upper_idx, dtype=np.int64).ravel()
    if idx.size == 0:
        raise ValueError("upper_idx is empty; the rig needs a non-empty 'upper_face' region")
    disp = np.sum(np.square(v[:, idx] - tmpl[idx]), axis=-1)  # [T, U]
    return disp.std(axis=0)


class FDD(NamedTuple):
    """Upper-face dynamics deviation of one sequence (square metres)."""

    signed: float
    absolute: float


def fdd(pred: ArrayLike, gt: ArrayLike, template: ArrayLike, upper_idx: ArrayLike) -> FDD:
    """Upper-face dynamics deviation.

    Args:
        pred: [T, V, 3] predicted vertices.
        gt: [T, V, 3] ground-truth vertices.
        template: [V, 3] neutral vertices.
        upper_idx: [U] upper-face vertex indices.

    Returns:
        ``FDD(signed, absolute)``: mean over upper-face vertices of
        ``std_gt - std_pred`` and of ``|std_gt - std_pred|``. Positive signed
        values mean the prediction's upper face moves less than the truth.
    """
    p, g = as_numpy(pred), as_numpy(gt)
    _check_pair(p, g)
    diff = upper_face_dynamics(g, template, upper_idx) - upper_face_dynamics(p, template, upper_idx)
    return FDD(signed=float(diff.mean()), absolute=float(np.abs(diff).mean()))


def diversity(takes: ArrayLike) -> float:
    """Mean distance between takes: first half paired with second half.

    Args:
        takes: [N, T, V, 3] (or a list of N [T, V, 3]), N >= 2. The paper
            shuffles the takes first; takes from a sampler are already in
            random order, so they are paired as given (take i with take
            i + N // 2). With odd N the last take is left out.

    Returns:
        Mean over the N // 2 pairs of the mean (over frames and vertices)
        L2 distance between the paired takes (metres).
    """
    arr = _stack_takes(takes)
    half = arr.shape[0] // 2
    if half < 1:
        raise ValueError("diversity needs at least 2 takes")
    dist = np.linalg.norm(arr[:half] - arr[half : 2 * half], axis=-1)  # [N/2, T, V]
    return float(dist.mean(axis=(1, 2)).mean())
