"""The rig builder: deterministic rebuild of the committed files, and the structure it promises."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from scipy.spatial import cKDTree

from flame_assets.build import JOINT_SHAPES, BuildResult, build_rig, write_all
from probtalk.flame import Rig, bundled_rig_path, load_rig
from probtalk.flame.safe_pickle import load_npy, load_pickle
from probtalk.layout import JAW_JOINT

ASSETS = bundled_rig_path().parent
# Float results may differ in the last bits between CPUs, BLAS builds and thread counts (SVD, QR,
# matrix products); everything structural (which vertices, faces and names) must be identical.
ATOL = 1e-6
ARRAYS = ("v_template", "faces", "shapedirs", "exprdirs", "posedirs", "j_regressor", "weights", "kintree_table",
          "lmk_faces_idx", "lmk_bary_coords", "semantic_offsets", "semantic_expression", "semantic_jaw", "semantic_eye")


@pytest.fixture(scope="module")
def built() -> BuildResult:
    return build_rig()


@pytest.fixture(scope="module")
def committed() -> Rig:
    return load_rig()


def test_rebuild_matches_committed_npz(built: BuildResult, committed: Rig):
    rig = built.rig
    assert rig.name == committed.name
    for key in ARRAYS:
        a, b = getattr(rig, key), getattr(committed, key)
        assert a.shape == b.shape, key
        np.testing.assert_allclose(a, b, rtol=0, atol=ATOL, err_msg=key)
    # the joint regressor weights the same vertices on every machine
    np.testing.assert_array_equal(rig.j_regressor != 0, committed.j_regressor != 0)
    assert rig.keypoints == committed.keypoints
    assert rig.semantic_names == committed.semantic_names
    assert rig.regions.keys() == committed.regions.keys()
    for key in rig.regions:
        np.testing.assert_array_equal(rig.regions[key], committed.regions[key])


def test_rebuild_matches_committed_flame_files(built: BuildResult, tmp_path):
    write_all(built, tmp_path)
    for rel in ("flame/FLAME_NEUTRAL.pkl", "flame/flame_static_embedding.pkl", "FLAME_masks.pkl"):
        new, old = load_pickle(tmp_path / rel), load_pickle(ASSETS / rel)
        assert new.keys() == old.keys(), rel
        for key, value in old.items():
            if hasattr(value, "toarray"):
                value, other = value.toarray(), new[key].toarray()
            else:
                other = new[key]
            if isinstance(value, np.ndarray):
                np.testing.assert_allclose(other, value, rtol=0, atol=ATOL, err_msg=f"{rel}:{key}")
                if key == "J_regressor":
                    np.testing.assert_array_equal(other != 0, value != 0)
            elif isinstance(value, dict):
                assert value.keys() == other.keys()
            else:
                assert other == value, f"{rel}:{key}"
    new_dyn = load_npy(tmp_path / "flame/flame_dynamic_embedding.npy")[()]
    old_dyn = load_npy(ASSETS / "flame/flame_dynamic_embedding.npy")[()]
    assert new_dyn["lmk_face_idx"].shape == (79, 17)
    np.testing.assert_array_equal(new_dyn["lmk_face_idx"], old_dyn["lmk_face_idx"])
    np.testing.assert_allclose(new_dyn["lmk_b_coords"], old_dyn["lmk_b_coords"])


def test_files_stay_small():
    total = sum(p.stat().st_size for p in ASSETS.rglob("*") if p.suffix in (".npz", ".pkl", ".npy"))
    assert total < 12e6


def test_skinning_and_joints(built: BuildResult):
    rig = built.rig
    np.testing.assert_allclose(rig.weights.sum(axis=1), 1.0, atol=1e-6)
    assert rig.weights.min() >= 0
    np.testing.assert_allclose(rig.j_regressor.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(rig.j_regressor @ rig.v_template, built.joints, atol=1e-6)
    kp = rig.keypoints
    assert rig.weights[kp["lower_lip"], JAW_JOINT] > 0.95
    assert rig.weights[kp["upper_lip"], JAW_JOINT] == pytest.approx(0.0)
    assert rig.weights[kp["chin"], JAW_JOINT] > 0.9
    for region, joint in (("left_eyeball", 3), ("right_eyeball", 4)):
        np.testing.assert_allclose(rig.weights[rig.region(region), joint], 1.0)
    assert (rig.weights[rig.region("scalp"), 1] > 0.99).all()  # the neck joint turns the head
    eye_l, eye_r = built.joints[3], built.joints[4]
    assert eye_l[0] > 0 > eye_r[0]  # the left eye (joint 3) is on the character's left, +x


def test_closed_parts_and_mouth(built: BuildResult):
    rig = built.rig
    mesh = trimesh.Trimesh(rig.v_template, rig.faces, process=False)
    assert mesh.is_winding_consistent
    for region in ("left_eyeball", "right_eyeball", "tongue"):
        ids = rig.region(region)
        mask = np.isin(rig.faces, ids).all(axis=1)
        part = trimesh.Trimesh(rig.v_template, rig.faces[mask], process=False)
        part.remove_unreferenced_vertices()
        assert part.is_watertight and part.volume > 0, region
    # the only open borders are the two eye slits: the mouth is closed by the bag behind the lips
    edges = np.sort(mesh.edges, axis=1)
    uniq, count = np.unique(edges, axis=0, return_counts=True)
    border = np.unique(uniq[count == 1])
    eye_regions = np.concatenate([rig.region("left_eye_region"), rig.region("right_eye_region")])
    assert border.size > 0 and np.isin(border, eye_regions).all()
    assert not np.isin(border, rig.region("lips")).any()


def test_bases(built: BuildResult):
    rig = built.rig
    norms = np.linalg.norm(rig.shapedirs.reshape(-1, 300), axis=0)
    assert (norms[:10] > 1e-3).all() and (norms[10:] == 0).all()
    expr = np.linalg.norm(rig.exprdirs.reshape(-1, 100), axis=0)
    assert (expr > 0).all()
    assert (np.diff(expr[:40]) <= 1e-9).all()  # ordered by importance, like FLAME's PCA
    assert np.abs(rig.posedirs).max() == 0.0
    # the non-joint shapes use expression only; the joint shapes say which joint they need
    for name in rig.semantic_names:
        i = rig.semantic_index(name)
        if name in JOINT_SHAPES and name != "jawOpen":
            assert np.abs(rig.semantic_expression[i]).max() == 0.0, name
        elif name not in JOINT_SHAPES:
            assert np.abs(rig.semantic_jaw[i]).max() == 0.0 and np.abs(rig.semantic_eye[i]).max() == 0.0, name
    # every Left shape is the mirror image (x -> -x) of its Right partner; the mesh is symmetric
    v = rig.v_template
    mirror_idx = cKDTree(v).query(v * np.array([-1.0, 1.0, 1.0]))
    assert mirror_idx[0].max() < 1e-6
    flip = np.array([-1.0, 1.0, 1.0])
    _, inv, cnt = np.unique(v, axis=0, return_inverse=True, return_counts=True)
    single = cnt[inv.ravel()] == 1  # the lip and lid slits hold coincident upper/lower copies; skip those
    assert single.mean() > 0.95
    pairs = [(n, n[:-4] + "Right") for n in rig.semantic_names if n.endswith("Left")]
    assert len(pairs) == 20
    for left, right in pairs:
        a = rig.semantic_offsets[rig.semantic_index(left)]
        b = rig.semantic_offsets[rig.semantic_index(right)]
        ok = single & single[mirror_idx[1]]
        np.testing.assert_allclose((a * flip)[ok], b[mirror_idx[1]][ok], atol=2e-6, err_msg=left)
        assert np.abs(a).max() > 1e-3


def test_expression_components_are_mirror_symmetric_or_antisymmetric(built: BuildResult):
    """This is what makes the basis unique (no arbitrary rotation between repeated singular values)."""
    from flame_assets.build import mirror_operator
    from flame_assets.head_mesh import build_head_mesh

    mirror = mirror_operator(build_head_mesh())
    dirs = built.rig.exprdirs.reshape(-1, 100).astype(np.float64)
    semantic = int((np.abs(built.rig.semantic_expression).max(axis=0) > 1e-6).sum())
    assert 30 <= semantic <= 50
    for k in range(semantic):
        col = dirs[:, k]
        m = mirror(col[:, None])[:, 0]
        scale = np.abs(col).max()
        assert min(np.abs(m - col).max(), np.abs(m + col).max()) < 1e-5 * scale, k


def test_joint_regressor_is_unique_and_mirror_symmetric(built: BuildResult):
    """Minimum-norm weights: the same on every CPU; the jaw/neck rows weigh mirror vertices equally."""
    rig = built.rig
    v = rig.v_template.astype(np.float64)
    mirror = cKDTree(v).query(v * np.array([-1.0, 1.0, 1.0]))[1]
    _, inv, cnt = np.unique(v, axis=0, return_inverse=True, return_counts=True)
    single = cnt[inv.ravel()] == 1  # coincident lip/lid vertices have no unique mirror partner
    for joint in (0, 1, JAW_JOINT):
        row = rig.j_regressor[joint].astype(np.float64)
        assert (row >= 0).all() and np.count_nonzero(row) > 20, joint
        ok = single & (row != 0)
        np.testing.assert_allclose(row[mirror][ok], row[ok], atol=1e-6, err_msg=f"joint {joint}")
    # the jaw hinge stays where the builder puts it
    from flame_assets.head_mesh import JAW_HINGE

    np.testing.assert_allclose(built.joints[JAW_JOINT], JAW_HINGE, atol=1e-7)
