"""A tiny FLAME-layout rig for exporter tests (a few hundred vertices, random small bases, 52 ARKit shapes)."""

from __future__ import annotations

import numpy as np

from probtalk.arkit import ARKIT_NAMES
from probtalk.flame.rig import Rig
from probtalk.layout import KINTREE_TABLE, NUM_EXPRESSION, NUM_JOINTS, NUM_SHAPE


def make_tiny_rig(rings: int = 12, segments: int = 20, seed: int = 0) -> Rig:
    rng = np.random.default_rng(seed)
    theta = np.linspace(0.15, np.pi - 0.15, rings)
    phi = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    t, p = np.meshgrid(theta, phi, indexing="ij")
    verts = np.stack([0.09 * np.sin(t) * np.sin(p), 0.12 * np.cos(t), 0.1 * np.sin(t) * np.cos(p)], -1).reshape(-1, 3)
    faces = []
    for r in range(rings - 1):
        for s in range(segments):
            a, b = r * segments + s, r * segments + (s + 1) % segments
            c, d = a + segments, b + segments
            faces += [(a, c, b), (b, c, d)]
    v = verts.shape[0]
    y = verts[:, 1]
    weights = np.zeros((v, NUM_JOINTS), np.float32)
    weights[:, 1] = 1.0
    lower = y < -0.03
    weights[lower, 1], weights[lower, 2] = 0.3, 0.7
    eye_l = (y > 0.0) & (y < 0.04) & (verts[:, 0] > 0.03) & (verts[:, 2] > 0.04)
    eye_r = (y > 0.0) & (y < 0.04) & (verts[:, 0] < -0.03) & (verts[:, 2] > 0.04)
    weights[eye_l] = (0, 0, 0, 1, 0)
    weights[eye_r] = (0, 0, 0, 0, 1)
    j_reg = np.zeros((NUM_JOINTS, v), np.float32)
    for j, idx in enumerate([np.arange(v), np.flatnonzero(y < -0.1), np.flatnonzero(lower), np.flatnonzero(eye_l),
                             np.flatnonzero(eye_r)]):
        j_reg[j, idx] = 1.0 / len(idx)
    exprdirs = rng.normal(0, 2e-3, (v, 3, NUM_EXPRESSION)).astype(np.float32)
    sem_expr = np.abs(rng.normal(0, 1.0, (len(ARKIT_NAMES), NUM_EXPRESSION))).astype(np.float32) * (
        rng.random((len(ARKIT_NAMES), NUM_EXPRESSION)) < 0.2)
    sem_offsets = np.einsum("vck,nk->nvc", exprdirs, sem_expr).astype(np.float32)
    return Rig(
        name="tiny",
        v_template=verts,
        faces=np.array(faces),
        shapedirs=rng.normal(0, 1e-3, (v, 3, NUM_SHAPE)),
        exprdirs=exprdirs,
        posedirs=np.zeros((v, 3, (NUM_JOINTS - 1) * 9)),
        j_regressor=j_reg,
        weights=weights,
        kintree_table=np.array(KINTREE_TABLE),
        semantic_names=ARKIT_NAMES,
        semantic_offsets=sem_offsets,
        semantic_expression=sem_expr,
        semantic_jaw=np.zeros((len(ARKIT_NAMES), 3)),
        semantic_eye=np.zeros((len(ARKIT_NAMES), 6)),
    )
