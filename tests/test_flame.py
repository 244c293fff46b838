"""The FLAME loader, FlameLayer and the bundled probtalk head (behaviour, not build)."""

from __future__ import annotations

import pickle
import sys
import types
import warnings

import numpy as np
import pytest
import scipy.sparse
import torch

from probtalk.arkit import ARKIT_NAMES
from probtalk.errors import RigError
from probtalk.flame import FlameLayer, Rig, bundled_rig_path, load_rig
from probtalk.layout import NUM_EXPRESSION, NUM_SHAPE

# Apple's ARFaceAnchor.BlendShapeLocation names, typed out independently of probtalk.arkit.
APPLE_52 = {
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight",
    "eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft", "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight",
    "eyeLookOutLeft", "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight",
    "eyeWideLeft", "eyeWideRight",
    "jawForward", "jawLeft", "jawOpen", "jawRight",
    "mouthClose", "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft", "mouthFrownRight", "mouthFunnel",
    "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft", "mouthPressRight", "mouthPucker",
    "mouthRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthSmileLeft",
    "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight", "mouthUpperUpLeft", "mouthUpperUpRight",
    "noseSneerLeft", "noseSneerRight", "tongueOut",
}


@pytest.fixture(scope="module")
def rig() -> Rig:
    return load_rig()


@pytest.fixture(scope="module")
def layer(rig: Rig) -> FlameLayer:
    return FlameLayer(rig)


def _semantic_params(rig: Rig, name: str) -> dict[str, torch.Tensor]:
    i = rig.semantic_index(name)
    return {
        "expression": torch.from_numpy(rig.semantic_expression[i]),
        "jaw_pose": torch.from_numpy(rig.semantic_jaw[i]),
        "eye_pose": torch.from_numpy(rig.semantic_eye[i]),
    }


def test_arkit_names_are_apples_52():
    assert len(ARKIT_NAMES) == 52
    assert len(set(ARKIT_NAMES)) == 52
    assert set(ARKIT_NAMES) == APPLE_52


def test_bundled_rig_is_a_flame_head(rig: Rig):
    assert 3000 <= rig.num_vertices <= 10000
    assert rig.shapedirs.shape == (rig.num_vertices, 3, NUM_SHAPE)
    assert rig.exprdirs.shape == (rig.num_vertices, 3, NUM_EXPRESSION)
    assert rig.parents.tolist() == [-1, 0, 1, 1, 1]
    height = np.ptp(rig.v_template[:, 1])
    assert 0.18 < height < 0.35  # head + neck stump, metres
    assert rig.semantic_names == ARKIT_NAMES
    assert len(rig.lmk_faces_idx) == 51
    for key in ("lips", "upper_face", "eyes", "face", "mouth_interior", "left_eye_region", "right_eye_region", "nose", "jaw"):
        assert rig.region(key).size > 0, key
    for key in ("upper_lip", "lower_lip", "left_upper_lid", "left_lower_lid", "right_upper_lid", "right_lower_lid",
                "mouth_corner_left", "mouth_corner_right", "nose_tip", "chin"):
        assert 0 <= rig.keypoints[key] < rig.num_vertices, key
    v = rig.v_template
    kp = rig.keypoints
    assert v[kp["mouth_corner_left"], 0] > 0 > v[kp["mouth_corner_right"], 0]  # character's left is +x
    assert v[kp["nose_tip"], 2] == pytest.approx(v[:, 2].max(), abs=0.01)  # the nose leads along +z


def test_smplx_loads_the_flame_folder_and_agrees(rig: Rig, layer: FlameLayer):
    smplx = pytest.importorskip("smplx")
    folder = bundled_rig_path().parent
    batch = 3
    model = smplx.create(str(folder), model_type="flame", num_betas=NUM_SHAPE, num_expression_coeffs=NUM_EXPRESSION,
                         batch_size=batch, use_face_contour=True)
    g = torch.Generator().manual_seed(7)
    p = {
        "betas": torch.randn(batch, NUM_SHAPE, generator=g),
        "expression": torch.randn(batch, NUM_EXPRESSION, generator=g),
        "jaw_pose": 0.2 * torch.randn(batch, 3, generator=g),
        "neck_pose": 0.2 * torch.randn(batch, 3, generator=g),
        "global_orient": 0.2 * torch.randn(batch, 3, generator=g),
        "leye_pose": 0.2 * torch.randn(batch, 3, generator=g),
        "reye_pose": 0.2 * torch.randn(batch, 3, generator=g),
    }
    with torch.no_grad():
        theirs = model(**p).vertices
        ours = layer(shape=p["betas"], expression=p["expression"], jaw_pose=p["jaw_pose"], neck_pose=p["neck_pose"],
                     global_orient=p["global_orient"], eye_pose=torch.cat([p["leye_pose"], p["reye_pose"]], dim=1))
    assert theirs.shape == ours.shape == (batch, rig.num_vertices, 3)
    assert (theirs - ours).abs().max().item() < 1e-5
    assert (ours[0] - ours[1]).abs().max().item() > 1e-3  # the parameters did something


def test_pkl_and_npz_loaders_agree(rig: Rig):
    other = load_rig(bundled_rig_path().parent / "flame" / "FLAME_NEUTRAL.pkl")
    for key in ("v_template", "faces", "shapedirs", "exprdirs", "posedirs", "j_regressor", "weights", "semantic_offsets"):
        np.testing.assert_allclose(getattr(other, key), getattr(rig, key), atol=1e-7, err_msg=key)
    assert other.keypoints == rig.keypoints
    assert other.semantic_names == rig.semantic_names
    assert other.parents.tolist() == rig.parents.tolist()
    np.testing.assert_array_equal(other.lmk_faces_idx, rig.lmk_faces_idx)  # the embedding beside the .pkl
    masked = load_rig(bundled_rig_path().parent / "flame" / "FLAME_NEUTRAL.pkl", masks=bundled_rig_path().parent / "FLAME_masks.pkl")
    assert masked.regions.keys() == rig.regions.keys()
    np.testing.assert_array_equal(masked.region("lips"), rig.region("lips"))


def test_landmarks_sit_on_the_features(rig: Rig):
    faces = rig.faces[rig.lmk_faces_idx]
    lmk = np.einsum("lk,lkd->ld", rig.lmk_bary_coords, rig.v_template[faces])  # [51, 3]
    v, kp = rig.v_template, rig.keypoints
    np.testing.assert_allclose(lmk[31], v[kp["mouth_corner_right"]], atol=1e-6)  # iBUG 48
    np.testing.assert_allclose(lmk[37], v[kp["mouth_corner_left"]], atol=1e-6)  # iBUG 54
    assert (lmk[:10, 1] > lmk[19:31, 1].max()).all()  # brows above the eyes
    assert (lmk[19:31, 1] > lmk[10:19, 1].min()).all()  # eyes above the nose bottom
    assert (lmk[31:, 1] < lmk[14:19, 1].min()).all()  # mouth below the nostrils
    assert (lmk[:5, 0] < 0).all() and (lmk[5:10, 0] > 0).all()  # right brow first, as iBUG
    assert np.linalg.norm(lmk[13] - v[kp["nose_tip"]]) < 0.015


def test_jaw_rotation_opens_the_lips(rig: Rig, layer: FlameLayer):
    kp = rig.keypoints
    with torch.no_grad():
        rest = layer(jaw_pose=torch.zeros(3)).numpy()
        opened = layer(jaw_pose=torch.tensor([0.3, 0.0, 0.0])).numpy()
    gap0 = np.linalg.norm(rest[kp["upper_lip"]] - rest[kp["lower_lip"]])
    gap1 = np.linalg.norm(opened[kp["upper_lip"]] - opened[kp["lower_lip"]])
    assert gap1 - gap0 > 0.005
    # the upper lip and the eyes stay where they were
    assert np.linalg.norm(opened[kp["upper_lip"]] - rest[kp["upper_lip"]]) < 1e-4
    assert np.abs(opened[rig.region("eyes")] - rest[rig.region("eyes")]).max() < 1e-6


def test_eye_blink_left_closes_only_the_left_lid(rig: Rig, layer: FlameLayer):
    kp = rig.keypoints
    v0 = rig.v_template
    with torch.no_grad():
        v = layer(**_semantic_params(rig, "eyeBlinkLeft")).numpy()
    assert np.linalg.norm(v0[kp["left_upper_lid"]] - v0[kp["left_lower_lid"]]) > 0.005  # open at rest
    assert np.linalg.norm(v[kp["left_upper_lid"]] - v[kp["left_lower_lid"]]) < 0.001
    right = rig.region("right_eye_region")
    assert np.abs(v[right] - v0[right]).max() < 1e-5
    assert np.linalg.norm(v[kp["right_upper_lid"]] - v[kp["right_lower_lid"]]) > 0.005


def test_semantic_shapes_are_reproduced_by_flame_parameters(rig: Rig, layer: FlameLayer):
    errors = {}
    for name in rig.semantic_names:
        with torch.no_grad():
            v = layer(**_semantic_params(rig, name)).numpy()
        offset = rig.semantic_offsets[rig.semantic_index(name)]
        assert np.abs(offset).max() > 5e-4, f"{name} does nothing"
        errors[name] = float(np.abs(v - rig.v_template - offset).max())
    worst = max(errors, key=errors.get)
    assert errors[worst] < 1e-5, f"{worst}: {errors[worst]:.2e} m"
    # the model only sees expression 0-49: every shape must live there
    assert np.abs(rig.semantic_expression[:, 50:]).max() < 1e-4
    # joints realise jawOpen and the eye looks
    assert rig.semantic_jaw[rig.semantic_index("jawOpen"), 0] > 0.2
    assert np.abs(rig.semantic_eye[rig.semantic_index("eyeLookUpLeft"), :3]).max() > 0.1


def test_flame_layer_leading_dims_match_per_item(layer: FlameLayer):
    g = torch.Generator().manual_seed(3)
    b, t = 2, 3
    expr = torch.randn(b, t, 50, generator=g)
    jaw = 0.1 * torch.randn(b, t, 3, generator=g)
    eye = 0.1 * torch.randn(b, t, 6, generator=g)
    shape = torch.randn(20, generator=g)
    with torch.no_grad():
        batched = layer(shape=shape, expression=expr, jaw_pose=jaw, eye_pose=eye)
        assert batched.shape == (b, t, layer.num_vertices, 3)
        for i in range(b):
            for k in range(t):
                single = layer(shape=shape, expression=expr[i, k], jaw_pose=jaw[i, k], eye_pose=eye[i, k])
                assert torch.allclose(batched[i, k], single, atol=1e-6)


def test_npz_round_trip_is_exact(rig: Rig, tmp_path):
    path = rig.save(tmp_path / "copy.npz")
    back = load_rig(path)
    for key in ("v_template", "faces", "shapedirs", "exprdirs", "posedirs", "j_regressor", "weights",
                "kintree_table", "lmk_faces_idx", "lmk_bary_coords", "semantic_offsets", "semantic_expression",
                "semantic_jaw", "semantic_eye"):
        np.testing.assert_array_equal(getattr(back, key), getattr(rig, key), err_msg=key)
    assert back.name == rig.name and back.semantic_names == rig.semantic_names and back.keypoints == rig.keypoints
    assert back.regions.keys() == rig.regions.keys()
    for key in rig.regions:
        np.testing.assert_array_equal(back.regions[key], rig.regions[key])
    assert back.rig_id() == rig.rig_id()


def test_corrupt_or_truncated_rig_files_raise_rig_error(tmp_path):
    data = bundled_rig_path().read_bytes()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(data[: len(data) // 2])
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip file at all" * 10)
    other = tmp_path / "other.npz"
    np.savez(other, x=np.zeros(3))
    pkl = tmp_path / "broken.pkl"
    pkl.write_bytes(pickle.dumps({"v_template": np.zeros((4, 3))})[:-5])
    not_flame = tmp_path / "notflame.pkl"
    not_flame.write_bytes(pickle.dumps({"hello": 1}))
    for path in (truncated, garbage, other, pkl, not_flame, tmp_path / "missing.npz", tmp_path / "rig.obj"):
        if path.suffix == ".obj":
            path.write_text("v 0 0 0\n")
        with pytest.raises(RigError):
            load_rig(path)


def _tiny_flame(v: int = 12) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    weights = rng.random((v, 5))
    return {
        "v_template": rng.normal(size=(v, 3)) * 0.05,
        "f": np.array([[0, 1, 2], [2, 3, 4], [4, 5, 6]], np.uint32),
        "shapedirs": rng.normal(size=(v, 3, 400)) * 1e-3,
        "posedirs": rng.normal(size=(v, 3, 36)) * 1e-3,
        "J_regressor": scipy.sparse.csc_matrix(np.full((5, v), 1.0 / v)),
        "weights": weights / weights.sum(1, keepdims=True),
        "kintree_table": np.array([[4294967295, 0, 1, 1, 1], [0, 1, 2, 3, 4]], np.uint32),
    }


def test_chumpy_pickle_loads_without_chumpy(tmp_path):
    arrays = _tiny_flame()
    chumpy = types.ModuleType("chumpy")
    chumpy_ch = types.ModuleType("chumpy.ch")

    class Ch:  # stands in for chumpy.ch.Ch: the array lives in the pickled __dict__ under "x"
        def __init__(self, x):
            self.x = x

    Ch.__module__ = "chumpy.ch"
    Ch.__qualname__ = "Ch"
    chumpy_ch.Ch = Ch
    chumpy.ch = chumpy_ch
    saved = {k: sys.modules.get(k) for k in ("chumpy", "chumpy.ch")}
    sys.modules["chumpy"], sys.modules["chumpy.ch"] = chumpy, chumpy_ch
    try:
        model = {k: (Ch(v) if k in ("v_template", "shapedirs", "posedirs", "weights") else v) for k, v in arrays.items()}
        path = tmp_path / "generic_model.pkl"
        data = pickle.dumps(model, protocol=2)
        assert b"scipy.sparse._csc" in data
        # FLAME 2020 files name the old module path of the sparse regressor
        path.write_bytes(data.replace(b"scipy.sparse._csc", b"scipy.sparse.csc"))
    finally:
        for k, mod in saved.items():
            if mod is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = mod
    assert "chumpy" not in sys.modules or saved["chumpy"] is not None
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        rig = load_rig(path)
    np.testing.assert_allclose(rig.v_template, arrays["v_template"].astype(np.float32))
    np.testing.assert_allclose(rig.j_regressor, arrays["J_regressor"].toarray().astype(np.float32))
    np.testing.assert_allclose(rig.shapedirs, arrays["shapedirs"][:, :, :300].astype(np.float32))
    np.testing.assert_allclose(rig.exprdirs, arrays["shapedirs"][:, :, 300:].astype(np.float32))
    np.testing.assert_allclose(rig.weights, arrays["weights"].astype(np.float32))
    assert rig.parents.tolist() == [-1, 0, 1, 1, 1]
    with torch.no_grad():
        verts = FlameLayer(rig)(jaw_pose=torch.tensor([0.1, 0.0, 0.0]))
    assert torch.isfinite(verts).all()
